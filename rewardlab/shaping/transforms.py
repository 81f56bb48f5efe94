"""Transforms of a term's values: clipping and running normalisation.

Both break PBRS's telescoping when applied over a potential-based term (spec pitfall A.8.5), so they
warn when the term below them contains one. Apply them to the bonus stream only.
"""

from __future__ import annotations

import math
import warnings
from typing import Any

import numpy as np

from rewardlab._array import namespace
from rewardlab.errors import InvalidParameter
from rewardlab.shaping.terms import Term, Transition, _check_terms, register_term

__all__ = ["Clip", "RunningNormalize", "ShapingWarning"]


class ShapingWarning(UserWarning):
    """A composition that is legal but likely wrong, e.g. clipping a PBRS term."""


def _warn_if_over_pbrs(term: Term, what: str) -> None:
    from rewardlab.shaping.pbrs import PBRS

    if any(isinstance(t, PBRS) for t in term.walk()):
        warnings.warn(
            f"{what} over a PBRS term breaks its telescoping sum, so shaping is no longer policy-invariant; "
            "apply it to the other terms only",
            ShapingWarning,
            stacklevel=3,
        )


@register_term
class Clip(Term):
    """A term's values clipped to ``[low, high]``.

    Example:
        >>> import numpy as np
        >>> from rewardlab.shaping import Clip, EnvReward, Transition
        >>> t = Transition(None, None, None, np.array([-3.0, 0.5, 3.0]), np.zeros(3, bool), np.zeros(3, bool), np.ones(3, bool))
        >>> Clip(EnvReward(), -1.0, 1.0)(t)
        array([-1. ,  0.5,  1. ])
    """

    child_params = ("term",)

    def __init__(self, term: Term, low: float = -1.0, high: float = 1.0, name: str | None = None):
        for key, v in (("low", low), ("high", high)):
            if isinstance(v, bool) or not isinstance(v, (int, float)) or math.isnan(v):
                raise InvalidParameter(f"`{key}` must be a number. Received {v!r}")
        if low > high:
            raise InvalidParameter(f"`low` must not exceed `high`. Received low={low}, high={high}")
        term = _check_terms([term], "Clip.term")[0]
        _warn_if_over_pbrs(term, "Clip")
        super().__init__(name, term=term, low=float(low), high=float(high))

    def default_name(self) -> str:
        return f"clip({self._params['term'].name})"

    def __call__(self, t: Transition) -> Any:
        return namespace(t.reward).clip(self._params["term"](t), self._params["low"], self._params["high"])


@register_term
class RunningNormalize(Term):
    """A term divided by the running standard deviation of its values (optionally centred).

    Statistics update only on real steps (``valid``), so Gymnasium's NEXT_STEP dummy steps are never
    counted; ``update=False`` freezes them (for evaluation). ``count`` is the number of samples seen.

    Args:
        term: the term to normalise.
        epsilon: added to the variance before the square root.
        center: also subtract the running mean.
        update: whether statistics are updated (False freezes them).

    Example:
        >>> import numpy as np
        >>> from rewardlab.shaping import RunningNormalize, EnvReward, Transition
        >>> norm = RunningNormalize(EnvReward())
        >>> t = Transition(None, None, None, np.array([1.0, 3.0]), np.zeros(2, bool), np.zeros(2, bool), np.ones(2, bool))
        >>> norm(t), norm.count
        (array([1.        , 2.99999999]), 2)
    """

    child_params = ("term",)

    def __init__(self, term: Term, epsilon: float = 1e-8, center: bool = False, update: bool = True, name: str | None = None):
        if not isinstance(epsilon, (int, float)) or not epsilon > 0:
            raise InvalidParameter(f"`epsilon` must be a positive number. Received {epsilon!r}")
        term = _check_terms([term], "RunningNormalize.term")[0]
        _warn_if_over_pbrs(term, "RunningNormalize")
        super().__init__(name, term=term, epsilon=float(epsilon), center=bool(center), update=bool(update))
        self.update = bool(update)
        self.mean, self.var, self.count = 0.0, 1.0, 0

    def default_name(self) -> str:
        return f"norm({self._params['term'].name})"

    def __call__(self, t: Transition) -> Any:
        x = self._params["term"](t)
        xp = namespace(x)
        if self.update:
            self._update(x, t.valid)
        mean = self.mean if self._params["center"] else 0.0
        # ** 0.5 rather than math.sqrt: the statistics are floats on the host, 0-d tensors on a device.
        return xp.where(t.valid, (x - mean) / (self.var + self._params["epsilon"]) ** 0.5, xp.zeros_like(x))

    def _update(self, x: Any, valid: Any) -> None:
        # Chan et al.'s parallel merge of (mean, var, count); from count 0 it gives the batch's own
        # statistics (the prior var of 1 is weighted by 0). The batch statistics are taken over real
        # steps only: by boolean selection on the host, by masked sums on a device (no host copy).
        if isinstance(x, np.ndarray):
            batch = x[np.asarray(valid, dtype=bool)].astype(np.float64, copy=False)
            n: Any = batch.size
            if n == 0:
                return
            b_mean, b_var = float(batch.mean()), float(batch.var())
            total = self.count + n
        else:
            xp = namespace(x)
            w = xp.astype(valid, x.dtype)
            n = xp.sum(w)
            b_mean = xp.sum(x * w) / xp.clip(n, 1.0, None)
            b_var = xp.sum((x - b_mean) ** 2 * w) / xp.clip(n, 1.0, None)
            total = xp.clip(self.count + n, 1.0, None)  # an empty first batch leaves the prior (n = 0 below)
        delta = b_mean - self.mean
        m2 = self.var * self.count + b_var * n + delta * delta * self.count * n / total
        var = m2 / total
        if not isinstance(x, np.ndarray):  # an empty batch keeps the old variance (the host path returned early)
            var = namespace(x).where(n > 0, var, self.var + 0.0 * var)
        self.mean, self.var, self.count = self.mean + delta * n / total, var, self.count + n

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "mean": self.mean, "var": self.var, "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        super().load_state_dict(state)
        self.mean, self.var, self.count = state["mean"], state["var"], state["count"]
