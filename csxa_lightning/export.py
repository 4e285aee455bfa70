"""python -m csxa_lightning.export (ckpt=FILE | run=DIR) [format=onnx|torchscript] [out=FILE]

The trained backbone as a standalone model for other runtimes, with <name>.preprocessing.json
beside it (inference/export.py says what each holds).

Thin entry point: Hydra composes conf/export.yaml and `export(cfg)` (inference/export.py) does
the work. Only light modules are imported here, so that `--help` answers without loading torch.
"""

from __future__ import annotations

import sys

import hydra
from omegaconf import DictConfig

from csxa_lightning.config.command_options import (
    exit_on_misread_argument,
    own_options,
    refuse_foreign_options,
)
from csxa_lightning.config.location import CONFIG_DIR
from csxa_lightning.config.resolvers import register_resolvers
from csxa_lightning.utils.errors import exit_on_user_error
from csxa_lightning.utils.quiet import silence_known_noise

# Before Hydra composes: a launcher's worker imports this module and names the run folder
# with our resolvers before main() runs (config/resolvers.py).
register_resolvers()
silence_known_noise()


def main() -> None:
    """A path holding `=` and a training option (crop=tight) are refused before Hydra parses."""
    exit_on_misread_argument(sys.argv[1:], "export", own_options(CONFIG_DIR, "export"))
    export_command()


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="export")
def export_command(cfg: DictConfig) -> None:
    from csxa_lightning.inference.export import export

    with exit_on_user_error():
        # The composed config too: what reached it past the command line (a config of the
        # user's, --config-dir) and that nothing here would read.
        refuse_foreign_options(cfg, own_options(CONFIG_DIR, "export"), "export")
        export(cfg)


if __name__ == "__main__":
    main()
