"""The labelled films `evaluate` scores: a CSXA-layout folder (all its films, or a run's own
test split), or any folder of PNGs with a labels CSV (`file,label`): another hospital's films.

Each reader returns one frame with the columns case_id, stem, label, png_path, json_path
(json_path empty where the checkpoint's crop needs no landmarks), one row per film, in a fixed
order. Every problem a user can fix is a LabelledSetError naming the file, the row and the fix.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from csxa_lightning.data.csxa import load_index
from csxa_lightning.inference.inputs import find_annotations
from csxa_lightning.inference.scoring import case_id
from csxa_lightning.runs.folder import SPLIT_FILE
from csxa_lightning.utils.errors import UserError

SUBSETS = ("all", "test")
LABELS = (0, 1)
COLUMNS = ["case_id", "stem", "label", "png_path", "json_path"]


class LabelledSetError(UserError):
    """A labelled set evaluate cannot score; the message names the file, the value, the fix."""


def csxa_films(root: str | Path, subset: str, run_folder: Path | None) -> pd.DataFrame:
    """Films of a CSXA-layout folder, with the sheet's labels. subset=all: every usable film
    (a set the model never saw); subset=test: the films the run at run_folder tested on (its
    split.csv), which must be this folder's."""
    if subset not in SUBSETS:
        raise LabelledSetError(f"subset={subset!r}: choose one of {', '.join(SUBSETS)}.")
    index = load_index(root)
    if subset == "test":
        split_file = None if run_folder is None else run_folder / SPLIT_FILE
        if split_file is None or not split_file.is_file():
            raise LabelledSetError(
                f"subset=test needs the run's {SPLIT_FILE} beside the checkpoint's folder "
                f"(looked for {split_file}); pass the ckpt of a run folder, or subset=all."
            )
        split = pd.read_csv(split_file, dtype={"stem": str})
        tested = set(split.loc[split["split"] == "test", "stem"])
        missing = sorted(tested - set(index["stem"]))
        if missing:
            raise LabelledSetError(
                f"{split_file}: {len(missing)} test film(s) of the run, e.g. {missing[0]}, are not "
                f"usable films of {root}; subset=test needs the dataset the run was trained on "
                "(its metrics.json names dataset_root)."
            )
        index = index[index["stem"].isin(tested)]
    return index.reset_index(drop=True)[COLUMNS]


def listed_film(where: str, file, label, folder: Path | None) -> tuple[Path, int]:
    """(PNG path, label) of one CSV row; LabelledSetError naming the row otherwise."""
    if pd.isna(file) or not str(file).strip():
        raise LabelledSetError(f"{where}: no file name; every row names a PNG.")
    value = pd.to_numeric(pd.Series([label]), errors="coerce").iloc[0]
    if pd.isna(label) or pd.isna(value):
        shown = "nothing" if pd.isna(label) else repr(label)
        raise LabelledSetError(
            f"{where} ({file}): the label is {shown}; every film needs 0 (healthy) or 1 (diseased)."
        )
    if value not in LABELS:
        raise LabelledSetError(
            f"{where} ({file}): label {label!r} is outside {{0, 1}}; use 0 (healthy) or 1 "
            "(diseased)."
        )
    png = Path(str(file)).expanduser()
    if not png.is_absolute() and folder is not None:
        png = folder / png
    if not png.is_file():
        raise LabelledSetError(
            f"{where}: {png} does not exist; file is a PNG relative to images= ({folder}) "
            "or an absolute path."
        )
    return png, int(value)


def csv_films(
    labels: str | Path, images: str | Path | None, annotations: str | None, crop: str | None
) -> pd.DataFrame:
    """Films listed in a CSV with columns file (a PNG, relative to images= or absolute) and
    label (0 healthy, 1 diseased). crop: the checkpoint's landmark crop, or None when it needs
    no landmarks; then annotations= (or the PNG's folder) must hold <stem>.json per film."""
    labels = Path(labels).expanduser()
    if not labels.is_file():
        raise LabelledSetError(
            f"labels={labels}: no such file; pass a CSV with columns file,label."
        )
    table = pd.read_csv(labels, dtype={"file": str}, keep_default_na=True)
    absent = [c for c in ("file", "label") if c not in table.columns]
    if absent:
        raise LabelledSetError(
            f"{labels}: no column {absent[0]!r} (columns: {list(table.columns)}); the CSV needs "
            "a header row with file,label."
        )
    if table.empty:
        raise LabelledSetError(f"{labels}: no rows; list one film per row (file,label).")
    folder = None if images in (None, "") else Path(str(images)).expanduser()
    rows = zip(table["file"], table["label"], strict=True)
    # Row 1 is the header.
    listed = [listed_film(f"{labels}, row {n}", file, label, folder)
              for n, (file, label) in enumerate(rows, start=2)]  # fmt: skip
    pngs, values = [png for png, _ in listed], [value for _, value in listed]
    stems = [p.stem for p in pngs]
    twice = pd.Series(stems)[pd.Series(stems).duplicated()]
    if len(twice):
        raise LabelledSetError(
            f"{labels}: the film {twice.iloc[0]} is listed twice; list each film once."
        )
    jsons = find_annotations(pngs, annotations, crop) if crop else [None] * len(pngs)
    return pd.DataFrame(
        {
            "case_id": pd.array([case_id(s) for s in stems], dtype="Int64"),
            "stem": stems,
            "label": values,
            "png_path": [str(p) for p in pngs],
            "json_path": [None if j is None else str(j) for j in jsons],
        }
    )
