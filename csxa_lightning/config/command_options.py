"""The options a command that reads a checkpoint accepts: the keys of its own config file.

Hydra lets `csxa-predict +crop=tight` add a training group to predict's config, then nothing
reads it; the preprocessing comes from the checkpoint. Refused with a message instead."""

from __future__ import annotations

from pathlib import Path

from omegaconf import DictConfig, OmegaConf

from csxa_lightning.utils.errors import ConfigValueError


def own_options(config_dir: str | Path, command: str) -> set[str]:
    """The top-level keys conf/<command>.yaml declares (its defaults list and hydra aside)."""
    declared = OmegaConf.load(Path(config_dir) / f"{command}.yaml")
    return set(declared.keys()) - {"defaults", "hydra"}


def refuse_foreign_options(cfg: DictConfig, own: set[str], command: str) -> None:
    foreign = sorted(set(cfg.keys()) - own - {"hydra"})
    if foreign:
        raise ConfigValueError(
            f"{command} does not take {', '.join(foreign)}: the preprocessing and the model "
            f"come from the checkpoint. Its options: {', '.join(sorted(own))} "
            f"(csxa-{command} --help)"
        )
