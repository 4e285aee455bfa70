"""python -m csxa_lightning.report [SWEEP_DIR]  (make report: the latest sweep)

The paper's Table 1 and what the paper leaves out, computed from the run folders' files alone
(predictions.csv and the config Hydra saved), so it can be rebuilt at any time without
retraining. Writes report.md, report.csv and a self-contained report.html (figures embedded)
into the sweep folder. Its Grad-CAM section (results/cam_section.py) also reads each variant's
tested checkpoint and a few of its test images, and says why when they are not on this machine.

Thin entry point: the report is built by csxa_lightning.results.document.build_report,
imported once the arguments are read, so that `--help` answers without loading torch.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from csxa_lightning.config.resolvers import register_resolvers
from csxa_lightning.utils.errors import exit_on_user_error
from csxa_lightning.utils.quiet import silence_known_noise


def main(argv: list[str] | None = None) -> None:
    args = build_parser().parse_args(argv)
    # Imported once the arguments are read: `--help` answers without loading torch.
    from csxa_lightning.results.document import build_report
    from csxa_lightning.runs.folder import latest_sweep

    register_resolvers()  # the saved configs' ${csxa_precision:} and ${csxa_cache_dir:}
    silence_known_noise()
    with exit_on_user_error():
        sweep = Path(args.sweep_dir) if args.sweep_dir else latest_sweep(Path(args.log_dir))
        paths = build_report(sweep, cam_examples=args.cam_examples)
    print(f"report: {paths['html']}")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="csxa-report",
        description="Rebuild the report of a sweep from its files.",
    )
    parser.add_argument("sweep_dir", nargs="?", help="sweep folder (default: the latest one)")
    parser.add_argument("--log-dir", default="outputs", help="where sweeps are looked for")
    parser.add_argument(
        "--cam-examples",
        type=int,
        default=3,
        help="Grad-CAM pictures per category and variant (default 3; 0: no Grad-CAM section)",
    )
    return parser


if __name__ == "__main__":
    main()
