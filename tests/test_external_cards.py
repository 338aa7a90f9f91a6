"""A model author's own card (SRBENCH_ZOO_PATH) with a local checkpoint runs through srbench unchanged."""

import hashlib
import json
import sys
import textwrap

import pytest
import torch

from srbench.cli import main
from srbench.models.registry import model_registry

MODULE = textwrap.dedent('''
    import torch
    from srbench.models.weights import load_state_dict_strict, load_torch_checkpoint
    from srbench.store.assets import resolve

    class Net(torch.nn.Module):
        def __init__(self, scale):
            super().__init__()
            self.conv = torch.nn.Conv2d(3, 3 * scale * scale, 3, padding=1)
            self.shuffle = torch.nn.PixelShuffle(scale)

        def forward(self, x):
            return self.shuffle(self.conv(x))

    def build(card, scale, pretrained=True):
        net = Net(scale)
        if pretrained:
            sd = load_torch_checkpoint(resolve(card.weights_for(scale)), card.name)
            load_state_dict_strict(net, sd, card.name)
        return net
''')


@pytest.fixture
def author_zoo(tmp_path, monkeypatch):
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "tinysr_author.py").write_text(MODULE)
    monkeypatch.syspath_prepend(str(tmp_path / "pkg"))
    sys.modules.pop("tinysr_author", None)
    import tinysr_author

    torch.manual_seed(0)
    net = tinysr_author.Net(2)
    torch.nn.init.zeros_(net.conv.weight)
    with torch.no_grad():  # nearest-neighbour x2: every sub-pixel copies its LR pixel
        for c in range(3):
            net.conv.weight[c * 4:(c + 1) * 4, c, 1, 1] = 1.0
        net.conv.bias.zero_()
    ckpt = tmp_path / "tiny_x2.pth"
    torch.save(net.state_dict(), ckpt)
    sha = hashlib.sha256(ckpt.read_bytes()).hexdigest()
    (tmp_path / "cards").mkdir()
    (tmp_path / "cards" / "tiny.toml").write_text(textwrap.dedent(f'''
        [models.tiny-nn]
        title = "Tiny nearest-neighbour net"
        family = "tiny"
        builder = "tinysr_author:build"
        scales = [2]
        paper_protocol = "matlab"
        [models.tiny-nn.weights.x2]
        file = "tiny_x2.pth"
        url = "{ckpt.as_uri()}"
        sha256 = "{sha}"
    '''))
    monkeypatch.setenv("SRBENCH_ZOO_PATH", str(tmp_path / "cards"))
    model_registry.cache_clear()
    yield tmp_path
    model_registry.cache_clear()


def test_author_card_runs_and_matches_nearest_neighbour(author_zoo, datasets_root, capsys):
    from fractions import Fraction

    import numpy as np

    from srbench.eval.compute import compute
    from srbench.imaging.imresize import imresize
    from srbench.imaging.io import read_image

    rc = main(["run", "--model", "tiny-nn", "--set", "set5", "--scale", "2", "--data-root", str(datasets_root),
               "--out", str(author_zoo / "res"), "--format", "json", "--limit", "1"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)["results"][0]
    hr, _ = read_image(datasets_root / "Set5" / "HR" / "baby.png")
    sr = np.repeat(np.repeat(imresize(hr, Fraction(1, 2)), 2, axis=0), 2, axis=1)
    assert doc["metrics"]["psnr"] == pytest.approx(compute("psnr", sr, hr, scale=2), abs=1e-6)
    assert doc["provenance"]["weights"]["file"] == "tiny_x2.pth"


def test_bad_author_card_is_one_line_error(tmp_path, monkeypatch, capsys):
    (tmp_path / "bad.toml").write_text("[models.x]\ntitle = 'no builder'\n")
    monkeypatch.setenv("SRBENCH_ZOO_PATH", str(tmp_path))
    model_registry.cache_clear()
    try:
        assert main(["list", "models"]) == 2
        assert "lacks family, builder, scales" in capsys.readouterr().err
    finally:
        model_registry.cache_clear()
