"""Count-based novelty bonuses (Henaff, Jiang & Raileanu 2023): global ``1/sqrt(N)`` and episodic ``1/sqrt(N_e)``.

Which state is counted: the state *reached*, ``t.next_obs`` (the true final observation on a done),
plus each episode's first observation, registered by :meth:`reset`. So every state an agent occupies
is counted exactly once, and returning to the start state is not a first visit. Dummy steps of
NEXT_STEP autoreset (``valid=False``) count nothing and pay 0.

Tables: on the host a Python dict per table (``counts``); given torch tensors, the same counts are
kept as sorted arrays on the tensors' device (:class:`~rewardlab.shaping.bonuses._table.SortedCounts`),
so an on-device trainer never copies keys to the host. The bonus formula is written once (:meth:`bonus`).

Product of the two (the paper's combined bonus): ``GlobalCount("pos") * EpisodicCount("pos", indicator=True)``.

Classes: :class:`GlobalCount`, :class:`EpisodicCount`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rewardlab._array import host, is_host, namespace
from rewardlab.errors import InvalidParameter
from rewardlab.shaping.bonuses._backend import host_bool, like
from rewardlab.shaping.bonuses._table import SortedCounts
from rewardlab.shaping.bonuses.features import hash_keys, hash_rows, resolve_feature
from rewardlab.shaping.terms import Term, Transition, register_term

__all__ = ["GlobalCount", "EpisodicCount"]


class _CountTerm(Term):
    callable_params = ("key",)

    def __init__(self, key: str | Callable[[Any], Any], name: str | None, **params: Any):
        self._feature = resolve_feature(key)
        super().__init__(name, key=key, **params)

    def default_name(self) -> str:
        key = self._params["key"]
        label = key if isinstance(key, str) and ":" not in key else getattr(self._feature, "__name__", "fn")
        return f"{self._kind}_{label}"

    def keys(self, obs: Any) -> list[int]:
        """The count key of each sub-env's observation (a hash of its feature row)."""
        return hash_rows(self._feature(obs))

    def __call__(self, t: Transition) -> Any:
        if not is_host(t.reward):
            return self._device_call(t)
        valid = host_bool(t.valid)
        keys = self.keys(t.next_obs)
        values = [self._visit(i, keys[i]) if valid[i] else 0.0 for i in range(len(keys))]
        return like(values, t.reward)

    def bonus(self, n: Any) -> Any:
        """The bonus paid for a visit that brings a state's count to ``n`` (an int or an int array, n >= 1)."""
        return n**-0.5

    def _visit(self, env: int, key: int) -> float:
        raise NotImplementedError

    def _device_call(self, t: Transition) -> Any:
        raise NotImplementedError


def _device_bonus(term: _CountTerm, visits: Any, like_: Any) -> Any:
    """``bonus(n)`` where a row visited (n >= 1), else 0, as `like_`'s dtype (float64 before the cast: the host path's arithmetic)."""
    xp = namespace(visits)
    n = xp.astype(xp.clip(visits, 1, None), xp.float64)
    return xp.astype(xp.where(visits > 0, xp.astype(term.bonus(n), xp.float64), 0.0), like_.dtype)


