"""Gated reward accumulation, G-RA (Sun et al. 2025, arXiv 2508.10548).

Immediate (step-wise) rewards count only if the episode's outcome reward meets a threshold:
``R = R_H + 1[R_H op delta] * sum_t r_L,t``. Levels nest: ``Gate(Gate(r3, R2, d2), R1, d1)`` pays
``r3`` only if both gates pass.

Two forms:
* :class:`Gate`, a reward term for env wrappers. It cannot see the future, so it **defers**: it
  emits 0 during the episode and releases ``gate * sum(immediate)`` on the episode's last step.
  That moves all the gated credit to the end of the episode (equivalent to the paper's reward only
  for the undiscounted return from t=0).
* :func:`gate_rollout`, the faithful form for trainers that can rewrite their buffers: after an
  episode ends its immediate rewards are multiplied by the gate at their original time steps.
"""

from __future__ import annotations

import operator
from typing import Any

import numpy as np

from rewardlab._array import host, namespace
from rewardlab.errors import InvalidParameter
from rewardlab.shaping.terms import Term, Transition, _check_terms, register_term

__all__ = ["Gate", "gate_rollout"]

OPS = {"ge": operator.ge, "gt": operator.gt, "le": operator.le, "lt": operator.lt}
UNFINISHED = ("closed", "open")


def _check_gate_args(threshold: Any, op: str, on_unfinished: str) -> float:
    # The paper says "meets a threshold" (>=); a reimplementation used >, so the operator is explicit.
    if op not in OPS:
        raise InvalidParameter(f"`op` must be one of {sorted(OPS)}. Received {op!r}")
    if on_unfinished not in UNFINISHED:
        raise InvalidParameter(f"`on_unfinished` must be one of {UNFINISHED}. Received {on_unfinished!r}")
    if isinstance(threshold, bool) or not isinstance(threshold, (int, float)) or threshold != threshold:
        raise InvalidParameter(f"`threshold` must be a number. Received {threshold!r}")
    return float(threshold)


