"""FID/KID statistics against scipy's sqrtm formula and a direct unbiased MMD^2; the patch grid, the
refusal under too few patches, the bootstrap, and ``srbench fid`` end to end with a stand-in network
registered as the Inception file (the real one is not on the package index)."""

from __future__ import annotations

import json

import numpy as np
import pytest
from PIL import Image
from scipy import linalg

from srbench.errors import SrbenchError
from srbench.metrics import fid as srb_fid


def _sqrtm_fid(f1, f2):
    mu1, mu2 = f1.mean(0), f2.mean(0)
    s1, s2 = np.cov(f1, rowvar=False), np.cov(f2, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2)
    return float((mu1 - mu2) @ (mu1 - mu2) + np.trace(s1) + np.trace(s2) - 2 * np.trace(covmean).real)


def _mmd2_unbiased(x, y):
    d = x.shape[1]
    def k(a, b):
        return (a @ b.T / d + 1) ** 3

    m = len(x)
    kxx, kyy, kxy = k(x, x), k(y, y), k(x, y)
    return ((kxx.sum() - np.trace(kxx)) + (kyy.sum() - np.trace(kyy))) / (m * (m - 1)) - 2 * kxy.sum() / (m * m)


def test_frechet_distance_equals_the_sqrtm_formula():
    rng = np.random.default_rng(0)
    mix = rng.normal(size=(8, 8))
    f1 = rng.normal(size=(400, 8)) @ mix
    f2 = rng.normal(size=(300, 8)) @ (mix + 0.3 * rng.normal(size=(8, 8))) + 0.5
    assert srb_fid.frechet_distance(f1, f2) == pytest.approx(_sqrtm_fid(f1, f2), rel=1e-9)
    assert srb_fid.frechet_distance(f1, f1) == pytest.approx(0.0, abs=1e-9)


def test_kid_is_the_unbiased_mmd_over_subsets():
    rng = np.random.default_rng(1)
    x, y = rng.normal(size=(120, 6)), rng.normal(size=(120, 6)) * 1.3 + 0.2
    # subsets as large as the sets: every subset is the whole set, whatever the draw
    full = srb_fid.kernel_distance(x, y, seed=3, subsets=4, subset_size=1000)
    assert full == pytest.approx(_mmd2_unbiased(y, x), rel=1e-10)
    # subsets of 50: the mean of the subsets' unbiased MMD^2, drawn from the seeded generator
    rng_ref = np.random.default_rng(7)
    expected = []
    for _ in range(5):
        b = y[rng_ref.choice(120, 50, replace=False)]
        a = x[rng_ref.choice(120, 50, replace=False)]
        expected.append(_mmd2_unbiased(b, a))
    assert srb_fid.kernel_distance(x, y, seed=7, subsets=5, subset_size=50) == pytest.approx(np.mean(expected), rel=1e-10)


def test_patch_grid_and_clean_resize():
    img = np.arange(70 * 100 * 3, dtype=np.uint32).reshape(70, 100, 3).astype(np.uint8)
    patches = srb_fid.patch_grid(img, 32)
    assert len(patches) == 2 * 3 and all(p.shape == (32, 32, 3) for p in patches)
    np.testing.assert_array_equal(patches[4], img[32:64, 32:64])
    resized = srb_fid.clean_resize(patches[0])
    ref = Image.fromarray(patches[0][..., 1].astype(np.float32), mode="F").resize((299, 299), Image.BICUBIC)
    assert resized.shape == (299, 299, 3) and resized.dtype == np.float32
    np.testing.assert_array_equal(resized[..., 1], np.asarray(ref).clip(0, 255))


def _stand_in():
    """A small fixed 'feature network': 2x2 average pooling of the normalised input (12 features)."""
    import torch

    class Net(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layers = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(2), torch.nn.Flatten())

        def forward(self, x):
            return self.layers((x - 128) / 128)

    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # torch.jit is deprecated; the Inception file is TorchScript
        return torch.jit.script(Net().eval())


