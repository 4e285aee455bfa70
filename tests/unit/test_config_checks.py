"""Impossible config values are refused before anything is read, all of them in one message;
unknown groups, options and keys are refused by Hydra with the available choices."""

from __future__ import annotations

from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from csxa_lightning.config.checks import check_config, check_sweep_variants, config_problems
from csxa_lightning.config.location import CONFIG_DIR
from csxa_lightning.phantom.store import COMPLETE_MARKER, phantom_dir
from csxa_lightning.training.run import train
from csxa_lightning.utils.errors import ConfigValueError
from tests.helpers import compose_train_config, run_module


def test_the_shipped_configs_have_no_impossible_values():
    for overrides in (
        [],
        ["crop=wide", "color=enhanced", "model=vgg19"],
        ["crop=tight", "balance=oversample", "augment=none"],
        ["data=csxa", "cv.folds=5", "cv.fold=4"],
        ["experiment=demo"],
    ):
        assert config_problems(compose_train_config(overrides)) == [], overrides


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        (
            "data.test_fraction=1.5",
            "data.test_fraction=1.5: must be a number strictly between 0 and 1 (the share of "
            "images held out for testing); e.g. data.test_fraction=0.25",
        ),
        ("data.test_fraction=0", "data.test_fraction=0: must be a number strictly between"),
        ("data.val_fraction=-0.1", "data.val_fraction=-0.1: must be a number in [0, 1)"),
        ("data.val_fraction=abc", "data.val_fraction='abc': must be a number in [0, 1)"),
        ("data.phantom.healthy_fraction=1", "data.phantom.healthy_fraction=1: must be a number"),
        ("augment.hflip_p=1.2", "augment.hflip_p=1.2: must be a probability in [0, 1]"),
        ("augment.border_mode=wrap", "augment.border_mode='wrap': must be constant, reflect"),
        (
            "augment.interpolation=cubic",
            "augment.interpolation='cubic': must be nearest or bilinear; "
            "e.g. augment.interpolation=nearest",
        ),
        ("augment.scale_limit=1", "augment.scale_limit=1: must be a number in [0, 1)"),
        ("data.stratify=maybe", "data.stratify='maybe': must be true or false"),
        ("crop=wide", None),
        ("crop.size=0", "crop.size=0: must be an integer >= 1 (pixels); e.g. crop.size=500"),
        ("image_size=16", "image_size=16: must be an integer >= 32"),
        ("data.on_bad_file=ignore", "data.on_bad_file='ignore': must be stop (list every"),
        ("data.batch_size=1", "data.batch_size=1: must be an integer >= 2 (BatchNorm"),
        ("cv.folds=1", "cv.folds=1: must be 0 (one train/test split) or an integer >= 2"),
        ("model.optimizer.lr=0", "model.optimizer.lr=0: must be a number > 0"),
    ],
)
def test_each_impossible_value_is_named_with_its_requirement_and_an_example(override, expected):
    problems = config_problems(compose_train_config([override]))
    if expected is None:
        assert problems == []
    else:
        assert len(problems) == 1 and problems[0].startswith(expected), problems


def test_a_fold_outside_the_folds_is_refused():
    problems = config_problems(compose_train_config(["cv.folds=5", "cv.fold=5"]))
    assert problems == ["cv.fold=5: must be an integer in 0..4 (cv.folds=5); e.g. cv.fold=0"]


def test_all_problems_are_reported_together_before_anything_is_written(tmp_path):
    cfg = compose_train_config(
        [
            "data.test_fraction=2",
            "augment.vflip_p=-1",
            f"paths.output_dir={tmp_path / 'run'}",
            f"paths.cache_dir={tmp_path / 'cache'}",
        ]
    )
    with pytest.raises(ConfigValueError) as err:
        train(cfg)
    lines = str(err.value).splitlines()
    assert lines[0] == "2 impossible config values:"
    assert lines[1].startswith("  data.test_fraction=2: must be")
    assert lines[2].startswith("  augment.vflip_p=-1: must be a probability in [0, 1]")
    assert not (tmp_path / "run").exists() and not (tmp_path / "cache").exists()
    with pytest.raises(ConfigValueError, match=r"^impossible config value augment\.vflip_p=-1:"):
        check_config(compose_train_config(["augment.vflip_p=-1"]))


def run_cli(tmp_path, *overrides):
    return run_module(
        "csxa_lightning.train", *overrides, f"paths.log_dir={tmp_path}", cwd=tmp_path, timeout=120
    )


