"""Layering: nothing under rewardlab/shaping imports an env family, a trainer, a wrapper front or a job.

DESIGN.md: "shaping: reward terms, env-agnostic (imports no env family, trainer or job)". The check
reads every module's source with `ast` (imports inside functions included, and string arguments of
`importlib.import_module`), so a lazy import cannot hide a dependency.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import rewardlab.shaping

SHAPING = Path(rewardlab.shaping.__file__).parent
FORBIDDEN = ("rewardlab.envs", "rewardlab.baselines", "rewardlab.ablation", "rewardlab.search", "rewardlab.wrappers", "rewardlab.cli")
MODULES = sorted(SHAPING.rglob("*.py"))


def imported_modules(source: str, package: str) -> list[str]:
    """Every module `source` (a module of `package`) imports, relative imports resolved."""
    out: list[str] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            out.extend(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, base] if base else parent)
            out.append(base)
            out.extend(f"{base}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", None)) == "import_module":
            out.extend(a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str))
    return out


def test_the_scan_sees_every_shaping_module_and_catches_lazy_imports():
    # The sweep covers the package (not an empty glob), and the scanner finds imports nested in
    # functions, relative ones and import_module strings (each line below is one way to import envs).
    assert SHAPING / "terms.py" in MODULES and SHAPING / "bonuses" / "counts.py" in MODULES
    source = "def f():\n    import rewardlab.envs.control\n    from ...envs import control\n    importlib.import_module('rewardlab.envs')\n"
    found = imported_modules(source, "rewardlab.shaping.bonuses")
    # `...` from rewardlab.shaping.bonuses is the package rewardlab.
    assert sorted(found) == ["rewardlab.envs", "rewardlab.envs", "rewardlab.envs.control", "rewardlab.envs.control"]


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SHAPING)))
def test_shaping_module_imports_no_upper_layer(path):
    package = ".".join(("rewardlab", "shaping", *path.relative_to(SHAPING).parent.parts))
    bad = [m for m in imported_modules(path.read_text(), package) if any(m == f or m.startswith(f + ".") for f in FORBIDDEN)]
    assert bad == [], f"{path.relative_to(SHAPING.parent)} imports {bad}"
