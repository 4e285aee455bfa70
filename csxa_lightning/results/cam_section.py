"""The report's Grad-CAM section: where each variant's tested checkpoint looks, on a few of its
test images -- true positives, false positives and false negatives.

Cheap by design: one run per variant (its first repetition), at most `per_category` images per
category, picked from predictions.csv (the most confident true and false positives, the least
confident false negatives). A run whose checkpoint or dataset is not on this machine gets a line
saying why instead of a picture; the rest of the report never depends on this section.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
from omegaconf import OmegaConf

from csxa_lightning.data.csxa import JSON_DIR, PNG_DIR
from csxa_lightning.results.figures import png_bytes
from csxa_lightning.runs.folder import Run, existing_checkpoint, load_saved_config, run_repeat

# (title, true label, predicted label, sort by probability ascending: the most telling first);
# a title names the classes, not their codes (diseased is the positive class).
CATEGORIES = (
    ("true positives\n(diseased, called diseased)", 1, 1, False),
    ("false positives\n(healthy, called diseased)", 0, 1, False),
    ("false negatives\n(diseased, called healthy)", 1, 0, True),
)
# Recomputed (float32, CPU) probabilities may differ from predictions.csv by float noise; more
# than this means the checkpoint or the images changed since the run. A run tested in 16-bit
# mixed precision (trainer=gpu: bf16) carries about 3 significant digits.
PROBABILITY_TOLERANCE = {"32": 1e-4, "64": 1e-4, "16": 2e-2, "bf16": 2e-2}


class CamUnavailable(Exception):
    """Why a run has no Grad-CAM picture (shown in the report instead)."""


@dataclass
class CamSection:
    markdown: str
    pictures: dict[str, bytes] = field(default_factory=dict)


def tested_checkpoint(run: Run) -> Path:
    """The checkpoint whose predictions are in predictions.csv (metrics.json names it), looked
    up in the run's own checkpoints/ first: the run folder may have been moved since."""
    found, candidates = existing_checkpoint(run.path, run.recorded)
    if found is not None:
        return found
    looked_for = " or ".join(str(c) for c in candidates)
    raise CamUnavailable(f"no checkpoint: {looked_for} not found")


def dataset_root(run: Run, config) -> Path:
    """The dataset folder a run read: metrics.json's dataset_root, or for runs written before
    it was recorded, the folder its saved config names."""
    root = run.recorded.get("dataset_root")
    if root is None:
        root = configured_root(config)
    if root is None or not (Path(root) / PNG_DIR).is_dir():
        raise CamUnavailable(f"the run's dataset folder {root} is not on this machine")
    return Path(root)


def configured_root(config) -> str | Path | None:
    """The dataset folder a saved config names (a phantom set: its cache path)."""
    from csxa_lightning.config.resolvers import register_resolvers
    from csxa_lightning.phantom.store import phantom_dir

    register_resolvers()  # paths.cache_dir is ${csxa_cache_dir:}

    try:
        phantom = OmegaConf.select(config, "data.phantom")
        if phantom is not None:
            cache_dir = OmegaConf.select(config, "data.cache_dir")
            return phantom_dir(cache_dir, **OmegaConf.to_container(phantom))
        return OmegaConf.select(config, "data.root")
    except Exception as err:  # an interpolation this process cannot resolve
        raise CamUnavailable(
            f"cannot tell the dataset folder from the run's config ({err})"
        ) from err


def run_precision(run: Run, config) -> str:
    """The numeric precision the run trained with ("32", "16", "bf16"): metrics.json's record,
    else its saved config. The config's default is an interpolation (${csxa_precision:...})
    that this process resolves for its own machine, not the run's, and that a report process
    must register first (register_resolvers)."""
    recorded = run.recorded.get("trainer_precision")
    if recorded is None:
        from csxa_lightning.config.resolvers import register_resolvers

        register_resolvers()
        try:
            recorded = OmegaConf.select(config, "trainer.precision", default="32")
        except Exception as err:  # an interpolation this process cannot resolve
            raise CamUnavailable(
                f"cannot tell the run's precision from its config ({err})"
            ) from err
    return str(recorded).split("-")[0]


def pick_examples(predictions: pd.DataFrame, per_category: int) -> dict[str, pd.DataFrame]:
    """Up to per_category rows of each category present, most telling first."""
    picked = {}
    for title, label, pred, ascending in CATEGORIES:
        rows = predictions[(predictions["label"] == label) & (predictions["pred"] == pred)]
        rows = rows.sort_values(["prob_diseased", "stem"], ascending=[ascending, True])
        if len(rows):
            picked[title] = rows.head(per_category)
    return picked


