"""python -m csxa_lightning.preview [data options] crop=... color=... cases=[...] out=DIR

Look at the preprocessing before spending GPU hours: each case's exact model input under the
chosen crop and color, and a contact sheet of all six crop x color variants
(results/preview.py says which files).

Thin entry point: Hydra composes conf/preview.yaml and `preview(cfg)` (results/preview.py) does
the work. Only light modules are imported here, so that `--help` answers without loading the
data pipeline.
"""

from __future__ import annotations

import logging
import sys

import hydra
from omegaconf import DictConfig

from csxa_lightning.config.command_options import exit_on_misread_argument
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
    """A path holding `=` (data.root, out) is refused before Hydra parses; preview takes
    train's options, too many to list, so they are left to Hydra."""
    exit_on_misread_argument(sys.argv[1:], "preview")
    preview_command()


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="preview")
def preview_command(cfg: DictConfig) -> None:
    from csxa_lightning.results.preview import preview

    with exit_on_user_error(log):  # one `error:` line, as every command
        preview(cfg)


if __name__ == "__main__":
    main()
