"""Ma et al. (NRQM, CVIU 2017) and the PIRM-2018 Perceptual Index, in float64 numpy.

Ma's score = ``[1, f_dct, f_gsm, f_pca] @ linear`` where each ``f_*`` is the mean prediction of one
regression forest (the authors' trees, ``model.mat`` of chaoma99/sr-metric) on one feature group:
- 18 local-frequency features: 7x7 block DCTs (stride 3, zero 'same' padding) on a 3-level Gaussian
  pyramid of the image / 255 (fspecial(3, 0.5), zero padding, keep every second pixel): generalised
  Gaussian shape, coefficient of variation and orientation variance, each as the mean of the
  worst 10% and of all blocks;
- 45 global features on the 0-255 image: a 2-scale, 6-orientation steerable pyramid, divisive
  normalisation with a Gaussian scale mixture (3x3 neighbours, parent, sibling bands), GGD shapes per
  band and across scales, and SSIM contrast-structure terms across scales and orientations;
- 75 spatial features: singular values of the 5x5 distinct patches at each pyramid level.
The feature code follows IQA-PyTorch's port of the authors' MATLAB code (``pyiqa/archs/nrqm_arch.py``)
step by step, computed in float64 (pyiqa rounds some filters, masks and its resize to float32).

PI = ((10 - Ma) + NIQE) / 2 on the protocol's no-reference input (PIRM-2018: rounded Y, shave 4).

The model file is not redistributable by srbench and has no published checksum; see :data:`MA_MODEL`.
"""

from __future__ import annotations

import math
import os

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.fft import dctn
from scipy.ndimage import correlate
from scipy.special import gammaln

from srbench.errors import AssetMissingError, SrbenchError
from srbench.imaging.imresize import contributions
from srbench.metrics.niqe import NIQE
from srbench.metrics.registry import register
from srbench.metrics.spec import Metric, MetricSpec
from srbench.store.assets import Asset, resolve

MA_MODEL_URL = "https://github.com/chaoma99/sr-metric/raw/master/model.mat"
# No checksum of model.mat is published (IQA-PyTorch downloads its copy without a hash) and the file
# cannot be fetched here, so none is pinned yet. A user who has checked a copy pins it with
# SRBENCH_MA_MODEL_SHA256; srbench then verifies the file against it like any other asset.
MA_MODEL_SHA256: str | None = None
MA_MODEL_ENV = "SRBENCH_MA_MODEL_SHA256"
_MA_MODEL_NAME = "Ma et al. (NRQM) regression-forest model"


MA_MODEL_NAME = "ma-model"  # `srbench fetch --file model.mat --as ma-model`


def ma_model_asset() -> Asset:
    """The model asset: pinned by the user (``srbench fetch --file model.mat --as ma-model``, or
    ``SRBENCH_MA_MODEL_SHA256`` with the file in a mirror); :class:`AssetMissingError` otherwise."""
    from srbench.store.assets import registered

    sha256 = MA_MODEL_SHA256 or os.environ.get(MA_MODEL_ENV, "").strip().lower()
    if not sha256 and registered(MA_MODEL_NAME):
        sha256 = registered(MA_MODEL_NAME)["sha256"]
    if not sha256:
        raise AssetMissingError(
            f"{_MA_MODEL_NAME}: file 'model.mat' is not available and srbench pins no sha256 for it; "
            f"download {MA_MODEL_URL} and run 'srbench fetch --file model.mat --as {MA_MODEL_NAME}' "
            f"(or set {MA_MODEL_ENV} to its sha256 and put it in a directory named by SRBENCH_MIRROR)"
        )
    if len(sha256) != 64 or any(c not in "0123456789abcdef" for c in sha256):
        raise SrbenchError(f"{MA_MODEL_ENV} must be a 64-digit hex sha256, got '{sha256}'")
    return Asset(
        name=_MA_MODEL_NAME,
        filename="model.mat",
        url=MA_MODEL_URL,
        sha256=sha256,
        license="MIT (chaoma99/sr-metric)",
    )


# ---------------------------------------------------------------------------------------------
# small MATLAB helpers (float64)


def fspecial_gaussian(size: int, sigma: float) -> np.ndarray:
    """MATLAB ``fspecial('gaussian', size, sigma)``."""
    r = (size - 1) / 2
    y, x = np.ogrid[-r:r + 1, -r:r + 1]
    h = np.exp(-(x * x + y * y) / (2.0 * sigma * sigma))
    h[h < np.finfo(np.float64).eps * h.max()] = 0
    return h / h.sum()


