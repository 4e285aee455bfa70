"""The files of one suffix in a dataset folder (datasets-PNG/, datasets-JSON/), as a download
leaves them: dot-files of other systems, names differing only in case, an archive unzipped into
a folder of its own name."""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from csxa_lightning.data.dicom import DICOM_SUFFIXES


@dataclass
class Listing:
    """The files of one suffix in a dataset folder: {stem: path}, the dot-files left out, and
    {stem: problem} for stems that name two files."""

    files: dict[str, Path]
    dot_files: int
    collisions: dict[str, str]


def list_files(folder: Path, suffix: str) -> Listing:
    """Files (and symbolic links, dangling ones included: reported when read, not counted as
    missing) whose suffix is `suffix` in any case. Names starting with a dot -- macOS `._*`
    resource forks left by an exFAT or FAT drive, `.DS_Store` -- are not CSXA files: they are
    counted and left out. Two files whose names differ only in case (X.png, X.PNG) are a
    collision: which one a listing returns depends on the directory order."""
    files: dict[str, list[Path]] = defaultdict(list)
    dot_files = 0
    for path in folder.iterdir():
        if path.name.startswith("."):
            dot_files += 1
        elif path.suffix.lower() == suffix and (path.is_file() or path.is_symlink()):
            files[path.stem.casefold()].append(path)
    listing = Listing({}, dot_files, {})
    for paths in files.values():
        paths.sort()
        listing.files[paths[0].stem] = paths[0]
        if len(paths) > 1:
            listing.collisions[paths[0].stem] = (
                f"{' and '.join(str(p) for p in paths)}: {len(paths)} files for one case whose "
                "names differ only in case; which one is read would depend on the folder's "
                "order. Keep the one that belongs to the case and remove the other."
            )
    return listing


# The films a datasets-PNG/ folder may hold: CSXA's PNGs, or a hospital's DICOM files under the
# same 7-digit stems (data/dicom.py reads them).
FILM_SUFFIXES = (".png", *DICOM_SUFFIXES)


def list_films(folder: Path) -> Listing:
    """The films of a datasets-PNG/ folder: its PNG and DICOM files by stem. A stem with files
    of two kinds (X.png beside X.dcm) is a collision: one case, two films."""
    listings = [list_files(folder, suffix) for suffix in FILM_SUFFIXES]
    films = Listing({}, listings[0].dot_files, {})
    for listing in listings:
        films.collisions.update(listing.collisions)
        for stem, path in listing.files.items():
            other = films.files.get(stem)
            if other is not None:
                films.collisions[stem] = (
                    f"{other} and {path}: two films for one case; keep the one that belongs to "
                    "the case and remove the other."
                )
            else:
                films.files[stem] = path
    return films


def nested_folder_problem(folder: Path, suffix: str) -> str | None:
    """When `folder` holds no `suffix` file but a subfolder does (an archive unzipped into a
    folder of its own name): the message naming that subfolder; else None."""
    counts = {
        sub: sum(1 for p in sub.iterdir() if p.suffix.lower() == suffix)
        for sub in sorted(folder.iterdir())
        if sub.is_dir() and not sub.name.startswith((".", "__MACOSX"))
    }
    counts = {sub: n for sub, n in counts.items() if n}
    if not counts:
        return None
    sub, n = max(counts.items(), key=lambda item: item[1])
    return (
        f"no {suffix} files in {folder}, but found {n} {suffix} files in "
        f"{folder.name}/{sub.name}; move them up one level, into {folder}."
    )
