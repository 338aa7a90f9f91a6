"""A folder of precomputed SR images matched to a set's images by name.
"""

from __future__ import annotations

import re
from pathlib import Path

from srbench.errors import SrbenchError
from srbench.protocol.pipeline import IOConvention
from srbench.sources.source import FolderSource


def folder_source(sr_dir, samples, scale: int, label: str | None, allow_missing: bool) -> FolderSource:
    """Match the SR files in ``sr_dir`` to the set's images (rules in :func:`match_sr_files`)."""
    root = Path(sr_dir).expanduser()
    if not root.is_dir():
        raise SrbenchError(f"--sr {root}: not a directory")
    files = match_sr_files(root, samples, scale, allow_missing)
    return FolderSource(label or root.name, IOConvention(), None, files, str(root.resolve()))


# An SR file matches a set image when its name, without extension, is the image's stem optionally
# followed by a scale tag and/or an SR tag: img_001, img_001_x4, img_001x4, img_001_SR,
# img_001_x4_SR, img_001_SRF_4, img_001_SRF_4_SR (case-insensitive; separators _ or -).
def _sr_pattern(stem: str, scale: int) -> re.Pattern:
    scale_tag = rf"(?:[_-]?x{scale}|[_-]srf[_-]{scale})"
    sr_tag = r"(?:[_-](?:sr|out|output|result))"
    return re.compile(rf"{re.escape(stem)}{scale_tag}?{sr_tag}?", re.IGNORECASE)


def match_sr_files(root: Path, samples, scale: int, allow_missing: bool = False) -> dict:
    from srbench.imaging.io import IMAGE_EXTENSIONS

    candidates = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS)
    matched: dict[str, Path] = {}
    used: set[Path] = set()
    for s in samples:
        pattern = _sr_pattern(s.hr_path.stem, scale)
        hits = [p for p in candidates if pattern.fullmatch(p.stem)]
        if len(hits) > 1:
            raise SrbenchError(f"--sr {root}: {len(hits)} files match {s.hr_path.name} "
                               f"({', '.join(p.name for p in hits[:3])}); keep one")
        if hits:
            matched[s.hr_path.name] = hits[0]
            used.add(hits[0])
    missing = [s.hr_path.name for s in samples if s.hr_path.name not in matched]
    extra = [p.name for p in candidates if p not in used]
    if missing and not allow_missing:
        raise SrbenchError(f"--sr {root}: no SR image for {len(missing)} of {len(samples)} images "
                           f"({', '.join(missing[:3])}{' …' if len(missing) > 3 else ''}); name files like "
                           f"<stem>.png, <stem>_x{scale}.png or <stem>_SR.png, or pass --allow-missing")
    if extra and not allow_missing:
        raise SrbenchError(f"--sr {root}: {len(extra)} file(s) match no image of the set "
                           f"({', '.join(extra[:3])}{' …' if len(extra) > 3 else ''}); remove them or pass --allow-missing")
    if not matched:
        raise SrbenchError(f"--sr {root}: no file matches any image of the set")
    return matched
