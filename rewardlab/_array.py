"""Tiny array-namespace shim: numpy fast path, array-api-compat for torch and others.

Terms and wrappers compute in the namespace of the arrays they are given, so torch tensors stay
on their device; :class:`DeviceUnsupported` is what a term raises where it cannot (it never copies
to the host behind the caller's back).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardlab.errors import DeviceUnsupported


def is_host(x: Any) -> bool:
    """True for numpy arrays, numpy scalars and Python numbers (what the host path computes on)."""
    return isinstance(x, (np.ndarray, np.generic, bool, int, float))


def require_host(x: Any, who: str, why: str) -> None:
    """Raise :class:`DeviceUnsupported` naming `who` when `x` is not a host (numpy) array.

    Example:
        >>> require_host(np.zeros(2), "Thing `t`", "it keeps a Python table")
        >>> import torch
        >>> require_host(torch.zeros(2), "Thing `t`", "it keeps a Python table")
        Traceback (most recent call last):
        ...
        rewardlab.errors.DeviceUnsupported: Thing `t` cannot compute on torch tensors (device cpu): it keeps a Python table; give it numpy arrays (a numpy-backend env)
    """
    if not is_host(x):
        device = getattr(x, "device", "?")
        raise DeviceUnsupported(
            f"{who} cannot compute on {type(x).__module__.split('.')[0]} tensors (device {device}): {why}; "
            "give it numpy arrays (a numpy-backend env)"
        )


def first_leaf(obs: Any) -> Any:
    """The first array of an observation batch (an array, or a dict/tuple of arrays)."""
    while isinstance(obs, (dict, tuple, list)):
        obs = next(iter(obs.values())) if isinstance(obs, dict) else obs[0]
    return obs


def where_rows(mask: Any, a: Any, b: Any) -> Any:
    """Row ``i`` of `a` where ``mask[i]`` else of `b`, for batches (arrays or dicts/tuples of arrays) in any backend.

    Example:
        >>> where_rows(np.array([True, False]), {"x": np.ones((2, 2))}, {"x": np.zeros((2, 2))})["x"].tolist()
        [[1.0, 1.0], [0.0, 0.0]]
    """
    if isinstance(a, dict):
        return {k: where_rows(mask, a[k], b[k]) for k in a}
    if isinstance(a, tuple):
        return tuple(where_rows(mask, x, y) for x, y in zip(a, b, strict=True))
    xp = namespace(a)
    return xp.where(xp.reshape(mask, (-1,) + (1,) * (a.ndim - 1)), a, b)


def namespace(x: Any) -> Any:
    """The array namespace of `x`: numpy itself for numpy arrays (no lookup cost), else array-api-compat's."""
    if isinstance(x, np.ndarray):
        return np
    import array_api_compat

    return array_api_compat.array_namespace(x)


def host(x: Any) -> np.ndarray:
    """`x` as a numpy array on the host: a torch tensor (any device) is copied over, anything else goes through np.asarray."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


def batch_obs(obs: Any) -> Any:
    """Add a leading batch axis of size 1 to an observation (arrays, dicts and tuples of arrays)."""
    if isinstance(obs, np.ndarray):  # the common case first: this runs on every single-env step
        return obs[None]
    if isinstance(obs, dict):
        return {k: batch_obs(v) for k, v in obs.items()}
    if isinstance(obs, tuple):
        return tuple(batch_obs(v) for v in obs)
    return np.asarray(obs)[None]


def take_rows(batch: Any, rows: Any) -> Any:
    """Rows `rows` of a batch (an array, or a dict/tuple of arrays): ``batch[rows]`` leaf by leaf.

    Example:
        >>> take_rows({"x": np.arange(3), "y": np.arange(6).reshape(3, 2)}, np.array([2, 0]))["y"].tolist()
        [[4, 5], [0, 1]]
    """
    if isinstance(batch, dict):
        return {k: take_rows(v, rows) for k, v in batch.items()}
    if isinstance(batch, tuple):
        return tuple(take_rows(v, rows) for v in batch)
    return np.asarray(batch)[rows]


def replace_rows(batch: Any, rows: dict[int, Any]) -> Any:
    """Copy of a batch (arrays, dicts or tuples of arrays) with row i replaced by the single observation rows[i]."""
    if isinstance(batch, dict):
        return {k: replace_rows(v, {i: r[k] for i, r in rows.items()}) for k, v in batch.items()}
    if isinstance(batch, tuple):
        return tuple(replace_rows(v, {i: r[j] for i, r in rows.items()}) for j, v in enumerate(batch))
    out = np.array(batch, copy=True)
    for i, row in rows.items():
        out[i] = row
    return out

