"""A one-line notice, once per process, before numba compiles gridhack's kernels on a cold cache.

The first gridhack run on a machine (or after an upgrade) compiles the kernels of
:mod:`~rewardlab.envs.gridhack.jitcore` and :mod:`~rewardlab.envs.gridhack.jitlevels` for about
half a minute with no output; numba caches them on disk (``cache=True``), and later processes load
them in about a second. :func:`notice_if_cold` says so on the ``rewardlab.gridhack`` logger
(stderr when logging is not configured) only when the module has no cache index at all, or one
older than its source.

Functions: :func:`notice_if_cold`.
"""

from __future__ import annotations

import logging
import os
from types import ModuleType

__all__ = ["notice_if_cold"]

logger = logging.getLogger("rewardlab.gridhack")
_checked: set[str] = set()


def _cold(module: ModuleType) -> bool:
    """No cache index for any of the module's cached kernels, or one older than the source.

    Kernels a task never calls have no index even on a warm machine, so one missing index alone
    does not make the module cold.
    """
    import numba

    source = os.path.getmtime(module.__file__)
    indexes = []
    for value in vars(module).values():
        if isinstance(value, numba.core.registry.CPUDispatcher):
            # numba's on-disk index of a cached function; its layout is numba's, so a surprise reads as "warm"
            index = getattr(getattr(getattr(value, "_cache", None), "_cache_file", None), "_index_path", None)
            if index is not None:
                indexes.append(index)
    existing = [p for p in indexes if os.path.exists(p)]
    return bool(indexes) and (not existing or any(os.path.getmtime(p) < source for p in existing))


def notice_if_cold(module: ModuleType) -> None:
    """Log once per process and module that numba is about to compile it, if its cache is cold."""
    if module.__name__ in _checked:
        return
    _checked.add(module.__name__)
    try:
        cold = _cold(module)
    except (OSError, AttributeError):  # a notice must never stop an env from being made
        return
    if cold:
        logger.warning("gridhack: numba is compiling %s's kernels (the first run on this machine takes about "
                       "30-40 s; they are cached for later runs)", module.__name__.rsplit(".", 1)[-1])
