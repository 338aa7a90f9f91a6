"""Dataset adapters: Set5, Set14, B100, Urban100, DIV2K (validation), any HR folder, and an embedded demo set.

Layouts understood under a data root (``--data-root`` or ``SRBENCH_DATA``, else
``$SRBENCH_HOME/datasets`` where ``srbench fetch`` puts files):
- ``<root>/<Set>/HR/*`` with optional ``<root>/<Set>/LR_bicubic/X{s}/``;
- EDSR's ``<root>/benchmark/<Set>/HR`` and ``.../LR_bicubic/X{s}/<name>x{s}.png``;
- DIV2K's ``<root>/[DIV2K/]DIV2K_valid_HR`` and ``DIV2K_valid_LR_bicubic/X{s}/0801x{s}.png``.
"""

from __future__ import annotations

import errno
import hashlib
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from srbench.errors import SrbenchError
from srbench.imaging.io import IMAGE_EXTENSIONS
from srbench.registry import Registry
from srbench.store.assets import file_sha256, home, sha256_of
from srbench.store.paths import data_dir


@dataclass(frozen=True)
class DatasetCard:
    name: str
    title: str  # shown in tables and plots
    dir_names: tuple[str, ...]  # accepted folder names under the data root
    manifest: str | None  # datasets/<file>.tsv
    paper: str = ""
    kind: str = "benchmark"  # benchmark | div2k | folder | demo
    order: int = 100  # position in tables (smaller first)


@dataclass
class Sample:
    name: str  # file name in the set, e.g. "baby.png" (the key of per-image records)
    hr_path: Path
    lr_paths: dict[int, Path] = field(default_factory=dict)  # shipped MATLAB-bicubic LR per scale

    @property
    def stem(self) -> str:
        return self.hr_path.stem


@dataclass
class Dataset:
    card: DatasetCard
    root: Path  # the HR folder
    samples: list[Sample]
    layout: str
    unreadable: list[str] = field(default_factory=list)  # image names that are no readable file (dangling links)

    @cached_property
    def manifest_rows(self) -> dict[str, dict]:
        return load_manifest(self.card.manifest) if self.card.manifest else {}

    def verify(self) -> dict:
        """Compare files with the manifest: names, count and sha256 (when pinned); list unreadable entries."""
        rows = self.manifest_rows
        if not rows:
            return {"manifest": None, "verified": False, "missing": [], "extra": [], "sha256_mismatch": [],
                    "unreadable": list(self.unreadable)}
        files = {s.hr_path.name: s for s in self.samples}
        missing = sorted(set(rows) - set(files))
        extra = sorted(set(files) - set(rows))
        mismatched = [n for n, r in rows.items() if n in files and r["sha256"] and _sha256(files[n].hr_path) != r["sha256"]]
        ok = not (missing or extra or mismatched or self.unreadable)
        return {"manifest": self.card.manifest, "verified": ok, "missing": missing, "extra": extra,
                "sha256_mismatch": mismatched, "unreadable": list(self.unreadable)}

    def problems(self, report: dict | None = None) -> str | None:
        """Why this copy of the set is not the whole, verified set (None when it is): missing, extra,
        altered or unreadable images. Such a copy is never scored as the set (see ``make_plan``)."""
        r = report if report is not None else self.verify()
        parts = []
        for key, what in (("missing", "missing"), ("unreadable", "unreadable (dangling link, loop or not a file)"),
                          ("extra", "not in the manifest"), ("sha256_mismatch", "altered (sha256 differs)")):
            names = r.get(key) or []
            if names:
                parts.append(f"{len(names)} {what}: {', '.join(names[:3])}{' …' if len(names) > 3 else ''}")
        return "; ".join(parts) or None

    def fingerprint(self, samples: list[Sample], scale: int, shipped_lr: bool) -> str:
        """sha256 over the images' names and contents (and the shipped LR the protocol uses)."""
        h = hashlib.sha256(self.card.name.encode())
        for s in samples:
            h.update(b"\0" + s.name.encode() + b"\0" + _sha256(s.hr_path, file_sha256).encode())
            if shipped_lr and scale in s.lr_paths:
                h.update(b"\0lr" + _sha256(s.lr_paths[scale], file_sha256).encode())
        return h.hexdigest()


