"""Fixtures shared by the ablation store and fault-injection tests."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest


@pytest.fixture
def tmpfs():
    """Mount small tmpfs folders (``mount(path, size="1m")``), unmounted after the test.

    Root ignores permission bits, so a real filesystem that is full or read-only (see
    ``ablation_helpers.remount_ro``) is the honest way to make a folder unwritable; skips where mounting is not allowed.
    """
    mounted = []

    def mount(path: Path, size: str = "1m") -> Path:
        path.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True, text=True)
        if done.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here ({done.stderr.strip()}): needs root or CAP_SYS_ADMIN")
        mounted.append(path)
        return path

    yield mount
    for path in reversed(mounted):
        subprocess.run(["umount", "-l", str(path)], check=False)