def test_command_line_impossible_value_is_one_error_line(tmp_path):
    result = run_cli(tmp_path, "data.test_fraction=1.5")
    assert result.returncode == 1
    assert "Traceback" not in result.stderr + result.stdout
    # The run's log file keeps where the error was raised (a ValueError might be a bug).
    (log_file,) = tmp_path.glob("train/runs/*/*/train.log")
    logged = log_file.read_text()
    assert "where the error was raised:\nTraceback" in logged and "check_config" in logged
    assert result.stderr.strip().splitlines()[-1] == (
        "error: impossible config value data.test_fraction=1.5: must be a number strictly "
        "between 0 and 1 (the share of images held out for testing); e.g. "
        "data.test_fraction=0.25"
    )
    # Printed once: the log line of the error goes to the log file only.
    assert (result.stderr + result.stdout).count("must be a number strictly between 0 and 1") == 1


@pytest.mark.parametrize(
    ("override", "first_line", "listed"),
    [
        ("crop=huge", "In 'train': Could not find 'crop/huge'", ["none", "tight", "wide"]),
        ("model=resnet34", "In 'train': Could not find 'model/resnet34'", ["resnet50", "vgg19"]),
        (
            "data.test_fractoin=0.3",
            "Could not override 'data.test_fractoin'.",
            ["Key 'test_fractoin' is not in struct"],
        ),
    ],
)
def test_command_line_unknown_option_or_key_lists_what_exists(
    tmp_path, override, first_line, listed
):
    result = run_cli(tmp_path, override)
    assert result.returncode == 1
    assert result.stderr.splitlines()[0] == first_line
    for name in listed:
        assert name in result.stderr
    assert "Traceback" not in result.stderr


# --- the variants of a sweep: their marker, their model, and no two alike ---------------------

VARIANTS = sorted(p.stem for p in (Path(CONFIG_DIR) / "variant").glob("*.yaml"))


def test_every_variant_names_itself_and_only_original_is_the_baseline():
    for name in VARIANTS:
        cfg = compose_train_config([f"+variant={name}"])
        variant = OmegaConf.to_container(cfg.variant)
        assert variant.pop("title")  # the report's name (tests/unit/test_runs.py)
        assert variant.pop("order")  # its row in Table 1 (tests/unit/test_runs.py)
        assert variant == {"name": name, "baseline": name == "original"}
    assert compose_train_config([]).get("variant") is None  # a plain run has no variant


@pytest.mark.parametrize(
    ("overrides", "arch"),
    [
        (["+variant=original"], "resnet50"),
        (["+variant=original_vgg19"], "vgg19"),
        (["+variant=cropped", "model=resnet18"], "resnet18"),  # the sweep's model
        (["+variant=original", "model=vgg19"], "vgg19"),
        (["+variant=original_vgg19", "model=resnet18"], "vgg19"),  # pinned: wins over model=
        (["experiment=table1", "+variant=original_vgg19", "model=resnet18"], "vgg19"),
        (["+variant=original_vgg19", "model.arch=resnet18"], "resnet18"),  # explicit key wins
    ],
)
def test_only_original_vgg19_pins_its_model(overrides, arch):
    assert compose_train_config(overrides).model.arch == arch


def check_sweep(overrides: list[str]) -> None:
    """check_sweep_variants on the sweep config of `--multirun experiment=table1 overrides`."""
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        sweep = compose(
            config_name="train",
            overrides=["experiment=table1", *overrides],
            return_hydra_config=True,
        )
        check_sweep_variants(
            sweep, "train", lambda name, job: compose(config_name=name, overrides=job)
        )


def test_a_sweep_shrunk_with_model_resnet18_keeps_seven_different_runs():
    from csxa_lightning.config.checks import (
        jobs_by_variant,
        parse_overrides,
        run_identity,
        sweep_jobs,
    )

    shrunk = ["model=resnet18", "model.pretrained=none", "image_size=32"]
    check_sweep(shrunk)  # passes: no two variants are one run
    with initialize_config_dir(config_dir=CONFIG_DIR, version_base="1.3"):
        sweep = compose("train", ["experiment=table1", *shrunk], return_hydra_config=True)
        params = [f"{k}={v}" for k, v in sweep.hydra.sweeper.params.items()]
        jobs = sweep_jobs(parse_overrides([*params, "experiment=table1", *shrunk]))
        (rest, variants), *others = jobs_by_variant(jobs).items()
        identities = {v: run_identity(compose("train", [*rest, v])) for v in variants}
    assert others == [] and len(identities) == 7  # Table 1's seven variants, one job each
    assert len(set(identities.values())) == 7


