"""NIQE (Mittal, Soundararajan and Bovik 2013), the official release, in float64 numpy.

Follows the release's MATLAB code (``computequality.m``, ``computefeature.m``,
``estimateaggdparam.m``) with the pristine model ``modelparameters.mat``, as used by PIRM-2018:
- the image (integer grey levels, as double) is cropped to a multiple of the 96x96 block;
- two scales, the second = MATLAB ``imresize(im, 0.5)`` of the double image (no rounding);
- MSCN: 7x7 Gaussian (sigma 7/6) with ``imfilter(..., 'replicate')`` as two 1-D passes,
  ``(im - mu) ./ (sqrt(|E[im^2] - mu^2|) + 1)``;
- per block (96x96, then 48x48, no overlap): AGGD fit of the coefficients ([alpha, (bl + br) / 2])
  and of their products with the 4 circularly shifted neighbours ([alpha, mean, bl, br]) -> 36 values;
- MVG of the block features with ``nanmean`` / ``nancov`` (rows holding a NaN are dropped from the
  covariance only), distance to the pristine MVG with MATLAB's ``pinv``.
Block statistics are vectorised over all blocks; the AGGD shape is the grid point 0.2:0.001:10
minimising the squared ratio difference, exactly as ``estimateaggdparam`` does.

Conditioning: on flat areas the MSCN coefficients are rounding residues whose signs depend on the order
in which the filter sums its products, and NIQE there moves by percents between equally valid orders
(:func:`niqe_conditioning` measures it per image). Against the official values of pyiqa's TID2013
calibration images the separable order agrees better on the ill-conditioned images (I19: +0.7% against
+4.5% for a 2-D filter summed in MATLAB's column-major order) and equally on the well-conditioned ones
(I04, I06 within 0.04%), so it stays the default; MATLAB's own order (which depends on its version and on
Intel IPP) cannot be reproduced bit for bit without MATLAB.

This is not MATLAB's built-in ``niqe()`` (a different pristine model). The input (which grey image,
what shave) is the pipeline's: Y of ``rgb2ycbcr`` with a 4 px shave under PIRM-2018, MATLAB
``rgb2gray`` unshaved for the release's own ``computequality.m``.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
from scipy.ndimage import correlate, correlate1d
from scipy.special import gamma as _gamma

from srbench.errors import AssetMissingError, SrbenchError
from srbench.imaging.imresize import contributions
from srbench.metrics.registry import register
from srbench.metrics.spec import Metric, MetricSpec
from srbench.store.assets import Asset, resolve

NIQE_PARAMS = Asset(
    name="NIQE pristine model (official release, PIRM-2018 copy)",
    filename="modelparameters.mat",
    url=(
        "https://github.com/roimehrez/PIRM2018/raw/d585552a22b4eb95ddcb23a6edb74a0a3a5d6fbf/"
        "utils/niqe_release/modelparameters.mat"
    ),
    sha256="fa2aa4d12dd9595c3fb6bf8b4e1a15c79d5d1469238d0901c88dead195be578d",
    size=8347,
    license="NIQE release (c) 2011 UT Austin: use with notice and citation; research use",
)

# The same pristine model as numpy arrays inside the BasicSR 1.4.2 sdist on PyPI: a pinned file from the
# package index, so NIQE works offline wherever the index is reachable (its values equal the .mat's;
# tests/test_perceptual.py checks it).
NIQE_PARAMS_BASICSR = Asset(
    name="NIQE pristine model (BasicSR 1.4.2 copy of the official values)",
    filename="niqe_pris_params.npz",
    url=("https://files.pythonhosted.org/packages/86/41/00a6b000f222f0fa4c6d9e1d6dcc9811a374cabb8abb9d408b77de39648c/"
         "basicsr-1.4.2.tar.gz"),
    sha256="2a7c182a68c9e7f1b2e2e5ec723279d6f65d912b6fcaf37eb2bf03d7367c4296",
    size=11850,
    license="Apache-2.0 (BasicSR); the values are the official NIQE release's",
    member="basicsr-1.4.2/basicsr/metrics/niqe_pris_params.npz",
    archive_sha256="b89b595a87ef964cda9913b4d99380ddb6554c965577c0c10cb7b78e31301e87",
    archive_size=172524,
)

BLOCK = 96

# estimateaggdparam.m: gam = 0.2:0.001:10; r_gam = gamma(2./gam).^2 ./ (gamma(1./gam).*gamma(3./gam))
_GAM = 0.2 + 0.001 * np.arange(9801)
_R_GAM = _gamma(2.0 / _GAM) ** 2 / (_gamma(1.0 / _GAM) * _gamma(3.0 / _GAM))


def _fspecial_gaussian(size: int = 7, sigma: float = 7.0 / 6.0) -> np.ndarray:
    """``window = fspecial('gaussian', 7, 7/6); window = window / sum(sum(window))`` of computequality.m,
    in MATLAB's order: exp(-(x.*x + y.*y) / (2*std*std)), then the two normalisations (sums in
    column-major order, one element after the other)."""
    half = (size - 1) / 2
    x, y = np.meshgrid(np.arange(-half, half + 1), np.arange(-half, half + 1))
    h = np.exp(-(x * x + y * y) / (2 * sigma * sigma))
    h[h < np.finfo(np.float64).eps * h.max()] = 0
    total = 0.0
    for v in h.ravel(order="F"):  # sum(h(:))
        total += v
    h = h / total
    total = 0.0
    for column in h.T:  # sum(sum(window)): column sums, then their sum
        s = 0.0
        for v in column:
            s += v
        total += s
    return h / total


_WINDOW_2D = _fspecial_gaussian()
# Relative change of NIQE between two summation orders of the same filter above which an image's NIQE is
# flagged as ill-conditioned.
CONDITIONING_TOLERANCE = 1e-3
# MSCN coefficients below this magnitude are rounding residues of a flat neighbourhood, not image content.
RESIDUE = 1e-9


def _imfilter_2d(x: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """``imfilter(x, window, 'replicate')`` with the 7x7 window applied as one 2-D correlation.

    The 49 products are summed for each pixel in MATLAB's column-major kernel order, with the window as
    ``fspecial`` computes it. On a flat area the filtered value differs from the pixel by rounding residues
    (~1e-15) where two 1-D passes often give exact zeros; their signs enter NIQE's AGGD fits. An
    alternative order for ``niqe_conditioning`` (see the module docstring for why it is not the default).
    """
    k = _WINDOW_2D.shape[0]
    r = k // 2
    padded = np.pad(x, r, mode="edge")
    h, w = x.shape
    out = np.zeros_like(x, dtype=np.float64) if out is None else out
    out[...] = 0.0
    term = np.empty_like(out)
    for j in range(k):
        for i in range(k):
            np.multiply(padded[i:i + h, j:j + w], _WINDOW_2D[i, j], out=term)
            out += term
    return out


def _gaussian_1d(size: int = 7, sigma: float = 7.0 / 6.0) -> np.ndarray:
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x * x) / (2 * sigma * sigma))
    return g / g.sum()


_WINDOW = _gaussian_1d()


def _imfilter_replicate(x: np.ndarray) -> np.ndarray:
    """``imfilter(x, fspecial('gaussian', 7, 7/6), 'replicate')`` as two normalised 1-D passes (scipy)."""
    return correlate1d(correlate1d(x, _WINDOW, axis=0, mode="nearest"), _WINDOW, axis=1, mode="nearest")


def _scipy_2d(x: np.ndarray) -> np.ndarray:
    """The outer product of the 1-D window through scipy's 2-D correlation (as Python ports filter)."""
    return correlate(x, np.outer(_WINDOW, _WINDOW), mode="nearest")


