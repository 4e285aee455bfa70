"""The report from run folders alone: fabricated predictions whose metrics are known exactly."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from csxa_lightning.metrics.paper import PUBLISHED_TABLE1
from csxa_lightning.metrics.stats import mcnemar_exact, two_proportion_ztest
from csxa_lightning.results.document import build_report
from csxa_lightning.runs.folder import find_runs

N_HEALTHY, N_DISEASED = 20, 80


def fake_run(
    sweep,
    name,
    arch,
    crop,
    color,
    wrong_healthy,
    wrong_diseased,
    seed=42,
    fold=None,
    variant=None,
    recorded=None,
    n_healthy=N_HEALTHY,
    n_diseased=N_DISEASED,
    first_case=1,
    saved=None,
):
    """A finished run folder whose model misclassifies the first k images of each class.
    variant: (name, baseline) as conf/variant/ marks it, or the whole variant block a run saves
    (a dict); recorded: metrics.json's content; saved: more of the saved config (.hydra/
    config.yaml), e.g. its balance block."""
    folder = sweep / name
    (folder / ".hydra").mkdir(parents=True)
    labels = np.r_[np.zeros(n_healthy, int), np.ones(n_diseased, int)]
    prob = np.where(labels == 1, 0.9, 0.1)
    prob[:wrong_healthy] = 0.8  # healthy called diseased
    prob[n_healthy : n_healthy + wrong_diseased] = 0.3  # diseased called healthy
    case_ids = np.arange(first_case, first_case + len(labels))
    pd.DataFrame(
        {
            "case_id": case_ids,
            "stem": [f"{i:04d}130" for i in case_ids],
            "label": labels,
            "prob_diseased": prob,
            "pred": (prob >= 0.5).astype(int),
        }
    ).to_csv(folder / "predictions.csv", index=False)
    (folder / "metrics.json").write_text(json.dumps(recorded or {"accuracy": None}))
    config = {
        "seed": seed,
        "model": {"arch": arch},
        "cv": {"folds": 0 if fold is None else 5, "fold": fold or 0},
        "crop": {"name": crop},
        "color": {"name": color},
    }
    if isinstance(variant, dict):
        config["variant"] = variant
    elif variant is not None:
        config["variant"] = {"name": variant[0], "baseline": variant[1]}
    config.update(saved or {})
    (folder / ".hydra" / "config.yaml").write_text(yaml.safe_dump(config))
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump([f"crop={crop}"]))
    return (prob >= 0.5).astype(int) == labels


@pytest.fixture
def sweep(tmp_path):
    correct = {
        "base": fake_run(tmp_path, "base", "resnet50", "none", "none", 10, 5),
        "wide": fake_run(tmp_path, "wide", "resnet50", "wide", "none", 4, 2),
        "vgg": fake_run(tmp_path, "vgg", "vgg19", "none", "none", 20, 0),
    }
    return tmp_path, correct


def test_table_numbers_are_those_of_the_predictions(sweep):
    root, correct = sweep
    paths = build_report(root)
    table = pd.read_csv(paths["csv"]).set_index("variant")
    assert list(table.index) == ["Original (ResNet50)", "Original (VGG19)", "Wide cropped"]
    wide = table.loc["Wide cropped"]
    assert wide["accuracy"] == pytest.approx(94 / 100)
    assert wide["sensitivity"] == pytest.approx(78 / 80)
    assert wide["specificity"] == pytest.approx(16 / 20)
    assert wide["balanced_accuracy"] == pytest.approx((78 / 80 + 16 / 20) / 2)
    assert wide["p_ztest_vs_baseline"] == pytest.approx(two_proportion_ztest(94, 100, 85, 100)[1])
    assert wide["p_mcnemar_vs_baseline"] == pytest.approx(
        mcnemar_exact(correct["wide"], correct["base"])["p"]
    )
    vgg = table.loc["Original (VGG19)"]  # always "diseased": the majority baseline exactly
    assert vgg["accuracy"] == 0.8 and vgg["balanced_accuracy"] == 0.5
    assert np.isnan(table.loc["Original (ResNet50)", "p_ztest_vs_baseline"])


def test_markdown_and_html_show_both_tables_the_majority_row_and_figures(sweep):
    root, _ = sweep
    paths = build_report(root)
    markdown = paths["md"].read_text()
    assert "| Wide cropped | resnet50 | 94.00 |" in markdown
    assert '| Majority class (always "diseased") | — | 80.00 |' in markdown
    assert "McNemar" in markdown and "| 20 / 80 |" in markdown
    page = paths["html"].read_text()
    assert page.count("data:image/png;base64,") == 4  # ROC, confusion matrices, bars, reliability
    assert "<table>" in page and "Majority class" in page
    for name in ("roc.png", "confusion.png", "balanced_accuracy.png"):
        assert (root / "figures" / name).stat().st_size > 1000
    # software: these fabricated runs recorded no environment; the report machine its own
    assert "environment: not recorded" in markdown and "statsmodels" in markdown


def test_seeds_give_mean_and_sd(tmp_path):
    for seed, (wh, wd) in zip((1, 2), ((10, 5), (12, 3)), strict=True):
        fake_run(tmp_path, f"base{seed}", "resnet50", "none", "none", wh, wd, seed=seed)
        fake_run(tmp_path, f"wide{seed}", "resnet50", "wide", "none", wh - 6, wd - 2, seed=seed)
    markdown = build_report(tmp_path)["md"].read_text()
    # accuracies 85 and 85 for the baseline, 93 and 93 for wide: sd 0
    assert "| Wide cropped | 2 | 93.00 ± 0.00 |" in markdown


def test_folds_pair_up_with_a_paired_t_test(tmp_path):
    from scipy.stats import ttest_rel

    base_wrong, wide_wrong = [(10, 5), (12, 3), (9, 6)], [(4, 2), (8, 1), (3, 5)]
    for fold in range(3):
        fake_run(tmp_path, f"b{fold}", "resnet50", "none", "none", *base_wrong[fold], fold=fold)
        fake_run(tmp_path, f"w{fold}", "resnet50", "wide", "none", *wide_wrong[fold], fold=fold)
    table = pd.read_csv(build_report(tmp_path)["csv"])
    assert set(table["repeat"]) == {"seed 42, fold 0", "seed 42, fold 1", "seed 42, fold 2"}
    markdown = (tmp_path / "report.md").read_text()

    def bal(wh, wd):
        return ((N_HEALTHY - wh) / N_HEALTHY + (N_DISEASED - wd) / N_DISEASED) / 2

    expected = ttest_rel([bal(*w) for w in wide_wrong], [bal(*b) for b in base_wrong]).pvalue
    assert "| Wide cropped | 3 |" in markdown
    assert f"| {expected:.4f} |" in markdown


def marked_sweep(tmp_path, arch="resnet18", recorded=None):
    """Three runs of a sweep shrunk with model=resnet18: the baseline is found by its marker."""
    correct = {
        "base": fake_run(tmp_path, "base", arch, "none", "none", 10, 5, variant=("original", True),
                         recorded=recorded),
        "wide": fake_run(tmp_path, "wide", arch, "wide", "none", 4, 2,
                         variant=("wide_cropped", False), recorded=recorded),
        "color": fake_run(tmp_path, "color", arch, "none", "enhanced", 9, 1,
                          variant=("colored", False), recorded=recorded),
    }  # fmt: skip
    return correct


def test_the_baseline_is_the_run_marked_baseline_whatever_its_model(tmp_path):
    correct = marked_sweep(tmp_path)
    table = pd.read_csv(build_report(tmp_path, cam_examples=0)["csv"]).set_index("variant")
    assert table["baseline"].to_dict() == {
        "Original (ResNet18)": True,
        "Wide cropped (ResNet18)": False,
        "Colored (ResNet18)": False,
    }
    wide = table.loc["Wide cropped (ResNet18)"]
    assert wide["p_ztest_vs_baseline"] == pytest.approx(two_proportion_ztest(94, 100, 85, 100)[1])
    assert wide["p_mcnemar_vs_baseline"] == pytest.approx(
        mcnemar_exact(correct["wide"], correct["base"])["p"]
    )
    one_sided = mcnemar_exact(correct["wide"], correct["base"], alternative="larger")["p"]
    assert wide["p_mcnemar_one_sided"] == pytest.approx(one_sided)
    assert one_sided < wide["p_mcnemar_vs_baseline"]  # the variant is the better one


def test_holm_adjusted_p_values_are_statsmodels(tmp_path):
    from statsmodels.stats.multitest import multipletests

    marked_sweep(tmp_path)
    table = pd.read_csv(build_report(tmp_path, cam_examples=0)["csv"]).set_index("variant")
    others = table[~table["baseline"]]
    for raw in ("p_ztest_vs_baseline", "p_mcnemar_vs_baseline", "p_mcnemar_one_sided"):
        expected = multipletests(others[raw].to_numpy(), method="holm")[1]
        np.testing.assert_allclose(others[f"{raw}_holm"].to_numpy(), expected)
    assert np.isnan(table.loc["Original (ResNet18)", "p_ztest_vs_baseline_holm"])
    markdown = (tmp_path / "report.md").read_text()
    assert "p (z-test, Holm)" in markdown and "McNemar p (one-sided)" in markdown


def test_the_report_names_the_runs_whose_test_images_differ(tmp_path):
    fake_run(tmp_path, "base", "resnet50", "none", "none", 10, 5, variant=("original", True))
    # One film fewer and another one instead: what a file skipped in one variant only does.
    fake_run(tmp_path, "tight", "resnet50", "tight", "none", 4, 2, variant=("cropped", False),
             first_case=2)  # fmt: skip
    table = pd.read_csv(build_report(tmp_path, cam_examples=0)["csv"]).set_index("variant")
    assert np.isnan(table.loc["Cropped", "p_mcnemar_vs_baseline"])
    markdown = (tmp_path / "report.md").read_text()
    assert "### Comparisons not made" in markdown
    assert (
        "- Cropped: not compared with the baseline: its test images differ from the "
        "baseline's (tight: 100 images, 1 not in the baseline's; base: 100, 1 not in this "
        "run's)" in markdown
    )


def test_intervals_in_the_report_are_those_of_metrics_json(tmp_path):
    from csxa_lightning.metrics.classification import metrics_with_intervals

    labels = np.r_[np.zeros(N_HEALTHY, int), np.ones(N_DISEASED, int)]
    prob = np.where(labels == 1, 0.9, 0.1)
    prob[:10], prob[N_HEALTHY : N_HEALTHY + 5] = 0.8, 0.3
    written = metrics_with_intervals(labels, prob, seed=7)  # as train.py writes it for seed 7
    fake_run(tmp_path, "base", "resnet50", "none", "none", 10, 5, seed=7,
             variant=("original", True), recorded=written)  # fmt: skip
    row = pd.read_csv(build_report(tmp_path, cam_examples=0)["csv"]).iloc[0]
    for name in ("balanced_accuracy", "sensitivity", "specificity", "auroc", "auprc"):
        for end in ("low", "high"):
            key = f"{name}_ci_{end}"
            assert row[key] == pytest.approx(written[key], abs=1e-12), key


def test_the_header_names_the_protocol_departures_samples_and_steps(tmp_path):
    recorded = {
        "protocol": "paper",
        "departures": [{"setting": "batch size", "ours": "32", "paper": "not stated"}],
        "train_samples": 160,
        "optimizer_steps": 15,
    }
    marked_sweep(tmp_path, recorded=recorded)
    markdown = build_report(tmp_path, cam_examples=0)["md"].read_text()
    assert "**Protocol: paper.** The paper's experiment: a plain seeded random 75/25 split" in (
        markdown
    )
    assert "| setting | ours | paper | runs |" in markdown
    assert "| batch size | 32 | not stated | all |" in markdown
    assert "| Wide cropped (ResNet18) | 160 | 15 |" in markdown
    assert "Baseline: Original (ResNet18)" in markdown


def test_the_majority_sentence_names_the_class_the_row_answers(tmp_path):
    fake_run(tmp_path, "base", "resnet50", "none", "none", 3, 5, variant=("original", True),
             n_healthy=60, n_diseased=40)  # fmt: skip
    markdown = build_report(tmp_path, cam_examples=0)["md"].read_text()
    assert 'The row Majority class (always "healthy") answers that class' in markdown
    assert '| Majority class (always "healthy") | — | 60.00 |' in markdown


def test_the_paper_table_decoded_section_shows_the_recovered_matrices(sweep):
    root, _ = sweep
    markdown = build_report(root, cam_examples=0)["md"].read_text()
    assert "## The paper's table, decoded" in markdown
    assert "| Original (ResNet50) | 94.19 / 93.08 / 93.62 | 47 | 3 / 44 / 28 / 1166 | 52.02 |" in (
        markdown
    )
    assert "The ResNet50 rows fit 47 healthy test films and no other count from 30 to 65" in (
        markdown
    )


def test_the_report_counts_the_resamples_where_a_metric_was_undefined(sweep):
    root, _ = sweep
    paths = build_report(root, cam_examples=0)
    table = pd.read_csv(paths["csv"]).set_index("variant")
    # VGG19 always answers "diseased": healthy is never predicted in any resample.
    assert table.loc["Original (VGG19)", "precision_weighted_undefined_resamples"] == 1000
    assert table.loc["Original (VGG19)", "precision_weighted"] == pytest.approx(0.8 * 0.8)
    assert table.loc["Wide cropped", "precision_weighted_undefined_resamples"] == 0
    markdown = paths["md"].read_text()
    assert "- Original (VGG19): precision_weighted 1000 of 1000 resamples" in markdown


def test_the_second_table_shows_cohens_kappa_of_the_predictions(sweep):
    from sklearn.metrics import cohen_kappa_score

    root, _ = sweep
    paths = build_report(root)
    table = pd.read_csv(paths["csv"]).set_index("variant")
    markdown = paths["md"].read_text()
    lines = markdown.splitlines()
    start = next(i for i, line in enumerate(lines) if "| Cohen's κ |" in line)
    column = lines[start].split(" | ").index("Cohen's κ")
    body = lines[start + 2 : start + 2 + len(table)]  # the runs' rows, in report.csv's order
    for (variant, row), line in zip(table.iterrows(), body, strict=True):
        assert line.startswith(f"| {variant}")
        predictions = pd.read_csv(f"{row['folder']}/predictions.csv")
        pred = (predictions["prob_diseased"] >= 0.5).astype(int)
        expected = cohen_kappa_score(predictions["label"], pred)
        assert row["cohen_kappa"] == pytest.approx(expected)
        assert line.split(" | ")[column] == f"{expected:.3f}"


# --- the paper's order, the baseline marked, degenerate models named, the page's layout -------

CONF = Path(__file__).resolve().parents[2] / "conf"


def saved_variant(name):
    """The variant block a run of +variant=name saves (its conf/variant/ file's)."""
    return yaml.safe_load((CONF / "variant" / f"{name}.yaml").read_text())["variant"]


def demo_sweep(root, arch="resnet18"):
    """The seven variants of Table 1 trained with model=resnet18 (the demo's), their folders
    named so that neither the folders' nor the titles' order is the paper's."""
    for number, row in enumerate(PUBLISHED_TABLE1):
        model = "vgg19" if row.variant == "original_vgg19" else arch
        fake_run(root, f"{9 - number}_{row.variant}", model, row.crop, row.color, number, 1,
                 variant=saved_variant(row.variant))  # fmt: skip


def test_a_resnet18_sweep_comes_out_in_the_papers_order_with_the_baseline_first_and_marked(
    tmp_path,
):
    demo_sweep(tmp_path)
    titles = [
        "Original (ResNet18)",
        "Original (VGG19)",
        "Cropped (ResNet18)",
        "Wide cropped (ResNet18)",
        "Colored (ResNet18)",
        "Colored, cropped (ResNet18)",
        "Colored, wide cropped (ResNet18)",
    ]
    assert [run.title for run in find_runs(tmp_path)] == titles
    paths = build_report(tmp_path, cam_examples=0)
    assert pd.read_csv(paths["csv"])["variant"].tolist() == titles
    markdown = paths["md"].read_text()
    table1 = markdown.split("## Table 1")[1].split("\n\n")[2].splitlines()[2:]
    assert [line.split(" | ")[0] for line in table1] == [
        "| Original (ResNet18) (baseline)",
        *[f"| {title}" for title in titles[1:]],
        '| Majority class (always "diseased")',
    ]
    # every table that lists runs marks the baseline's row, and only it
    for table in ("## What the paper does not show", "### Against the baseline",
                  "## Samples and optimizer steps", "## Calibration", "## Subgroups",
                  "## Runs and their configs"):  # fmt: skip
        section = markdown.split(table)[1].split("\n#")[0]  # to the next heading
        rows = [x for x in section.splitlines() if x.startswith("| ")]
        marked = [x for x in rows if "(baseline)" in x]
        assert len(marked) == 1 and marked[0].startswith("| Original (ResNet18) (baseline) |")


def test_runs_without_a_recorded_order_take_their_variants_row_and_others_come_last(tmp_path):
    fake_run(tmp_path, "a", "resnet18", "tight", "none", 1, 1, variant=("mine", False))
    fake_run(tmp_path, "b", "resnet18", "wide", "none", 1, 1, variant=("wide_cropped", False))
    fake_run(tmp_path, "c", "resnet18", "none", "none", 1, 1, variant=("original", True))
    fake_run(tmp_path, "d", "resnet18", "tight", "none", 1, 1)  # no variant: by crop and color
    runs = find_runs(tmp_path)
    assert [(run.path.name, run.order) for run in runs] == [
        ("c", 1), ("d", 3), ("b", 4), ("a", None)
    ]  # fmt: skip


def test_a_model_that_answers_one_class_for_every_film_is_named_degenerate(tmp_path):
    fake_run(tmp_path, "base", "resnet50", "none", "none", 10, 5, variant=("original", True))
    fake_run(tmp_path, "sick", "resnet50", "wide", "none", 20, 0, variant=("wide_cropped", False))
    fake_run(tmp_path, "well", "resnet50", "tight", "none", 0, 80, variant=("cropped", False))
    paths = build_report(tmp_path, cam_examples=0)
    table = pd.read_csv(paths["csv"], keep_default_na=False).set_index("variant")
    assert table["constant_answer"].to_dict() == {
        "Original (ResNet50)": "", "Cropped": "healthy", "Wide cropped": "diseased"
    }  # fmt: skip
    markdown = paths["md"].read_text()
    assert '| Wide cropped — degenerate: always "diseased" | resnet50 | 80.00 |' in markdown
    assert '| Cropped — degenerate: always "healthy" | 50.00 [50.0, 50.0] |' in markdown
    assert '- Degenerate: Wide cropped. It answers "diseased" for every film' in markdown
    assert "its specificity 0 by construction" in markdown
    assert '- Degenerate: Cropped. It answers "healthy"' in markdown


def test_the_evaluation_report_names_a_degenerate_model_above_its_metrics():
    from csxa_lightning.results.evaluation_report import degenerate_markdown

    counts = {"tp": 80, "fp": 20, "tn": 0, "fn": 0}
    assert degenerate_markdown(counts).startswith(
        '**A degenerate model.** It answers "diseased" for every film'
    )
    assert degenerate_markdown({**counts, "tn": 1}) is None


def test_grad_cam_tiles_show_the_probability_to_three_decimals():
    from csxa_lightning.results.cam_section import tile_title

    assert tile_title(pd.Series({"stem": "0001130", "prob_diseased": 0.52749})) == (
        "0001130  p=0.527"
    )


def test_the_page_aligns_numbers_right_text_left_and_boxes_every_table():
    from csxa_lightning.results.html_page import html_report

    text = (
        "| variant | model | balanced accuracy | p | runs |\n|---|---|---|---|---|\n"
        "| Original (baseline) | resnet50 | 71.88 [61.3, 83.1] | <0.0001 | all |\n"
        "| Wide cropped | resnet50 | 50.00 [50.0, 50.0] | — | 3 |\n"
    )
    page = html_report(text, {})
    assert page.count('<div class="table-box"><table>') == 1
    assert '<th class="number">balanced accuracy</th>' in page
    assert '<td class="number">71.88 [61.3, 83.1]</td>' in page
    assert '<td class="number">&lt;0.0001</td>' in page and '<td class="number">—</td>' in page
    assert "<td>resnet50</td>" in page and "<td>Original (baseline)</td>" in page
    assert "<td>all</td>" in page and "<td>3</td>" in page  # a column of words and a number
    assert "td.number{white-space:nowrap}" in page and "overflow-wrap:anywhere" in page


def test_a_first_column_names_the_rows_unless_it_holds_measured_values():
    from csxa_lightning.results.html_page import html_report

    subgroups = html_report("| group | n |\n|---|---|\n| <40 | 12 |\n| 40-59 | 30 |\n", {})
    assert "<td>&lt;40</td>" in subgroups and '<td class="number">12</td>' in subgroups
    metrics = html_report("| accuracy % | AUPRC |\n|---|---|\n| 80.00 [71.1, 86.7] | 0.9 |\n", {})
    assert '<td class="number">80.00 [71.1, 86.7]</td>' in metrics
