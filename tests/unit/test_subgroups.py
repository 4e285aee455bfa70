"""Subgroups by the file name's gender code and age band: counts add up, small groups show no
number."""

from __future__ import annotations

import numpy as np
import pandas as pd

from csxa_lightning.data.csxa import stem_patients
from csxa_lightning.metrics.subgroups import age_band, patient_groups, subgroup_table


def predictions(n: int = 60, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    gender = rng.integers(0, 2, n)
    age = rng.integers(18, 88, n)
    stems = [f"{i + 1:04d}{g}{a:02d}" for i, (g, a) in enumerate(zip(gender, age, strict=True))]
    label = (rng.uniform(size=n) < 0.7).astype(int)
    prob = np.clip(label * 0.3 + rng.uniform(size=n) * 0.7, 0, 1)
    return pd.DataFrame({"stem": stems, "label": label, "prob_diseased": prob})


def test_age_bands_by_default_edges():
    assert [age_band(a) for a in (18, 39, 40, 59, 60, 87)] == [
        "<40", "<40", "40-59", "40-59", ">=60", ">=60"
    ]  # fmt: skip
    assert age_band(35, (30, 50, 70)) == "30-49" and age_band(None) == "unknown"


def test_groups_come_from_the_stem_and_other_names_are_unknown():
    groups = patient_groups(stem_patients(pd.Series(["2548130", "0001065", "IMG_0001"])))
    assert groups["gender"].tolist() == ["gender 1", "gender 0", "unknown"]
    assert groups["age_band"].tolist() == ["<40", ">=60", "unknown"]


def test_subgroup_counts_add_up_to_the_test_set_and_small_groups_show_no_number():
    frame = predictions()
    table = subgroup_table(frame, stem_patients(frame["stem"]), min_count=10)
    for attribute in ("gender", "age_band"):
        part = table[table["attribute"] == attribute]
        assert part["n"].sum() == len(frame)
        assert part["n_diseased"].sum() == frame["label"].sum()
    everyone = table[table["attribute"] == "all"].iloc[0]
    assert everyone["n"] == 60
    expected = ((frame["prob_diseased"] >= 0.5) == frame["label"]).mean()
    assert everyone["accuracy"] == expected
    assert 0.5 < expected < 1
    assert everyone["accuracy_ci_low"] < expected < everyone["accuracy_ci_high"]
    # a group with fewer than min_count healthy films has no specificity and no AUROC
    small = table[table["n_healthy"] < 10]
    assert len(small) and small["specificity"].isna().all() and small["auroc"].isna().all()
    assert table.loc[table["n_healthy"] >= 10, "specificity"].notna().all()
    assert table[table["attribute"] == "age_band"]["group"].tolist() == ["<40", "40-59", ">=60"]
