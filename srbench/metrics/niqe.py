"""NIQE (Mittal, Soundararajan and Bovik 2013), the official release, in float64 numpy.

Follows the release's MATLAB code (``computequality.m``, ``computefeature.m``,
``estimateaggdparam.m``) with the pristine model ``modelparameters.mat``, as used by PIRM-2018:
- the image (integer grey levels, as double) is cropped to a multiple of the 96x96 block;
- two scales, the second = MATLAB ``imresize(im, 0.5)`` of the double image (no rounding);
- MSCN: 7x7 Gaussian (sigma 7/6) with ``imfilter(..., 'replicate')``,
  ``(im - mu) ./ (sqrt(|E[im^2] - mu^2|) + 1)``;
- per block (96x96, then 48x48, no overlap): AGGD fit of the coefficients ([alpha, (bl + br) / 2])
  and of their products with the 4 circularly shifted neighbours ([alpha, mean, bl, br]) -> 36 values;
- MVG of the block features with ``nanmean`` / ``nancov`` (rows holding a NaN are dropped from the
  covariance only), distance to the pristine MVG with MATLAB's ``pinv``.
Block statistics are vectorised over all blocks; the AGGD shape is the grid point 0.2:0.001:10
minimising the squared ratio difference, exactly as ``estimateaggdparam`` does.

This is not MATLAB's built-in ``niqe()`` (a different pristine model). The input (which grey image,
what shave) is the pipeline's: Y of ``rgb2ycbcr`` with a 4 px shave under PIRM-2018, MATLAB
``rgb2gray`` unshaved for the release's own ``computequality.m``.
"""

from __future__ import annotations

import warnings
from functools import lru_cache

import numpy as np
from scipy.ndimage import correlate1d
from scipy.special import gamma as _gamma

from ..assets import Asset, resolve
from ..errors import AssetMissingError, SrbenchError
from ..imresize import contributions
from . import Metric

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


def _gaussian_1d(size: int = 7, sigma: float = 7.0 / 6.0) -> np.ndarray:
    # fspecial('gaussian', 7, 7/6) is the outer product of this normalised 1-D kernel.
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2
    g = np.exp(-(x * x) / (2 * sigma * sigma))
    return g / g.sum()


_WINDOW = _gaussian_1d()


def _imfilter_replicate(x: np.ndarray, tmp: np.ndarray | None = None) -> np.ndarray:
    """``imfilter(x, fspecial('gaussian', 7, 7/6), 'replicate')`` (separable, same size)."""
    out = correlate1d(x, _WINDOW, axis=0, mode="nearest", output=tmp)
    return correlate1d(out, _WINDOW, axis=1, mode="nearest")


def mscn(im: np.ndarray) -> np.ndarray:
    """Mean-subtracted contrast-normalised coefficients of computequality.m."""
    # (im - mu) / (sqrt(|E[im^2] - mu^2|) + 1), step by step in place (same operations, fewer arrays)
    tmp = np.empty_like(im, dtype=np.float64)
    mu = _imfilter_replicate(im, tmp)
    np.multiply(im, im, out=tmp)
    sigma = _imfilter_replicate(tmp, tmp)
    np.multiply(mu, mu, out=tmp)
    sigma -= tmp
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
    """MATLAB ``imresize(im, 0.5)`` of a double image with even sides, as :func:`srbench.imresize.imresize`.

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


def niqe_features(im: np.ndarray, block: int = BLOCK) -> np.ndarray:
    """(n_blocks, 36) features of a grey image (float, integer levels), cropped to whole blocks."""
    im = np.asarray(im, dtype=np.float64)
    nh, nw = im.shape[0] // block, im.shape[1] // block
    if nh * nw < 2:
        raise SrbenchError(
            f"NIQE needs at least two {block}x{block} blocks; the image is {im.shape[1]}x{im.shape[0]} "
            "after the border shave"
        )
    im = im[: nh * block, : nw * block]
    feats = []
    for scale in (1, 2):
        size = block // scale
        feats.append(block_features(_blocks(mscn(im), size, size)))
        if scale == 1:
            im = downscale_half(im)  # imresize(im, 0.5): double in, double out, no rounding
    return np.concatenate(feats, axis=1)


def niqe(im: np.ndarray, mu_pris: np.ndarray, cov_pris: np.ndarray, block: int = BLOCK) -> float:
    """NIQE of a 2-D grey image (values on the 0-255 scale, already rounded/shaved as wanted)."""
    feat = niqe_features(im, block)
    # nanmean / nancov: NaN features (a block with an empty AGGD side) are left out; a NaN score
    # results only where MATLAB's would be NaN too
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        mu_dist = np.nanmean(feat, axis=0)
        cov_dist = np.cov(feat[~np.isnan(feat).any(axis=1)], rowvar=False)
    if not (np.isfinite(mu_dist).all() and np.isfinite(cov_dist).all()):
        # a flat image (a constant one, say) has blocks without natural-scene statistics: MATLAB gives NaN
        raise SrbenchError(f"NIQE is undefined for this {im.shape[1]}x{im.shape[0]} image: too few of its "
                           f"{block}x{block} blocks have texture (a flat or constant image)")
    d = np.ravel(mu_pris) - mu_dist
    inv = _pinv((cov_pris + cov_dist) / 2)
    return float(np.sqrt(d @ inv @ d))


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
    """NIQE of the prepared no-reference grey image (lower is better); parameters load once, lazily."""

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