def resize_to(x: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """MATLAB ``imresize(x, [m n])`` (bicubic, antialiasing) of a 2-D float array, in float64."""
    out = np.asarray(x, dtype=np.float64)
    for axis, length in ((0, shape[0]), (1, shape[1])):
        weights, idx = contributions(out.shape[axis], length, length / out.shape[axis], True)
        moved = np.moveaxis(out, axis, 0)
        acc = np.zeros((length,) + moved.shape[1:])
        for k in range(weights.shape[1]):
            acc += weights[:, k][:, None] * moved[idx[:, k]]
        out = np.moveaxis(acc, 0, axis)
    return out


# Generalised Gaussian shape lookup (BLIINDS-II ``gama_gen_gauss``): gam = 0.03:0.001:10,
# r(gam) = gamma(1/g) gamma(3/g) / gamma(2/g)^2, strictly decreasing; argmin |rho - r| is found by
# bisection (first index on a tie, as argmin does).
GGD_GAMMA = 0.03 + 0.001 * np.arange(9971)
GGD_RATIO = np.exp(gammaln(1.0 / GGD_GAMMA) + gammaln(3.0 / GGD_GAMMA) - 2.0 * gammaln(2.0 / GGD_GAMMA))
_RATIO_ASC = GGD_RATIO[::-1].copy()


def _nearest_ratio_index(rho: np.ndarray) -> np.ndarray:
    n = GGD_RATIO.size
    pos = np.searchsorted(_RATIO_ASC, rho, side="left")
    hi = np.clip(n - 1 - pos, 0, n - 1)  # GGD_RATIO[hi] >= rho (smaller index)
    lo = np.clip(n - pos, 0, n - 1)  # GGD_RATIO[lo] < rho
    take_hi = np.abs(GGD_RATIO[hi] - rho) <= np.abs(GGD_RATIO[lo] - rho)
    out = np.where(take_hi, hi, lo)
    return np.where(np.isnan(rho), 0, out)


def ggd_shape(x: np.ndarray) -> np.ndarray:
    """GGD shape of each row of ``x`` (..., n): rho = var / mean(|x - mean|)^2 -> nearest grid gamma."""
    mean = x.mean(axis=-1, keepdims=True)
    var = x.var(axis=-1, ddof=1)
    mean_abs = np.abs(x - mean).mean(axis=-1) ** 2
    rho = var / (mean_abs + 1e-7)
    return GGD_GAMMA[_nearest_ratio_index(rho)]


def _abs_cv(x: np.ndarray, eps: float) -> np.ndarray:
    """std(|x|) / (mean(|x|) + eps) over the last axis (unbiased std)."""
    a = np.abs(x)
    return a.std(axis=-1, ddof=1) / (a.mean(axis=-1) + eps)


# ---------------------------------------------------------------------------------------------
# features


def gauss_pyramid(x: np.ndarray, levels: int = 2) -> list[np.ndarray]:
    """[x, x1, x2]: fspecial('gaussian', 3, 0.5) with zero padding, then x(2:2:end, 2:2:end)."""
    kernel = fspecial_gaussian(3, 0.5)
    pyr = [x]
    for _ in range(levels):
        x = correlate(x, kernel, mode="constant", cval=0.0)[1::2, 1::2]
        pyr.append(x)
    return pyr


def _dct_blocks(x: np.ndarray, size: int = 7, stride: int = 3) -> np.ndarray:
    """Orthonormal 2-D DCTs of size x size blocks every ``stride`` px ('same' zero padding): (N, 7, 7)."""
    h, w = x.shape
    pads = []
    for n in (h, w):
        total = (math.ceil(n / stride) - 1) * stride + size - n
        pads.append((total // 2, total - total // 2))
    padded = np.pad(x, pads)
    blocks = sliding_window_view(padded, (size, size))[::stride, ::stride]
    return dctn(blocks.reshape(-1, size, size), type=2, norm="ortho", axes=(1, 2))


def _low_mean(values: np.ndarray) -> float:
    v = np.sort(values)
    return float(v[: math.ceil(0.1 * v.size) + 1].mean())


def _high_mean(values: np.ndarray) -> float:
    v = np.sort(values)
    return float(v[math.floor(0.9 * v.size):].mean())


def _oriented_groups(d: np.ndarray) -> list[np.ndarray]:
    """The three orientation groups of AC coefficients of 7x7 DCT blocks d (N, 7, 7)."""
    g1 = np.concatenate([d[:, 0, 1:], d[:, 1, 2:], d[:, 2, 4:], d[:, 3, 5:]], axis=1)
    g2 = np.concatenate([d[:, 1, 1:2], d[:, 2, 2:4], d[:, 3, 2:5], d[:, 4, 3:], d[:, 5, 4:], d[:, 6, 4:]], axis=1)
    g3 = np.concatenate([d[:, 1:, 0], d[:, 2:, 1], d[:, 4:, 2], d[:, 5:, 3]], axis=1)
    return [g1, g2, g3]


def dct_features(x: np.ndarray) -> np.ndarray:
    """6 local-frequency features of one pyramid level (values in [0, 1])."""
    d = _dct_blocks(x)
    ac = d.reshape(d.shape[0], -1)[:, 1:]
    gam = ggd_shape(ac)
    cv = _abs_cv(ac, 1e-7)
    ori = np.stack([_abs_cv(g, 1e-8) for g in _oriented_groups(d)], axis=1).var(axis=1, ddof=1)
    return np.array([
        _low_mean(gam), gam.mean(),
        _high_mean(cv), cv.mean(),
        _high_mean(ori), ori.mean(),
    ])


def _prepare_grid(m: int, n: int) -> tuple[np.ndarray, np.ndarray]:
    x = np.linspace(-(m // 2) / (m / 2), (m // 2) / (m / 2) - (1 - m % 2) * 2 / m, num=m)
    y = np.linspace(-(n // 2) / (n / 2), (n // 2) / (n / 2) - (1 - n % 2) * 2 / n, num=n)
    xv, yv = np.meshgrid(y, x)
    angle = np.arctan2(yv, xv)
    rad = np.sqrt(xv**2 + yv**2)
    rad[m // 2, n // 2] = rad[m // 2, n // 2 - 1]
    return np.log2(rad), angle


def _rcos(width: float = 1.0, position: float = -0.5) -> tuple[np.ndarray, np.ndarray]:
    n = 256
    x = np.pi * np.arange(-n - 1, 2) / 2 / n
    y = np.cos(x) ** 2
    y[0] = y[1]
    y[n + 2] = y[n + 1]
    return position + 2 * width / np.pi * (x + np.pi / 4), y


def _point_op(im: np.ndarray, y: np.ndarray, x: np.ndarray) -> np.ndarray:
    return np.interp(im.ravel(), x, y).reshape(im.shape)


def steerable_pyramid(im: np.ndarray, height: int = 2, nbands: int = 6) -> tuple[np.ndarray, list[list[np.ndarray]]]:
    """Complex steerable pyramid (matlabPyrTools ``buildSCFpyr``), real parts of the bands.

    Returns (high-pass residual, [[band per orientation] per scale]).
    """
    log_rad, angle = _prepare_grid(*im.shape)
    xr, yr = _rcos(1.0, -0.5)
    yr = np.sqrt(yr)
    yir = np.sqrt(1 - yr**2)
    dft = np.fft.fftshift(np.fft.fft2(im))
    hi0 = np.fft.ifft2(np.fft.ifftshift(dft * _point_op(log_rad, yr, xr))).real
    lodft = dft * _point_op(log_rad, yir, xr)

    lut = 1024
    xcosn = np.pi * np.arange(-(2 * lut + 1), lut + 2) / lut
    alpha = (xcosn + np.pi) % (2 * np.pi) - np.pi
    order = nbands - 1
    const = 2 ** (2 * order) * math.factorial(order) ** 2 / (nbands * math.factorial(2 * order))
    ycosn = 2 * np.sqrt(const) * np.cos(xcosn) ** order * (np.abs(alpha) < np.pi / 2)
    phase = (-1j) ** order

    scales = []
    for _ in range(height):
        xr = xr - 1.0
        himask = _point_op(log_rad, yr, xr)
        bands = []
        for b in range(nbands):
            anglemask = _point_op(angle, ycosn, xcosn + np.pi * b / nbands)
            banddft = lodft * anglemask * himask * phase
            bands.append(np.fft.ifft2(np.fft.ifftshift(banddft)).real)
        scales.append(bands)
        dims = np.array(lodft.shape)
        start = (np.ceil((dims + 0.5) / 2) - np.ceil((np.ceil((dims - 0.5) / 2) + 0.5) / 2)).astype(int)
        end = start + np.ceil((dims - 0.5) / 2).astype(int)
        log_rad = log_rad[start[0]:end[0], start[1]:end[1]]
        angle = angle[start[0]:end[0], start[1]:end[1]]
        lodft = lodft[start[0]:end[0], start[1]:end[1]]
        lodft = _point_op(log_rad, np.abs(np.sqrt(1 - yr**2)), xr) * lodft
    return hi0, scales


def gsm_normalise(bands: list[np.ndarray], num_scale: int = 2, num_bands: int = 6) -> list[np.ndarray]:
    """Divisive normalisation of each band by its GSM neighbourhood (3x3, parent, siblings)."""
    border = 1
    out = []
    for si in range(num_scale):
        for bi in range(num_bands):
            idx = si * num_bands + bi
            band = bands[idx]
            h, w = band.shape
            cols = [sliding_window_view(band, (3, 3)).reshape(-1, 9)]
            n = 9
            parent = idx + num_bands
            if parent < len(bands):
                up = resize_to(bands[parent], band.shape)
                cols.append(up[border:-border, border:-border].reshape(-1, 1))
                n += 1
            for ni in range(num_bands):
                if ni != bi:
                    cols.append(bands[si * num_bands + ni][border:-border, border:-border].reshape(-1, 1))
            t = np.concatenate(cols, axis=1)
            c = t.T @ t / t.shape[0]
            # clip negative eigenvalues, keeping the trace
            lam, q = np.linalg.eigh(c)
            pos = lam * (lam > 0)
            pos_sum = pos.sum()
            lam = pos * lam.sum() / (pos_sum + (pos_sum == 0))
            c = (q * lam) @ q.T
            centre = band[border:-border, border:-border].reshape(-1)
            centre = centre - centre.mean()
            z = np.sqrt((np.linalg.solve(c.T, t.T).T * t / n).sum(axis=1))
            mask = z != 0
            g = (centre * mask / (z * mask + 1e-12)).reshape(h - 2, w - 2)
            gb = int(16 / 2**si)
            g = g[gb:-gb, gb:-gb]
            out.append(g - g.mean())
    return out


# fspecial('gaussian', 11, 1.5) is separable (no tap falls under its eps cut): filter by rows, columns.
_SSIM_1D = np.exp(-((np.arange(11) - 5.0) ** 2) / (2 * 1.5**2))
_SSIM_1D /= _SSIM_1D.sum()


def ssim_cs(x: np.ndarray, y: np.ndarray, data_range: float = 255.0) -> float:
    """Mean of max(0, contrast-structure map) of SSIM (11x11 Gaussian, sigma 1.5, 'valid')."""
    c2 = (0.03 * data_range) ** 2

    def filt(a):
        a = sliding_window_view(a, 11, axis=0) @ _SSIM_1D
        return sliding_window_view(a, 11, axis=1) @ _SSIM_1D

    mx, my = filt(x), filt(y)
    sxx = filt(x * x) - mx * mx
    syy = filt(y * y) - my * my
    sxy = filt(x * y) - mx * my
    cs = (2 * sxy + c2) / (sxx + syy + c2)
    return float(np.maximum(cs, 0).mean())


def gsm_features(im: np.ndarray) -> np.ndarray:
    """45 global features of the 0-255 image."""
    hp, scales = steerable_pyramid(im, height=2, nbands=6)
    bands = scales[0] + scales[1]
    sub = gsm_normalise(bands)
    feats = [ggd_shape(s.reshape(-1)) for s in sub]
    feats += [ggd_shape(np.concatenate([sub[i].reshape(-1), sub[i + 6].reshape(-1)])) for i in range(6)]
    feats += [ssim_cs(resize_to(b, hp.shape), hp) for b in bands]
    feats += [ssim_cs(sub[i], sub[j]) for i in range(6) for j in range(i + 1, 6)]
    return np.array([float(f) for f in feats])


def pca_features(x: np.ndarray, size: int = 5) -> np.ndarray:
    """Singular values of the distinct 5x5 patches (zero-padded right/bottom) of one level."""
    h, w = x.shape
    padded = np.pad(x, ((0, -h % size), (0, -w % size)))
    hh, ww = padded.shape
    patches = padded.reshape(hh // size, size, ww // size, size).transpose(0, 2, 1, 3).reshape(-1, size * size)
    return np.linalg.svd(patches, compute_uv=False)


def ma_features(y: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(18 DCT, 45 GSM, 75 PCA) features of a grey image on the 0-255 scale."""
    y = np.asarray(y, dtype=np.float64)
    if min(y.shape) < 64:
        raise SrbenchError(f"Ma needs an image of at least 64x64 after the shave, got {y.shape[1]}x{y.shape[0]}")
    pyr = gauss_pyramid(y / 255.0)
    f1 = np.concatenate([dct_features(level) for level in pyr])
    f2 = gsm_features(y)
    f3 = np.concatenate([pca_features(level) for level in pyr])
    return f1, f2, f3


# ---------------------------------------------------------------------------------------------
# regression forests


def tree_predict(feat, ldau, rdau, threshold, pred, attribute) -> float:
    """One MATLAB regression tree: follow the children until a leaf (child index 0)."""
    k = prev = 0
    for _ in range(ldau.shape[0]):
        value = feat[int(attribute[k]) - 1]
        prev = k
        k = int(ldau[k] if value <= threshold[k] else rdau[k]) - 1
        if k == -1:
            break
    return float(pred[prev])


def forest_predict(feat: np.ndarray, forest: tuple) -> float:
    """Mean prediction of the trees (columns) of one forest."""
    ldau, rdau, threshold, pred, attribute = forest
    return float(np.mean([
        tree_predict(feat, ldau[:, t], rdau[:, t], threshold[:, t], pred[:, t], attribute[:, t])
        for t in range(ldau.shape[1])
    ]))


def load_ma_model(path) -> tuple[np.ndarray, list[tuple]]:
    """(linear weights (4,), [3 forests of (ldau, rdau, threshold, pred, attribute)]) from model.mat."""
    from srbench.imaging.io import read_mat

    try:
        model = read_mat(path, _MA_MODEL_NAME)["model"]
        linear = np.asarray(model["linear"][0, 0], dtype=np.float64).ravel()
        forests = []
        for i in range(3):
            fields = model["rf"][0, 0][0, i][0, 0]
            forests.append(tuple(np.asarray(fields[j]) for j in (0, 1, 4, 5, 6)))
    except (KeyError, IndexError, ValueError) as exc:
        raise SrbenchError(f"{path} is not the Ma et al. model.mat ({exc})") from None
    if linear.size != 4:
        raise SrbenchError(f"{path}: expected 4 linear weights, got {linear.size}")
    return linear, forests


def ma_score(y: np.ndarray, linear: np.ndarray, forests: list[tuple]) -> float:
    feats = ma_features(y)
    preds = [1.0] + [forest_predict(f, rf) for f, rf in zip(feats, forests)]
    return float(np.dot(preds, linear))


class Ma(Metric):
    """Ma et al. no-reference score of the SR (higher is better); the model loads once, lazily."""

    def __init__(self, device: str = "cpu"):
        self._model = None

    @property
    def model(self):
        if self._model is None:
            self._model = load_ma_model(resolve(ma_model_asset()))
        return self._model

    def assets(self) -> dict[str, str]:
        asset = ma_model_asset()
        resolve(asset)
        return {asset.filename: asset.sha256}

    def __call__(self, pair) -> float:
        linear, forests = self.model
        return ma_score(pair.nr, linear, forests)


def perceptual_index(ma: float, niqe: float) -> float:
    """PIRM-2018: PI = ((10 - Ma) + NIQE) / 2."""
    return ((10.0 - ma) + niqe) / 2.0


class PI(Metric):
    """Perceptual Index of the SR (lower is better), from :class:`Ma` and :class:`NIQE`."""

    def __init__(self, device: str = "cpu"):
        self.ma = Ma(device)
        self.niqe = NIQE(device)

    def assets(self) -> dict[str, str]:
        return {**self.ma.assets(), **self.niqe.assets()}

    def __call__(self, pair) -> float:
        ma = self.ma(pair)  # first: fails fast when the model file is missing
        return perceptual_index(ma, self.niqe(pair))


register(MetricSpec(
    "ma", "Ma", True, "nr", (0.0, 10.0), "",
    "Ma et al. (NRQM) no-reference score, authors' regression-forest model.mat (user-supplied)",
    "srbench.metrics.ma:Ma", ".3f", 0.01,
), aliases=("nrqm",))

register(MetricSpec(
    "pi", "PI", False, "nr", (0.0, None), "",
    "Perceptual Index = ((10 - Ma) + NIQE) / 2 (PIRM-2018)",
    "srbench.metrics.ma:PI", ".3f", 0.01,
))
