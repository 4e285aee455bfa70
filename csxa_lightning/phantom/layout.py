"""Write a synthetic CSXA folder: the real layout, file names, sheet and annotation quirks.

What the loader must survive on the real data is reproduced here on purpose (csxa-format.md):
a title row above the header, sheet ages that disagree with the file name, a contiguous block
of case ids without image (one of them also without class), RGBA PNGs of varying size, some
inverted films, LabelMe JSON with base64 ``imageData``, a duplicated landmark, landmarks saved
as polygons of near-identical vertices, and labels in other case and spacing.
"""

from __future__ import annotations

import base64
import json
import os
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np
import openpyxl

from csxa_lightning.data.csxa import JSON_DIR, PNG_DIR, SHEET_FILE
from csxa_lightning.data.sheet import SHEET_NAME
from csxa_lightning.phantom.anatomy import EFFECTS
from csxa_lightning.phantom.csxa_counts import CSXA_HEALTHY_FRACTION
from csxa_lightning.phantom.render import render_radiograph

CSXA_MISSING_FRACTION = 37 / 5000  # case ids 1957..1993 have no image
MALE_FRACTION = 3202 / (3202 + 1761)  # gender code 1 is the more frequent one
INVERTED_FRACTION = 0.12
AGE_MISMATCH_FRACTION = 0.03
QUIRK_FRACTION = 0.03

# Curvature codes 1 lordotic, 2 straight, 3 S, 4 reverse S, 5 kyphotic: healthy necks are
# mostly lordotic; loss of lordosis and kyphosis come with spondylosis.
CURVATURE_P = {
    0: (0.70, 0.15, 0.10, 0.05, 0.00),
    1: (0.30, 0.35, 0.10, 0.10, 0.15),
}
# The planted and null sets: one curvature distribution for both classes (the mean of the two).
CURVATURE_P_ANY = tuple(0.5 * (a + b) for a, b in zip(CURVATURE_P[0], CURVATURE_P[1], strict=True))
CENTER_CROP = 500  # the paper's base crop (conf/crop/none.yaml), which the tall films outgrow

HEADER = [
    "Number",
    "Gender",
    "Age",
    "Classification (1 symptomatic, 2 asymptomatic)",
    "Curvature (1 lordotic, 2 straight, 3 S, 4 reverse S, 5 kyphotic)",
    "Pixel equivalent (mm/pixel)",
    "C2-C7 Cobb angle",
    "T1 slope",
    "C2-C7 SVA",
]


@dataclass(frozen=True)
class PhantomCase:
    case_id: int
    gender: int
    age: int
    sheet_age: int
    label: int | None  # 1 diseased, 0 healthy, None = class cell left empty
    curvature: int
    severity: float
    has_image: bool
    width: int
    height: int
    inverted: bool
    quirk: str | None  # "duplicate", "polygon", "label_case" or None
    # The planted effect and the null control (plan_cases' effect): whether the film shows
    # disease signs (None: it does when diseased), the body height in pixels and the row of
    # the C2 body's center (None: the natural set's geometry).
    signs: bool | None = None
    unit_px: float | None = None
    c2_y: float | None = None

    @property
    def draws_signs(self) -> bool:
        return self.label == 1 if self.signs is None else self.signs

    @property
    def stem(self) -> str:
        return f"{self.case_id:04d}{self.gender}{self.age:02d}"


@dataclass
class PhantomSummary:
    root: Path
    n_images: int
    n_rows: int
    n_healthy: int
    missing_case_ids: list[int]
    unlabelled_case_ids: list[int]
    age_mismatch_case_ids: list[int]
    inverted_stems: list[str]
    quirks: dict[str, list[str]] = field(default_factory=dict)