@register_term
class Gate(Term):
    """Deferred G-RA: ``1[sum(outcome) op threshold] * sum(immediate)``, paid on the episode's last step.

    Args:
        immediate: the step-wise reward term that is gated.
        outcome: the term whose episode sum is the outcome checked against the gate (it is not paid
            by the gate; add it to the reward separately, e.g. ``EnvReward() + Gate(...)``).
        threshold: the gate's threshold ``delta``.
        op: comparison, ``"ge"`` (default, "meets the threshold"), ``"gt"``, ``"le"`` or ``"lt"``.
        on_unfinished: what :meth:`rollout` does with an episode still running at the end of a
            buffer: ``"closed"`` (default, its immediate rewards become 0) or ``"open"`` (kept). In the
            wrapper form an episode that is reset before it ends pays nothing (closed).

    ``last_gate`` holds, per sub-env, the gate value (0/1) of the episode that ended at the latest
    step, and NaN where none ended, for logging.

    Example:
        >>> import numpy as np
        >>> from rewardlab.shaping import Gate, EnvReward, FromFunction, Transition
        >>> def bonus(t): return np.full(t.reward.shape, 0.1)
        >>> gate = Gate(FromFunction(bonus), outcome=EnvReward(), threshold=1.0)
        >>> gate.reset(np.array([True]), None)
        >>> step = lambda r, done: Transition(None, None, None, np.array([r]), np.array([done]), np.zeros(1, bool), np.ones(1, bool))
        >>> [round(float(gate(step(r, d))[0]), 6) for r, d in [(0.0, False), (0.0, False), (1.0, True)]]
        [0.0, 0.0, 0.3]
    """

    child_params = ("immediate", "outcome")

    def __init__(
        self,
        immediate: Term,
        outcome: Term,
        threshold: float,
        op: str = "ge",
        on_unfinished: str = "closed",
        name: str | None = None,
    ):
        threshold = _check_gate_args(threshold, op, on_unfinished)
        immediate, outcome = _check_terms([immediate, outcome], "Gate.immediate/outcome")
        super().__init__(name, immediate=immediate, outcome=outcome, threshold=threshold, op=op, on_unfinished=on_unfinished)
        self._op = OPS[op]
        self._acc_immediate: Any = None  # (N,) sum of immediate rewards so far this episode
        self._acc_outcome: Any = None  # (N,) sum of outcome rewards so far this episode
        self.last_gate: Any = None

    def default_name(self) -> str:
        return f"gate({self._params['immediate'].name})"

    def reset(self, mask: Any, obs: Any) -> None:
        super().reset(mask, obs)
        mask = np.asarray(mask, dtype=bool) if not hasattr(mask, "shape") else mask
        if self._acc_immediate is None or self._acc_immediate.shape[0] != mask.shape[0]:
            xp = namespace(mask)
            device = getattr(mask, "device", None) if xp is not np else None  # the sums live where the flags do
            self._acc_immediate = xp.zeros(mask.shape, dtype=xp.float64, device=device)
            self._acc_outcome = xp.zeros(mask.shape, dtype=xp.float64, device=device)
        xp = namespace(self._acc_immediate)
        self._acc_immediate = xp.where(mask, 0.0, self._acc_immediate)
        self._acc_outcome = xp.where(mask, 0.0, self._acc_outcome)

    def __call__(self, t: Transition) -> Any:
        if self._acc_immediate is None:
            raise InvalidParameter(f"Gate `{self.name}` was called before reset()")
        immediate, outcome = self._params["immediate"](t), self._params["outcome"](t)
        xp = namespace(immediate)
        zero = xp.zeros_like(self._acc_immediate)
        self._acc_immediate = self._acc_immediate + xp.where(t.valid, immediate, zero)
        self._acc_outcome = self._acc_outcome + xp.where(t.valid, outcome, zero)
        ended = (t.terminated | t.truncated) & t.valid
        gate = self._op(self._acc_outcome, self._params["threshold"])
        release = xp.where(ended & gate, self._acc_immediate, zero)
        self.last_gate = xp.where(ended, xp.astype(gate, zero.dtype), xp.full_like(zero, float("nan")))
        # An ended episode's sums are spent; the next episode starts from zero even before reset().
        self._acc_immediate = xp.where(ended, zero, self._acc_immediate)
        self._acc_outcome = xp.where(ended, zero, self._acc_outcome)
        return xp.astype(release, t.reward.dtype)

    def rollout(self, immediate: np.ndarray, outcome: np.ndarray, dones: np.ndarray) -> np.ndarray:
        """Buffer form with this gate's threshold, operator and unfinished policy; see :func:`gate_rollout`."""
        p = self._params
        return gate_rollout(immediate, outcome, dones, p["threshold"], p["op"], p["on_unfinished"])

    def state_dict(self) -> dict[str, Any]:
        return {
            **super().state_dict(),
            "acc_immediate": None if self._acc_immediate is None else host(self._acc_immediate).copy(),
            "acc_outcome": None if self._acc_outcome is None else host(self._acc_outcome).copy(),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self._acc_immediate, self._acc_outcome = state["acc_immediate"], state["acc_outcome"]


def gate_rollout(
    immediate: np.ndarray,
    outcome: np.ndarray,
    dones: np.ndarray,
    threshold: float,
    op: str = "ge",
    on_unfinished: str = "closed",
) -> np.ndarray:
    """Rewrite a rollout buffer's immediate rewards in place with each episode's gate (faithful G-RA).

    Args:
        immediate: ``(T, N)`` immediate rewards; rewritten in place to ``gate * immediate``.
        outcome: ``(T, N)`` outcome rewards; an episode's outcome is their sum over its steps in
            this buffer (G-RA pays the outcome at the episode's end, so that step must be in it).
        dones: ``(T, N)`` True on the last step of an episode (terminated or truncated).
        threshold, op: the gate ``1[outcome op threshold]``.
        on_unfinished: ``"closed"`` zeroes the steps of an episode still running at the buffer's
            end; ``"open"`` leaves them as they are.

    Returns:
        ``(T, N)`` gate applied at each step (0 or 1).

    Example:
        >>> import numpy as np
        >>> r = np.array([[0.1], [0.2], [0.3], [0.5]])
        >>> R = np.array([[0.0], [0.0], [1.0], [0.0]])
        >>> d = np.array([[False], [False], [True], [False]])
        >>> gate_rollout(r, R, d, threshold=1.0)[:, 0].tolist(), r[:, 0].tolist()
        ([1.0, 1.0, 1.0, 0.0], [0.1, 0.2, 0.3, 0.0])
    """
    threshold = _check_gate_args(threshold, op, on_unfinished)
    immediate, outcome, dones = np.asarray(immediate), np.asarray(outcome), np.asarray(dones, dtype=bool)
    if not (immediate.shape == outcome.shape == dones.shape) or immediate.ndim != 2:
        raise InvalidParameter(
            f"`immediate`, `outcome` and `dones` must share one (T, N) shape. Received {immediate.shape}, {outcome.shape}, {dones.shape}"
        )
    gates = np.zeros(immediate.shape, dtype=np.float64)
    num_steps = immediate.shape[0]
    for env in range(immediate.shape[1]):
        start = 0
        ends = list(np.flatnonzero(dones[:, env]))
        if not ends or ends[-1] != num_steps - 1:
            ends.append(None)  # the open tail
        for end in ends:
            stop = num_steps if end is None else end + 1
            if end is None:
                gate = 1.0 if on_unfinished == "open" else 0.0
            else:
                gate = float(OPS[op](outcome[start:stop, env].sum(), threshold))
            gates[start:stop, env] = gate
            start = stop
    immediate *= gates.astype(immediate.dtype)
    return gates
