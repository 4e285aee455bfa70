"""The report's account of what produced its runs: the environment each run recorded in
metrics.json (environment.run_environment), a warning when runs of the sweep differ in it, and
the versions of the machine that built the report itself, kept apart from the runs'. The
environments and their differences come from comparisons.py; this module writes them."""

from __future__ import annotations

import platform

from csxa_lightning.runs.environment import NOT_RECORDED, package_version

# The report's own machine: it reads files and draws figures, it trains nothing.
REPORT_PACKAGES = ("pandas", "matplotlib", "statsmodels", "scikit-learn", "numpy")


def environment_warning(differing: dict[str, dict[str, list[str]]]) -> str | None:
    """One line naming every key in which the runs' environments differ (differing:
    environment.differences), with the runs of each value; None when they agree (or there is
    only one run)."""
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


def software_markdown(
    environments: dict[str, dict], differing: dict[str, dict[str, list[str]]]
) -> str:
    """The environment that trained the runs (environments: each run's, by run name): one
    table when they agree, else the shared keys and a table of the differing ones per run;
    then the report's own machine."""
    recorded = [env for env in environments.values() if env]
    if not recorded:
        lines = [
            f"The runs' environment: {NOT_RECORDED} (runs written before metrics.json recorded it)."
        ]
    else:
        lines = [shared_table(recorded, differing)]
        if differing:
            lines.append(differing_table(environments, differing))
    return "\n\n".join([*lines, f"This report was built with {report_machine()}."])


def shared_table(recorded: list[dict], differing: dict) -> str:
    """The keys all runs agree on, with their value."""
    keys = list(dict.fromkeys(k for env in recorded for k in env))
    shared = [k for k in keys if k not in differing]
    scope = "all runs" if not differing else "the same in all runs"
    return (
        f"What trained the runs (metrics.json, {scope}):\n\n| | version |\n|---|---|\n"
        + "\n".join(f"| {k} | {cell_text(recorded[0].get(k))} |" for k in shared)
    )


def differing_table(environments: dict[str, dict], differing: dict) -> str:
    """The keys the runs differ in, one row per run (a key it did not record: NOT_RECORDED)."""
    header = "| run | " + " | ".join(differing) + " |"
    rows = [
        "| "
        + " | ".join(
            [name]
            + [cell_text(env.get(k, NOT_RECORDED) if env else NOT_RECORDED) for k in differing]
        )
        + " |"
        for name, env in environments.items()
    ]
    rule = "|" + "---|" * (len(differing) + 1)
    return "Where the runs differ:\n\n" + "\n".join([header, rule, *rows])


def report_machine() -> str:
    """Python and the packages of the machine that builds the report (not the runs')."""
    return ", ".join(
        [f"Python {platform.python_version()}"]
        + [f"{name} {package_version(name)}" for name in REPORT_PACKAGES]
    )


def cell_text(value) -> str:
    return "—" if value is None else str(value)
