"""Hydra overrides quoted to paste: run folder names hold `=` and `,`, which Hydra's override
parser reads as syntax, and spaces or quotes, which the shell reads. This module imports nothing
from the package (utils/), so that the commands' checks before Hydra parses stay light."""

from __future__ import annotations

import re
import shlex


def hydra_quoted(value: str) -> str:
    """value as one quoted Hydra override value, read back as it is: inside double quotes
    `=`, `,` and `[` are text; a double quote is escaped, and so are backslashes before one or
    at the end (Hydra's grammar), and `${` (OmegaConf would interpolate it)."""
    escaped = re.sub(r'(\\*)"', lambda m: m.group(1) * 2 + '\\"', value)
    escaped = re.sub(r"(\\+)$", lambda m: m.group(1) * 2, escaped)
    return '"' + escaped.replace("${", "\\${") + '"'


def pasteable_override(key: str, value: str) -> str:
    """`key=value` quoted for Hydra, then for the shell: one word to paste into a command."""
    return shlex.quote(f"{key}={hydra_quoted(value)}")
