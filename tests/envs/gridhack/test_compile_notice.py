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
