"""Combinations and transforms of reward terms proposed by the seed papers.

* :class:`KRC`: Lucy-SKG's kinesthetic reward combination, a signed geometric mean (a soft AND).
* :class:`LogSigmoid`: ``log sigmoid(r - reference)`` (Wang et al., "Transforming and Combining
  Rewards"); a sum of such terms is the log-probability that every property is good.
* :class:`PAR`: the mean over references of ``sigmoid(r - r_ref)`` (Fu et al., "Reward Shaping to
  Mitigate Reward Hacking in RLHF"); bounded in (0, 1) and centred at 0.5.
* :class:`MultiplicativePenalty`: ``progress * prod(penalties)``, each penalty in [0, 1] (CaRL).

References (of :class:`LogSigmoid` and :class:`PAR`) are a number, or a running statistic of the
term's own past values, ``{"quantile": q, "window": n}`` (see :class:`RunningQuantile`).

Every formula here is written once, in arithmetic that works on Python floats (the single-env
path), numpy arrays (the batched path) and torch tensors on any device (the on-device trainer)
alike; running-quantile references keep their window on the host and refuse tensors
(:class:`~rewardlab.errors.DeviceUnsupported`).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from types import SimpleNamespace
from typing import Any

import numpy as np

from rewardlab._array import is_host, namespace, require_host
from rewardlab.errors import InvalidParameter, did_you_mean
from rewardlab.shaping.terms import SingleTransition, Term, Transition, _check_terms, evaluate, register_term, where

__all__ = ["KRC", "LogSigmoid", "PAR", "MultiplicativePenalty", "RunningQuantile"]

# The few element-wise functions the formulas need, on a Python float: math's (no numpy scalar built).
_FLOAT_OPS = SimpleNamespace(minimum=min, log1p=math.log1p, exp=math.exp, tanh=math.tanh)


def _ops(x: Any) -> Any:
    return _FLOAT_OPS if isinstance(x, (float, int)) else namespace(x)


def log_sigmoid(x: Any) -> Any:
    """``log sigmoid(x) = min(x, 0) - log1p(exp(-|x|))``: no overflow for any finite x.

    Example:
        >>> round(log_sigmoid(0.0), 6), round(log_sigmoid(-800.0), 1), log_sigmoid(np.array([800.0]))
        (-0.693147, -800.0, array([-0.]))
    """
    xp = _ops(x)
    return xp.minimum(x, 0.0) - xp.log1p(xp.exp(-abs(x)))


def sigmoid(x: Any) -> Any:
    """``sigmoid(x) = (1 + tanh(x / 2)) / 2``: no overflow for any finite x.

    Example:
        >>> sigmoid(0.0), sigmoid(np.array([-1000.0, 1000.0]))
        (0.5, array([0., 1.]))
    """
    return 0.5 + 0.5 * _ops(x).tanh(0.5 * x)


def _all(ok: Any) -> bool:
    return bool(ok) if isinstance(ok, (bool, np.bool_)) else bool(ok.all())


class RunningQuantile:
    """The ``q``-quantile of a term's last ``window`` values (numpy's linear interpolation).

    :meth:`value` is read before the current step's values are pushed (a reward is compared with
    the past, not with itself); before any value has been seen, the reference is the current value
    itself (the transform's centre: ``LogSigmoid`` gives log 0.5, ``PAR`` gives 0.5). Values of all
    sub-envs are pooled, in row order; dummy (invalid) steps are never pushed. Each step costs
    O(window).

    Example:
        >>> ref = RunningQuantile(q=0.5, window=3)
        >>> for r in [1.0, 2.0, 3.0, 10.0]:
        ...     ref.push(r, True)
        >>> ref.value(0.0)  # the median of the last 3 values, (2, 3, 10)
        3.0
    """

    def __init__(self, q: float, window: int):
        self.q, self.window = q, window
        self._buffer = np.zeros(window, dtype=np.float64)
        self._count = 0  # values seen so far (the buffer holds the last min(count, window))

    def value(self, current: Any) -> Any:
        if self._count == 0:
            return current
        return float(np.quantile(self._buffer[: min(self._count, self.window)], self.q))

    def push(self, values: Any, valid: Any) -> None:
        if isinstance(values, (float, int)):
            if valid:
                self._buffer[self._count % self.window] = values
                self._count += 1
            return
        new = np.asarray(values if isinstance(values, np.ndarray) else namespace(values).asarray(values), dtype=np.float64)
        new = new[np.asarray(valid, dtype=bool)]
        if new.shape[0] > self.window:  # only the last `window` can stay
            self._count += new.shape[0] - self.window
            new = new[-self.window :]
        self._buffer[(self._count + np.arange(new.shape[0])) % self.window] = new
        self._count += new.shape[0]

    def state_dict(self) -> dict[str, Any]:
        return {"buffer": self._buffer.copy(), "count": self._count}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self._buffer = np.array(state["buffer"], dtype=np.float64)
        self._count = int(state["count"])


class _Fixed:
    """A constant reference."""

    def __init__(self, value: float):
        self._value = value

    def value(self, current: Any) -> float:
        return self._value

    def push(self, values: Any, valid: Any) -> None:
        pass

    def state_dict(self) -> dict[str, Any]:
        return {}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        pass


_REFERENCE_KEYS = ("quantile", "window")


def _reference(spec: Any, where_: str) -> RunningQuantile | _Fixed:
    """A reference from its config: a finite number or ``{"quantile": q, "window": n}``."""
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        # a NaN or inf reference turns every reward into NaN or a constant
        if not math.isfinite(spec):
            raise InvalidParameter(f"`{where_}` must be a finite number or {{'quantile': q, 'window': n}}. Received {spec!r}")
        return _Fixed(float(spec))
    if not isinstance(spec, Mapping):
        raise InvalidParameter(f"`{where_}` must be a finite number or {{'quantile': q, 'window': n}}. Received {spec!r}")
    for key in spec:
        if key not in _REFERENCE_KEYS:
            raise InvalidParameter(f"Unknown key `{key}` in `{where_}` (allowed: {list(_REFERENCE_KEYS)}).{did_you_mean(str(key), _REFERENCE_KEYS)}")
    q, window = spec.get("quantile"), spec.get("window")
    # A quantile outside [0, 1] or an empty window has no meaning.
    if isinstance(q, bool) or not isinstance(q, (int, float)) or not 0.0 <= q <= 1.0:
        raise InvalidParameter(f"`{where_}.quantile` must be a number in [0, 1]. Received {q!r}")
    if isinstance(window, bool) or not isinstance(window, int) or window < 1:
        raise InvalidParameter(f"`{where_}.window` must be a positive integer. Received {window!r}")
    return RunningQuantile(float(q), window)


class _Referenced(Term):
    """A transform of one term against references; keeps the references' running state."""

    child_params = ("term",)
    scalar_formula = True
    _references: list[RunningQuantile | _Fixed]

    def _compare(self, t: Transition | SingleTransition) -> Any:
        r = evaluate(self._params["term"], t)
        if self._running and not is_host(r):
            require_host(r, f"{type(self).__name__} `{self.name}`", "a running-quantile reference keeps its window on the host (np.quantile)")
        refs = [ref.value(r) for ref in self._references]
        value = self.formula(r, refs)
        for ref in self._references:  # after computing: a reward is compared with the past only
            ref.push(r, t.valid)
        # 0 on dummy steps, like every term (the transform of a 0 is not 0).
        return where(t.valid, value, 0.0, like=t.reward)

    def formula(self, r: Any, refs: list[Any]) -> Any:
        raise NotImplementedError

    @property
    def _running(self) -> bool:
        return any(isinstance(ref, RunningQuantile) for ref in self._references)

    def __call__(self, t: Transition) -> Any:
        return self._compare(t)

    def state_dict(self) -> dict[str, Any]:
        return {**super().state_dict(), "references": [ref.state_dict() for ref in self._references]}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state)
        for ref, s in zip(self._references, state["references"], strict=True):
            ref.load_state_dict(s)


