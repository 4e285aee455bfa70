"""Each command's own --help (what it does, options, example, outputs), predict's and export's
without training's groups, evaluate's defaults resolved; every help answers without importing
torch, and its usage line names the installed script; `make help` lines up; training groups
added to predict are refused."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys

import pytest
from omegaconf import OmegaConf

from csxa_lightning.config.command_options import own_options, refuse_foreign_options
from csxa_lightning.config.location import CONFIG_DIR
from csxa_lightning.utils.errors import ConfigValueError
from tests.helpers import REPO, module_env, run_module

HYDRA_COMMANDS = ("train", "predict", "evaluate", "export", "preview")
# Every command with a --help: the Hydra ones, the argparse ones (report, bench, phantom).
COMMANDS = {
    **{c: f"csxa_lightning.{c}" for c in (*HYDRA_COMMANDS, "report")},
    "bench": "csxa_lightning.bench",
    "phantom": "csxa_lightning.phantom",
}
# What the help may cost in imports: torch alone takes seconds; the commands' own light
# imports (Hydra, OmegaConf, OpenCV) take about 0.4 s on 2 CPU cores.
HELP_IMPORT_BUDGET_S = 1.0
HEAVY_MODULES = ("torch", "lightning", "torchvision", "torchmetrics")
IMPORT_LINE = re.compile(r"^import time:\s+\d+ \|\s+(\d+) \| ( *)(\S+)$")


@pytest.mark.parametrize("command", HYDRA_COMMANDS)
def test_help_is_the_commands_own(command, tmp_path):
    result = run_module(f"csxa_lightning.{command}", "--help", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert text.startswith(f"csxa-{command}:") and "powered by Hydra" not in text
    for section in ("usage:", "== Example ==", "== Outputs =="):
        assert section in text
    if command in ("predict", "evaluate", "export"):
        assert "balance:" not in text and "model:" not in text  # no training groups
        assert "(ckpt=FILE | run=DIR)" in text


def help_imports(module: str, cwd, env: dict[str, str]) -> tuple[str, float, list[str]]:
    """(the help text, the seconds its imports took, every module imported) of `python -X
    importtime -m module --help`: stderr lists each import with its cumulative microseconds,
    nested imports indented under the one that made them."""
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", module, "--help"],
        capture_output=True,
        text=True,
        cwd=cwd,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    imports = [IMPORT_LINE.match(line) for line in result.stderr.splitlines()]
    imports = [m for m in imports if m]
    total = sum(int(m.group(1)) for m in imports if not m.group(2)) / 1e6  # the top level
    return result.stdout, total, [m.group(3) for m in imports]


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_help_answers_without_torch_and_names_the_script(command, tmp_path):
    """Import time, not the wall clock: the budget holds on a busy machine. A second try is
    allowed for one slowed by another process (the first also compiled the bytecode)."""
    text, seconds, imported = help_imports(COMMANDS[command], tmp_path, module_env())
    if seconds > HELP_IMPORT_BUDGET_S:
        text, seconds, imported = help_imports(COMMANDS[command], tmp_path, module_env())
    assert f"usage: csxa-{command}" in text, text[:500]
    assert not [m for m in imported if m.split(".")[0] in HEAVY_MODULES]
    assert seconds < HELP_IMPORT_BUDGET_S, f"--help imports took {seconds:.2f} s"


def test_evaluate_help_lists_every_option_with_its_default_resolved(tmp_path):
    """No `${oc.env:...}` to decode: the dataset and output folders the environment sets."""
    env = {**module_env(), "CSXA_ROOT": str(tmp_path / "films"), "CSXA_OUTPUT_DIR": "/runs/here"}
    result = subprocess.run(
        [sys.executable, "-m", "csxa_lightning.evaluate", "--help"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
        env=env,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "${" not in text and "???" not in text
    options = text.split("== Options (and their defaults) ==", 1)[1].split("== Example ==")[0]
    for option in own_options(CONFIG_DIR, "evaluate"):
        assert re.search(rf"\b{option}[.=]", options), option
    assert f"here {tmp_path / 'films'})" in options
    assert "(default: /runs/here/evaluate/<time>)" in options
    assert "(default: all)" in options and "(default: 32)" in options


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_help_lines_up_every_targets_comment():
    result = subprocess.run(
        ["make", "--no-print-directory", "help"], capture_output=True, text=True, cwd=REPO
    )
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    targets = [re.match(r"  make (\S+) +(\S)", line) for line in lines]
    columns = {m.start(2) for m in targets if m}
    assert len(columns) == 1, result.stdout  # one column for every comment
    (column,) = columns
    for line in lines:  # a wrapped comment goes on in that column
        assert line.startswith("  make ") or re.match(rf" {{{column}}}\S", line), line
        assert len(line) <= 100, line
    assert {m.group(1) for m in targets if m} >= {"help", "test", "bench-device", "test-latest"}


def test_predict_refuses_a_training_group():
    own = own_options(CONFIG_DIR, "predict")
    assert {"ckpt", "run", "input", "out", "cam", "threshold"} <= own
    cfg = OmegaConf.create({**{k: None for k in own}, "crop": {"_target_": "x"}})
    with pytest.raises(ConfigValueError, match="predict does not take crop"):
        refuse_foreign_options(cfg, own, "predict")
    refuse_foreign_options(OmegaConf.create({k: None for k in own}), own, "predict")


def test_evaluates_options_include_the_groups_it_composes():
    assert {"data", "paths", "ckpt", "run", "subset", "labels"} <= own_options(
        CONFIG_DIR, "evaluate"
    )


def test_predict_command_line_refuses_plus_crop(tmp_path):
    result = run_module(
        "csxa_lightning.predict", "ckpt=x.ckpt", "input=y", "+crop=tight", cwd=tmp_path
    )
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1].startswith("error: predict does not take crop")
    assert REPO.exists()
