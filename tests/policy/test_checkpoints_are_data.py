"""Every torch.load in the package reads checkpoints as data (weights_only=True), and train
hands Lightning the same setting for resuming and testing: a checkpoint file never runs code."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[2] / "csxa_lightning"


def calls(name: str) -> list[tuple[Path, ast.Call]]:
    found = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and ast.unparse(node.func).endswith(name):
                found.append((path, node))
    return found


def weights_only(call: ast.Call) -> object:
    for keyword in call.keywords:
        if keyword.arg == "weights_only":
            return ast.literal_eval(keyword.value)
    return None


def test_every_torch_load_is_weights_only():
    loads = calls("torch.load")
    # inference/loading.py, training/checkpoints.py, models/backbones.py, training/decision.py
    assert len(loads) >= 3
    unsafe = [f"{p.name}:{c.lineno}" for p, c in loads if weights_only(c) is not True]
    assert not unsafe, f"torch.load without weights_only=True: {unsafe}"


def test_train_resumes_and_tests_with_weights_only():
    lightning_calls = [c for p, c in calls("trainer.fit") + calls("trainer.test")
                       if p.relative_to(PACKAGE).as_posix() == "training/run.py"]  # fmt: skip
    assert len(lightning_calls) == 2
    assert all(weights_only(c) is True for c in lightning_calls)


# Every place the package builds an object from a name, and what the name comes from. Each
# builds from the command's own composed config (what the user typed, and conf/), never from a
# file a run, a checkpoint or a colleague wrote: those go through registries (preprocess.py's
# SPEC_CLASSES, inference/loading.py's MODEL_SETTINGS, models/classifier.py's checked_decision).
BUILDERS = ("instantiate", "get_class", "get_method", "get_object", "import_module", "_locate",
            "__import__", "locate", "import_string")  # fmt: skip
COMPOSED_CONFIG_ONLY = {
    ("training/run.py", "fit_and_test"): "cfg.data, cfg.model, cfg.logger, cfg.trainer",
    (
        "training/landmark_run.py",
        "fit_and_test_landmarks",
    ): "cfg.data, cfg.model, cfg.logger, cfg.trainer",
    ("training/checkpoints.py", "build_callbacks"): "cfg.callbacks",
    ("training/checkpoints.py", "finish_run_checkpoints"): "cfg.callbacks.model_checkpoint",
    ("results/preview.py", "group_option"): "cfg's crop/color, or the package's own conf/ yaml",
    ("results/preview.py", "preview"): "cfg.data",
    ("bench/training.py", "load_data"): "the bench's composed cfg.data",
    ("bench/training.py", "real_model"): "the bench's composed cfg.model",
    ("bench/training.py", "measure_compiled_end_to_end"): "the bench's composed cfg.model",
    ("config/preflight.py", "logger_problems"): "cfg.logger's _target_, to name its class",
    ("config/protocol.py", "_augment_value"): "cfg.augment's _target_, to read a default",
}


def builder_sites() -> dict[tuple[str, str], int]:
    """(file, innermost enclosing function) -> number of calls to a name-to-object builder;
    a call outside any function (it would run at import) counts under "<module>"."""
    found: dict[tuple[str, str], int] = {}

    def visit(node: ast.AST, path: Path, function: str) -> None:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            function = node.name
        if isinstance(node, ast.Call) and ast.unparse(node.func).rsplit(".", 1)[-1] in BUILDERS:
            site = (path.relative_to(PACKAGE).as_posix(), function)
            found[site] = found.get(site, 0) + 1
        for child in ast.iter_child_nodes(node):
            visit(child, path, function)

    for path in PACKAGE.rglob("*.py"):
        visit(ast.parse(path.read_text()), path, "<module>")
    return found


def test_objects_are_built_from_names_only_where_the_name_is_the_users_config():
    sites = builder_sites()
    unexpected = sorted(set(sites) - set(COMPOSED_CONFIG_ONLY))
    assert not unexpected, f"builds an object from a name outside the list: {unexpected}"
    assert set(sites) == set(COMPOSED_CONFIG_ONLY), "a listed site is gone: update the list"
    # The readers of checkpoints and run folders build nothing from a name.
    readers = ("data/preprocess.py", "inference/loading.py", "training/checkpoints.py",
               "models/classifier.py", "training/decision.py", "runs/folder.py",
               "runs/identity.py", "results/cam_section.py", "predict.py", "evaluate.py",
               "export.py", "report.py", "inference/predict.py", "results/evaluation.py",
               "inference/export.py", "inference/chosen_checkpoint.py",
               "inference/landmark_model.py", "inference/crop_landmarks.py",
               "runs/landmark_results.py", "results/landmark_report.py")  # fmt: skip
    for reader in readers:
        assert not [
            s
            for s in sites
            if s[0] == reader and s[1] not in ("build_callbacks", "finish_run_checkpoints")
        ], reader