@register_term
class LogSigmoid(_Referenced):
    """``log sigmoid(r - reference)`` (Wang et al., "Transforming and Combining Rewards").

    Non-positive, near 0 once ``r`` is well above the reference and about ``r - reference`` well
    below it; a sum of such terms is the log-probability that every property is good.

    Args:
        term: the reward term transformed.
        reference: a finite number, or ``{"quantile": q, "window": n}``: the q-quantile of the
            term's own last n values (all sub-envs pooled), read before the step's values are added;
            before any value it is the current value (so the first step pays log 0.5).

    Example:
        >>> import numpy as np
        >>> from rewardlab.shaping import EnvReward
        >>> t = Transition(None, None, None, np.array([1.0, -1.0]), np.zeros(2, bool), np.zeros(2, bool), np.ones(2, bool))
        >>> LogSigmoid(EnvReward(), reference=1.0)(t).round(4)  # log(1/2), log(1/(1+e^2))
        array([-0.6931, -2.1269])
    """

    def __init__(self, term: Term, reference: float | Mapping[str, Any], name: str | None = None):
        term = _check_terms([term], "LogSigmoid.term")[0]
        self._references = [_reference(reference, "LogSigmoid.reference")]
        super().__init__(name, term=term, reference=reference)

    def default_name(self) -> str:
        return f"logsigmoid({self._params['term'].name})"

    def formula(self, r: Any, refs: list[Any]) -> Any:
        return log_sigmoid(r - refs[0])


