"""The report of a fixed set of fabricated run folders, byte for byte: report.md and report.csv
against the copies in tests/data/report_golden/, written by the code before the results/
package existed (machine-dependent parts, the sweep folder and package versions, normalized).

Regenerate after an intended change: python -m tests.unit.test_report_golden
"""

from __future__ import annotations

import re
import sys
import tempfile
from pathlib import Path

import pytest

from csxa_lightning.results.document import build_report
from tests.unit.test_report import fake_run

GOLDEN = Path(__file__).resolve().parents[1] / "data" / "report_golden"
SWEEP = "<SWEEP>"


def legacy_sweep(root: Path) -> None:
    """Runs without variant markers or recorded protocol (the baseline by the legacy rule)."""
    fake_run(root, "base", "resnet50", "none", "none", 10, 5)
    fake_run(root, "wide", "resnet50", "wide", "none", 4, 2)
    fake_run(root, "vgg", "vgg19", "none", "none", 20, 0)


def marked_sweep(root: Path) -> None:
    """Two seeds of marked variants, with a recorded protocol, departures and checkpoints, and
    one run whose test images differ from the baseline's."""
    departures = [
        {"setting": "batch size", "ours": "32", "paper": "not stated"},
        {"setting": "optimizer", "ours": "SGD, momentum 0.9", "paper": "SGD"},
    ]
    for seed, shift in ((1, 0), (2, 2)):
        runs = (
            ("base", "resnet50", "none", "none", 10 - shift, 5, ("original", True)),
            ("wide", "resnet50", "wide", "none", 4, 2 + shift, ("wide_cropped", False)),
            ("color", "resnet50", "none", "enhanced", 9, 1, ("colored", False)),
            ("vgg", "vgg19", "none", "none", 20, 0, ("original_vgg19", False)),
        )
        for number, (name, arch, crop, color, wh, wd, variant) in enumerate(runs):
            checkpoint = [None, "None", f"/elsewhere/{name}/checkpoints/epoch009.ckpt"][number % 3]
            recorded = {
                "protocol": "paper",
                "departures": departures if name != "color" else departures[:1],
                "train_samples": 160 * (2 if color == "enhanced" else 1),
                "optimizer_steps": 15 * (2 if color == "enhanced" else 1),
                "checkpoint": checkpoint,
            }
            fake_run(root, f"{name}{seed}", arch, crop, color, wh, wd, seed=seed,
                     variant=variant, recorded=recorded)  # fmt: skip
    fake_run(root, "tight1", "resnet50", "tight", "none", 4, 2, seed=1,
             variant=("cropped", False), first_case=2, recorded={"protocol": "strict"})  # fmt: skip


SWEEPS = {"legacy": legacy_sweep, "marked": marked_sweep}


def normalized(text: str, root: Path) -> str:
    """The sweep folder as <SWEEP>, the report machine's package versions as <versions>."""
    text = text.replace(str(root), SWEEP)
    built = "This report was built with"
    return re.sub(rf"(?m)^{built} .*$", f"{built} <versions>.", text)


def report_files(name: str, root: Path) -> dict[str, str]:
    SWEEPS[name](root)
    paths = build_report(root)
    return {f"{name}.{kind}": normalized(paths[kind].read_text(), root) for kind in ("md", "csv")}


@pytest.mark.parametrize("name", sorted(SWEEPS))
def test_the_report_of_fabricated_runs_is_unchanged(name, tmp_path):
    root = tmp_path / "sweep"
    root.mkdir()
    for file, text in report_files(name, root).items():
        assert text == (GOLDEN / file).read_text(), file


if __name__ == "__main__":
    for name in SWEEPS:
        with tempfile.TemporaryDirectory() as folder:
            root = Path(folder) / "sweep"
            root.mkdir()
            for file, text in report_files(name, root).items():
                (GOLDEN / file).write_text(text)
                print(f"wrote {GOLDEN / file}", file=sys.stderr)
