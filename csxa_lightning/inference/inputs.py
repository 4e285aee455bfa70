"""What predict reads: the PNGs, their LabelMe landmarks when the checkpoint's crop needs them,
and the model inputs made from both -- on the fly, by preprocess_file, the function that built
the training cache, so a film gets exactly the pixels it had in training."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

from csxa_lightning.data.cache import preprocess_file
from csxa_lightning.data.csxa import JSON_DIR
from csxa_lightning.data.dicom import DicomReadError
from csxa_lightning.data.images import MAX_PIXELS, ImageReadError, UnusableFilmError
from csxa_lightning.data.preprocess import Preprocessor
from csxa_lightning.utils.errors import UserError


class MissingAnnotationError(UserError):
    """A keypoint crop without the landmarks of an image; the message says where we looked."""


def annotation_candidates(png: Path, annotations: Path | None) -> list[Path]:
    """Where the LabelMe file of png may be: annotations/<stem>.json when given; else beside the
    PNG, then in CSXA's layout (datasets-PNG/x.png -> datasets-JSON/x.json)."""
    name = f"{png.stem}.json"
    if annotations is not None:
        return [annotations / name]
    return [png.with_name(name), png.parent.parent / JSON_DIR / name]


def find_annotations(pngs: list[Path], annotations: str | None, crop: str) -> list[Path]:
    """The LabelMe file of every PNG; all missing ones are reported at once, before any work."""
    folder = None if annotations in (None, "") else Path(str(annotations)).expanduser()
    if folder is not None and not folder.is_dir():
        raise MissingAnnotationError(
            f"{folder}: no such folder; annotations= must be the folder of the LabelMe .json "
            "files (one <stem>.json per PNG)"
        )
    found, missing = [], []
    for png in pngs:
        candidates = annotation_candidates(png, folder)
        hit = next((c for c in candidates if c.is_file()), None)
        found.append(hit)
        if hit is None:
            missing.append((png, candidates))
    if missing:
        png, candidates = missing[0]
        more = f" (and {len(missing) - 1} more image(s) without one)" if len(missing) > 1 else ""
        raise MissingAnnotationError(
            f"{png}: crop={crop} crops to the landmarks, but this image has no LabelMe file "
            f"(looked for {', '.join(str(c) for c in candidates)}){more}; pass "
            "annotations=DIR with a <stem>.json per image, or use a checkpoint trained with "
            "crop=none"
        )
    return found


class PredictionInputs(Dataset):
    """Item i: (i, uint8 (variants, C, S, S) model input) or (i, the problem's message).

    A problem is returned, not raised, so that it reaches the main process intact from a
    DataLoader worker (which would wrap it in a traceback)."""

    def __init__(
        self,
        pngs: list[Path],
        jsons: list[Path | None],
        preprocessor: Preprocessor,
        min_size: int = 1,
        max_pixels: int = MAX_PIXELS,
    ) -> None:
        self.pngs, self.jsons, self.preprocessor = pngs, jsons, preprocessor
        # the film sizes the model was trained to accept
        self.min_size, self.max_pixels = min_size, max_pixels

    def __len__(self) -> int:
        return len(self.pngs)

    def __getitem__(self, i: int) -> tuple[int, np.ndarray | str]:
        png, annotation = self.pngs[i], self.jsons[i]
        try:
            return i, preprocess_file(
                self.preprocessor, str(png), str(annotation or ""), self.min_size, self.max_pixels
            )
        except DicomReadError as err:  # its own message names the file and the problem
            return i, f"{str(err).split('; ')[0]}; leave it out of input="
        except UnusableFilmError as err:  # blank, too large, too small: the reason, not the fix
            return i, f"{str(err).split('; ')[0]}; leave it out of input="
        except ImageReadError:
            # Its own message tells to re-extract datasets-PNG.zip: right for training only.
            return i, (
                f"{png}: not a readable image (empty or corrupt); replace the file, or leave "
                "it out of input="
            )
        except ValueError as err:  # landmark and geometry problems
            message = str(err)
            named = str(png) in message or (annotation is not None and str(annotation) in message)
            return i, message if named else f"{png}: {message}"


@dataclass
class InputBatch:
    index: torch.Tensor  # positions in the file list
    images: torch.Tensor | None  # uint8 (B, variants, C, S, S); None when problems
    problems: list[str]


def collate_inputs(items: list[tuple[int, np.ndarray | str]]) -> InputBatch:
    problems = [x for _, x in items if isinstance(x, str)]
    index = torch.tensor([i for i, _ in items])
    if problems:
        return InputBatch(index, None, problems)
    return InputBatch(index, torch.from_numpy(np.stack([x for _, x in items])), [])
