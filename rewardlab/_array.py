"""Tiny array-namespace shim: numpy fast path, array-api-compat for torch and others."""

from __future__ import annotations

from typing import Any

import numpy as np


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

