"""Where a keypoint crop's landmarks come from: the dataset's own LabelMe files (annotated, the
default), or a landmark model's predictions written as LabelMe files (landmarks=predicted:
inference/landmark_model.py's PredictedLandmarks). The datamodule only sees this protocol, so
the data layer needs no model."""

from __future__ import annotations

from typing import Protocol

import pandas as pd

ANNOTATED = {"source": "annotated"}
SOURCES = ("annotated", "predicted")


class LandmarkSource(Protocol):
    def annotation_files(self, index: pd.DataFrame) -> list[str]:
        """The LabelMe file each index row's crop reads, in index order."""
        ...

    def state(self) -> dict:
        """Plain values kept in the checkpoint: the source, and the model's identity and path."""
        ...


def with_landmark_source(index: pd.DataFrame, source: LandmarkSource | None) -> pd.DataFrame:
    """The index whose json_path is the source's files (annotated_json_path keeps CSXA's own);
    the index itself when the landmarks are the annotated ones."""
    if source is None:
        return index
    files = source.annotation_files(index)
    return index.assign(annotated_json_path=index["json_path"], json_path=files)
