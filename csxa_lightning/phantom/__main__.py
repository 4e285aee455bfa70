"""python -m csxa_lightning.phantom --out DIR --n N --seed S [--healthy-fraction F]
[--effect natural|planted|none]"""

from __future__ import annotations

import argparse
import time

from csxa_lightning.phantom.anatomy import EFFECTS
from csxa_lightning.phantom.csxa_counts import CSXA_HEALTHY_FRACTION

EPILOG = """writes into OUT:
  datasets-PNG/   one radiograph per usable case (N files, named as in CSXA)
  datasets-JSON/  the keypoint annotation of each image
  datasets.xlsx   the case sheet, with the real sheet's quirks (e.g. case ids without image)
The same --n, --seed and --healthy-fraction always give the same set. Use it as data=csxa
data.root=OUT (training does this itself with data=phantom, into its cache).

example:
  csxa-phantom --out /tmp/CSXA --n 200 --healthy-fraction 0.5
  (or python -m csxa_lightning.phantom --out /tmp/CSXA --n 200 --healthy-fraction 0.5)
"""


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="csxa-phantom",
        description="Write a synthetic Cervical Spine X-ray Atlas with the real layout and quirks.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--out", required=True, help="folder to create (required; must not exist or be empty)"
    )
    parser.add_argument("--n", type=int, default=500, help="number of usable images (default 500)")
    parser.add_argument(
        "--seed", type=int, default=0, help="random seed of the cases and their images (default 0)"
    )
    parser.add_argument(
        "--healthy-fraction",
        type=float,
        default=CSXA_HEALTHY_FRACTION,
        help=f"fraction of healthy cases (default CSXA's 181/4963 = {CSXA_HEALTHY_FRACTION:.4f})",
    )
    parser.add_argument(
        "--effect",
        choices=tuple(EFFECTS),
        default="natural",
        help="what the films show of their labels: "
        + "; ".join(f"{name}: {text}" for name, text in EFFECTS.items())
        + " (default natural)",
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=None,
        help="processes drawing the images (default: all cores; any number: the same set)",
    )
    args = parser.parse_args(argv)
    # The renderer (OpenCV, openpyxl) once the arguments are read: --help answers at once.
    from csxa_lightning.phantom.layout import generate_phantom

    start = time.perf_counter()
    try:
        summary = generate_phantom(
            args.out,
            n=args.n,
            seed=args.seed,
            healthy_fraction=args.healthy_fraction,
            workers=args.workers,
            effect=args.effect,
        )
    except (FileExistsError, ValueError) as err:
        raise SystemExit(f"error: {err}") from None  # the one-line contract (utils/errors.py)
    print(
        f"wrote {summary.n_images} images ({summary.n_healthy} healthy, effect "
        f"{args.effect}) and a sheet of "
        f"{summary.n_rows} rows to {summary.root} in {time.perf_counter() - start:.1f} s; "
        f"case ids without image: {summary.missing_case_ids[0]}..{summary.missing_case_ids[-1]}"
    )


if __name__ == "__main__":
    main()
