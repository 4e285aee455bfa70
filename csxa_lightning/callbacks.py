"""Hydra callbacks: build the report when a sweep ends."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

log = logging.getLogger(__name__)


class ReportOnMultirunEnd(Callback):
    """After the last job of a --multirun: report.md, report.csv and report.html in the sweep
    folder, computed from the run folders' files alone (make report rebuilds it the same way)."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from csxa_lightning.report import build_report  # heavy imports only when needed

        sweep_dir = Path(config.hydra.sweep.dir)
        paths = build_report(sweep_dir)
        log.info("report: %s", paths["html"])
        print(f"report: {paths['html']}")
