"""How ``ntire2022_vectors.npz`` and the cards' ``kind = "measured"`` Set5 rows were made, with the
OFFICIAL code. Not run by the tests (it needs the upstream checkout); kept as the record.

Upstream: ofsoundof/NTIRE2022_ESR at e95ba4a4916bb13d6348f7ee172827e2452e8a31 (MIT). Check it out
(or ``git archive`` its ``models/`` and ``utils/``) in a temporary directory OUTSIDE this project
and run, with the official weights (the files of model_zoo/ntire2022.toml):

    python tests/data/make_ntire2022_vectors.py vectors UPSTREAM_DIR WEIGHTS_DIR tests/data/ntire2022_vectors.npz
    python tests/data/make_ntire2022_vectors.py set5 UPSTREAM_DIR WEIGHTS_DIR SET5_X4_DIR

Models are built and loaded exactly as ``test_demo.py`` ``select_model`` does for model_id -1, 0,
4 and 18 (the only change: ``map_location="cpu"``). The npz holds

- ``input``: float32 1x3x16x22, ``torch.rand`` from ``torch.Generator().manual_seed(2022)``, in
  [0, 1) (16 x 22: non-square, and just large enough for the ESA's stride-2 conv + 7x7/3 max-pool);
- ``<model>``: the official network's output for ``input * data_range`` (test_demo.py feeds
  ``uint8 / (255 / data_range)``), float32 1x3x64x88 in the network's native units;
- ``<model>_data_range``: 1.0 (imdn-ntire, bsrn-s) or 255.0 (rfdn, rlfn).

The Set5 x4 rows: LR = the MATLAB-bicubic Set5 x4 LR/HR pairs shipped with royson/tpsr@76440813
(``input_images/``, ``ground_truth/``; shared/calibration/tpsr_official/Set5_x4), read, converted
and quantised with the official ``utils/utils_image.py`` (imread_uint, uint2tensor4, tensor2uint,
modcrop 4); Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 in float64 on the uint8 SR/HR (no
rounding), 4 px shaved, PSNR = 10 log10(255^2 / MSE), SSIM = skimage structural_similarity
(gaussian_weights, sigma 1.5, use_sample_covariance False, data_range 255), mean over the 5 images.
CPU, float32, torch 2.14.1.
"""

from __future__ import annotations

import os
import sys

import numpy as np
import torch

# name -> (test_demo model_id, weights file, data_range)
MODELS = {"imdn-ntire": (-1, "imdn_baseline.pth", 1.0), "rfdn": (0, "rfdn_baseline.pth", 255.0),
          "rlfn": (4, "team04_rlfn.pth", 255.0), "bsrn-s": (18, "team18_bsrn.pth", 1.0)}


def official_model(name: str, weights: str) -> torch.nn.Module:
    """The network as test_demo.select_model builds it (imports from the upstream checkout)."""
    _, file, _ = MODELS[name]
    state = torch.load(os.path.join(weights, file), map_location="cpu")
    if name == "imdn-ntire":
        from models.imdn_baseline import IMDN
        model = IMDN(in_nc=3, out_nc=3, nc=64, nb=8, upscale=4)
    elif name == "rfdn":
        from models.rfdn_baseline.RFDN import RFDN
        model = RFDN()
    elif name == "rlfn":
        from models.team04_rlfn import RLFN_cut
        model = RLFN_cut(in_nc=3, out_nc=3)
    else:
        from models.team18_bsrn import BSRN
        model = BSRN(num_in_ch=3, num_feat=48, num_block=5, num_out_ch=3, upscale=4, conv="BSConvU",
                     upsampler="pixelshuffledirect")
        state = state["params"]
    model.load_state_dict(state, strict=True)
    return model.eval()


def make_vectors(weights: str, out: str) -> None:
    x = torch.rand(1, 3, 16, 22, generator=torch.Generator().manual_seed(2022))
    arrays = {"input": x.numpy()}
    for name, (_, _, data_range) in MODELS.items():
        with torch.no_grad():
            arrays[name] = official_model(name, weights)(x * data_range).numpy()
        arrays[f"{name}_data_range"] = np.float32(data_range)
    np.savez_compressed(out, **arrays)


def _y(rgb: np.ndarray) -> np.ndarray:
    r, g, b = (rgb[..., i].astype(np.float64) for i in range(3))
    return 16.0 + (65.481 * r + 128.553 * g + 24.966 * b) / 255.0


def set5(weights: str, pairs: str) -> None:
    from skimage.metrics import structural_similarity
    from utils import utils_image as util

    names = sorted(os.listdir(os.path.join(pairs, "HR")))
    for name, (_, _, data_range) in MODELS.items():
        model = official_model(name, weights)
        psnr, ssim = [], []
        for f in names:
            lr = util.imread_uint(os.path.join(pairs, "LR", f), n_channels=3)
            hr = util.modcrop(util.imread_uint(os.path.join(pairs, "HR", f), n_channels=3), 4)
            with torch.no_grad():
                sr = util.tensor2uint(model(util.uint2tensor4(lr, data_range)), data_range)
            ys, yh = _y(sr)[4:-4, 4:-4], _y(hr)[4:-4, 4:-4]
            psnr.append(10 * np.log10(255.0**2 / np.mean((ys - yh) ** 2)))
            ssim.append(structural_similarity(ys, yh, gaussian_weights=True, sigma=1.5,
                                              use_sample_covariance=False, data_range=255))
        print(f"{name}: Set5 x4 Y-PSNR {np.mean(psnr):.4f} SSIM {np.mean(ssim):.4f}")


if __name__ == "__main__":
    what, upstream, weights, target = sys.argv[1], *(os.path.abspath(a) for a in sys.argv[2:5])
    sys.path.insert(0, upstream)
    os.chdir(upstream)  # the official modules import each other as "models.*" / "utils.*"
    if what == "vectors":
        make_vectors(weights, target)
    else:
        set5(weights, target)
