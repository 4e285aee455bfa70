"""Settings that mean nothing for the chosen task (task=classify | landmarks), refused before
anything is read: a setting the run would ignore is a setting the user believes in."""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

# What task=landmarks leaves as it is: the classifier's preprocessing, balancing and decision
# rule mean nothing for a model that places landmarks on the whole film.
LANDMARK_TASK_KEEPS = {
    "crop.name": "none",
    "color.name": "none",
    "balance._target_": "csxa_lightning.data.balance.NoBalancing",
    "threshold": 0.5,
    "calibrate": "none",
}


def task_problems(cfg: DictConfig) -> list[str]:
    """task=landmarks with a classifier-only setting given (crop=tight, balance=smote,
    threshold=youden ...): it would be ignored, so it is refused."""
    if OmegaConf.select(cfg, "task.name", default="classify") != "landmarks":
        return []
    problems = []
    for key, default in LANDMARK_TASK_KEEPS.items():
        value = OmegaConf.select(cfg, key, default=default)
        if value != default:
            group = key.split(".")[0]
            given = (
                f"{group} ({str(value).rsplit('.', 1)[-1]})"
                if "_target_" in key
                else f"{group}={value}"
            )
            problems.append(
                f"{given}: task=landmarks places landmarks on the whole film; {group}= applies "
                "to task=classify only: leave it out"
            )
    return problems
