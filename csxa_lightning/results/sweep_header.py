"""The sweep report's header paragraphs on how its runs were made: the phantom set's planted
effect, when they trained on one, and the protocol they followed with its departures from the
paper. Both are what train.py recorded in the run folders, written as the runs share them."""

from __future__ import annotations

from collections.abc import Sequence

from csxa_lightning.phantom.anatomy import EFFECTS
from csxa_lightning.runs.folder import Run

PROTOCOL_TEXT = {
    "paper": "The paper's experiment: a plain seeded random 75/25 split (not stratified), no "
    "validation slice, the model after the last epoch tested.",
    "strict": "Our recommendation, not the paper's: a stratified split and a validation slice "
    "that selects the tested checkpoint (see the departures below).",
}
# What a phantom effect should show in the tables, by construction of the generator.
EXPECTED_BY_EFFECT = {
    "planted": "Expected by construction: the keypoint-crop variants beat the "
    "original (crop=none), whose centre crop mostly misses the signs.",
    "none": "Expected by construction: every variant at chance (balanced accuracy "
    "50 %) and no significant difference from the baseline.",
}


def phantom_markdown(runs: Sequence[Run]) -> str | None:
    """What the phantom set's generator planted (data.phantom.effect), for the report's
    header: on a phantom the ground truth is known, so the reader can check the tables against
    it. None when no run trained on a phantom."""
    effects: dict[str, list[str]] = {}
    for run in runs:
        if run.phantom is not None:
            effects.setdefault(str(run.phantom.get("effect", "natural")), []).append(run.title)
    if not effects:
        return None
    lines = []
    for effect, titles in effects.items():
        which = "" if set(titles) == titles_of(runs) else f" ({'; '.join(dict.fromkeys(titles))})"
        text = EFFECTS.get(effect, "not an effect this version of the generator knows")
        lines.append(f"**Data: a synthetic phantom set, effect `{effect}`{which}:** {text}.")
    known = [e for e in effects if e in EXPECTED_BY_EFFECT]
    if known:
        lines.append(EXPECTED_BY_EFFECT[known[0]])
    return "\n\n".join(lines)


def protocol_markdown(runs: Sequence[Run]) -> str:
    """The protocol every run followed and, value by value, where it departs from the paper
    (train.py records both in metrics.json)."""
    protocols = sorted({str(r.recorded.get("protocol", "not recorded")) for r in runs})
    lines = [f"**Protocol: {', '.join(protocols)}.** " + PROTOCOL_TEXT.get(protocols[0], "")]
    if len(protocols) > 1:
        lines[0] = f"**Protocols differ between runs: {', '.join(protocols)}.**"
    header, departures = departures_by_run(runs)
    if not departures:
        lines.append("These runs recorded no departures from the paper's method.")
        return "\n\n".join(lines)
    columns = (header or ["departure"]) + ["runs"]
    everyone = titles_of(runs)

    def which(titles: list[str]) -> str:
        return "all" if set(titles) == everyone else "; ".join(dict.fromkeys(titles))

    rows = [f"| {cells} | {which(titles)} |" for cells, titles in departures.items()]
    lines += [
        "Departures from the paper (value by value; the paper's values are its text's):",
        "| " + " | ".join(columns) + " |\n|" + "---|" * len(columns) + "\n" + "\n".join(rows),
    ]
    return "\n\n".join(lines)


def departures_by_run(runs: Sequence[Run]) -> tuple[list[str] | None, dict[str, list[str]]]:
    """(the departures' field names, from the first one recorded as a dict, or None; each
    departure's table cells -> the titles of the runs that recorded it). A departure recorded
    as plain text is one cell."""
    departures: dict[str, list[str]] = {}
    header: list[str] | None = None
    for run in runs:
        for item in run.recorded.get("departures") or []:
            cells = [str(v) for v in item.values()] if isinstance(item, dict) else [str(item)]
            if isinstance(item, dict) and header is None:
                header = list(item)
            departures.setdefault(" | ".join(cells), []).append(run.title)
    return header, departures


def titles_of(runs: Sequence[Run]) -> set[str]:
    return {r.title for r in runs}