def tall_film(rng: np.random.Generator) -> tuple[int, int, float, float]:
    """(width, height, body height px, C2 center row) of a planted-effect film: a spine so
    large that the 500 x 500 centre window spans about C2-C4 (C2's center lies 0.5 to 0.9
    body heights below the window's top edge, C5's top about 3.3 body heights below C2's
    center), in a film tall enough to hold C7 and the shoulders below it."""
    unit = float(rng.uniform(130.0, 150.0))
    height = int(round(17.0 * unit - CENTER_CROP + rng.uniform(0.0, 0.5) * unit))
    width = int(rng.integers(700, 1001))
    c2_y = (height - CENTER_CROP) // 2 + unit * float(rng.uniform(0.5, 0.9))
    return width, height, unit, c2_y


def plan_cases(
    n: int, seed: int, healthy_fraction: float, effect: str = "natural"
) -> list[PhantomCase]:
    """Every random choice of the set, drawn up front so that rendering order does not matter.

    effect (anatomy.EFFECTS): "natural" draws the signs everywhere on the diseased films;
    "planted" draws bold signs at C5-C7 only, on the diseased films, in tall films
    (tall_film) with one curvature distribution for both classes, so that only the lower
    spine tells the classes apart; "none" (the null control) is the planted set's films with
    the signs drawn on a random share of 1 - healthy_fraction of the films, independently of
    the label."""
    if effect not in EFFECTS:
        raise ValueError(f"--effect {effect!r}: must be one of {', '.join(EFFECTS)}")
    if n < 4:
        raise ValueError(f"--n {n}: the phantom set needs at least 4 images")
    if not 0.0 <= healthy_fraction <= 1.0:
        raise ValueError(f"--healthy-fraction {healthy_fraction}: must lie in [0, 1]")
    rng = np.random.default_rng(seed)
    picks = pick_case_ids(rng, n, healthy_fraction)
    return [
        plan_case(rng, case_id, picks, effect, healthy_fraction)
        for case_id in range(1, picks.n_rows + 1)
    ]


@dataclass(frozen=True)
class CaseIdPicks:
    """The case ids singled out in a set of n_rows sheet rows: those without image (a
    contiguous block), the healthy ones, those whose sheet age disagrees with the file name,
    the annotation quirk of some, and the one row without class."""

    n_rows: int
    missing: set[int]
    healthy: set[int]
    age_mismatch: set[int]
    quirk_of: dict[int, str]
    unlabelled: int


