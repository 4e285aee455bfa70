"""A degenerate model: one that answers the same class for every film. Its metrics look like
numbers about a model (balanced accuracy 50.00 [50.0, 50.0], a sensitivity of 100 %) but say
only that it never tells the classes apart, so the reports name it beside them."""

from __future__ import annotations

from csxa_lightning.utils.labels import CLASS_NAMES


def constant_answer(metrics: dict) -> str:
    """The class a model answered for every film, from its confusion counts at its threshold
    (metrics' tp, fp, tn, fn); "" when it answered both."""
    called_diseased = metrics["tp"] + metrics["fp"]
    called_healthy = metrics["tn"] + metrics["fn"]
    if called_diseased and called_healthy:
        return ""
    return CLASS_NAMES[1] if called_diseased else CLASS_NAMES[0]


def degenerate_tag(answer: str | None) -> str:
    """What follows a run's name where its metrics are shown: ' — degenerate: always
    "diseased"' for a model that answered one class (constant_answer), else nothing."""
    return f' — degenerate: always "{answer}"' if answer else ""


def degenerate_meaning(answer: str, subject: str = "It") -> str:
    """Why the metrics of a model that always answers `answer` say nothing about the films;
    subject: how the sentence names the model ("It", "Each")."""
    zero = "specificity" if answer == CLASS_NAMES[1] else "sensitivity"
    return (
        f'{subject} answers "{answer}" for every film at its threshold: it never tells the classes '
        f"apart. Its balanced accuracy is 50 % and its {zero} 0 by construction, and its "
        "accuracy is the share of that class, whatever the films show: an interval such as "
        "[50.0, 50.0] is no finding. AUROC and AUPRC do not depend on the threshold: they say "
        "whether its probabilities still rank the films."
    )