def run_figure(run: Run, per_category: int) -> tuple[bytes, str]:
    """The run's Grad-CAM grid as PNG bytes, and a caption."""
    examples = pick_examples(run.predictions, per_category)
    if not examples:
        raise CamUnavailable("no true positives, false positives or false negatives")
    checkpoint = tested_checkpoint(run)
    config = load_saved_config(run.config_file)
    root = dataset_root(run, config)
    precision = run_precision(run, config)
    tolerance = PROBABILITY_TOLERANCE.get(precision, PROBABILITY_TOLERANCE["16"])

    import torch  # heavy imports only for runs that get a picture

    from csxa_lightning.data.cache import preprocess_file
    from csxa_lightning.inference.loading import load_trained_model
    from csxa_lightning.models.cam import grad_cam, overlay

    model = load_trained_model(checkpoint, "cpu")
    chosen = pd.concat(examples.values(), ignore_index=True)
    inputs = torch.from_numpy(
        np.stack(
            [
                preprocess_file(
                    model.preprocessor,
                    str(root / PNG_DIR / f"{stem}.png"),
                    str(root / JSON_DIR / f"{stem}.json"),
                )
                for stem in chosen["stem"]
            ]
        )
    )
    with torch.inference_mode():
        now = model.classifier.class_probabilities(inputs)[:, 1].numpy()
    cams = grad_cam(model.classifier, model.arch, inputs, chosen["pred"].tolist())
    pictures = [overlay(image[0].numpy(), m) for image, m in zip(inputs, cams.maps, strict=True)]

    drift = float(np.abs(now - chosen["prob_diseased"].to_numpy()).max())
    caption = (
        f"checkpoint `{checkpoint.name}`; Grad-CAM of the predicted class at `{cams.layer}` "
        f"({cams.grid[0]} × {cams.grid[1]} cells, upsampled to {inputs.shape[-1]} px)"
    )
    if cams.grid == (1, 1):
        caption += "; one cell: at this image size the map cannot show where"
    if drift > tolerance:
        caption += (
            f". Warning: recomputed probabilities differ from predictions.csv by up to "
            f"{drift:.3g}; the checkpoint or the images changed since the run"
        )
    return _grid(run.title, examples, pictures, per_category), caption


def _grid(title, examples: dict[str, pd.DataFrame], pictures, per_category: int) -> bytes:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = len(examples)
    fig, axes = plt.subplots(
        rows, per_category, figsize=(2.4 * per_category, 2.7 * rows), squeeze=False
    )
    pictures = iter(pictures)
    for row, (category, frame) in zip(axes, examples.items(), strict=True):
        for column, ax in enumerate(row):
            ax.axis("off")
            if column >= len(frame):
                continue
            record = frame.iloc[column]
            ax.imshow(next(pictures))
            ax.set_title(tile_title(record), fontsize=8)
        row[0].text(
            -0.08, 0.5, category, transform=row[0].transAxes, rotation=90, ha="right", va="center"
        )
    fig.suptitle(f"{title}: p = probability of diseased", fontsize=9)
    fig.tight_layout()
    return png_bytes(fig)


def tile_title(record: pd.Series) -> str:
    """A picture's title: its film and probability of diseased to three decimals, so that
    films a model scores near 0.5 (0.527, 0.531) do not all read alike."""
    return f"{record['stem']}  p={record['prob_diseased']:.3f}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", text.lower()).strip("_")


def cam_section(runs: list[Run], per_category: int = 3) -> CamSection:
    """Markdown (linking figures/<name>) and the pictures, one per variant."""
    section = CamSection(
        "## Grad-CAM\n\n"
        "Where each variant's tested checkpoint looks: Grad-CAM of the predicted class at the "
        "backbone's last convolutional block, over the model input (its gray channel), for up "
        f"to {per_category} test images per category: the most confident true and false "
        "positives and the least confident false negatives (positive: diseased). One repetition "
        "per variant. A map has the resolution of that layer, upsampled: it shows regions, not "
        "structures."
    )
    first_of_variant = {}
    for run in runs:
        first_of_variant.setdefault(run.key, run)
    for number, run in enumerate(first_of_variant.values()):
        heading = f"{run.title}, {run_repeat(run)}"
        try:
            picture, caption = run_figure(run, per_category)
        except CamUnavailable as why:
            section.markdown += f"\n\n- {heading}: no Grad-CAM pictures: {why}."
            continue
        except (ValueError, OSError) as err:  # unreadable checkpoint or image: say so, go on
            section.markdown += f"\n\n- {heading}: no Grad-CAM pictures: {err}"
            continue
        name = f"cam_{number:02d}_{_slug(run.title)}.png"
        section.pictures[name] = picture
        section.markdown += f"\n\n### {heading}\n\n{caption}.\n\n![{name}](figures/{name})"
    return section