def pick_case_ids(rng: np.random.Generator, n: int, healthy_fraction: float) -> CaseIdPicks:
    """The set's special case ids (CaseIdPicks) for n images, drawn from rng in a fixed order."""
    n_missing = max(2, round(n * CSXA_MISSING_FRACTION))
    n_rows = n + n_missing
    block_start = int(rng.integers(n_rows // 3, n_rows - n_rows // 3 - n_missing + 1)) + 1
    missing = set(range(block_start, block_start + n_missing))
    image_ids = [cid for cid in range(1, n_rows + 1) if cid not in missing]

    n_healthy = round(n * healthy_fraction)
    healthy_ids = set(rng.choice(image_ids, size=n_healthy, replace=False).tolist())
    mismatch_ids = set(
        rng.choice(image_ids, size=max(1, round(n * AGE_MISMATCH_FRACTION)), replace=False).tolist()
    )
    n_quirk = max(1, round(n * QUIRK_FRACTION))
    quirk_ids = rng.choice(image_ids, size=min(n, 1 + 2 * n_quirk), replace=False).tolist()
    quirk_of = {quirk_ids[0]: "duplicate"}
    quirk_of |= {cid: "polygon" for cid in quirk_ids[1 : 1 + n_quirk]}
    quirk_of |= {cid: "label_case" for cid in quirk_ids[1 + n_quirk :]}
    unlabelled = int(rng.choice(sorted(missing)))  # like the real sheet: 4999 of 5000 labelled
    return CaseIdPicks(n_rows, missing, healthy_ids, mismatch_ids, quirk_of, unlabelled)


def plan_case(
    rng: np.random.Generator,
    case_id: int,
    picks: CaseIdPicks,
    effect: str,
    healthy_fraction: float,
) -> PhantomCase:
    """One sheet row and its film, drawn from rng in a fixed order (plan_cases' effect)."""
    label = 0 if case_id in picks.healthy else 1
    age = int(rng.integers(18, 60) if label == 0 else rng.integers(30, 88))
    sheet_age = age
    if case_id in picks.age_mismatch:
        sheet_age = int(np.clip(age + rng.choice([-3, -2, -1, 1, 2, 3]), 18, 99))
    if effect == "natural":
        width = int(rng.integers(550, 1001))
        height = int(rng.integers(max(700, width - 50), 1101))
        signs, unit, c2_y, curvature_p = None, None, None, CURVATURE_P[label]
        draws = label == 1
    else:
        width, height, unit, c2_y = tall_film(rng)
        # planted: the signs are the label; null: a coin at the planted set's rate.
        signs = label == 1 if effect == "planted" else bool(rng.random() >= healthy_fraction)
        curvature_p, draws = CURVATURE_P_ANY, signs
    low = 0.1 if effect == "natural" else 0.7  # the planted signs are bold
    return PhantomCase(
        case_id=case_id,
        gender=int(rng.random() < MALE_FRACTION),
        age=age,
        sheet_age=sheet_age,
        label=None if case_id == picks.unlabelled else label,
        curvature=int(rng.choice(5, p=curvature_p)) + 1,
        severity=float(rng.uniform(low, 1.0)) if draws else 0.0,
        has_image=case_id not in picks.missing,
        width=width,
        height=height,
        inverted=bool(rng.random() < INVERTED_FRACTION),
        quirk=picks.quirk_of.get(case_id),
        signs=signs,
        unit_px=unit,
        c2_y=c2_y,
    )


def _labelme_shapes(
    keypoints: dict[str, tuple[float, float]], quirk: str | None, rng: np.random.Generator
) -> list[dict]:
    shapes = []
    for i, (label, (x, y)) in enumerate(keypoints.items()):
        shape = {
            "label": label,
            "points": [[x, y]],
            "group_id": None,
            "shape_type": "point",
            "flags": {},
        }
        if quirk == "polygon" and i % 5 == 2:
            # A landmark clicked as a polygon: 2-4 vertices within a pixel of each other,
            # jittered symmetrically so that their mean is the landmark.
            k = int(rng.integers(2, 5))
            jitter = rng.uniform(-0.8, 0.8, size=(k, 2))
            jitter -= jitter.mean(axis=0)
            shape["points"] = [[x + dx, y + dy] for dx, dy in jitter]
            shape["shape_type"] = "polygon"
        if quirk == "label_case" and i % 4 == 1:
            shape["label"] = "  " + label.lower().replace(" ", "  ") + " "
        shapes.append(shape)
        if quirk == "duplicate" and label == "C3 top right":
            shapes.append(dict(shape, points=[[x, y]]))  # the same landmark saved twice
    return shapes


def render_case(case: PhantomCase, rng: np.random.Generator):
    """(gray film, keypoints) of one planned case, drawn from rng (write_case's is
    default_rng([seed, case_id]))."""
    return render_radiograph(
        rng,
        width=case.width,
        height=case.height,
        diseased=case.draws_signs,
        severity=case.severity,
        curvature=case.curvature,
        inverted=case.inverted,
        lower_bold=case.signs is not None,
        unit_px=case.unit_px,
        c2_y=case.c2_y,
    )


def write_case(root: Path, case: PhantomCase, seed: int) -> None:
    """Render one film and write its PNG (RGBA, opaque) and LabelMe JSON."""
    rng = np.random.default_rng([seed, case.case_id])
    gray, keypoints = render_case(case, rng)
    rgba = cv2.cvtColor(gray, cv2.COLOR_GRAY2BGRA)
    # zlib level 1: 4x faster than level 6 for 30 % larger files; generation speed matters more.
    ok, png = cv2.imencode(".png", rgba, [cv2.IMWRITE_PNG_COMPRESSION, 1])
    if not ok:
        raise RuntimeError(f"could not encode the PNG of case {case.case_id}")
    png_bytes = png.tobytes()
    (root / PNG_DIR / f"{case.stem}.png").write_bytes(png_bytes)
    doc = {
        "version": "4.5.6",
        "flags": {},
        "shapes": _labelme_shapes(keypoints, case.quirk, rng),
        "imagePath": f"..\\{PNG_DIR}\\{case.stem}.png",
        "imageData": base64.b64encode(png_bytes).decode("ascii"),
        "imageHeight": case.height,
        "imageWidth": case.width,
    }
    (root / JSON_DIR / f"{case.stem}.json").write_text(json.dumps(doc, indent=2))


def write_sheet(path: Path, cases: list[PhantomCase], seed: int) -> None:
    """datasets.xlsx: title in row 1, column names in row 2, one row per case id from row 3."""
    rng = np.random.default_rng([seed, 0x5EE7])
    book = openpyxl.Workbook()
    sheet = book.active
    sheet.title = SHEET_NAME
    sheet.append(["Cervical Spine X-ray Atlas (synthetic phantom: not patient data)"])
    sheet.append(HEADER)
    for case in cases:
        sheet.append(
            [
                case.case_id,
                case.gender,
                case.sheet_age,
                None if case.label is None else (1 if case.label == 1 else 2),
                case.curvature,
                round(float(rng.uniform(0.08, 0.16)), 4),
                round(float(rng.normal(15 if case.curvature == 1 else 3, 6)), 1),
                round(float(rng.normal(25, 6)), 1),
                round(float(rng.normal(18, 8)), 1),
            ]
        )
    book.save(path)


def generate_phantom(
    out: str | Path,
    n: int = 500,
    seed: int = 0,
    healthy_fraction: float = CSXA_HEALTHY_FRACTION,
    workers: int | None = None,
    effect: str = "natural",
) -> PhantomSummary:
    """Write a synthetic CSXA folder with n usable images into out (must not exist or be empty).

    effect: what the set's films show of their labels (anatomy.EFFECTS, plan_cases)."""
    root = Path(out)
    if root.exists() and any(root.iterdir()):
        raise FileExistsError(f"{root} is not empty; choose a new --out folder or delete it")
    (root / PNG_DIR).mkdir(parents=True, exist_ok=True)
    (root / JSON_DIR).mkdir(exist_ok=True)
    cases = plan_cases(n, seed, healthy_fraction, effect)
    with_image = [c for c in cases if c.has_image]
    workers = workers or os.cpu_count() or 1
    if workers == 1:
        for case in with_image:
            write_case(root, case, seed)
    else:
        with ProcessPoolExecutor(workers) as pool:
            list(
                pool.map(
                    write_case,
                    [root] * len(with_image),
                    with_image,
                    [seed] * len(with_image),
                    chunksize=8,
                )
            )
    write_sheet(root / SHEET_FILE, cases, seed)
    quirks: dict[str, list[str]] = {}
    for case in with_image:
        if case.quirk:
            quirks.setdefault(case.quirk, []).append(case.stem)
    return PhantomSummary(
        root=root,
        n_images=len(with_image),
        n_rows=len(cases),
        n_healthy=sum(c.label == 0 for c in with_image),
        missing_case_ids=[c.case_id for c in cases if not c.has_image],
        unlabelled_case_ids=[c.case_id for c in cases if c.label is None],
        age_mismatch_case_ids=[c.case_id for c in with_image if c.sheet_age != c.age],
        inverted_stems=[c.stem for c in with_image if c.inverted],
        quirks=quirks,
    )