@register_term
class GlobalCount(_CountTerm):
    """Global count bonus ``1/sqrt(N(psi(s')))`` over all training experience, never reset.

    One table is shared by all sub-envs **by design**: it counts the whole training experience, so
    a state one sub-env found stops being novel for the others. Within one step, sub-envs are
    counted in index order.

    Args:
        key: the feature ``psi`` to count (see :mod:`rewardlab.shaping.bonuses.features`).

    Example:
        >>> import numpy as np
        >>> from rewardlab.shaping import Transition
        >>> term = GlobalCount("obs")
        >>> term.reset(np.array([True]), np.array([[0]]))          # s0 = 0 is counted once
        >>> step = lambda s2: Transition(None, None, np.array([[s2]]), np.zeros(1), np.zeros(1, bool), np.zeros(1, bool), np.ones(1, bool))
        >>> [round(float(term(step(s2))[0]), 4) for s2 in (1, 1, 1, 0)]
        [1.0, 0.7071, 0.5774, 0.7071]
    """

    _kind = "global_count"

    def __init__(self, key: str | Callable[[Any], Any] = "pos", name: str | None = None):
        super().__init__(key, name)
        self.counts: dict[int, int] = {}
        self._table: SortedCounts | None = None  # the device copy of `counts`, once given tensors

    def reset(self, mask: Any, obs: Any) -> None:
        if not is_host(mask):
            self._device_table(mask).visit(hash_keys(self._feature(obs)), mask)
            return
        keys = self.keys(obs)
        for i in np.flatnonzero(host_bool(mask)):
            self.counts[keys[i]] = self.counts.get(keys[i], 0) + 1

    def _visit(self, env: int, key: int) -> float:
        n = self.counts.get(key, 0) + 1
        self.counts[key] = n
        return self.bonus(n)

    def _device_table(self, like_: Any) -> SortedCounts:
        if self._table is None:  # first device call: start from the host table (a loaded state dict)
            self._table = SortedCounts.from_items(list(self.counts), list(self.counts.values()), like_)
        return self._table

    def _device_call(self, t: Transition) -> Any:
        visits = self._device_table(t.reward).visit(hash_keys(self._feature(t.next_obs)), t.valid)
        return _device_bonus(self, visits, t.reward)

    def state_dict(self) -> dict[str, Any]:
        return {"counts": self._table.as_dict() if self._table is not None else dict(self.counts)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.counts, self._table = dict(state["counts"]), None


@register_term
class EpisodicCount(_CountTerm):
    """Episodic count bonus ``1/sqrt(N_e(psi(s')))``, or the first-visit indicator ``1[N_e = 1]``.

    Each sub-env has its own table, cleared by :meth:`reset` for the masked sub-envs, which then
    registers the episode's first observation (so coming back to the start is not a first visit).
    ``counts[i]`` is sub-env ``i``'s table (feature hash -> visits this episode).

    Args:
        key: the feature ``psi`` to count (see :mod:`rewardlab.shaping.bonuses.features`).
        indicator: pay ``1`` on the first visit of the episode and ``0`` afterwards.

    Example:
        >>> import numpy as np
        >>> from rewardlab.shaping import Transition
        >>> term = EpisodicCount("obs", indicator=True)
        >>> term.reset(np.array([True]), np.array([[0]]))
        >>> step = lambda s2: Transition(None, None, np.array([[s2]]), np.zeros(1), np.zeros(1, bool), np.zeros(1, bool), np.ones(1, bool))
        >>> [float(term(step(s2))[0]) for s2 in (1, 1, 2, 0)]
        [1.0, 0.0, 1.0, 0.0]
    """

    _kind = "episodic_count"

    def __init__(self, key: str | Callable[[Any], Any] = "pos", indicator: bool = False, name: str | None = None):
        if not isinstance(indicator, bool):
            raise InvalidParameter(f"`indicator` must be True or False. Received {indicator!r}")
        super().__init__(key, name, indicator=indicator)
        self.indicator = indicator
        self.counts: list[dict[int, int]] = []
        self._table: SortedCounts | None = None  # on a device: one table keyed by (state, env)

    def default_name(self) -> str:
        return super().default_name().replace("count", "first_visit") if self._params["indicator"] else super().default_name()

    def reset(self, mask: Any, obs: Any) -> None:
        if not is_host(mask):
            hashes = hash_keys(self._feature(obs))
            self._ensure(hashes.shape[0])
            table = self._device_table(hashes)
            xp = namespace(hashes)
            table.remove(xp.take(mask, xp.remainder(table.keys, 2**self._env_bits)))
            table.visit(self._env_keys(hashes), mask, payload=hashes)
            return
        keys = self.keys(obs)
        self._ensure(len(keys))
        for i in np.flatnonzero(host_bool(mask)):
            self.counts[i] = {keys[i]: 1}

    def __call__(self, t: Transition) -> Any:
        self._ensure(t.num_envs)
        return super().__call__(t)

    @property
    def _env_bits(self) -> int:
        return max(1, (len(self.counts) - 1).bit_length())

    def _env_keys(self, hashes: Any) -> Any:
        # One table for all sub-envs on a device, keyed by (hash << b) | env: the low b bits give the
        # env back (shifts wrap without touching them); the full hash is kept as the entry's payload.
        xp = namespace(hashes)
        n = hashes.shape[0]
        return xp.bitwise_or(xp.bitwise_left_shift(hashes, self._env_bits), xp.arange(n, dtype=xp.int64, device=hashes.device))

    def _device_table(self, like_: Any) -> SortedCounts:
        if self._table is None:  # first device call: start from the host tables (a loaded state dict)
            items = [(k, c, i) for i, table in enumerate(self.counts) for k, c in table.items()]
            hashes = np.array([k for k, _, _ in items], dtype=np.int64)
            keys = (hashes << self._env_bits) | np.array([i for _, _, i in items], dtype=np.int64)  # as _env_keys, on the host
            self._table = SortedCounts.from_items(keys.tolist(), [c for _, c, _ in items], like_, hashes.tolist())
        return self._table

    def _device_call(self, t: Transition) -> Any:
        hashes = hash_keys(self._feature(t.next_obs))
        visits = self._device_table(t.reward).visit(self._env_keys(hashes), t.valid, payload=hashes)
        return _device_bonus(self, visits, t.reward)

    def bonus(self, n: Any) -> Any:
        if self.indicator:
            return n == 1 if isinstance(n, int) else namespace(n).astype(n == 1, n.dtype)
        return super().bonus(n)

    def _ensure(self, n: int) -> None:
        if not self.counts:
            self.counts = [{} for _ in range(n)]
        elif len(self.counts) != n:
            raise InvalidParameter(f"EpisodicCount `{self.name}` holds {len(self.counts)} sub-envs but got a batch of {n}")

    def _visit(self, env: int, key: int) -> float:
        table = self.counts[env]
        n = table.get(key, 0) + 1
        table[key] = n
        return float(self.bonus(n))

    def state_dict(self) -> dict[str, Any]:
        if self._table is None:
            return {"counts": [dict(c) for c in self.counts]}
        tables: list[dict[int, int]] = [{} for _ in self.counts]
        # state dicts only (checkpoints), never per step: one copy of each column to the host
        columns = (host(c).tolist() for c in (self._table.keys, self._table.payload, self._table.counts))
        for key, hash_, count in zip(*columns, strict=True):
            tables[key % 2**self._env_bits][hash_] = count
        return {"counts": tables}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.counts, self._table = [dict(c) for c in state["counts"]], None
