"""The one-line notice before numba compiles on a cold cache (issue 16, item 8: ~36 s of silence before).

A real numba module with one ``cache=True`` function, written to a temporary folder: before its
first call numba has no cache index for it (cold: the notice is logged); after the call numba has
written the index (warm: a fresh process would load it, so no notice).
"""

from __future__ import annotations

import importlib
import logging
import sys

import pytest

from rewardlab.envs.gridhack import compile_notice

pytest.importorskip("numba")

SOURCE = "import numba\n\n@numba.njit(cache=True)\ndef plus_one(x):\n    return x + 1\n"


def test_notice_on_cold_cache_only(tmp_path, monkeypatch, caplog):
    (tmp_path / "tiny_kernels.py").write_text(SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("tiny_kernels")
    try:
        with caplog.at_level(logging.WARNING, logger="rewardlab.gridhack"):
            compile_notice.notice_if_cold(module)
            compile_notice.notice_if_cold(module)  # once per process and module
        assert [r.getMessage() for r in caplog.records] == [
            "gridhack: numba is compiling tiny_kernels's kernels (the first run on this machine takes about "
            "30-40 s; they are cached for later runs)"]
        assert module.plus_one(1) == 2  # compiles and writes the cache index
        assert compile_notice._cold(module) is False
        caplog.clear()
        monkeypatch.setattr(compile_notice, "_checked", set())  # as in a new process
        with caplog.at_level(logging.WARNING, logger="rewardlab.gridhack"):
            compile_notice.notice_if_cold(module)
        assert caplog.records == []
    finally:
        sys.modules.pop("tiny_kernels", None)


DEP_SOURCE = "K = {k}\n"
KERNEL_SOURCE = ("import numba\n\nimport tiny_rules\n\nDEPENDS_ON = (tiny_rules.__file__,)\n\n"
                 "@numba.njit(cache=True)\ndef plus_k(x):\n    return x + tiny_rules.K\n")


def _fresh_import():
    """The kernel module imported anew (new dispatchers, as in a new process), with its rules module."""
    for name in ("tiny_kernels_dep", "tiny_rules"):
        sys.modules.pop(name, None)
    return importlib.import_module("tiny_kernels_dep")


def test_a_kernel_recompiles_when_a_file_it_depends_on_changes(tmp_path, monkeypatch):
    # numba's cache is keyed on the kernel's own file only: after an edit of the rules file a fresh import
    # would load the stale kernel (x + 1). refresh_if_stale drops that cache, so the edit takes effect (x + 5).
    import os

    (tmp_path / "tiny_rules.py").write_text(DEP_SOURCE.format(k=1))
    (tmp_path / "tiny_kernels_dep.py").write_text(KERNEL_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.setattr(compile_notice, "_checked", set())
    try:
        assert _fresh_import().plus_k(1) == 2  # compiled with K = 1 and cached
        rules = tmp_path / "tiny_rules.py"
        rules.write_text(DEP_SOURCE.format(k=5))
        later = os.path.getmtime(rules) + 10  # surely newer than the cache index
        os.utime(rules, (later, later))
        stale = _fresh_import()
        assert stale.plus_k(1) == 2  # numba alone: the stale cache
        module = _fresh_import()
        compile_notice.refresh_if_stale(module)
        assert module.plus_k(1) == 6
    finally:
        for name in ("tiny_kernels_dep", "tiny_rules"):
            sys.modules.pop(name, None)
