"""Published rows of the model cards against the source papers (SPEC §6, ../shared/seeds).

Two independent checks. SAMPLE: values copied by hand from the seed tables (table named in each
entry) must be on the card, in a row whose source names that table; this runs without ../shared.
With ../shared, the seed text itself is parsed (TPSR supplement Table 1, FALSR Table I, the thesis'
Table 4.1) and every cell of a zoo model there must be on its card: a missed or mistyped cell fails.
"""

from __future__ import annotations

import re
import tomllib

import pytest

from srbench.models.registry import get_card, list_models
from srbench.store.paths import data_dir

TPSR = "TPSR supplement, Table 1"
FALSR = "FALSR paper, Table I"
ICLR = "ICLR 2019 efficiency study, Table 3"
THESIS = "master thesis (ETH 2021), Table 4.1"

SAMPLE = [  # (card, set, scale, PSNR, SSIM, table) as printed in the seed table
    ("tpsr-nogan", "b100", 4, 27.15, 0.7214, TPSR),
    ("tpsr-nogan", "urban100", 4, 24.97, 0.7456, TPSR),
    ("tpsr-nogan", "set14", 2, 33.00, 0.9123, TPSR),
    ("tpsr-nogan", "urban100", 2, 30.61, 0.9119, TPSR),
    ("fsrcnn", "urban100", 2, 29.88, 0.9020, TPSR),
    ("fsrcnn", "b100", 4, 26.98, 0.7150, TPSR),
    ("fsrcnn", "b100", 2, 31.53, 0.8920, FALSR),
    ("fsrcnn", "set14", 3, 29.43, 0.8242, ICLR),
    ("fsrcnn", "urban100", 3, 26.43, 0.8080, ICLR),
    ("fsrcnn", "set5", 4, 30.72, 0.8660, THESIS),
    ("falsr-a", "b100", 2, 32.12, 0.8987, FALSR),
    ("falsr-b", "urban100", 2, 31.28, 0.9191, FALSR),
    ("falsr-c", "urban100", 2, 31.24, 0.9187, FALSR),
    ("carn-m", "urban100", 2, 31.23, 0.9194, FALSR),
    ("carn-m", "urban100", 2, 31.23, 0.9193, ICLR),
    ("carn-m", "b100", 3, 28.91, 0.8000, ICLR),
    ("carn-m", "urban100", 4, 25.62, 0.7694, ICLR),
    ("imdn", "urban100", 3, 28.17, 0.8519, THESIS),
    ("imdn", "set5", 4, 32.21, 0.8948, THESIS),
    ("bicubic", "b100", 3, 27.21, 0.7385, THESIS),
    ("bicubic", "urban100", 4, 23.14, 0.6577, THESIS),
]

REFERENCE_SAMPLE = [  # models without weights: model_zoo/references.toml
    ("moremnas-c", "b100", 2, 31.50, 0.8904, TPSR),
    ("feqe-p", "urban100", 4, 25.32, 0.7583, TPSR),
]

SETS = ("set5", "set14", "b100", "urban100")


def _rows_with(rows, dataset, scale, psnr, ssim, table):
    return [r for r in rows if r.get("kind", "paper") == "paper" and r["dataset"] == dataset
            and r["scale"] == scale and r["psnr"] == psnr and r.get("ssim") == ssim and table in r["source"]]


def _references() -> dict:
    with open(data_dir("model_zoo") / "references.toml", "rb") as fh:
        return tomllib.load(fh)["references"]


@pytest.mark.parametrize("card, dataset, scale, psnr, ssim, table", SAMPLE)
def test_card_carries_the_printed_cell(card, dataset, scale, psnr, ssim, table):
    assert _rows_with(get_card(card).published, dataset, scale, psnr, ssim, table), (card, dataset, scale)


@pytest.mark.parametrize("model, dataset, scale, psnr, ssim, table", REFERENCE_SAMPLE)
def test_reference_rows_are_data_not_models(model, dataset, scale, psnr, ssim, table):
    refs = _references()
    assert _rows_with(refs[model]["published"], dataset, scale, psnr, ssim, table)
    assert model not in list_models()


def test_tpsr_nogan_x2_rows_exist_without_x2_weights():
    card = get_card("tpsr-nogan")
    assert card.scales == (4,) and card.weights_for(2) is None
    assert {r["dataset"] for r in card.published if r["scale"] == 2} == set(SETS)


# ---- the seed text itself -------------------------------------------------------------------------

CELL = re.compile(r"^(\d+\.\d+)\s*/\s*(0\.\d{4})$")


def _seed(shared, prefix: str) -> str:
    (path,) = (shared / "seeds").glob(prefix + "_*.txt")
    return path.read_text(encoding="utf-8")


