"""Random Network Distillation (Burda et al. 2019) and NovelD (Zhang et al. 2021) bonus terms."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from rewardlab._array import namespace
from rewardlab.errors import InvalidParameter
from rewardlab.shaping.bonuses._backend import RunningMoments, copy, like
from rewardlab.shaping.bonuses.counts import EpisodicCount
from rewardlab.shaping.terms import Term, Transition, register_term

__all__ = ["RND", "NovelD"]

SCORED_STATES = ("next_obs", "obs")


@register_term
class RND(Term):
    """RND bonus: the error of a trained predictor against a fixed random target network.

    ``b = |f(x) - f_target(x)|^2`` with ``x`` the observation feature normalised by running
    statistics and clipped to [-5, 5] (``squared=False`` gives the unsquared norm that E3B's code
    uses). With ``normalize_return`` the bonus is divided by the running std of the non-episodic
    discounted intrinsic return ``R <- gamma_int * R + b`` per sub-env (the "forward filter"); the
    intrinsic stream never resets at episode ends. Dummy autoreset steps pay 0 and update nothing.

    Which state is scored: ``score="next_obs"`` (default, the state reached, as in RND), or
    ``"obs"`` (the state acted from, as E3B x RND does: ``E3B(...) * RND(score="obs")``).

    The networks run on the device of the observations; the predictor trains on whole rollouts in
    :meth:`update` (see :mod:`rewardlab.shaping.bonuses.networks`). Needs the ``train`` extra.

    Args:
        key: the observation feature fed to the networks (default: the whole observation).
        score: ``"next_obs"`` or ``"obs"``.
        normalize_return: divide by the std of intrinsic returns.
        gamma: the intrinsic discount ``gamma_int`` of that return.
        embed_dim, hidden, squared, normalize_obs, lr, batch_size, steps_per_update, capacity, seed:
            the networks and their training, see :class:`~rewardlab.shaping.bonuses.networks.RNDModel`.

    Example:
        >>> import numpy as np
        >>> from rewardlab.shaping import Transition
        >>> rnd = RND(embed_dim=8, hidden=16, normalize_return=False, seed=0)
        >>> s2 = np.array([[0.0, 1.0], [1.0, 0.0]])
        >>> t = Transition(None, np.zeros(2, int), s2, np.zeros(2), np.zeros(2, bool), np.zeros(2, bool), np.array([True, False]))
        >>> b = rnd(t)
        >>> bool(b[0] > 0), float(b[1])      # the dummy step (valid False) pays 0
        (True, 0.0)
        >>> rnd.update()["samples"]           # trained on the one real state recorded
        1.0
    """

    callable_params = ("key",)

    def __init__(
        self,
        key: str | Callable[[Any], Any] = "obs",
        score: str = "next_obs",
        normalize_return: bool = True,
        gamma: float = 0.99,
        embed_dim: int = 64,
        hidden: int = 128,
        squared: bool = True,
        normalize_obs: bool = True,
        lr: float = 1e-3,
        batch_size: int = 256,
        steps_per_update: int = 16,
        capacity: int = 16384,
        seed: int = 0,
        name: str | None = None,
    ):
        if score not in SCORED_STATES:
            raise InvalidParameter(f"`score` must be one of {SCORED_STATES}. Received {score!r}")
        if isinstance(gamma, bool) or not isinstance(gamma, (int, float)) or not 0.0 <= gamma < 1.0:
            raise InvalidParameter(f"`gamma` (the intrinsic discount) must be in [0, 1). Received {gamma!r}")
        from rewardlab.shaping.bonuses.networks import RNDModel

        self.model = RNDModel(key, embed_dim, hidden, squared, normalize_obs, lr, batch_size, steps_per_update, capacity, seed)
        super().__init__(
            name, key=key, score=score, normalize_return=bool(normalize_return), gamma=float(gamma), embed_dim=embed_dim,
            hidden=hidden, squared=bool(squared), normalize_obs=bool(normalize_obs), lr=float(lr), batch_size=batch_size,
            steps_per_update=steps_per_update, capacity=capacity, seed=seed,
        )  # fmt: skip
        self.score, self.gamma, self.normalize_return = score, float(gamma), bool(normalize_return)
        self.returns: Any = None  # (N,) running intrinsic return per sub-env
        self.return_stats = RunningMoments()

    def default_name(self) -> str:
        return "rnd"

    @property
    def version(self) -> int:
        return self.model.version

    def novelty(self, obs: Any) -> Any:
        """Raw prediction error of each observation, ``(N,)`` float64 (no return normalisation)."""
        return self.model.novelty(obs)

    def observe(self, obs: Any, valid: Any) -> None:
        """Record the real states of a step as training data for the next :meth:`update`."""
        self.model.record(obs, valid)

    def __call__(self, t: Transition) -> Any:
        state = t.next_obs if self.score == "next_obs" else t.obs
        bonus = self.novelty(state)
        self.observe(state, t.valid)
        xp = namespace(bonus)
        valid = like(t.valid, bonus, dtype=bool)
        if self.normalize_return:
            if self.returns is None:
                self.returns = xp.zeros_like(bonus)
            self.returns = xp.where(valid, self.gamma * self.returns + bonus, self.returns)
            self.return_stats.update(self.returns, valid)  # real steps only; on a device the statistics stay there
            bonus = bonus / (self.return_stats.var + 1e-8) ** 0.5
        return like(xp.where(valid, bonus, xp.zeros_like(bonus)), t.reward)

    def update(self, rollout: Mapping[str, Any] | None = None) -> dict[str, float]:
        """Train the predictor on `rollout[score]` (optional ``valid``) or on the states recorded since the last update."""
        return self.model.update(rollout, key=self.score)

    def state_dict(self) -> dict[str, Any]:
        return {"model": self.model.state_dict(), "returns": copy(self.returns), "return_stats": self.return_stats.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.model.load_state_dict(state["model"])
        self.returns = copy(state["returns"])
        self.return_stats.load_state_dict(state["return_stats"])


@register_term
class NovelD(Term):
    """NovelD: ``b = max(n(s') - c * n(s), 0) * 1[N_e(s') = 1]`` with ``n`` the novelty of `rnd`.

    Pays where novelty grows along the transition, once per state per episode. ``n`` is the raw
    novelty of `rnd` (:meth:`RND.novelty`; its return normalisation does not apply here: wrap the
    whole term in :class:`~rewardlab.shaping.RunningNormalize` to normalise). The states reached
    are recorded as the RND's training data. The episodic first-visit table keys on `key` and is
    reset with the episode (see :class:`~rewardlab.shaping.bonuses.EpisodicCount`).

    Args:
        rnd: the novelty source: an :class:`RND` term (any term with ``novelty(obs) -> (N,)``).
        c: the weight of the current state's novelty; 0.5 in NovelD, 0.1 was best in E3B's code.
        key: the feature the episodic first-visit indicator counts.

    Example:
        >>> import numpy as np
        >>> from rewardlab.shaping import Transition
        >>> noveld = NovelD(RND(embed_dim=8, hidden=16, seed=0), c=0.5)
        >>> noveld.reset(np.array([True]), np.array([[0.0]]))
        >>> step = lambda s, s2: Transition(np.array([[s]]), np.zeros(1, int), np.array([[s2]]), np.zeros(1), np.zeros(1, bool), np.zeros(1, bool), np.ones(1, bool))
        >>> float(noveld(step(0.0, 0.0))[0])   # back to the start state: not a first visit
        0.0
    """

    child_params = ("rnd",)

    def __init__(self, rnd: Term, c: float = 0.5, key: str | Callable[[Any], Any] = "obs", name: str | None = None):
        if not callable(getattr(rnd, "novelty", None)):
            raise InvalidParameter(f"`rnd` must be a term with a `novelty(obs)` method, such as RND(). Received {rnd!r}")
        if isinstance(c, bool) or not isinstance(c, (int, float)) or not math.isfinite(c) or c < 0:
            raise InvalidParameter(f"`c` must be a non-negative number. Received {c!r}")
        self._first_visit = EpisodicCount(key, indicator=True)
        super().__init__(name, rnd=rnd, c=float(c), key=key)
        self.c = float(c)

    def default_name(self) -> str:
        return "noveld"

    def reset(self, mask: Any, obs: Any) -> None:
        super().reset(mask, obs)
        self._first_visit.reset(mask, obs)

    def __call__(self, t: Transition) -> Any:
        rnd = self._params["rnd"]
        n_next, n_now = rnd.novelty(t.next_obs), rnd.novelty(t.obs)
        if callable(getattr(rnd, "observe", None)):
            rnd.observe(t.next_obs, t.valid)
        xp = namespace(n_next)
        gain = xp.clip(n_next - self.c * n_now, 0.0, None)
        first = like(self._first_visit(t), gain)  # 0 on dummy steps, so the product is 0 there too
        return like(gain * first, t.reward)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "first_visit": self._first_visit.state_dict()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        self._first_visit.load_state_dict(state["first_visit"])
