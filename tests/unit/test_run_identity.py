"""A run folder's saved config is its identity: a start with another config never rewrites it,
and an interrupted run resumes only with the changes resume.allow_changes lists."""

from __future__ import annotations

import pytest
import yaml

from csxa_lightning.runs.identity import (
    INCOMING_DIR,
    RunConfigChangedError,
    adopt_incoming,
    differing_keys,
)

SAVED = {"seed": 42, "model": {"optimizer": {"lr": 0.001}}, "trainer": {"max_epochs": 30},
         "paths": {"cache_dir": "/a"}, "force": False}  # fmt: skip
IGNORED = ["paths.cache_dir", "force"]


def folder_with(tmp_path, incoming: dict, saved: dict | None = SAVED):
    for name, config in ((".hydra", saved), (INCOMING_DIR, incoming)):
        if config is not None:
            (tmp_path / name).mkdir(parents=True)
            (tmp_path / name / "config.yaml").write_text(yaml.safe_dump(config))
            (tmp_path / name / "overrides.yaml").write_text(f"- seed={config['seed']}\n")
    return tmp_path


def saved_config(folder):
    return yaml.safe_load((folder / ".hydra" / "config.yaml").read_text())


def test_keys_that_say_where_never_count():
    moved = {**SAVED, "paths": {"cache_dir": "/b"}, "force": True, "resume": {"x": 1}}
    assert differing_keys(SAVED, moved, IGNORED) == {}
    changed = {**SAVED, "seed": 7, "model": {"optimizer": {"lr": 0.01}}, "extra": 1}
    assert differing_keys(SAVED, changed, IGNORED) == {
        "seed": (42, 7),
        "model.optimizer.lr": (0.001, 0.01),
        "extra": ("absent", 1),
    }


def test_another_config_on_a_finished_run_is_refused_and_changes_nothing(tmp_path):
    folder = folder_with(tmp_path, {**SAVED, "seed": 7})
    before = (folder / ".hydra" / "config.yaml").read_bytes()
    with pytest.raises(RunConfigChangedError, match=r"finished run made with another config "
                       r"\(seed 42 -> 7\); nothing was changed"):  # fmt: skip
        adopt_incoming(folder, finished=True, force=False, allow_changes=[], ignored=IGNORED)
    assert (folder / ".hydra" / "config.yaml").read_bytes() == before
    assert not (folder / INCOMING_DIR).exists()


def test_the_same_config_keeps_the_saved_one_and_a_new_folder_takes_the_incoming(tmp_path):
    same = folder_with(tmp_path / "same", {**SAVED, "paths": {"cache_dir": "/elsewhere"}})
    assert not adopt_incoming(same, True, False, [], IGNORED)
    assert saved_config(same)["paths"]["cache_dir"] == "/a" and not (same / INCOMING_DIR).exists()
    new = folder_with(tmp_path / "new", SAVED, saved=None)
    assert not adopt_incoming(new, False, False, [], IGNORED)
    assert saved_config(new) == SAVED and not (new / INCOMING_DIR).exists()


def test_force_keeps_the_old_config_until_the_new_run_has_finished(tmp_path):
    folder = folder_with(tmp_path, {**SAVED, "seed": 7})
    assert adopt_incoming(folder, finished=True, force=True, allow_changes=[], ignored=IGNORED)
    assert saved_config(folder)["seed"] == 42  # until train() calls replace_config
    assert (folder / INCOMING_DIR / "config.yaml").exists()


def test_a_resume_takes_only_the_allowed_changes(tmp_path):
    longer = folder_with(tmp_path / "a", {**SAVED, "trainer": {"max_epochs": 40}})
    adopt_incoming(longer, False, False, ["trainer.max_epochs"], IGNORED)
    assert saved_config(longer)["trainer"]["max_epochs"] == 40
    assert (longer / ".hydra" / "overrides.yaml").exists()

    other_lr = folder_with(tmp_path / "b", {**SAVED, "model": {"optimizer": {"lr": 0.01}}})
    with pytest.raises(RunConfigChangedError, match=r"model.optimizer.lr 0.001 -> 0.01\).*"
                       r"resume.allow_changes"):  # fmt: skip
        adopt_incoming(other_lr, False, False, ["trainer.max_epochs"], IGNORED)
    assert saved_config(other_lr) == SAVED and not (other_lr / INCOMING_DIR).exists()


def test_without_hydras_command_line_there_is_nothing_to_decide(tmp_path):
    assert not adopt_incoming(tmp_path, True, False, [], IGNORED)


def test_after_a_start_a_new_folder_keeps_its_config_and_a_refused_one_goes(tmp_path):
    from csxa_lightning.runs.identity import settle_incoming

    new = folder_with(tmp_path / "new", SAVED, saved=None)  # stopped before adopting it
    settle_incoming(new)
    assert saved_config(new) == SAVED and not (new / INCOMING_DIR).exists()
    refused = folder_with(tmp_path / "old", {**SAVED, "seed": 7})
    settle_incoming(refused)
    assert saved_config(refused) == SAVED and not (refused / INCOMING_DIR).exists()


def test_a_class_named_by_its_path_before_the_modules_moved_is_no_change():
    """Run folders saved before the layered layout name csxa_lightning.model.CSXAClassifier;
    the sweep started again on them must skip or resume them, not refuse them."""
    old = {**SAVED, "model": {"_target_": "csxa_lightning.model.CSXAClassifier", "lr": 1},
           "logger": {"csv": {"_target_": "csxa_lightning.curves.ResumableCSVLogger"}}}  # fmt: skip
    new = {**SAVED, "model": {"_target_": "csxa_lightning.models.classifier.CSXAClassifier",
           "lr": 1}, "logger": {"csv": {"_target_":
           "csxa_lightning.training.csv_logger.ResumableCSVLogger"}}}  # fmt: skip
    assert differing_keys(old, new, IGNORED) == {}
    elsewhere = {**new, "model": {"_target_": "mypackage.model.CSXAClassifier", "lr": 1}}
    assert differing_keys(old, elsewhere, IGNORED) == {
        "model._target_": (
            "csxa_lightning.models.classifier.CSXAClassifier",
            "mypackage.model.CSXAClassifier",
        )  # fmt: skip
    }
