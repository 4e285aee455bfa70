"""python -m csxa_lightning.train [overrides]  (and --multirun): train, then test, one variant.

Thin entry point: Hydra composes conf/train.yaml and `train(cfg)` (training/run.py) does the
work. Only light modules are imported here, so that `--help` answers without loading torch;
the work's own modules are imported when a run starts.
"""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from csxa_lightning.config.command_options import exit_on_misread_argument
from csxa_lightning.config.location import CONFIG_DIR
from csxa_lightning.config.resolvers import register_resolvers
from csxa_lightning.utils.errors import exit_on_user_error
from csxa_lightning.utils.quiet import route_library_logs, silence_known_noise

log = logging.getLogger(__name__)

# Before Hydra composes: a launcher's worker imports this module and names the run folder
# with our resolvers before main() runs (config/resolvers.py).
register_resolvers()
silence_known_noise()


def main() -> None:
    """An argument Hydra would misread (a path holding `=`) is refused before it parses; train
    takes too many options to list, so they are left to Hydra."""
    exit_on_misread_argument(sys.argv[1:], "train")
    train_command()


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="train")
def train_command(cfg: DictConfig) -> float | None:
    """One job: Hydra calls it once, or once per run of a --multirun."""
    from csxa_lightning.runs.summary import sweep_objective
    from csxa_lightning.training.run import train

    route_library_logs()  # Hydra has configured logging by now: Lightning's lines join ours
    log.debug("config:\n%s", OmegaConf.to_yaml(cfg))
    with exit_on_user_error(log):  # also logged: the run's log file says why it stopped
        return sweep_objective(train(cfg))


if __name__ == "__main__":
    main()
