"""Teachers: who says which of two trajectory segments is better.

A teacher labels pairs of :class:`Segment` s with ``P(a > b)`` (1, 0, or 0.5 for a tie), or skips a
pair (NaN). Scripted teachers stand in for people, so that a study knows the truth:

* :class:`ScriptedTeacher` scores each segment on the task reward (``model="partial_return"``), on
  the optimal advantage of the task reward (``model="regret"``; the segments must carry it), or on a
  weighted sum of named factors (``on=[...]``), then decides by the larger score, optionally
  sampled from the Bradley-Terry probability (``temperature``), with mistakes (``noise``) and a
  "skip when equal" rule;
* :class:`HierarchicalTeacher` is HERON's rule (Bukharin et al.): walk factors in order of
  importance, the first factor whose difference is large enough decides, else skip;
* :class:`RecordedComparisons` is a file of comparisons made beforehand (by people, or by any
  teacher via :func:`save_comparisons`): labelled segment pairs, no rollout needed.

Factors are named ``info`` keys (``"-energy"``: lower is better) or functions of the transition,
see :class:`Factor`. Function :func:`teacher_from_config` builds a teacher from a config value.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rewardlab.errors import ConfigError, InvalidParameter, did_you_mean
from rewardlab.shaping.bonuses._backend import RunningMoments
from rewardlab.shaping.info import info_column
from rewardlab.shaping.preferences.model import PREFERENCE_MODELS, preference_probability
from rewardlab.shaping.terms import callable_to_ref, ref_to_callable

__all__ = [
    "Segment",
    "Factor",
    "ScriptedTeacher",
    "HierarchicalTeacher",
    "RecordedComparisons",
    "save_comparisons",
    "teacher_from_config",
    "TEACHER_TYPES",
]


@dataclass
class Segment:
    """A piece of one episode: ``L`` consecutive real steps.

    ``features`` are the reward model's inputs ``(L, D)``; ``reward`` the task reward ``(L,)``;
    ``factors`` each named factor's value per step ``(L,)`` (already signed, higher is better);
    ``advantage`` the optimal advantage ``A*(s_t, a_t)`` of the task reward ``(L,)``, where known.
    """

    features: np.ndarray
    reward: np.ndarray
    factors: dict[str, np.ndarray] = field(default_factory=dict)
    advantage: np.ndarray | None = None

    def __len__(self) -> int:
        return int(self.reward.shape[0])


class Factor:
    """One named factor of a segment, read per step from the transition.

    Args:
        spec: an ``info`` key (``"is_success"``), the same key with a leading ``-`` when lower is
            better (``"-energy"``), a function ``f(transition) -> (N,)`` (higher is better), or its
            ``'module:name'`` string prefixed ``fn:`` in configs (``"fn:mypkg.rewards:speed"``).

    Example:
        >>> import numpy as np
        >>> from rewardlab.shaping import Transition
        >>> t = Transition(None, None, None, np.zeros(2), np.zeros(2, bool), np.zeros(2, bool), np.ones(2, bool), {"energy": np.array([1.0, 3.0])})
        >>> f = Factor("-energy")
        >>> f.name, f.values(t).tolist()
        ('energy', [-1.0, -3.0])
    """

    def __init__(self, spec: str | Callable[[Any], Any]):
        self.spec = spec
        self.fn: Callable[[Any], Any] | None = None
        self.key: str | None = None
        self.sign = 1.0
        if callable(spec):
            self.fn, self.name = spec, getattr(spec, "__name__", "factor")
        elif isinstance(spec, str) and spec.startswith("fn:"):
            self.fn = ref_to_callable(spec[3:], "factor")
            self.name = getattr(self.fn, "__name__", spec[3:])
        elif isinstance(spec, str) and spec.lstrip("-"):
            self.sign = -1.0 if spec.startswith("-") else 1.0
            self.key = self.name = spec.lstrip("-")
        else:
            raise InvalidParameter(f"A factor must be an info key (e.g. 'is_success', '-energy') or a function of the transition. Received {spec!r}")

    def to_config(self) -> str:
        return f"fn:{callable_to_ref(self.spec)}" if callable(self.spec) else str(self.spec)

    def present(self, t: Any) -> bool:
        """Whether the transition's info carries this factor's key (functions always do)."""
        if self.key is None:
            return True
        info = t.info
        if isinstance(info, Mapping):
            return self.key in info
        return isinstance(info, Sequence) and any(isinstance(d, Mapping) and self.key in d for d in info)

    def values(self, t: Any) -> np.ndarray:
        """The factor for each sub-env ``(N,)`` float64, signed so that higher is better (0 where an info key is absent)."""
        from rewardlab._array import host

        n = int(t.reward.shape[0])
        if self.fn is not None:
            raw = host(self.fn(t)).astype(np.float64).reshape(-1)
            if raw.shape != (n,):
                raise InvalidParameter(f"Factor `{self.name}` returned shape {raw.shape}; expected ({n},), one value per sub-env")
        else:
            raw = info_column(t.info, self.key, n)
        return self.sign * raw


class ScriptedTeacher:
    """A scripted teacher: prefers the segment with the larger score.

    The score is the summed task reward (``model="partial_return"``), the summed optimal advantage
    of the task reward (``model="regret"``: minus the regret), or, with ``on=[names]``, the summed
    weighted factors. Ties (``|d| <= tie``) are skipped with ``skip_equal`` (B-Pref's "skip" rule),
    else labelled 0.5. With ``temperature > 0`` the label is drawn from the Bradley-Terry probability
    ``logistic(d / temperature)`` (Knox et al.'s stochastic synthetic preferences); ``noise`` then
    flips each label with that probability (B-Pref's "mistake").

    Args:
        model: ``"partial_return"`` or ``"regret"``.
        on: None (the task reward), or a list of factor names the term records (``factors=``).
        weights: one weight per name of `on` (default all 1).
        temperature, noise, skip_equal, tie: see above.

    Example:
        >>> import numpy as np
        >>> seg = lambda r: Segment(np.zeros((len(r), 1)), np.array(r, float))
        >>> ScriptedTeacher().label([seg([1.0, 0.0]), seg([0.0])], [seg([0.5]), seg([0.0, 0.0])], np.random.default_rng(0)).tolist()
        [1.0, nan]
    """

    def __init__(self, model: str = "partial_return", on: Sequence[str] | None = None, weights: Sequence[float] | None = None,
                 temperature: float = 0.0, noise: float = 0.0, skip_equal: bool = True, tie: float = 1e-9):
        if model not in PREFERENCE_MODELS:
            raise InvalidParameter(f"`model` must be one of {PREFERENCE_MODELS}. Received {model!r}")
        if on is not None and (isinstance(on, str) or not on or not all(isinstance(k, str) for k in on)):
            raise InvalidParameter(f"`on` must be None (the task reward) or a non-empty list of factor names. Received {on!r}")
        if on is not None and model == "regret":
            raise InvalidParameter("`on` (factors) needs model='partial_return': the regret model scores the task reward's optimal advantage")
        if weights is not None and (on is None or len(weights) != len(on)):
            raise InvalidParameter(f"`weights` needs one number per name of `on` ({on!r}). Received {weights!r}")
        for what, value, upper in (("temperature", temperature, math.inf), ("noise", noise, 0.5), ("tie", tie, math.inf)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0.0 <= value <= upper:
                raise InvalidParameter(f"`{what}` must be a number in [0, {upper}]. Received {value!r}")
        self.model, self.on = model, None if on is None else list(on)
        self.weights = None if weights is None else [float(w) for w in weights]
        self.temperature, self.noise, self.skip_equal, self.tie = float(temperature), float(noise), bool(skip_equal), float(tie)

    @property
    def factor_names(self) -> list[str]:
        return list(self.on or [])

    @property
    def needs_advantage(self) -> bool:
        return self.model == "regret"

    def score(self, seg: Segment) -> float:
        """The segment's score: summed reward, summed optimal advantage, or summed weighted factors."""
        if self.on is not None:
            missing = [k for k in self.on if k not in seg.factors]
            if missing:
                raise InvalidParameter(f"The teacher scores factors {missing} that the segments do not carry (they have {sorted(seg.factors)})")
            weights = self.weights or [1.0] * len(self.on)
            return float(sum(w * np.sum(seg.factors[k]) for k, w in zip(self.on, weights)))
        if self.model == "regret":
            if seg.advantage is None:
                raise InvalidParameter("The regret teacher needs the optimal advantage of each step; give the term an `advantage` function")
            return float(np.sum(seg.advantage))
        return float(np.sum(seg.reward))

    def observe(self, segments: Sequence[Segment]) -> None:
        """Scripted scores need no statistics."""

    def label(self, a: Sequence[Segment], b: Sequence[Segment], rng: np.random.Generator) -> np.ndarray:
        """``P(a_i > b_i)`` labels ``(P,)``: 1, 0, 0.5 for a tie kept, NaN for a skipped pair."""
        d = np.array([self.score(x) - self.score(y) for x, y in zip(a, b)], dtype=np.float64)
        tie = np.abs(d) <= self.tie
        if self.temperature > 0:
            out = (rng.random(d.shape) < preference_probability(d, 0.0, self.temperature)).astype(np.float64)
        else:
            out = (d > 0).astype(np.float64)
        flip = rng.random(d.shape) < self.noise
        out = np.where(flip, 1.0 - out, out)
        return np.where(tie, np.nan if self.skip_equal else 0.5, out)

    def to_config(self) -> dict[str, Any]:
        cfg: dict[str, Any] = {"type": "scripted", "model": self.model}
        if self.on is not None:
            cfg["on"] = list(self.on)
        if self.weights is not None:
            cfg["weights"] = list(self.weights)
        for key, default in (("temperature", 0.0), ("noise", 0.0), ("skip_equal", True), ("tie", 1e-9)):
            if getattr(self, key) != default:
                cfg[key] = getattr(self, key)
        return cfg


class HierarchicalTeacher:
    """HERON's hierarchical comparison (Bukharin et al.; official ``rm_mountain.py``).

    For segments ``i`` and ``j`` and factors ranked ``k1 > k2 > ...`` (each summed over the segment):
    at level 1 a strictly larger ``f_k1`` wins, with no margin; at each later level ``i`` wins if
    ``f_k(i) > f_k(j) + sigma_mult * std_k`` (and ``j`` symmetrically), ``std_k`` being the running
    spread of that factor's segment sums over every segment observed; if no level decides, the pair
    is skipped.

    Example:
        >>> import numpy as np
        >>> seg = lambda s, e: Segment(np.zeros((1, 1)), np.zeros(1), {"is_success": np.array([s]), "energy": np.array([e])})
        >>> teacher = HierarchicalTeacher(["is_success", "energy"])
        >>> teacher.observe([seg(0, 0.0), seg(0, 2.0)])          # energy sums 0 and 2: spread 1
        >>> teacher.label([seg(1, -5.0), seg(0, 3.0), seg(0, 1.5)], [seg(0, 0.0), seg(0, 1.0), seg(0, 1.0)], np.random.default_rng(0)).tolist()
        [1.0, 1.0, nan]
    """

    def __init__(self, factors: Sequence[str], sigma_mult: float = 1.0):
        if isinstance(factors, str) or not factors or not all(isinstance(k, str) for k in factors):
            raise InvalidParameter(f"`factors` must be a non-empty list of factor names in order of importance. Received {factors!r}")
        if isinstance(sigma_mult, bool) or not isinstance(sigma_mult, (int, float)) or not 0.0 <= sigma_mult < math.inf:
            raise InvalidParameter(f"`sigma_mult` must be a non-negative number. Received {sigma_mult!r}")
        self.factors, self.sigma_mult = list(factors), float(sigma_mult)
        self.spread = {k: RunningMoments(count=0.0) for k in self.factors}

    factor_names = property(lambda self: list(self.factors))
    needs_advantage = False

    def observe(self, segments: Sequence[Segment]) -> None:
        """Update each factor's running spread with the segment sums."""
        if segments:
            for k in self.factors:
                self.spread[k].update(np.array([np.sum(s.factors[k]) for s in segments]))

    def std(self, name: str) -> float:
        return math.sqrt(max(float(self.spread[name].var), 0.0)) if self.spread[name].count > 0 else 0.0

    def label(self, a: Sequence[Segment], b: Sequence[Segment], rng: np.random.Generator) -> np.ndarray:
        out = np.full(len(a), np.nan)
        for level, k in enumerate(self.factors):
            fa = np.array([np.sum(s.factors[k]) for s in a])
            fb = np.array([np.sum(s.factors[k]) for s in b])
            margin = 0.0 if level == 0 else self.sigma_mult * self.std(k)
            open_ = np.isnan(out)
            out[open_ & (fa > fb + margin)] = 1.0
            out[open_ & (fb > fa + margin)] = 0.0
        return out

    def state_dict(self) -> dict[str, Any]:
        return {k: m.state_dict() for k, m in self.spread.items()}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        for k, m in self.spread.items():
            m.load_state_dict(dict(state[k]))

    def to_config(self) -> dict[str, Any]:
        return {"type": "hierarchical", "factors": list(self.factors), "sigma_mult": self.sigma_mult}


#: Arrays of a comparisons file (``.npz``): segment pairs padded to a common length, and the labels.
COMPARISON_KEYS = ("features_a", "features_b", "mask_a", "mask_b", "prefer")


class RecordedComparisons:
    """Comparisons recorded beforehand, read from an ``.npz`` file (see :func:`save_comparisons`).

    The file holds ``features_a``/``features_b`` ``(P, L, D)`` (the reward model's inputs, steps
    past a segment's end zero), ``mask_a``/``mask_b`` ``(P, L)`` (True on real steps) and
    ``prefer`` ``(P,)``, the recorded ``P(a > b)``. The term trains on all of them at each update.

    Example:
        >>> import numpy as np, tempfile, os
        >>> seg = lambda r: Segment(np.array(r, float)[:, None], np.array(r, float))
        >>> path = os.path.join(tempfile.mkdtemp(), "prefs.npz")
        >>> save_comparisons(path, [seg([1.0, 2.0])], [seg([0.0])], [1.0])
        >>> data = RecordedComparisons(path)
        >>> data.features_a.shape, data.mask_b.tolist(), data.prefer.tolist()
        ((1, 2, 1), [[True, False]], [1.0])
    """

    factor_names: list[str] = []
    needs_advantage = False

    def __init__(self, path: str | Path):
        self.path = str(path)
        try:
            with np.load(self.path) as data:
                missing = [k for k in COMPARISON_KEYS if k not in data]
                if missing:
                    raise ConfigError(f"Comparisons file `{self.path}` lacks the arrays {missing} (it has {sorted(data)})")
                arrays = {k: np.asarray(data[k]) for k in COMPARISON_KEYS}
        except OSError as e:
            raise ConfigError(f"Cannot read the comparisons file `{self.path}`: {e}") from e
        self.features_a = arrays["features_a"].astype(np.float32)
        self.features_b = arrays["features_b"].astype(np.float32)
        self.mask_a, self.mask_b = arrays["mask_a"].astype(bool), arrays["mask_b"].astype(bool)
        self.prefer = arrays["prefer"].astype(np.float64)
        p = self.prefer.shape[0]
        if self.features_a.ndim != 3 or self.features_a.shape != self.features_b.shape or self.mask_a.shape != self.features_a.shape[:2] \
                or self.mask_b.shape != self.mask_a.shape or self.prefer.shape != (p,) or self.features_a.shape[0] != p:
            raise ConfigError(f"Comparisons file `{self.path}`: shapes do not match (features (P, L, D) twice, masks (P, L), prefer (P,))")
        if not np.all((self.prefer >= 0) & (self.prefer <= 1)):
            raise ConfigError(f"Comparisons file `{self.path}`: `prefer` must hold probabilities in [0, 1]")

    def observe(self, segments: Sequence[Segment]) -> None:
        """Recorded labels do not depend on the rollouts."""

    def label(self, a: Sequence[Segment], b: Sequence[Segment], rng: np.random.Generator) -> np.ndarray:
        return np.full(len(a), np.nan)  # no new labels: the recorded pairs are all there is

    def to_config(self) -> dict[str, Any]:
        return {"type": "file", "path": self.path}


def pad(segments: Sequence[Segment]) -> tuple[np.ndarray, np.ndarray]:
    """Segments' features padded to one length: ``(P, L, D)`` float32 and the ``(P, L)`` mask of real steps."""
    length = max(len(s) for s in segments)
    dim = segments[0].features.shape[1]
    feats = np.zeros((len(segments), length, dim), dtype=np.float32)
    mask = np.zeros((len(segments), length), dtype=bool)
    for i, s in enumerate(segments):
        feats[i, : len(s)] = s.features
        mask[i, : len(s)] = True
    return feats, mask


def save_comparisons(path: str | Path, a: Sequence[Segment], b: Sequence[Segment], prefer: Sequence[float]) -> None:
    """Write labelled segment pairs to an ``.npz`` file that :class:`RecordedComparisons` reads."""
    if not len(a) == len(b) == len(prefer) or not len(a):
        raise InvalidParameter(f"`a`, `b` and `prefer` need the same non-zero length. Received {len(a)}, {len(b)}, {len(prefer)}")
    fa, ma = pad(a)
    fb, mb = pad(b)
    length = max(fa.shape[1], fb.shape[1])
    grow = lambda x: np.pad(x, [(0, 0), (0, length - x.shape[1])] + [(0, 0)] * (x.ndim - 2))  # noqa: E731
    np.savez(path, features_a=grow(fa), features_b=grow(fb), mask_a=grow(ma), mask_b=grow(mb), prefer=np.asarray(prefer, np.float64))


TEACHER_TYPES = {"scripted": ScriptedTeacher, "hierarchical": HierarchicalTeacher, "file": RecordedComparisons}

Teacher = ScriptedTeacher | HierarchicalTeacher | RecordedComparisons


def teacher_from_config(cfg: Any) -> Teacher:
    """A teacher from a config value: a teacher object, a model name (``"regret"``), or a dict.

    Dicts have ``type`` ``"scripted"`` (keys of :class:`ScriptedTeacher`), ``"hierarchical"``
    (``factors``, ``sigma_mult``) or ``"file"`` (``path``); unknown keys raise ConfigError.

    Example:
        >>> teacher_from_config({"type": "scripted", "model": "regret", "noise": 0.1}).to_config()
        {'type': 'scripted', 'model': 'regret', 'noise': 0.1}
    """
    import inspect

    if isinstance(cfg, (ScriptedTeacher, HierarchicalTeacher, RecordedComparisons)):
        return cfg
    if isinstance(cfg, str):
        if cfg not in PREFERENCE_MODELS:
            raise ConfigError(f"Unknown teacher `{cfg}`: a string teacher is a preference model, one of {PREFERENCE_MODELS}.{did_you_mean(cfg, PREFERENCE_MODELS)}")
        return ScriptedTeacher(model=cfg)
    if not isinstance(cfg, Mapping) or "type" not in cfg:
        raise ConfigError(f"`teacher` must be a preference model name or a dict with a `type` (one of {sorted(TEACHER_TYPES)}). Received {cfg!r}")
    kind = cfg["type"]
    if kind not in TEACHER_TYPES:
        raise ConfigError(f"Unknown teacher type `{kind}` (one of {sorted(TEACHER_TYPES)}).{did_you_mean(str(kind), TEACHER_TYPES)}")
    cls = TEACHER_TYPES[kind]
    allowed = [p for p in inspect.signature(cls.__init__).parameters if p != "self"]
    kwargs = {k: v for k, v in cfg.items() if k != "type"}
    for key in kwargs:
        if key not in allowed:
            raise ConfigError(f"Unknown key `{key}` for a `{kind}` teacher (allowed: {allowed}).{did_you_mean(key, allowed)}")
    try:
        return cls(**kwargs)
    except TypeError as e:
        raise ConfigError(f"Bad arguments for a `{kind}` teacher: {e}") from e
