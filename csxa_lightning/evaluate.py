"""python -m csxa_lightning.evaluate (ckpt=FILE | run=DIR) (data.root=DIR [subset=all|test] |
labels=FILE.csv images=DIR) [out=DIR]

Judge a trained checkpoint on a labelled set: out= gets predictions.csv, metrics.json and a
one-model report (results/evaluation.py says how).

Thin entry point: Hydra composes conf/evaluate.yaml and `evaluate(cfg)` (results/evaluation.py)
does the work. Only light modules are imported here, so that `--help` answers without loading
torch.
"""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig, OmegaConf

from csxa_lightning.config.command_options import (
    exit_on_misread_argument,
    own_options,
    refuse_foreign_options,
)
from csxa_lightning.config.location import CONFIG_DIR
from csxa_lightning.config.resolvers import register_resolvers
from csxa_lightning.utils.errors import exit_on_user_error
from csxa_lightning.utils.quiet import silence_known_noise

log = logging.getLogger(__name__)

# Before Hydra composes: a launcher's worker imports this module and names the run folder
# with our resolvers before main() runs (config/resolvers.py).
register_resolvers()
silence_known_noise()


def main() -> None:
    """A path holding `=` and a training option (crop=tight) are refused before Hydra parses."""
    exit_on_misread_argument(sys.argv[1:], "evaluate", own_options(CONFIG_DIR, "evaluate"))
    evaluate_command()


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="evaluate")
def evaluate_command(cfg: DictConfig) -> None:
    from csxa_lightning.results.evaluation import evaluate

    log.debug("config:\n%s", OmegaConf.to_yaml(cfg))
    with exit_on_user_error():
        # The composed config too: what reached it past the command line (a config of the
        # user's, --config-dir) and that nothing here would read.
        refuse_foreign_options(cfg, own_options(CONFIG_DIR, "evaluate"), "evaluate")
        evaluate(cfg)


if __name__ == "__main__":
    main()
