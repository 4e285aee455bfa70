"""A truncated PNG is refused by the package's own one line, with nothing of libpng's on stderr
("libpng error: PNG input buffer is incomplete" used to come first): a PNG without its IEND
chunk is not handed to the decoder."""

from __future__ import annotations

import subprocess
import sys

import cv2
import numpy as np

READ = (
    "from pathlib import Path\n"
    "from csxa_lightning.data.films import read_film\n"
    "try:\n    read_film(Path({path!r}))\nexcept Exception as err:\n    print(err)\n"
)


def test_a_truncated_png_is_one_line_of_ours_and_nothing_of_libpngs(tmp_path):
    path = tmp_path / "cut.png"
    film = np.random.default_rng(0).integers(0, 255, (256, 256)).astype(np.uint8)
    cv2.imwrite(str(path), film)
    whole = path.read_bytes()
    path.write_bytes(whole[: len(whole) // 2])
    decoded = np.frombuffer(path.read_bytes(), np.uint8)
    assert cv2.imdecode(decoded, cv2.IMREAD_UNCHANGED) is None  # what libpng would refuse
    done = subprocess.run([sys.executable, "-c", READ.format(path=str(path))],
                          capture_output=True, text=True)  # fmt: skip
    assert done.stderr == ""
    assert done.stdout.strip() == (
        f"{path}: image file is empty or corrupt; re-extract it from datasets-PNG.zip, or "
        "remove it and its JSON to exclude the case."
    )
