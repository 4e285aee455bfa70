"""The sweep report's ensembles: for each variant trained over several seeds, the mean of its
members' probabilities (metrics/ensembles.py, the arithmetic predict and evaluate use), scored
from their saved predictions.csv -- no model is run again -- with the statistics of a single
run, against the baseline variant's ensemble of as many members on the same films.

Like with like: an ensemble pairs only with an ensemble of the same number of members and the
same fold (its repeat is (members, fold)), and only members that tested the same films are
combined; a variant whose seeds tested different films (a split that moves with the seed) gets
no ensemble, and the report says why.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
import pandas as pd

from csxa_lightning.metrics.classification import bootstrap_seed, metrics_with_intervals
from csxa_lightning.metrics.ensembles import mean_ensemble
from csxa_lightning.results.run_table import run_table
from csxa_lightning.runs.folder import Run

# What an ensemble row sets beside the members' means (ensemble_table's columns).
SIDE_BY_SIDE = ("balanced_accuracy", "auroc", "brier_score")


@dataclass(frozen=True, eq=False)  # DataFrames have no plain equality: compare by identity
class Ensembles:
    """table: run_table's rows of the ensembles (their tests against the baseline's ensemble),
    with members_<metric>_mean for SIDE_BY_SIDE; skipped: why a variant has none."""

    table: pd.DataFrame
    skipped: tuple[str, ...]


def member_groups(runs: Sequence[Run]) -> dict[tuple, list[Run]]:
    """The runs of each variant and fold that differ only in their seed, in sweep order."""
    groups: dict[tuple, list[Run]] = {}
    for run in runs:
        key = (run.title, run.arch, run.crop, run.color, run.variant, run.fold)
        groups.setdefault(key, []).append(run)
    return groups


def same_films(members: Sequence[Run]) -> bool:
    stems = [tuple(r.predictions["stem"]) for r in members]  # each sorted by case id
    return all(s == stems[0] for s in stems[1:])


def ensemble_run(members: Sequence[Run]) -> Run:
    """A Run whose predictions are the mean of its members' (predictions.csv), decided at the
    mean of their thresholds, with the metrics and intervals a trained run gets."""
    first = members[0]
    prob = np.stack([r.predictions["prob_diseased"].to_numpy(dtype=float) for r in members])
    thresholds = [float(r.recorded.get("threshold", 0.5)) for r in members]
    combined = mean_ensemble(prob, thresholds)
    predictions = first.predictions[["case_id", "stem", "label"]].copy()
    predictions["prob_diseased"] = combined.score
    predictions["pred"] = (combined.score >= combined.threshold).astype(int)
    seeds = tuple(r.seed for r in members)
    # Its repeat (seed, fold) is (members, fold): it pairs with an ensemble of as many members.
    run = replace(
        first,
        seed=len(members),
        predictions=predictions,
        members=seeds,
        recorded={**first.recorded, "threshold": combined.threshold},
    )
    run.metrics = metrics_with_intervals(
        predictions["label"].to_numpy(),
        combined.score,
        combined.threshold,
        seed=bootstrap_seed(min(seeds)),
    )
    return run


def sweep_ensembles(runs: Sequence[Run]) -> Ensembles | None:
    """The ensemble of every variant trained over two or more seeds; None when none was."""
    built, members_of, skipped = [], [], []
    for members in member_groups(runs).values():
        if len({r.seed for r in members}) < 2:
            continue
        if not same_films(members):
            skipped.append(
                f"{members[0].title}: its {len(members)} seeds tested different films, so their "
                "probabilities cannot be averaged film by film"
            )
            continue
        built.append(ensemble_run(members))
        members_of.append(members)
    if not built:
        return None if not skipped else Ensembles(pd.DataFrame(), tuple(skipped))
    table = run_table(built)
    for metric in SIDE_BY_SIDE:
        table[f"members_{metric}_mean"] = [
            float(np.mean([r.metrics[metric] for r in group])) for group in members_of
        ]
    table["members"] = [len(group) for group in members_of]
    table["brier_score"] = [r.metrics["brier_score"] for r in built]
    return Ensembles(table, tuple(skipped))
