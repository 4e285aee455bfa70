"""Experiment trackers (the logger group): a missing tracker package ends the run before any
work with one line naming the extra that installs it."""

from __future__ import annotations

import importlib.util

from csxa_lightning.errors import UserError

# Lightning logger class -> the package it needs (TensorBoard also accepts tensorboardX).
TRACKER_PACKAGES = {
    "TensorBoardLogger": ("tensorboard", "tensorboardX"),
    "MLFlowLogger": ("mlflow",),
    "WandbLogger": ("wandb",),
}


class TrackerMissingError(UserError):
    """logger=NAME needs a package this environment lacks."""


def check_tracker_packages(loggers: dict | None) -> None:
    for name, logger in (loggers or {}).items():
        cls = str(logger.get("_target_", "")).rsplit(".", 1)[-1]
        needed = TRACKER_PACKAGES.get(cls)
        if needed and not any(importlib.util.find_spec(p) for p in needed):
            raise TrackerMissingError(
                f"logger={name} needs the {needed[0]} package: "
                "pip install 'csxa-lightning[tracking]'"
            )
