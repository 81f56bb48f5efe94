"""One key of a step's infos as a float column, in every layout a term meets.

Functions: :func:`info_column`.

A term sees the infos of one step in the layout of the front it runs under: a dict of ``(N,)``
arrays with ``_key`` masks (Gymnasium vector envs), a list of N dicts (SB3 VecEnvs), or one dict of
scalars (a single env). Terms that read an info key (the dense reference, LLM code's info inputs,
preference factors) all read it here, so a term written on one front works on the others.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rewardlab.errors import InvalidParameter

__all__ = ["info_column"]


def info_column(info: Any, key: str, n: int) -> np.ndarray:
    """``info[key]`` of each of the `n` sub-envs as float64 ``(n,)``; 0 where it is absent, masked off or not a number.

    Raises:
        InvalidParameter: ``info[key]`` holds other than one value per sub-env (a scalar only for one env).

    Example:
        >>> import numpy as np
        >>> info_column({"x": np.array([1.0, 2.0]), "_x": np.array([True, False])}, "x", 2).tolist()   # Gymnasium vector
        [1.0, 0.0]
        >>> info_column([{"x": 1.5}, {}], "x", 2).tolist()                                          # SB3 VecEnv
        [1.5, 0.0]
        >>> info_column({"x": 3.0}, "x", 1).tolist()                                                 # one env
        [3.0]
    """
    out = np.zeros(n)
    if isinstance(info, Mapping):
        if key not in info:
            return out
        try:
            arr = np.asarray(info[key], dtype=np.float64)
        except (TypeError, ValueError):
            return out
        if arr.size != n:  # an env bug, not an absent key: paying 0 (or a first column) would hide it
            raise InvalidParameter(f"info[{key!r}] has shape {arr.shape}; expected one value per sub-env ({n})")
        col = arr.reshape(n)
        mask = info.get(f"_{key}")
        return col if mask is None else np.where(np.asarray(mask, dtype=bool), col, 0.0)
    if isinstance(info, Sequence) and not isinstance(info, (str, bytes)) and len(info) == n:
        for i, d in enumerate(info):
            try:
                out[i] = float(d.get(key, 0.0))
            except (TypeError, ValueError, AttributeError):
                out[i] = 0.0
    return out
