"""Where a command may write, decided before it does any work: never over one of its own inputs
(a film, a checkpoint, a labels file), never inside a dataset folder or a training run folder,
and only where it can write. predict, evaluate, export and preview call check_output on each of
their outputs; a refusal is one line (OutputPathError) naming the path and what to do.

Pure but for reading the file system: nothing here writes, except a probe file in the target
folder, created and removed at once, to learn whether the folder takes files (permissions,
read-only mounts and /proc answer that only by trying).
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path

from csxa_lightning.data.csxa import is_dataset_folder
from csxa_lightning.runs.folder import is_training_run_folder
from csxa_lightning.utils.errors import UserError
from csxa_lightning.utils.paths import writable_folder


class OutputPathError(UserError):
    """An output that would overwrite an input, land in a dataset or run folder, or cannot be
    written at all."""


def as_list(value) -> list:
    """A config value that is one path or a list of them, as a list."""
    if isinstance(value, str | Path) or not isinstance(value, Iterable):
        return [value]
    return list(value)


def resolved(path: str | Path) -> Path:
    return Path(path).expanduser().resolve()


def enclosing(path: Path, test) -> Path | None:
    """The nearest folder at or above path for which test(folder) holds."""
    return next((f for f in (path, *path.parents) if test(f)), None)


def check_output(
    key: str,
    out: str | Path,
    inputs: Mapping[str, Iterable[str | Path]] | None = None,
    run_folder_allowed: bool = False,
) -> Path:
    """The resolved output path, or OutputPathError. key: the option that named it (out);
    inputs: {what: paths} the command reads (films, checkpoint, labels file ...); a folder
    among them protects everything inside it. run_folder_allowed: export's default output,
    which sits beside the checkpoint it was made from."""
    target = resolved(out)
    for what, paths in (inputs or {}).items():
        for given in paths:
            source = resolved(given)
            if target == source or (source.is_dir() and source in target.parents):
                where = "is" if target == source else "lies inside"
                raise OutputPathError(
                    f"{key}={out}: {where} the {what} this command reads ({source}); writing "
                    f"there would destroy it. Choose a path outside it, e.g. {key}="
                    f"{Path.cwd() / Path(str(out)).name}"
                )
    dataset = enclosing(target, is_dataset_folder)
    if dataset is not None:
        raise OutputPathError(
            f"{key}={out}: lies inside the dataset folder {dataset}, which is only ever read. "
            "Choose a path outside it"
        )
    run = None if run_folder_allowed else enclosing(target, is_training_run_folder)
    if run is not None:
        raise OutputPathError(
            f"{key}={out}: lies inside the training run folder {run}, whose files the report "
            "reads as that run's. Choose a path outside it"
        )
    if target.is_dir() and not target.name:
        raise OutputPathError(f"{key}={out}: the file system root is not an output")
    problem = writable_folder(target if target.is_dir() else target.parent)
    if problem is None and target.exists() and not os.access(target, os.W_OK):
        problem = f"{target} is read-only"
    if problem is not None:
        raise OutputPathError(f"{key}={out}: {problem}; choose a folder you can write to")
    return target