def _cell(text: str):
    """(PSNR, SSIM) of one printed cell, bold/underline markup removed; None if not well formed."""
    m = CELL.match(re.sub(r"</?[bu]>", "", text).strip())
    return (float(m.group(1)), float(m.group(2))) if m else None


def _cells(line: str) -> list:
    """The well-formed PSNR/SSIM cells of a tab-separated table line, in column order."""
    out = []
    for cell in line.split("\t"):
        m = _cell(cell)
        if m:
            out.append(m)
    return out


def _block(text: str, start: str, end: str) -> list:
    i = text.index(start)
    return text[i:text.index(end, i)].splitlines()


def _check(expected: list, table: str, lookup) -> None:
    missing = [e for e in expected if not _rows_with(lookup(e[0]), *e[1:], table)]
    assert not missing, f"cells of {table} not on the cards: {missing}"


def _card_rows(name):
    return get_card(name).published


def test_tpsr_supplement_table1_is_on_the_cards(shared):
    refs = _references()
    names = {"FSRCNN": "fsrcnn", "TPSR-NOGAN": "tpsr-nogan", "MOREMNAS-C": "moremnas-c", "FEQE-P": "feqe-p"}
    expected, scale = [], None
    for line in _block(_seed(shared, "000"), "Scale\tModel", "**Super-resolution:**"):
        m = re.match(r"\$\\times (\d)\$", line)
        scale = int(m.group(1)) if m else scale
        cells = _cells(line)
        label = next((k for k in names if k in line), None)
        if label and len(cells) == 4:
            expected += [(names[label], ds, scale, p, s) for ds, (p, s) in zip(SETS, cells)]
    assert len(expected) == 24  # 6 rows x 4 sets
    _check(expected, TPSR, lambda n: refs[n]["published"] if n in refs else _card_rows(n))


def test_falsr_table1_is_on_the_cards(shared):
    names = {"FSRCNN [11]": "fsrcnn", "CARN-M [4]": "carn-m", "FALSR-A": "falsr-a", "FALSR-B": "falsr-b",
             "FALSR-C": "falsr-c"}
    expected = []
    for line in _block(_seed(shared, "001"), "TABLE I:", "Fig. 3"):
        label = next((k for k in names if line.startswith(k)), None)
        if label:
            cells = _cells(line)
            assert len(cells) == 4, line
            expected += [(names[label], ds, 2, p, s) for ds, (p, s) in zip(SETS, cells)]
    assert len(expected) == 20
    _check(expected, FALSR, _card_rows)


def test_thesis_table41_is_on_the_cards(shared):
    # The thesis reprints IMDN's table. One cell is garbled in the text (IMDN x4 Set5 reads
    # "$\frac{32.13}{32.21}$ / 0.8948"; the IMDN value is 32.21, as the thesis text says): only
    # well-formed cells are taken, and that one is checked through SAMPLE.
    names = {"Bicubic": "bicubic", "FSRCNN [7]": "fsrcnn", "IMDN [12]": "imdn"}
    expected, scale = [], None
    for line in _block(_seed(shared, "002"), "Table 4.1: PSNR", "Set 5 Set 5"):
        m = re.search(r"×\s*(\d)|\$\\times (\d)\$", line)
        scale = int(m.group(1) or m.group(2)) if m and line.startswith("Bicubic") else scale
        label = next((k for k in names if line.startswith(k)), None)
        if not label:
            continue
        cols = line.split("\t")[3:7]  # Set5, Set14, BSD100, Urban100 (Manga109 is not in srbench)
        for ds, col in zip(SETS, cols):
            c = _cell(col)
            if c:
                expected.append((names[label], ds, scale, *c))
    assert len(expected) == 35  # 3 models x 3 scales x 4 sets, less the garbled cell
    _check(expected, THESIS, _card_rows)


def test_iclr_table3_rows_are_printed_there(shared):
    # ICLR 2019 Table 3 comes out of the PDF as one run of cells per set and scale (no row labels),
    # so each card row citing it is checked for its exact "PSNR/SSIM" text in that table.
    text = _seed(shared, "004")
    table = text[text.index("Table 3: We extend the table"):text.index("Table 4: Quantitative")]
    rows = [(name, r) for name in list_models() for r in get_card(name).published
            if r.get("kind", "paper") == "paper" and ICLR in r["source"]]
    assert len(rows) == 24  # FSRCNN and CARN-M, 3 scales x 4 sets
    for name, r in rows:
        assert f"{r['psnr']:.2f}/{r['ssim']:.4f}" in table, (name, r["dataset"], r["scale"])
