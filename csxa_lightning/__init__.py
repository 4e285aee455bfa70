"""csxa-lightning: the CSXA preprocessing ablation with Lightning + Hydra."""

from importlib.metadata import PackageNotFoundError, version

try:
    # One version, pyproject.toml's, read from the installed package's metadata.
    __version__ = version("csxa-lightning")
except PackageNotFoundError:  # a checkout on sys.path, never installed
    __version__ = "0+unknown"
