"""FID and KID for super-resolution, with clean-fid's semantics, on a grid of fixed-size patches.

FID/KID compare two *sets* (the SR outputs against the HR images), so they are set-level measures, not
per-image metric specs. SR sets are small, so both are computed on patches (StableSR's practice): each
image pair is cut into the same grid of non-overlapping ``patch`` x ``patch`` crops (from the top-left,
remainders dropped), and every crop is one sample. The number of patches is always reported: below
:data:`MIN_PATCHES` (the feature dimension: the sample covariance is singular there and FID is strongly
biased) srbench refuses, unless asked to compute anyway, and then the result is flagged ``unstable``.

clean-fid ("clean" mode): each crop is resized to 299x299 per channel with PIL's bicubic filter on float32
values (no quantisation), clipped to [0, 255]; the features are Inception-v3 pool3 (2048) of the
TorchScript port of TF's ``inception-2015-12-05`` graph, fed ``(x - 128) / 128``. FID is the Fréchet
distance of the two Gaussians (mean, ``np.cov``); KID the unbiased MMD^2 with the cubic polynomial kernel
``(x.y / d + 1)^3``, averaged over 100 random subsets of min(n, 1000) samples (seeded). The interval is
a percentile bootstrap (:func:`scipy.stats.bootstrap`) over the patch pairs.

The Inception file is not on the package index: the user downloads it (:data:`INCEPTION_URL`) and registers
it with ``srbench fetch --file inception-2015-12-05.pt --as inception``; its sha256 is then recorded in
every FID result. Any other feature network (a callable: float32 N x 3 x 299 x 299 in [0, 255] ->
N x d) can be passed instead (the tests use a small stand-in).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from srbench.errors import AssetMissingError, SrbenchError

INCEPTION_NAME = "inception"  # srbench fetch --file inception-2015-12-05.pt --as inception
INCEPTION_FILE = "inception-2015-12-05.pt"
INCEPTION_URL = "https://nvlabs-fi-cdn.nvidia.com/stylegan2-ada-pytorch/pretrained/metrics/inception-2015-12-05.pt"
MIN_PATCHES = 2048
KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
CLEAN_SIZE = 299


def patch_grid(img: np.ndarray, size: int) -> list[np.ndarray]:
    """The non-overlapping ``size`` x ``size`` crops of ``img`` in row-major order (remainders dropped)."""
    if size <= 0:
        raise SrbenchError(f"the FID patch size must be positive, got {size}")
    h, w = img.shape[:2]
    return [img[y:y + size, x:x + size] for y in range(0, h - size + 1, size) for x in range(0, w - size + 1, size)]


def clean_resize(patch: np.ndarray) -> np.ndarray:
    """clean-fid's resize of a uint8 HxWx3 crop: 299x299x3 float32, per-channel PIL bicubic on float, clipped."""
    from PIL import Image

    channels = []
    for c in range(3):
        im = Image.fromarray(np.ascontiguousarray(patch[..., c], dtype=np.float32), mode="F")
        channels.append(np.asarray(im.resize((CLEAN_SIZE, CLEAN_SIZE), resample=Image.BICUBIC)).clip(0, 255))
    return np.stack(channels, axis=2).astype(np.float32)


def load_inception(path):
    """The TorchScript Inception file, checked to be one (it has the ``layers`` clean-fid calls)."""
    import warnings

    import torch

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated; the file is TorchScript
            model = torch.jit.load(str(path), map_location="cpu").eval()
    except (RuntimeError, ValueError) as exc:
        raise SrbenchError(f"{path} is not a TorchScript file ({str(exc).splitlines()[0]}); download {INCEPTION_URL}") from None
    if not hasattr(model, "layers"):
        raise SrbenchError(f"{path} is a TorchScript file but not the Inception network of {INCEPTION_URL}")
    return model


def inception_file():
    """(path, sha256) of the registered Inception file; :class:`AssetMissingError` when none is registered."""
    from srbench.store.assets import Asset, registered, resolve

    info = registered(INCEPTION_NAME)
    if info is None:
        raise AssetMissingError(
            f"FID/KID need the Inception network '{INCEPTION_FILE}' (not on the package index): download "
            f"{INCEPTION_URL} and run 'srbench fetch --file {INCEPTION_FILE} --as {INCEPTION_NAME}'")
    asset = Asset(name="Inception-v3 (TF inception-2015-12-05, TorchScript)", filename=INCEPTION_FILE,
                  url=INCEPTION_URL, sha256=info["sha256"], license="Apache-2.0 (TensorFlow models)")
    return resolve(asset, allow_download=False), info["sha256"]


class InceptionFeatures:
    """pool3 features of the registered Inception file, as clean-fid computes them."""

    def __init__(self, device: str = "cpu"):
        import torch

        path, self.sha256 = inception_file()
        self.device = torch.device(device)
        self.model = load_inception(path).to(self.device)

    def __call__(self, batch: np.ndarray) -> np.ndarray:
        import torch

        x = torch.from_numpy(batch).to(self.device)
        with torch.no_grad():
            return self.model.layers.forward((x - 128) / 128).reshape(x.shape[0], -1).double().cpu().numpy()


