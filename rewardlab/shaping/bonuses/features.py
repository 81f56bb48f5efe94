"""Feature keys for bonuses: what part of a batched observation a count or a network looks at.

A feature key is one of

* a named extractor: ``"pos"`` (``blstats[:2]`` for gridhack/MiniHack/NLE, else an ``agent_pos``
  field), ``"message"``, ``"glyphs"``, or ``"obs"`` (alias ``"obs_hash"``: the whole observation,
  every field of a dict, which counts hash);
* the name of a field of a dict observation, e.g. ``"agent_pos"``. MiniGrid keeps ``agent_pos`` on
  the env, not in the observation: add it to the observation with a wrapper (or write a function);
* a function ``f(obs_batch) -> array (N, ...)`` or its ``'module:name'`` string (for configs).

Observations are batched (leading dimension ``N``): arrays, or dicts of arrays, numpy or torch.
Counts turn features into integer keys with :func:`hash_rows`; networks read them as a flat
float matrix through :func:`flatten`.

Functions: :func:`resolve_feature`, :func:`flatten`, :func:`hash_rows`, :func:`hash_keys`.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

from rewardlab._array import namespace
from rewardlab.errors import InvalidParameter, did_you_mean
from rewardlab.shaping.terms import ref_to_callable

__all__ = ["FEATURES", "FeatureFn", "resolve_feature", "flatten", "hash_rows", "hash_keys"]

FeatureFn = Callable[[Any], Any]


def _pos(obs: Any) -> Any:
    if isinstance(obs, Mapping):
        if "blstats" in obs:
            return obs["blstats"][:, :2]  # NLE's blstats starts with (x, y)
        if "agent_pos" in obs:
            return obs["agent_pos"]
    keys = sorted(obs) if isinstance(obs, Mapping) else type(obs).__name__
    raise InvalidParameter(
        "Feature key `pos` needs a dict observation with a `blstats` field (gridhack, MiniHack, NLE) or an "
        f"`agent_pos` field; the observation has {keys}. For MiniGrid add `agent_pos` to the observation "
        "with a wrapper, or pass a function as the key"
    )


def _whole(obs: Any) -> Any:
    return obs


def _field(name: str) -> FeatureFn:
    def read(obs: Any) -> Any:
        if not isinstance(obs, Mapping) or name not in obs:
            keys = sorted(obs) if isinstance(obs, Mapping) else []
            raise InvalidParameter(
                f"Feature key `{name}` names an observation field, but the observation "
                + (f"has only {keys}.{did_you_mean(name, keys)}" if keys else f"is not a dict ({type(obs).__name__})")
                + f" Named keys: {sorted(FEATURES)}"
            )
        return obs[name]

    read.__name__ = name
    return read


FEATURES: dict[str, FeatureFn] = {
    "pos": _pos,
    "message": _field("message"),
    "glyphs": _field("glyphs"),
    "obs": _whole,
    "obs_hash": _whole,
}


def resolve_feature(key: str | FeatureFn, what: str = "key") -> FeatureFn:
    """The extractor for a feature key (see the module docstring).

    Example:
        >>> import numpy as np
        >>> obs = {"blstats": np.array([[3, 4, 9], [5, 6, 9]]), "message": np.zeros((2, 4), np.uint8)}
        >>> resolve_feature("pos")(obs).tolist()
        [[3, 4], [5, 6]]
    """
    if callable(key):
        return key
    if not isinstance(key, str) or not key:
        raise InvalidParameter(f"`{what}` must be a feature name, a field name, a 'module:name' string or a function. Received {key!r}")
    if ":" in key:
        return ref_to_callable(key, what)
    return FEATURES.get(key) or _field(key)


def _leaves(x: Any) -> list[Any]:
    if isinstance(x, Mapping):
        return [leaf for k in sorted(x) for leaf in _leaves(x[k])]
    if isinstance(x, (tuple, list)) and x and not isinstance(x[0], str):
        return [leaf for v in x for leaf in _leaves(v)]
    return [x]


def flatten(x: Any) -> Any:
    """A batch of features (an array or a dict/tuple of arrays) as one ``(N, D)`` numeric array.

    Dict fields are concatenated in sorted key order; the dtype is the fields' common dtype, so a
    recorded rollout stays as small as the observation. Text fields cannot be flattened.
    """
    parts = []
    for leaf in _leaves(x):
        if isinstance(leaf, (tuple, list)) or (isinstance(leaf, np.ndarray) and leaf.dtype.kind in "OUS"):
            raise InvalidParameter("A text observation field cannot be fed to a network; choose a numeric feature `key`")
        parts.append(leaf)
    xp = namespace(parts[0])
    n = parts[0].shape[0]
    flat = [xp.reshape(p, (n, -1)) for p in parts]
    if len(flat) == 1:
        return flat[0]
    dtype = xp.result_type(*flat)
    return xp.concat([xp.astype(p, dtype) for p in flat], axis=1)


_MULTIPLIERS: dict[tuple[int, str], Any] = {}


def _multipliers(d: int, like: Any) -> Any:
    """Fixed random odd int64 multipliers (one per feature column) for the row hash, on `like`'s device."""
    device = "numpy" if isinstance(like, np.ndarray) else str(like.device)
    cached = _MULTIPLIERS.get((d, device))
    if cached is None:
        m = np.random.default_rng(20230613).integers(1, 2**62, size=d, dtype=np.int64) | 1
        cached = m if isinstance(like, np.ndarray) else namespace(like).asarray(m, device=like.device)
        _MULTIPLIERS[(d, device)] = cached
    return cached


