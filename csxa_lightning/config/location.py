"""Where the YAML configs are, however the package was installed or run."""

from __future__ import annotations

from pathlib import Path


def find_config_dir(package_dir: Path) -> Path:
    """The configs beside the code: inside the package where a wheel installed them
    (csxa_lightning/conf, pyproject.toml's package-dir), else the checkout's top-level conf/
    (a checkout on sys.path, or an editable install, whose modules stay in the checkout)."""
    installed = package_dir / "conf"
    return installed if (installed / "train.yaml").is_file() else package_dir.parent / "conf"


# An absolute folder, so every entry point's @hydra.main(config_path=CONFIG_DIR) and the tests
# compose the same files however the package was installed or run.
CONFIG_DIR = str(find_config_dir(Path(__file__).resolve().parent.parent))