def load_manifest(file: str) -> dict[str, dict]:
    path = data_dir("datasets") / file
    rows: dict[str, dict] = {}
    header = None
    for line in path.read_text().splitlines():
        if not line or line.startswith("#"):
            continue
        cols = line.split("\t")
        if header is None:
            header = cols
            continue
        row = dict(zip(header, cols))
        rows[row["file"]] = row
    return rows


DATASETS: Registry[DatasetCard] = Registry("dataset")
for _card, _aliases in [
    (DatasetCard("set5", "Set5", ("Set5",), "set5.tsv", "Bevilacqua et al., BMVC 2012", order=1), ()),
    (DatasetCard("set14", "Set14", ("Set14",), "set14.tsv", "Zeyde et al., Curves and Surfaces 2010", order=2), ()),
    (DatasetCard("b100", "B100", ("B100", "BSD100", "BSDS100"), "b100.tsv", "Martin et al., ICCV 2001", order=3),
     ("bsd100",)),
    (DatasetCard("urban100", "Urban100", ("Urban100",), "urban100.tsv", "Huang et al., CVPR 2015", order=4), ()),
    (DatasetCard("div2k", "DIV2K", ("DIV2K",), "div2k.tsv",
                 "Agustsson & Timofte, CVPRW 2017 (validation images 0801-0900)", kind="div2k", order=5),
     ("div2k-val",)),
    (DatasetCard("demo", "Demo", (), None,
                 "embedded demo set: scikit-image's bundled photographs astronaut, coffee, chelsea, camera (grey), "
                 "rocket", kind="demo", order=90), ()),
]:
    DATASETS.register(_card.name, _card, aliases=_aliases)

# scikit-image ships these photographs inside its wheel: an offline default needing no download.
DEMO_FILES = ("astronaut.png", "coffee.png", "chelsea.png", "camera.png", "rocket.jpg")


def default_root() -> Path:
    return Path(os.environ.get("SRBENCH_DATA") or home() / "datasets")


def _sha256(path: Path, fn=sha256_of) -> str:
    try:
        return fn(path)
    except OSError as exc:
        raise _read_error(path, exc) from None


def _read_error(path: Path, exc: OSError) -> SrbenchError:
    why = "permission denied" if exc.errno in (errno.EACCES, errno.EPERM) else (exc.strerror or str(exc))
    return SrbenchError(f"cannot read {path}: {why}; make the set readable (chmod -R u+rX) or copy it elsewhere")


def _listdir(folder: Path) -> list[Path]:
    try:
        return sorted(folder.iterdir())
    except OSError as exc:
        raise _read_error(folder, exc) from None


def _is_file(p: Path) -> bool:
    try:
        return p.is_file()  # False for dangling links and link loops
    except OSError as exc:  # e.g. permission denied on a folder of the link's target
        raise _read_error(p, exc) from None


def _images(folder: Path) -> list[Path]:
    return [p for p in _listdir(folder) if p.suffix.lower() in IMAGE_EXTENSIONS and _is_file(p)]


def _unreadable(folder: Path) -> list[str]:
    """Entries named like images that are no readable file: dangling symlinks, symlink loops, folders."""
    return [p.name for p in _listdir(folder) if p.suffix.lower() in IMAGE_EXTENSIONS and not _is_file(p)]


def _find_dir(parent: Path, names: tuple[str, ...]) -> Path | None:
    if not parent.is_dir():
        return None
    lower = {n.lower() for n in names}
    for child in _listdir(parent):
        if child.name.lower() in lower and child.is_dir():
            return child
    return None


def _lr_for(lr_root: Path | None, hr: Path, shared_stem: bool, scales=(2, 3, 4)) -> dict[int, Path]:
    """Shipped LR files: ``X{s}/<stem>x{s}.<ext>`` (EDSR/DIV2K) or ``X{s}/<stem>.<ext>``. When two HR
    files share the stem (``baby.png``, ``baby.bmp``) only an LR with the HR's own extension pairs."""
    out: dict[int, Path] = {}
    if lr_root is None:
        return out
    stem = hr.stem
    exts = (hr.suffix,) if shared_stem else (".png", ".bmp")
    for s in scales:
        folder = _find_dir(lr_root, (f"X{s}", f"x{s}"))
        if folder is None:
            continue
        for cand in (f"{stem}x{s}", stem):
            for ext in exts:
                if _is_file(folder / (cand + ext)):
                    out[s] = folder / (cand + ext)
                    break
            if s in out:
                break
    return out


