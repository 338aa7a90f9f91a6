"""The import rules of the layout (README "Architecture"), read from the code itself: every import
statement of every module, lazy ones inside functions included."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
PACKAGE = REPO / "srbench"


def module_name(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path) -> set[str]:
    """Absolute names of every module ``path`` imports (``from a.b import c`` counts a.b and a.b.c)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"{path}: relative import (srbench uses absolute imports)"
            out.add(node.module)
            out |= {f"{node.module}.{a.name}" for a in node.names}
    return {m for m in out if m == "srbench" or m.startswith("srbench.")}


MODULES = {module_name(p): imports_of(p) for p in sorted(PACKAGE.rglob("*.py"))}


def importers(prefix: str) -> dict[str, set[str]]:
    """Modules importing ``prefix`` or anything under it, with what they import."""
    return {m: {i for i in imps if i == prefix or i.startswith(prefix + ".")}
            for m, imps in MODULES.items() if any(i == prefix or i.startswith(prefix + ".") for i in imps)}


def under(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def test_the_rules_see_the_whole_package():
    assert len(MODULES) > 60
    assert "srbench.protocol.pipeline" in MODULES["srbench.eval.unit"]  # a module-level import is seen
    assert "srbench.eval.plan" in MODULES["srbench.eval.visual"]        # and a lazy one inside a function


def test_nothing_imports_the_command_line():
    offenders = {m: i for m, i in importers("srbench.commands").items()
                 if not under(m, "srbench.commands") and m != "srbench.cli"}
    offenders |= {m: i for m, i in importers("srbench.cli").items() if not under(m, "srbench.commands")}
    assert not offenders


def test_metrics_never_read_the_protocol():
    for forbidden in ("srbench.protocol", "srbench.eval", "srbench.sources"):
        offenders = {m: i for m, i in importers(forbidden).items() if under(m, "srbench.metrics")}
        assert not offenders, f"metrics get a prepared pair and their settings, never {forbidden}: {offenders}"


def test_the_report_reads_results_never_the_zoo():
    for forbidden in ("srbench.models", "srbench.sources", "srbench.eval"):
        offenders = {m: i for m, i in importers(forbidden).items() if under(m, "srbench.report")}
        assert not offenders, f"the report must not import {forbidden}: {offenders}"


def test_only_the_protocol_package_reads_protocol_settings():
    # Other modules name protocols (get_protocol, CANONICAL) and pass them on; reading a setting is the
    # pipeline's alone (tests/test_engine.py also records every read during real runs).
    from dataclasses import fields

    from srbench.protocol.protocols import Protocol

    settings = {f.name for f in fields(Protocol)} - {"name", "version", "description", "source"}
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        if under(module_name(path), "srbench.protocol"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Attribute) and node.attr in settings:
                owner = ast.unparse(node.value)
                if "proto" in owner.split(".")[-1]:
                    offenders.append(f"{path.relative_to(REPO)}:{node.lineno} {owner}.{node.attr}")
    assert len(settings) > 10
    assert not offenders


def test_the_architecture_table_of_the_readme_is_true():
    text = (REPO / "README.md").read_text()
    section = text[text.index("## Architecture"):]
    section = section[:section.index("\n## ", 4)]
    named = set(re.findall(r"`(srbench/[\w/]+(?:\.py|/))`", section))
    assert named, "the Architecture section names the modules"
    for path in named:
        assert (REPO / path).exists(), f"README Architecture names {path}, which does not exist"
    packages = {f"srbench/{p.name}/" for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    missing = packages - named
    assert not missing, f"packages without a line in README Architecture: {sorted(missing)}"


@pytest.mark.parametrize("init", sorted(PACKAGE.glob("*/__init__.py")), ids=lambda p: p.parent.name)
def test_every_package_says_what_it_holds(init):
    doc = ast.get_docstring(ast.parse(init.read_text()))
    assert doc and len(doc) > 20, f"{init}: no docstring saying what the package holds"


def test_the_metric_order_does_not_depend_on_which_module_was_imported_first():
    # the order of METRICS is the order of table columns: importing a metric module first must not move it
    import subprocess
    import sys

    code = "import {m}\nfrom srbench.metrics.registry import METRICS\nprint(','.join(METRICS.names()))"
    orders = {m: subprocess.run([sys.executable, "-c", code.format(m=m)], capture_output=True, text=True,
                                check=True).stdout.strip()
              for m in ("srbench", "srbench.metrics.niqe", "srbench.metrics.ma", "srbench.metrics.dists")}
    assert len(set(orders.values())) == 1, orders
    assert orders["srbench"].startswith("psnr,ssim,psnr_rgb,lpips")
