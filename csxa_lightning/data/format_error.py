"""What every reader of a CSXA file shares: the error it raises when a file or folder is not in
CSXA's format, and where to get the real data (every "not found" message repeats it)."""

from __future__ import annotations

from csxa_lightning.utils.errors import UserError

# Where users get the real data; every "not found" message repeats it.
CSXA_SOURCE = (
    "CSXA is distributed by Science Data Bank, doi:10.57760/sciencedb.15391 "
    "(paper: Ran et al., Scientific Data 11, 2024, doi:10.1038/s41597-024-03383-0). "
    "Download datasets.xlsx, datasets-PNG.zip and datasets-JSON.zip, unzip both archives "
    "into one folder and pass it as data.root=/path/to/CSXA."
)


class CSXAFormatError(UserError):
    """The folder does not look like CSXA; the message says what is missing and how to fix it."""