# Other admissible summation orders of the same filter: the conditioning measures NIQE's spread over them.
_OTHER_ORDERS = (_imfilter_2d, _scipy_2d)


def mscn(im: np.ndarray, blur=None) -> np.ndarray:
    """Mean-subtracted contrast-normalised coefficients of computequality.m:
    ``(im - mu) ./ (sqrt(abs(imfilter(im.*im) - mu.*mu)) + 1)``."""
    blur = blur or _imfilter_replicate
    mu = blur(im)
    sigma = blur(im * im)
    sigma -= mu * mu
    np.abs(sigma, out=sigma)
    np.sqrt(sigma, out=sigma)
    sigma += 1.0
    np.subtract(im, mu, out=mu)
    mu /= sigma
    return mu


def _nearest_grid_point(r: np.ndarray) -> np.ndarray:
    """``argmin((r_gam - r) .^ 2)`` for each r, as ``estimateaggdparam`` picks the AGGD shape.

    r_gam increases along the grid, so the minimum is at one of the two grid points around r:
    the same squared differences are compared, ties go to the lower index as with ``argmin``, and a
    non-finite r (all differences NaN or inf) gives the first point, without the (n, 9801) table.
    """
    hi = np.searchsorted(_R_GAM, r).clip(0, _R_GAM.size - 1)
    lo = (hi - 1).clip(0)
    with np.errstate(invalid="ignore"):
        position = np.where((_R_GAM[hi] - r) ** 2 < (_R_GAM[lo] - r) ** 2, hi, lo)
    return np.where(np.isfinite(r), position, 0)