def _images(seed, n=6, size=(96, 128)):
    rng = np.random.default_rng(seed)
    hr = [rng.integers(0, 256, (*size, 3), dtype=np.uint8) for _ in range(n)]
    sr = [np.clip(h.astype(int) + rng.integers(-40, 41, h.shape), 0, 255).astype(np.uint8) for h in hr]
    return sr, hr


def _reference_features(net, images, patch):
    import torch

    feats = []
    for img in images:
        for y in range(0, img.shape[0] - patch + 1, patch):
            for x in range(0, img.shape[1] - patch + 1, patch):
                crop = img[y:y + patch, x:x + patch].astype(np.float32)
                chans = [np.asarray(Image.fromarray(crop[..., c], mode="F").resize((299, 299), Image.BICUBIC)).clip(0, 255)
                         for c in range(3)]
                t = torch.from_numpy(np.stack(chans)[None])
                feats.append(net.layers((t - 128) / 128).double().numpy()[0])
    return np.array(feats)


def test_fid_kid_on_patches_with_refusal_and_bootstrap():
    net = _stand_in()

    def features(batch):
        import torch

        return net.layers((torch.from_numpy(batch) - 128) / 128).numpy()

    sr, hr = _images(0)
    pairs = list(zip(sr, hr))
    with pytest.raises(SrbenchError, match="72 patches of 32x32 is unreliable"):
        srb_fid.fid_kid(pairs, features, patch=32, min_patches=100)
    res = srb_fid.fid_kid(pairs, features, patch=32, min_patches=40, bootstrap=30)
    assert res.n_patches == 6 * 3 * 4 and not res.unstable
    f_sr, f_hr = _reference_features(net, sr, 32), _reference_features(net, hr, 32)
    assert res.fid == pytest.approx(_sqrtm_fid(f_sr, f_hr), rel=1e-6)
    assert res.kid == pytest.approx(_mmd2_unbiased(f_hr, f_sr), rel=1e-6)  # 48 < 1000: whole sets
    low, high = res.fid_interval
    assert 0 <= low < high and np.isfinite(high)
    flagged = srb_fid.fid_kid(pairs, features, patch=32, min_patches=100, allow_few=True)
    assert flagged.unstable and flagged.fid == pytest.approx(res.fid, rel=1e-12)


def test_fid_cli_with_a_registered_network(tmp_path, capsys):
    from srbench.cli import main
    from srbench.imaging.io import write_png

    assert main(["fid", "--sr", str(tmp_path), "--hr", str(tmp_path)]) == 2
    err = capsys.readouterr().err
    assert srb_fid.INCEPTION_URL in err and "--as inception" in err
    (tmp_path / "junk.pt").write_bytes(b"not a network")
    assert main(["fetch", "--file", str(tmp_path / "junk.pt"), "--as", "inception"]) == 2
    assert "not a TorchScript file" in capsys.readouterr().err
    net = _stand_in()
    net.save(str(tmp_path / "standin.pt"))
    assert main(["fetch", "--file", str(tmp_path / "standin.pt"), "--as", "inception"]) == 0
    sr, hr = _images(1, n=4)
    for i, (s, h) in enumerate(zip(sr, hr)):
        write_png(s, tmp_path / "sr" / f"im{i}.png")
        write_png(h, tmp_path / "hr" / f"im{i}.png")
    args = ["fid", "--sr", str(tmp_path / "sr"), "--hr", str(tmp_path / "hr"), "--patch", "32"]
    assert main(args) == 2
    assert "48 patches of 32x32 is unreliable" in capsys.readouterr().err
    assert main(args + ["--allow-few"]) == 0
    out = capsys.readouterr().out
    assert "patches: 48 (32x32 grid of 4 image pairs)" in out and "UNSTABLE" in out
    assert main(args + ["--min-patches", "40", "--format", "json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    expected = _sqrtm_fid(_reference_features(net, sr, 32), _reference_features(net, hr, 32))
    assert doc["fid"] == pytest.approx(expected, rel=1e-6) and doc["n_patches"] == 48 and not doc["unstable"]
    import hashlib

    assert doc["inception_sha256"] == hashlib.sha256((tmp_path / "standin.pt").read_bytes()).hexdigest()
