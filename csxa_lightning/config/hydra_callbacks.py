"""Hydra callbacks: check a sweep before its first job, build the report when it ends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig


class ReportOnMultirunEnd(Callback):
    """After the last job of every --multirun (conf/hydra/default.yaml): report.md, report.csv
    and report.html in the sweep folder, computed from the run folders' files alone (make
    report rebuilds it the same way); a sweep of landmark models (task=landmarks) names each
    run's own report. A sweep none of whose runs finished says so in one line:
    Hydra would turn the exception into a warning with a traceback."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        from csxa_lightning.results.document import build_report  # heavy imports when needed
        from csxa_lightning.utils.errors import UserError

        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            paths = build_report(sweep_dir)
        except UserError as err:
            # A sweep of landmark models (task=landmarks): each run wrote its own report.
            own = sorted(p.with_name("report.html") for p in sweep_dir.rglob("landmarks.csv"))
            for report in (r for r in own if r.is_file()):
                print(f"report: {report}")
            if not own:
                print(f"report: not built: {err}")
            return
        print(f"report: {paths['html']}")  # once: a log.info too would echo it on the console


class CheckVariantsOnMultirunStart(Callback):
    """Before the first job of a --multirun: refuse a sweep in which two +variant values would
    be the same run (config/checks.py: check_sweep_variants), e.g. `model=vgg19` making Original a
    second Original (VGG19). Here and not at the start of each job: only the sweep's own config
    still holds the whole list of variants (a job sees its own override), and nothing has run.

    Hydra turns an exception raised by a callback into a warning and goes on with the sweep, so
    the refusal ends the command here, as every entry point ends a user error: one
    `error: ...` line and exit code 1 (a SystemExit, which Hydra lets through)."""

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra import compose

        from csxa_lightning.config.checks import check_sweep_variants
        from csxa_lightning.utils.errors import exit_on_user_error

        def compose_job(config_name: str | None, overrides: list[str]) -> DictConfig:
            return compose(config_name=config_name, overrides=overrides)

        with exit_on_user_error():
            check_sweep_variants(config, kwargs.get("config_name"), compose_job)