def _from_hr_dir(card: DatasetCard, hr_dir: Path, lr_root: Path | None, layout: str) -> Dataset:
    images = _images(hr_dir)
    if not images:
        fetch = f" (srbench fetch --dataset {card.name})" if card.kind == "benchmark" and card.manifest else ""
        raise SrbenchError(f"{card.name}: no images in {hr_dir}; put the HR images there{fetch}")
    stems = [p.stem for p in images]
    samples = [Sample(p.name, p, _lr_for(lr_root, p, stems.count(p.stem) > 1)) for p in images]
    return Dataset(card, hr_dir, samples, layout, _unreadable(hr_dir))


def _benchmark(card: DatasetCard, root: Path) -> Dataset:
    for parent, layout in ((root, "<root>/<Set>/HR"), (root / "benchmark", "EDSR benchmark/<Set>/HR")):
        set_dir = _find_dir(parent, card.dir_names)
        if set_dir is None:
            continue
        hr = _find_dir(set_dir, ("HR", "GTmod12", "GT"))
        if hr is not None:
            return _from_hr_dir(card, hr, _find_dir(set_dir, ("LR_bicubic", "LR")), layout)
        if _images(set_dir):  # a flat folder of HR images
            return _from_hr_dir(card, set_dir, None, "<root>/<Set>/*")
    raise SrbenchError(
        f"dataset '{card.name}' not found under {root} (looked for {card.dir_names[0]}/HR and "
        f"benchmark/{card.dir_names[0]}/HR); pass --data-root, set SRBENCH_DATA or run 'srbench fetch --dataset {card.name}'"
    )


def _div2k(card: DatasetCard, root: Path) -> Dataset:
    for base in (root, root / "DIV2K"):
        hr = _find_dir(base, ("DIV2K_valid_HR",))
        if hr is not None:
            ds = _from_hr_dir(card, hr, _find_dir(base, ("DIV2K_valid_LR_bicubic",)), "DIV2K_valid_HR")
            # The benchmark split is the validation set 0801-0900 only.
            ds.samples = [s for s in ds.samples if s.stem.isdigit() and 801 <= int(s.stem) <= 900]
            if not ds.samples:
                raise SrbenchError(f"div2k: no files 0801-0900 in {hr}")
            return ds
    raise SrbenchError(
        f"DIV2K not found under {root} (looked for DIV2K_valid_HR and DIV2K/DIV2K_valid_HR); "
        "download DIV2K_valid_HR.zip from data.vision.ee.ethz.ch/cvl/DIV2K and unzip it there"
    )


def _demo(card: DatasetCard) -> Dataset:
    try:
        import skimage.data
    except ImportError:
        raise SrbenchError("the demo set needs scikit-image (pip install scikit-image)") from None
    folder = Path(skimage.data.__file__).parent
    samples = [Sample(f, folder / f) for f in DEMO_FILES if (folder / f).is_file()]
    if not samples:
        raise SrbenchError(f"scikit-image's bundled images are missing from {folder}")
    return Dataset(card, folder, samples, "scikit-image bundled data")


def open_dataset(name: str, data_root: str | Path | None = None) -> Dataset:
    """Resolve ``name`` (a registered set or ``folder:PATH``) to its samples."""
    if name.lower().startswith("folder:"):
        text = name.split(":", 1)[1].strip()
        if not text:
            raise SrbenchError("'folder:' needs a path, e.g. --set folder:my_images")
        path = Path(text).expanduser()
        if not path.is_dir():
            raise SrbenchError(f"folder '{path}' does not exist or is not a directory")
        hr = _find_dir(path, ("HR",)) or path
        card = DatasetCard(f"folder:{path.resolve().name}", path.resolve().name, (), None, kind="folder")
        return _from_hr_dir(card, hr, _find_dir(path, ("LR_bicubic",)), "folder")
    card = DATASETS.get(name)
    if card.kind == "demo":
        return _demo(card)
    root = Path(data_root).expanduser() if data_root else default_root()
    if not root.is_dir():
        raise SrbenchError(f"data root {root} does not exist; pass --data-root DIR or set SRBENCH_DATA")
    return _div2k(card, root) if card.kind == "div2k" else _benchmark(card, root)


def list_datasets() -> list[str]:
    return DATASETS.names()