def _as_int64(leaf: Any) -> Any:
    """A feature column block as int64 of the same bits: floats are bit-cast, text is CRC-32 hashed."""
    if isinstance(leaf, (tuple, list)) or (isinstance(leaf, np.ndarray) and leaf.dtype.kind in "OUS"):
        arr = np.asarray(leaf, dtype=object)
        crc = [zlib.crc32(str(v).encode()) for v in arr.reshape(-1)]
        return np.asarray(crc, dtype=np.int64).reshape(arr.shape[0], -1)
    n = leaf.shape[0]
    if isinstance(leaf, np.ndarray):
        if leaf.dtype.kind == "f":
            leaf = np.ascontiguousarray(leaf).view(f"i{leaf.dtype.itemsize}")
        return leaf.reshape(n, -1).astype(np.int64)
    import torch  # only reached with torch inputs

    if leaf.is_floating_point():
        leaf = leaf.contiguous().view({2: torch.int16, 4: torch.int32, 8: torch.int64}[leaf.element_size()])
    return leaf.reshape(n, -1).to(torch.int64)


def hash_rows(x: Any) -> list[int]:
    """One integer key per row of a feature batch, identical for numpy and torch inputs.

    The key is a random linear hash of the row's int64 bits (wrapping mod 2**64), computed where the
    features live (see :func:`hash_keys`); only the ``N`` keys go to the host.

    Example:
        >>> import numpy as np
        >>> keys = hash_rows(np.array([[1, 2], [1, 2], [2, 1]]))
        >>> keys[0] == keys[1], keys[0] == keys[2]
        (True, False)
    """
    return hash_keys(x).tolist()


def hash_keys(x: Any) -> Any:
    """The keys of :func:`hash_rows` as an int64 array ``(N,)`` in the features' backend, on their device."""
    blocks = [_as_int64(leaf) for leaf in _leaves(x)]
    on_device = [b for b in blocks if not isinstance(b, np.ndarray)]
    xp = np
    if on_device:  # a text field (hashed on the host) next to torch fields moves to their device
        xp, device = namespace(on_device[0]), on_device[0].device
        blocks = [xp.asarray(b, device=device) if isinstance(b, np.ndarray) else b for b in blocks]
    rows = blocks[0] if len(blocks) == 1 else xp.concat(blocks, axis=1)
    return xp.sum(rows * _multipliers(rows.shape[1], rows), axis=1)