def features(patches: list[np.ndarray], net, batch: int = 32) -> np.ndarray:
    """(n, d) float64 features of uint8 crops through clean-fid's resize and ``net``."""
    out = []
    for start in range(0, len(patches), batch):
        x = np.stack([clean_resize(p).transpose(2, 0, 1) for p in patches[start:start + batch]])
        out.append(np.asarray(net(x), dtype=np.float64))
    return np.concatenate(out) if out else np.zeros((0, 0))


def frechet_distance(f1: np.ndarray, f2: np.ndarray) -> float:
    """FID of two feature sets: |mu1 - mu2|^2 + tr(S1) + tr(S2) - 2 tr((S1 S2)^1/2).

    tr((S1 S2)^1/2) is the sum of the square roots of the eigenvalues of S1^1/2 S2 S1^1/2 (a symmetric
    PSD matrix with the same spectrum), computed with symmetric eigendecompositions: no complex parts.
    """
    from scipy.linalg import eigh

    mu1, mu2 = f1.mean(axis=0), f2.mean(axis=0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    w, v = eigh(s1)
    root1 = (v * np.sqrt(w.clip(0))) @ v.T
    inner = eigh(root1 @ s2 @ root1, eigvals_only=True)
    diff = mu1 - mu2
    return float(diff @ diff + np.trace(s1) + np.trace(s2) - 2 * np.sqrt(inner.clip(0)).sum())


def kernel_distance(f1: np.ndarray, f2: np.ndarray, seed: int = 0, subsets: int = KID_SUBSETS,
                    subset_size: int = KID_SUBSET_SIZE) -> float:
    """KID: the unbiased MMD^2 of the cubic polynomial kernel, averaged over random subsets (seeded)."""
    rng = np.random.default_rng(seed)
    d = f1.shape[1]
    m = min(len(f1), len(f2), subset_size)
    total = 0.0
    for _ in range(subsets):
        x = f2[rng.choice(len(f2), m, replace=False)]
        y = f1[rng.choice(len(f1), m, replace=False)]
        kxx = (x @ x.T / d + 1) ** 3
        kyy = (y @ y.T / d + 1) ** 3
        kxy = (x @ y.T / d + 1) ** 3
        within = (kxx.sum() - np.trace(kxx) + kyy.sum() - np.trace(kyy)) / (m * (m - 1))
        total += within - 2 * kxy.mean()
    return float(total / subsets)


@dataclass
class FidResult:
    fid: float
    kid: float
    n_patches: int
    n_images: int
    patch: int
    unstable: bool  # fewer patches than MIN_PATCHES (computed on request)
    fid_interval: tuple[float, float] | None = None
    kid_interval: tuple[float, float] | None = None
    settings: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"fid": self.fid, "kid": self.kid, "n_patches": self.n_patches, "n_images": self.n_images,
                "patch": self.patch, "unstable": self.unstable, "fid_interval": self.fid_interval,
                "kid_interval": self.kid_interval, **self.settings}


def fid_kid(pairs, net, *, patch: int = 512, min_patches: int = MIN_PATCHES, allow_few: bool = False,
            bootstrap: int = 0, confidence: float = 0.95, seed: int = 0) -> FidResult:
    """FID and KID of SR against HR over the patch grid of each (sr, hr) uint8 pair.

    Refuses (:class:`SrbenchError`) under ``min_patches`` patches unless ``allow_few``; ``bootstrap``
    resamples of the patch pairs give percentile intervals at ``confidence``.
    """
    from scipy.stats import bootstrap as scipy_bootstrap

    sr_patches, hr_patches, n_images = [], [], 0
    for sr, hr in pairs:
        if sr.shape != hr.shape:
            raise SrbenchError(f"FID: SR and HR sizes differ ({sr.shape[1]}x{sr.shape[0]} vs {hr.shape[1]}x{hr.shape[0]})")
        sr_patches += patch_grid(sr, patch)
        hr_patches += patch_grid(hr, patch)
        n_images += 1
    n = len(sr_patches)
    if n < 2:
        raise SrbenchError(f"FID: {n} patch(es) of {patch}x{patch} in {n_images} image(s); use a smaller --patch")
    unstable = n < min_patches
    if unstable and not allow_few:
        raise SrbenchError(
            f"FID on {n} patches of {patch}x{patch} is unreliable (at least {min_patches} are needed: below the "
            "feature dimension the covariance is singular and FID strongly biased); use a smaller --patch or more "
            "images, or --allow-few to compute it flagged as unstable")
    f_sr, f_hr = features(sr_patches, net), features(hr_patches, net)
    fid, kid = frechet_distance(f_sr, f_hr), kernel_distance(f_sr, f_hr, seed)
    result = FidResult(fid, kid, n, n_images, patch, unstable,
                       settings={"mode": "clean", "min_patches": min_patches, "bootstrap": bootstrap,
                                 "confidence": confidence, "seed": seed, "kid_subsets": KID_SUBSETS,
                                 "kid_subset_size": KID_SUBSET_SIZE})
    if bootstrap:
        for name, stat in (("fid", frechet_distance), ("kid", lambda a, b: kernel_distance(a, b, seed))):
            ci = scipy_bootstrap((np.arange(n),), lambda idx, stat=stat: stat(f_sr[idx.astype(int)], f_hr[idx.astype(int)]),
                                 n_resamples=bootstrap, confidence_level=confidence, method="percentile",
                                 vectorized=False, random_state=np.random.default_rng(seed)).confidence_interval
            setattr(result, f"{name}_interval", (float(ci.low), float(ci.high)))
    return result