def test_an_override_that_makes_two_variants_one_run_is_refused_naming_it():
    with pytest.raises(ConfigValueError) as err:
        check_sweep(["model=vgg19", "image_size=32"])
    assert str(err.value) == (
        "model=vgg19 makes +variant=original and +variant=original_vgg19 the same run. Nothing "
        "was trained: the report would compare a run with itself. Leave that override out of "
        "the sweep, or sweep only one of those variants (the variants set crop and color and "
        "take the sweep's model; original_vgg19 pins VGG19)."
    )


def test_every_set_of_identical_variants_is_listed():
    with pytest.raises(ConfigValueError) as err:
        check_sweep(["crop=tight"])
    lines = str(err.value).splitlines()
    assert lines[:3] == [
        "2 sets of variants of this sweep would be the same run:",
        "  crop=tight makes +variant=original, +variant=cropped and +variant=wide_cropped the "
        "same run",
        "  crop=tight makes +variant=colored, +variant=colored_cropped and "
        "+variant=colored_wide_cropped the same run",
    ]


@pytest.mark.slow  # about 9 s (a subprocess; the in-process check is fast): make test < 10 min
def test_command_line_sweep_of_identical_variants_stops_before_the_first_job(tmp_path):
    """The real --multirun: refused by the sweep callback before any job, as one error line."""
    result = run_cli(
        tmp_path,
        "--multirun",
        "experiment=table1",
        "+variant=original,cropped,original_vgg19",
        "model=resnet18,vgg19",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    )
    assert result.returncode == 1, result.stderr[-2000:]
    assert "Traceback" not in result.stderr + result.stdout
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith(
            "error: model=vgg19 makes +variant=original and +variant=original_vgg19 the same run."
        )
    )
    assert not (tmp_path / "sweep").exists()  # no job started: not even the sweep folder


@pytest.mark.slow  # a subprocess run of tens of seconds: make test-all
def test_command_line_sweep_of_different_variants_passes_the_check(tmp_path):
    """The check runs and lets a sweep shrunk with model=resnet18 through: its first job starts
    (and stops at once, at an impossible value). Hydra would only warn about a callback that
    raised, so the absence of that warning is asserted too."""
    result = run_cli(
        tmp_path,
        "--multirun",
        "experiment=table1",
        "+variant=original,cropped,original_vgg19",
        "model=resnet18",
        "data.test_fraction=1.5",
        f"hydra.sweep.dir={tmp_path / 'sweep'}",
    )
    assert result.returncode == 1
    assert "CheckVariantsOnMultirunStart" not in result.stderr + result.stdout
    assert "#0 : +variant=original " in result.stderr + result.stdout  # the first job started
    assert (
        result.stderr.strip()
        .splitlines()[-1]
        .startswith("error: impossible config value data.test_fraction=1.5")
    )


def test_the_phantom_folder_is_chosen_by_the_config_after_the_checks(tmp_path):
    """data=phantom's data.root is built by the phantom's own function (the csxa_phantom_root
    resolver): nothing is generated while the config is checked, and a bad value stops the run
    before it; the datamodule only ever gets a folder."""
    cache = tmp_path / "cache"
    settings = ["data.phantom.n=8", "data.phantom.healthy_fraction=0.5"]
    bad = compose_train_config([f"paths.cache_dir={cache}", "data.phantom.n=3"])
    with pytest.raises(ConfigValueError, match=r"data\.phantom\.n=3"):
        check_config(bad)
    cfg = compose_train_config([f"paths.cache_dir={cache}", *settings])
    check_config(cfg)
    assert not cache.exists()  # checking resolved nothing
    root = Path(cfg.data.root)
    assert root == phantom_dir(cache, n=8, seed=0, healthy_fraction=0.5)
    assert (root / COMPLETE_MARKER).exists()
    assert Path(cfg.data.root) == root  # the second resolution finds it made
    datamodule_source = (Path(CONFIG_DIR).parent / "csxa_lightning/data/datamodule.py").read_text()
    assert "phantom" not in "".join(
        line for line in datamodule_source.splitlines() if line.startswith(("from", "import"))
    )
