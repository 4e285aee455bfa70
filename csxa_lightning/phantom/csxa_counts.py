"""The real atlas's counts that the phantom imitates and the benchmarks size themselves by. Apart
from the renderer on purpose: `csxa-phantom --help` and `csxa-bench --help` show them without
importing OpenCV, pandas and openpyxl."""

from __future__ import annotations

CSXA_IMAGES = 4963  # usable films in the real atlas
CSXA_HEALTHY_FRACTION = 181 / CSXA_IMAGES
