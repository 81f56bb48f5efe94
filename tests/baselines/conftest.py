"""Fixtures shared by the trainer tests."""

from __future__ import annotations

import pytest


@pytest.fixture
def host_copies(monkeypatch):
    """A counter of tensor-to-host copies (``.cpu()``, ``.numpy()``, ``.tolist()``, ``np.asarray(tensor)``).

    Call it to install a fresh counter (it returns an object whose ``count`` grows with each copy);
    ``monkeypatch.undo()`` removes it.
    """
    torch = pytest.importorskip("torch")

    def install():
        counter = type("HostCopies", (), {"count": 0})()
        for method in ("cpu", "numpy", "tolist", "__array__"):
            original = getattr(torch.Tensor, method)

            def counted(tensor, *args, _original=original, **kwargs):
                counter.count += 1
                return _original(tensor, *args, **kwargs)

            monkeypatch.setattr(torch.Tensor, method, counted)
        return counter

    return install
