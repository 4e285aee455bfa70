"""predict and evaluate with several checkpoints (an ensemble) and with test-time augmentation:
the ensemble's probability is its members' mean, each member's is kept, members that would
score different pixels are refused, and tta=flip averages a film with its mirror image."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from csxa_lightning.inference.inputs import PredictionInputs, collate_inputs, find_annotations
from csxa_lightning.inference.loading import load_trained_model
from csxa_lightning.inference.members import EnsembleError
from csxa_lightning.inference.predict import predict
from csxa_lightning.results.evaluation import evaluate
from tests.helpers import compose_config

FILMS = 6


def member_copy(checkpoint: Path, folder: Path, bias_shift: float, **preprocess) -> Path:
    """A copy of checkpoint, in a run folder of its own, whose head leans towards diseased by
    bias_shift logits (another member with other probabilities); preprocess= changes its
    stored preprocessing."""
    stored = torch.load(checkpoint, map_location="cpu", weights_only=True)
    stored["state_dict"]["net.fc.bias"] += torch.tensor([-bias_shift / 2, bias_shift / 2])
    stored["CSXADataModule"]["preprocess"].update(preprocess)
    target = folder / "checkpoints" / checkpoint.name
    target.parent.mkdir(parents=True)
    torch.save(stored, target)
    return target


@pytest.fixture
def members(tiny_run, tmp_path) -> list[Path]:
    return [
        tiny_run.checkpoint,
        member_copy(tiny_run.checkpoint, tmp_path / "m2", 0.8),
        member_copy(tiny_run.checkpoint, tmp_path / "m3", -0.5),
    ]


def films(tiny_run) -> list[str]:
    return [str(tiny_run.png(s)) for s in tiny_run.predictions["stem"][:FILMS]]


def predicted(tmp_path: Path, name: str, *overrides: str) -> pd.DataFrame:
    out = tmp_path / f"{name}.csv"
    predict(compose_config("predict", [*overrides, f"out={out}"]))
    return pd.read_csv(out, dtype={"stem": str})


def test_an_ensemble_predicts_the_mean_of_its_members(tiny_run, members, tmp_path):
    given = f"input=[{','.join(films(tiny_run))}]"
    alone = [predicted(tmp_path, f"m{i}", f"ckpt={m}", given) for i, m in enumerate(members)]
    singles = np.stack([a["prob_diseased"].to_numpy() for a in alone])
    assert np.ptp(singles, axis=0).min() > 0.01  # three models that disagree
    together = predicted(tmp_path, "mean", f"ckpt=[{','.join(map(str, members))}]", given)
    np.testing.assert_allclose(together["prob_diseased"], singles.mean(axis=0), atol=1e-6)
    for i in range(3):
        np.testing.assert_allclose(together[f"prob_member_{i + 1}"], singles[i], atol=1e-6)
    assert (together["pred"] == (together["prob_diseased"] >= 0.5)).all()

    votes = predicted(
        tmp_path, "vote", f"ckpt=[{','.join(map(str, members))}]", given, "ensemble=vote"
    )
    np.testing.assert_allclose(votes["prob_diseased"], (singles >= 0.5).mean(axis=0), atol=1e-6)


def test_members_with_other_preprocessing_are_refused(tiny_run, tmp_path):
    other = member_copy(tiny_run.checkpoint, tmp_path / "m2", 0.0, image_size=32)
    with pytest.raises(EnsembleError) as raised:
        predict(
            compose_config(
                "predict",
                [
                    f"ckpt=[{tiny_run.checkpoint},{other}]",
                    f"input={films(tiny_run)[0]}",
                    f"out={tmp_path / 'x.csv'}",
                ],
            )
        )
    message = str(raised.value)
    assert message.startswith(f"{other}: its films are preprocessed with image_size=32")
    assert "image_size=64" in message and "must share their preprocessing" in message


def test_tta_flip_averages_a_film_and_its_mirror_image(tiny_run, tmp_path):
    pngs = [Path(f) for f in films(tiny_run)]
    given = f"input=[{','.join(map(str, pngs))}]"
    flipped = predicted(tmp_path, "tta", f"ckpt={tiny_run.checkpoint}", given, "tta=flip")
    model = load_trained_model(tiny_run.checkpoint)
    jsons = find_annotations(pngs, None, model.preprocessor.crop.name)
    inputs = PredictionInputs(pngs, jsons, model.preprocessor)
    batch = collate_inputs([inputs[i] for i in range(len(pngs))])
    with torch.inference_mode():
        plain = model.classifier.class_probabilities(batch.images)[:, 1]
        mirror = model.classifier.class_probabilities(batch.images.flip(-1))[:, 1]
    assert (plain - mirror).abs().max() > 1e-4  # the mirror image scores differently
    np.testing.assert_allclose(flipped["prob_diseased"], ((plain + mirror) / 2).numpy(), atol=1e-6)


def test_evaluate_scores_an_ensemble_on_the_runs_test_films(tiny_run, members, tmp_path):
    metrics = evaluate(
        compose_config(
            "evaluate",
            [
                f"ckpt=[{','.join(map(str, members))}]",
                f"data.root={tiny_run.dataset}",
                "subset=all",
                f"out={tmp_path / 'ensemble'}",
            ],
        )
    )
    assert metrics["ensemble"] == {"method": "mean", "members": [str(m) for m in members]}
    assert metrics["checkpoint"] == "ensemble (mean) of 3 checkpoints"
    report = (tmp_path / "ensemble" / "report.md").read_text()
    assert "# Evaluation of an ensemble" in report and "mean of 3 members" in report
