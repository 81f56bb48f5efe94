"""Count-based novelty bonuses (Henaff, Jiang & Raileanu 2023): global ``1/sqrt(N)`` and episodic ``1/sqrt(N_e)``.

Which state is counted: the state *reached*, ``t.next_obs`` (the true final observation on a done),
plus each episode's first observation, registered by :meth:`reset`. So every state an agent occupies
is counted exactly once, and returning to the start state is not a first visit. Dummy steps of
NEXT_STEP autoreset (``valid=False``) count nothing and pay 0.

Product of the two (the paper's combined bonus): ``GlobalCount("pos") * EpisodicCount("pos", indicator=True)``.

Classes: :class:`GlobalCount`, :class:`EpisodicCount`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from rewardlab.errors import InvalidParameter
from rewardlab.shaping.bonuses._backend import host_bool, like
from rewardlab.shaping.bonuses.features import hash_rows, resolve_feature
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
        valid = host_bool(t.valid)
        keys = self.keys(t.next_obs)
        values = [self._visit(i, keys[i]) if valid[i] else 0.0 for i in range(len(keys))]
        return like(values, t.reward)

    def _visit(self, env: int, key: int) -> float:
        raise NotImplementedError


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

    def reset(self, mask: Any, obs: Any) -> None:
        keys = self.keys(obs)
        for i in np.flatnonzero(host_bool(mask)):
            self.counts[keys[i]] = self.counts.get(keys[i], 0) + 1

    def _visit(self, env: int, key: int) -> float:
        n = self.counts.get(key, 0) + 1
        self.counts[key] = n
        return n**-0.5

    def state_dict(self) -> dict[str, Any]:
        return {"counts": dict(self.counts)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.counts = dict(state["counts"])


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

    def default_name(self) -> str:
        return super().default_name().replace("count", "first_visit") if self._params["indicator"] else super().default_name()

    def reset(self, mask: Any, obs: Any) -> None:
        keys = self.keys(obs)
        self._ensure(len(keys))
        for i in np.flatnonzero(host_bool(mask)):
            self.counts[i] = {keys[i]: 1}

    def __call__(self, t: Transition) -> Any:
        self._ensure(t.num_envs)
        return super().__call__(t)

    def _ensure(self, n: int) -> None:
        if not self.counts:
            self.counts = [{} for _ in range(n)]
        elif len(self.counts) != n:
            raise InvalidParameter(f"EpisodicCount `{self.name}` holds {len(self.counts)} sub-envs but got a batch of {n}")

    def _visit(self, env: int, key: int) -> float:
        table = self.counts[env]
        n = table.get(key, 0) + 1
        table[key] = n
        return float(n == 1) if self.indicator else n**-0.5

    def state_dict(self) -> dict[str, Any]:
        return {"counts": [dict(c) for c in self.counts]}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.counts = [dict(c) for c in state["counts"]]
