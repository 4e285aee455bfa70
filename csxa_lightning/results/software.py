"""The report's account of what produced its runs: the environment each run recorded in
metrics.json (environment.run_environment), a warning when runs of the sweep differ in it, and
the versions of the machine that built the report itself, kept apart from the runs'."""

from __future__ import annotations

import platform

from csxa_lightning.runs.environment import (
    NOT_RECORDED,
    differences,
    package_version,
    recorded_environment,
)
from csxa_lightning.runs.folder import Run, run_repeat

# The report's own machine: it reads files and draws figures, it trains nothing.
REPORT_PACKAGES = ("pandas", "matplotlib", "statsmodels", "scikit-learn", "numpy")


def run_name(run: Run) -> str:
    return f"{run.title}, {run_repeat(run)}"


def run_environments(runs: list[Run]) -> dict[str, dict]:
    return {run_name(run): recorded_environment(run.recorded) for run in runs}


def environment_warning(runs: list[Run]) -> str | None:
    """One line naming every key in which the runs' environments differ, with the runs of each
    value; None when they agree (or there is only one run)."""
    differing = differences(run_environments(runs))
    if not differing:
        return None
    parts = []
    for key, by_value in differing.items():
        values = "; ".join(f"{value} ({', '.join(names)})" for value, names in by_value.items())
        parts.append(f"{key}: {values}")
    return (
        "**Warning: the runs of this sweep were not made in one environment**, so their "
        "comparisons are confounded with the difference (OpenCV and albumentations change the "
        "training images, torch and cuDNN the arithmetic). " + " — ".join(parts) + "."
    )


def software_markdown(runs: list[Run]) -> str:
    """The environment that trained the runs: one table when they agree, else the shared keys
    and a table of the differing ones per run; then the report's own machine."""
    environments = run_environments(runs)
    differing = differences(environments)
    recorded = [env for env in environments.values() if env]
    lines = []
    if not recorded:
        lines.append(
            f"The runs' environment: {NOT_RECORDED} (runs written before metrics.json recorded it)."
        )
    else:
        keys = list(dict.fromkeys(k for env in recorded for k in env))
        shared = [k for k in keys if k not in differing]
        first = recorded[0]
        scope = "all runs" if not differing else "the same in all runs"
        lines.append(
            f"What trained the runs (metrics.json, {scope}):\n\n| | version |\n|---|---|\n"
            + "\n".join(f"| {k} | {_cell(first.get(k))} |" for k in shared)
        )
        if differing:
            header = "| run | " + " | ".join(differing) + " |"
            rows = [
                "| "
                + " | ".join(
                    [name]
                    + [
                        _cell(env.get(k, NOT_RECORDED) if env else NOT_RECORDED) for k in differing
                    ]  # fmt: skip
                )
                + " |"
                for name, env in environments.items()
            ]
            lines.append(
                "Where the runs differ:\n\n"
                + header
                + "\n|"
                + "---|" * (len(differing) + 1)
                + "\n"
                + "\n".join(rows)
            )
    report_machine = ", ".join(
        [f"Python {platform.python_version()}"]
        + [f"{name} {package_version(name)}" for name in REPORT_PACKAGES]
    )
    lines.append(f"This report was built with {report_machine}.")
    return "\n\n".join(lines)


def _cell(value) -> str:
    return "—" if value is None else str(value)
