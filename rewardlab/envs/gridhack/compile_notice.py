"""A one-line notice, once per process, before numba compiles gridhack's kernels on a cold cache.

The first gridhack run on a machine (or after an upgrade) compiles the kernels of
:mod:`~rewardlab.envs.gridhack.jitcore` and :mod:`~rewardlab.envs.gridhack.jitlevels` for about
half a minute with no output; numba caches them on disk (``cache=True``), and later processes load
them in about a second. :func:`notice_if_cold` says so on the ``rewardlab.gridhack`` logger
(stderr when logging is not configured) only when the module has no cache index at all, or one
older than its source.

numba's cache tracks only the source file of a cached function: a kernel that compiles in code or
constants of another file (``jitcore`` reads :mod:`~rewardlab.envs.gridhack.rules`) would load its stale
cache after an edit of that file. :func:`refresh_if_stale` drops such a cache first, for the files a
module lists in ``DEPENDS_ON``.

Functions: :func:`notice_if_cold`, :func:`refresh_if_stale`.
"""

from __future__ import annotations

import logging
import os
from types import ModuleType

__all__ = ["notice_if_cold", "refresh_if_stale"]

logger = logging.getLogger("rewardlab.gridhack")
_checked: set[str] = set()


def _cold(module: ModuleType) -> bool:
    """No cache index for any of the module's cached kernels, or one older than the source.

    Kernels a task never calls have no index even on a warm machine, so one missing index alone
    does not make the module cold.
    """
    source = os.path.getmtime(module.__file__)
    indexes = [index for _, index in _indexes(module)]
    existing = [p for p in indexes if os.path.exists(p)]
    return bool(indexes) and (not existing or any(os.path.getmtime(p) < source for p in existing))


def _indexes(module: ModuleType) -> list[tuple[object, str]]:
    """(dispatcher, path of numba's on-disk cache index) of each cached kernel of `module`."""
    import numba

    out = []
    for value in vars(module).values():
        if isinstance(value, numba.core.registry.CPUDispatcher):
            # numba's on-disk index of a cached function; its layout is numba's, so a surprise reads as "warm"
            index = getattr(getattr(getattr(value, "_cache", None), "_cache_file", None), "_index_path", None)
            if index is not None:
                out.append((value, index))
    return out


def refresh_if_stale(module: ModuleType) -> None:
    """:func:`notice_if_cold`, after dropping the caches of `module`'s kernels that are older than a file
    in its ``DEPENDS_ON`` (once per process and module)."""
    if module.__name__ not in _checked:
        try:
            newest = max((os.path.getmtime(p) for p in getattr(module, "DEPENDS_ON", ())), default=0.0)
            for dispatcher, index in _indexes(module):
                if os.path.exists(index) and os.path.getmtime(index) < newest:
                    dispatcher._cache.flush()  # an empty index: the next call compiles and caches again
                    os.utime(index, (0, 0))  # older than the source: the notice below says it compiles
        except (OSError, AttributeError):  # a failed check leaves numba's own behaviour
            pass
    notice_if_cold(module)


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
