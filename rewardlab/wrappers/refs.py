"""User wrappers named in configs: 'module:name' or ``{wrapper: 'module:name', kwargs: {...}}``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import gymnasium as gym

from rewardlab.errors import ConfigError
from rewardlab.shaping.terms import ref_to_callable

__all__ = ["WrapperRef", "wrapper_fns"]

WrapperRef = str | Mapping[str, Any]


def wrapper_fns(wrappers: Sequence[WrapperRef]) -> list[Callable[[gym.Env], gym.Env]]:
    """The wrappers as ``env -> env`` callables, in order (what SB3's and TorchPPO's env builders apply).

    Example:
        >>> [fn.func.__name__ for fn in wrapper_fns([{"wrapper": "gymnasium.wrappers:TimeLimit",
        ...                                           "kwargs": {"max_episode_steps": 5}}])]
        ['TimeLimit']
    """
    fns = []
    for ref in wrappers:
        if isinstance(ref, Mapping):
            if set(ref) - {"wrapper", "kwargs"} or "wrapper" not in ref:
                raise ConfigError(f"A wrapper entry is 'module:name' or {{wrapper, kwargs}}. Received {dict(ref)!r}")
            fns.append(partial(ref_to_callable(ref["wrapper"], "wrappers"), **dict(ref.get("kwargs") or {})))
        else:
            fns.append(ref_to_callable(ref, "wrappers"))
    return fns