def aggd_fit(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``estimateaggdparam`` on each row of ``x`` (N, n): (alpha, betal, betar), each (N,).

    Empty sides give NaN like MATLAB's ``mean([])``; an all-NaN ratio picks the first grid point,
    as MATLAB's ``min`` does.
    """
    n = x.shape[1]
    neg = np.minimum(x, 0.0)  # the negative side, zeros elsewhere
    pos = np.maximum(x, 0.0)
    neg_sq = np.einsum("ij,ij->i", neg, neg)
    pos_sq = np.einsum("ij,ij->i", pos, pos)
    with np.errstate(invalid="ignore", divide="ignore"):
        leftstd = np.sqrt(neg_sq / np.count_nonzero(neg, axis=1))
        rightstd = np.sqrt(pos_sq / np.count_nonzero(pos, axis=1))
        gammahat = leftstd / rightstd
        rhat = ((pos.sum(axis=1) - neg.sum(axis=1)) / n) ** 2 / ((neg_sq + pos_sq) / n)
        rhatnorm = (rhat * (gammahat**3 + 1) * (gammahat + 1)) / ((gammahat**2 + 1) ** 2)
    alpha = _GAM[_nearest_grid_point(rhatnorm)]
    factor = np.sqrt(_gamma(1.0 / alpha) / _gamma(3.0 / alpha))
    return alpha, leftstd * factor, rightstd * factor


# computefeature.m: shifts = [0 1; 1 0; 1 1; 1 -1] applied with circshift inside each block.
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))


def block_features(blocks: np.ndarray) -> np.ndarray:
    """The 18 ``computefeature`` values of each block in ``blocks`` (N, h, w) -> (N, 18)."""
    n = blocks.shape[0]
    flat = blocks.reshape(n, -1)
    alpha, betal, betar = aggd_fit(flat)
    feats = [alpha, (betal + betar) / 2]
    for shift in _SHIFTS:
        pair = flat * np.roll(blocks, shift, axis=(1, 2)).reshape(n, -1)
        alpha, betal, betar = aggd_fit(pair)
        meanparam = (betar - betal) * (_gamma(2.0 / alpha) / _gamma(1.0 / alpha))
        feats += [alpha, meanparam, betal, betar]
    return np.stack(feats, axis=1)


def _blocks(x: np.ndarray, bh: int, bw: int) -> np.ndarray:
    """Non-overlapping bh x bw blocks of x (exact multiple), column-major block order like blkproc."""
    nh, nw = x.shape[0] // bh, x.shape[1] // bw
    return x.reshape(nh, bh, nw, bw).transpose(2, 0, 1, 3).reshape(nh * nw, bh, bw)


def downscale_half(im: np.ndarray) -> np.ndarray:
    """MATLAB ``imresize(im, 0.5)`` of a double image with even sides, as :func:`srbench.imaging.imresize.imresize`.

    At scale 1/2 every output sample i uses the same 8 weights on inputs 2i-3 .. 2i+4 (symmetric
    padding at the borders), so the gather becomes 8 strided slices: same weights, same order of
    summation, same result, several times faster.
    """
    out = im
    for axis in (0, 1):
        n = out.shape[axis]
        weights, _ = contributions(n, n // 2, 0.5, True)
        padded = np.pad(out, [(3, 4) if a == axis else (0, 0) for a in range(2)], mode="symmetric")
        taps = [padded[k:k + n:2] if axis == 0 else padded[:, k:k + n:2] for k in range(weights.shape[1])]
        out = weights[0, 0] * taps[0]
        for k in range(1, len(taps)):
            out += weights[0, k] * taps[k]
    return out


def _pinv(a: np.ndarray) -> np.ndarray:
    """MATLAB ``pinv``: singular values above max(size) * eps(max singular value) are inverted."""
    u, s, vt = np.linalg.svd(a)
    tol = max(a.shape) * np.spacing(s.max())
    s_inv = np.where(s > tol, 1.0 / np.where(s > tol, s, 1.0), 0.0)
    return (vt.T * s_inv) @ u.T


def _mscn_scales(im: np.ndarray, block: int, blur=None) -> list[np.ndarray]:
    """The MSCN maps of both scales of a grey image (float, integer levels), cropped to whole blocks."""
    im = np.asarray(im, dtype=np.float64)
    nh, nw = im.shape[0] // block, im.shape[1] // block
    if nh * nw < 2:
        raise SrbenchError(
            f"NIQE needs at least two {block}x{block} blocks; the image is {im.shape[1]}x{im.shape[0]} "
            "after the border shave"
        )
    im = im[: nh * block, : nw * block]
    # the second scale: imresize(im, 0.5) of the double image, no rounding
    return [mscn(im, blur), mscn(downscale_half(im), blur)]


def _features(maps: list[np.ndarray], block: int) -> np.ndarray:
    return np.concatenate([block_features(_blocks(m, block // s, block // s)) for s, m in zip((1, 2), maps)], axis=1)


def niqe_features(im: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """(n_blocks, 36) features of a grey image (float, integer levels), cropped to whole blocks."""
    return _features(_mscn_scales(im, block), block)


def _distance(feat: np.ndarray, mu_pris: np.ndarray, cov_pris: np.ndarray, shape: tuple) -> float:
    # nanmean / nancov: NaN features (a block with an empty AGGD side) are left out; a NaN score
    # results only where MATLAB's would be NaN too
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mu_dist = np.nanmean(feat, axis=0)
        cov_dist = np.cov(feat[~np.isnan(feat).any(axis=1)], rowvar=False)
    if not (np.isfinite(mu_dist).all() and np.isfinite(cov_dist).all()):
        # a flat image (a constant one, say) has blocks without natural-scene statistics: MATLAB gives NaN
        raise SrbenchError(f"NIQE is undefined for this {shape[1]}x{shape[0]} image: too few of its {len(feat)} "
                           "blocks have texture (a flat or constant image)")
    d = np.ravel(mu_pris) - mu_dist
    inv = _pinv((cov_pris + cov_dist) / 2)
    return float(np.sqrt(d @ inv @ d))


def niqe(im: np.ndarray, mu_pris: np.ndarray, cov_pris: np.ndarray, block: int = BLOCK) -> float:
    """NIQE of a 2-D grey image (values on the 0-255 scale, already rounded/shaved as wanted)."""
    return _distance(niqe_features(im, block), mu_pris, cov_pris, im.shape)


def niqe_conditioning(im: np.ndarray, mu_pris: np.ndarray, cov_pris: np.ndarray,
                      block: int = BLOCK) -> tuple[float, dict]:
    """(NIQE, conditioning) of a grey image.

    On flat areas the MSCN coefficients are rounding residues (|c| < 1e-9) whose signs depend on the
    order in which the filter sums its products; they enter the AGGD side counts, so NIQE there depends on
    the implementation as much as on the image. ``residue_share``: share of such coefficients (both
    scales); ``flat_blocks``: share of 96x96 blocks at least half made of them; ``sensitivity``: the
    largest relative change of NIQE when the same Gaussian is computed and summed as other
    implementations do (MATLAB's 2-D order; scipy's 2-D correlation), computed where there are residues; ``flagged``: sensitivity above 0.1%.
    """
    maps = _mscn_scales(im, block)
    value = _distance(_features(maps, block), mu_pris, cov_pris, im.shape)
    residue = [np.abs(m) < RESIDUE for m in maps]
    n_residue = sum(int(r.sum()) for r in residue)
    per_block = _blocks(residue[0], block, block).reshape(-1, block * block).mean(axis=1)
    sensitivity = 0.0
    if n_residue:
        for blur in _OTHER_ORDERS:
            other = _distance(_features(_mscn_scales(im, block, blur), block), mu_pris, cov_pris, im.shape)
            sensitivity = max(sensitivity, abs(other - value) / value)
    return value, {
        "residue_share": round(n_residue / sum(r.size for r in residue), 6),
        "flat_blocks": round(float((per_block >= 0.5).mean()), 6),
        "sensitivity": round(sensitivity, 6),
        "flagged": bool(sensitivity > CONDITIONING_TOLERANCE),
    }


def niqe_params_file():
    """(path, asset) of the pristine model: the official ``modelparameters.mat`` when it is in the
    cache or a mirror, else BasicSR's copy, else a download of the official file."""
    for asset in (NIQE_PARAMS, NIQE_PARAMS_BASICSR):
        try:
            return resolve(asset, allow_download=False), asset
        except AssetMissingError:
            continue
    try:
        return resolve(NIQE_PARAMS), NIQE_PARAMS
    except AssetMissingError as exc:
        raise AssetMissingError(f"{exc}; or put the BasicSR sdist {NIQE_PARAMS_BASICSR.url} (sha256 "
                                f"{NIQE_PARAMS_BASICSR.archive_sha256[:12]}…) there") from None


@lru_cache(maxsize=2)
def _load_params(path: str) -> tuple[np.ndarray, np.ndarray]:
    if path.endswith(".npz"):
        with np.load(path, allow_pickle=False) as z:
            return np.ravel(z["mu_pris_param"]).astype(np.float64), np.asarray(z["cov_pris_param"], np.float64)
    from scipy.io import loadmat

    mat = loadmat(path)
    return np.ravel(mat["mu_prisparam"]).astype(np.float64), np.asarray(mat["cov_prisparam"], np.float64)


def load_niqe_params() -> tuple[np.ndarray, np.ndarray]:
    """(mu_prisparam (36,), cov_prisparam (36, 36)) of the official pristine model."""
    path, _ = niqe_params_file()
    return _load_params(str(path))


class NIQE(Metric):
    """NIQE of the prepared no-reference grey image (lower is better); parameters load once, lazily.

    Each image's record also carries ``niqe_conditioning`` (see :func:`niqe_conditioning`)."""

    def __init__(self, device: str = "cpu"):
        self._params = None

    @property
    def params(self) -> tuple[np.ndarray, np.ndarray]:
        if self._params is None:
            self._params = load_niqe_params()
        return self._params

    def assets(self) -> dict[str, str]:
        _, asset = niqe_params_file()  # fails here, once, when no copy is available
        return {asset.filename: asset.sha256}

    def __call__(self, pair) -> float:
        mu, cov = self.params
        return niqe(pair.nr, mu, cov)

    def batch_details(self, pairs) -> list[tuple[float, dict]]:
        mu, cov = self.params
        out = []
        for pair in pairs:
            value, conditioning = niqe_conditioning(pair.nr, mu, cov)
            out.append((value, {"niqe_conditioning": conditioning}))
        return out


register(MetricSpec(
    "niqe", "NIQE", False, "nr", (0.0, None), "",
    "NIQE (Mittal et al. 2013, official release modelparameters.mat), 96x96 blocks, float64",
    "srbench.metrics.niqe:NIQE", ".3f", 0.01,
))