@register_term
class PAR(_Referenced):
    """The mean over references of ``sigmoid(r - r_ref)`` (Fu et al., "Reward Shaping to Mitigate
    Reward Hacking in RLHF"): bounded in (0, 1), 0.5 at the references, flat far above them.

    Args:
        term: the reward term transformed.
        references: a non-empty list; each a finite number or ``{"quantile": q, "window": n}``
            (see :class:`LogSigmoid`'s ``reference``).

    Example:
        >>> import numpy as np
        >>> from rewardlab.shaping import EnvReward
        >>> t = Transition(None, None, None, np.array([1.0]), np.zeros(1, bool), np.zeros(1, bool), np.ones(1, bool))
        >>> PAR(EnvReward(), references=[1.0, 0.0])(t).round(4)  # (sigmoid(0) + sigmoid(1)) / 2
        array([0.6155])
    """

    def __init__(self, term: Term, references: list[float | Mapping[str, Any]], name: str | None = None):
        term = _check_terms([term], "PAR.term")[0]
        if not isinstance(references, (list, tuple)) or not references:
            raise InvalidParameter(f"`PAR.references` must be a non-empty list of references. Received {references!r}")
        self._references = [_reference(r, f"PAR.references[{i}]") for i, r in enumerate(references)]
        super().__init__(name, term=term, references=list(references))

    def default_name(self) -> str:
        return f"par({self._params['term'].name})"

    def formula(self, r: Any, refs: list[Any]) -> Any:
        total = sigmoid(r - refs[0])
        for ref in refs[1:]:
            total = total + sigmoid(r - ref)
        return total / len(refs)


@register_term
class KRC(Term):
    """Kinesthetic reward combination (Lucy-SKG, Moschopoulos et al. 2023): ``sgn(P) * |P|^(1/N)``
    with ``P`` the product of the N terms, a signed geometric mean: high only when every component
    is, and scale-free. Components are meant to be shaped into [-1, 1] first.

    Example:
        >>> import numpy as np
        >>> from rewardlab.shaping import Constant, EnvReward
        >>> t = Transition(None, None, None, np.array([0.25, -0.25]), np.zeros(2, bool), np.zeros(2, bool), np.ones(2, bool))
        >>> KRC([EnvReward(), Constant(0.64)])(t)  # sqrt(0.25 * 0.64) = 0.4, with the product's sign
        array([ 0.4, -0.4])
    """

    child_params = ("terms",)
    scalar_formula = True

    def __init__(self, terms: list[Term], name: str | None = None):
        super().__init__(name, terms=_check_terms(terms, "KRC.terms"))
        self._inverse_n = 1.0 / len(self._params["terms"])

    def default_name(self) -> str:
        return f"krc({','.join(c.name for c in self._params['terms'])})"

    def __call__(self, t: Transition) -> Any:
        children = iter(self._params["terms"])
        product = evaluate(next(children), t)
        for child in children:
            product = product * evaluate(child, t)
        magnitude = abs(product) ** self._inverse_n
        return where(product < 0, -magnitude, magnitude)


@register_term
class MultiplicativePenalty(Term):
    """``progress * prod(penalties)``, each penalty a factor in [0, 1] (CaRL's simple reward: route
    completion reduced multiplicatively by infractions). A penalty outside [0, 1] (or NaN) is an error:
    it would reward infractions or flip the progress's sign.

    Raises:
        InvalidParameter: on a step where a penalty's value is outside [0, 1], naming it and the value.

    Example:
        >>> import numpy as np
        >>> from rewardlab.shaping import Constant, EnvReward
        >>> t = Transition(None, None, None, np.array([2.0]), np.zeros(1, bool), np.zeros(1, bool), np.ones(1, bool))
        >>> MultiplicativePenalty(EnvReward(), [Constant(0.5), Constant(0.8)])(t)  # 2 * 0.5 * 0.8
        array([0.8])
    """

    child_params = ("progress", "penalties")
    scalar_formula = True

    def __init__(self, progress: Term, penalties: list[Term], name: str | None = None):
        progress = _check_terms([progress], "MultiplicativePenalty.progress")[0]
        super().__init__(name, progress=progress, penalties=_check_terms(penalties, "MultiplicativePenalty.penalties"))

    def default_name(self) -> str:
        return f"penalized({self._params['progress'].name})"

    def __call__(self, t: Transition) -> Any:
        out = evaluate(self._params["progress"], t)
        for penalty in self._params["penalties"]:
            factor = evaluate(penalty, t)
            if not _all((factor >= 0.0) & (factor <= 1.0)):
                raise InvalidParameter(
                    f"MultiplicativePenalty `{self.name}`: penalty `{penalty.name}` returned {factor}, outside [0, 1]; "
                    "a penalty is a factor that scales progress down (1 = no infraction)"
                )
            out = out * factor
        return out
