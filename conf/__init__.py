"""The configs, shipped in the wheel as the package csxa_lightning.conf (pyproject.toml's
package-dir). This file makes the folder a package: Hydra's `pkg://csxa_lightning.conf`
search path needs one."""
