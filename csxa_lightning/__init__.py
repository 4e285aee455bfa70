"""csxa-lightning: the CSXA preprocessing ablation with Lightning + Hydra."""

__version__ = "0.1.0"
