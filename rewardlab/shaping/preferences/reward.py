"""``PreferenceReward``: a reward model learned from comparisons of trajectory segments.

The term records every real step it scores; at each :meth:`~PreferenceReward.update` (the learned-
term hook that TorchPPO and SB3's ``LearnedTermsCallback`` call once per rollout) it cuts the
recorded episodes into segments, asks its teacher to compare random pairs of them, and trains the
reward model ``r_psi`` on every comparison so far with the Bradley-Terry loss under the
partial-return model, ``P(a > b) = logistic(sum r_psi(a) - sum r_psi(b))`` (Christiano et al.'s
recipe). ``__call__`` only predicts. The regret model as a *loss* needs the optimal advantage of
the reward being fitted, which only a tabular MDP gives exactly: see
:func:`rewardlab.shaping.preferences.tabular.fit_reward_table`.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from rewardlab._array import host
from rewardlab.errors import InvalidParameter
from rewardlab.shaping.bonuses._backend import like
from rewardlab.shaping.bonuses.features import flatten
from rewardlab.shaping.preferences.teachers import (
    Factor,
    HierarchicalTeacher,
    RecordedComparisons,
    Segment,
    pad,
    teacher_from_config,
)
from rewardlab.shaping.terms import Term, Transition, ref_to_callable, register_term

__all__ = ["PreferenceReward"]

INPUTS = ("obs", "action", "next_obs")


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidParameter(f"`{what}` must be a positive integer. Received {value!r}")
    return value


@register_term
class PreferenceReward(Term):
    """A reward ``r_psi(s, a[, s'])`` learned by Bradley-Terry from a teacher's segment comparisons.

    Args:
        teacher: who compares: a preference model name (``"partial_return"``, ``"regret"``: a
            scripted teacher on the task reward), a dict (``{"type": "scripted", "model": ...,
            "on": [factor names], "noise": 0.1, "temperature": 1.0, "skip_equal": True}``,
            ``{"type": "hierarchical", "factors": [...], "sigma_mult": 1.0}``,
            ``{"type": "file", "path": "comparisons.npz"}``), or a teacher object (see
            :mod:`rewardlab.shaping.preferences.teachers`).
        factors: the factors to record per step (:class:`~rewardlab.shaping.preferences.teachers.Factor`
            specs: info keys, ``"-key"``, functions); default: the names the teacher asks for.
        advantage: for a regret teacher, ``f(obs, action) -> (N,)`` the optimal advantage of the
            task reward (on a tabular env: ``metrics.optimal_advantage`` looked up by state).
        inputs: what ``r_psi`` reads, concatenated in this order: a sub-list of ``["obs", "action",
            "next_obs"]`` (default: all three).
        num_actions: one-hot encode integer actions with this many classes (else actions are read as floats).
        segment_length: steps per segment (an episode's last segment may be shorter).
        pairs_per_update: new pairs the teacher is asked to compare at each update.
        hidden: width of the two hidden layers of ``r_psi``.
        lr, batch_size, steps_per_update: Adam's learning rate, pairs per minibatch, minibatches per update.
        capacity: segments kept for pairing (oldest dropped); comparisons are kept up to 20x this.
        normalize: pay ``r_psi / std`` with the std of ``r_psi`` over the kept segments' steps,
            refreshed at each update. HERON also subtracts the mean; that is left out on purpose:
            a shift per step changes which of two segments of different lengths has the larger
            sum (so the reward would no longer rank them as the teacher did), and in episodic
            tasks it acts as a living bonus or cost that changes the optimal policy.
        seed: seeds the network and the pair sampling.

    Example:
        >>> import numpy as np
        >>> from rewardlab.shaping import Transition
        >>> term = PreferenceReward("partial_return", segment_length=2, pairs_per_update=8, hidden=8, seed=0)
        >>> rng = np.random.default_rng(0)
        >>> for _ in range(8):   # reward = the first observation feature
        ...     obs = rng.normal(size=(2, 1))
        ...     _ = term(Transition(obs, np.zeros(2), obs, obs[:, 0], np.zeros(2, bool), np.zeros(2, bool), np.ones(2, bool)))
        >>> metrics = term.update()
        >>> term.version, metrics["segments"], metrics["preferences"]
        (1, 8.0, 8.0)
    """

    callable_params = ("advantage",)

    def __init__(
        self,
        teacher: Any = "partial_return",
        factors: Sequence[str | Callable[[Any], Any]] | None = None,
        advantage: Callable[[Any, Any], Any] | str | None = None,
        inputs: Sequence[str] | None = None,
        num_actions: int | None = None,
        segment_length: int = 25,
        pairs_per_update: int = 64,
        hidden: int = 64,
        lr: float = 1e-3,
        batch_size: int = 64,
        steps_per_update: int = 32,
        capacity: int = 1024,
        normalize: bool = True,
        seed: int = 0,
        name: str | None = None,
    ):
        self.teacher = teacher_from_config(teacher)
        given_inputs, inputs = inputs, INPUTS if inputs is None else inputs
        if isinstance(inputs, str) or not inputs or any(k not in INPUTS for k in inputs) or len(set(inputs)) != len(inputs):
            raise InvalidParameter(f"`inputs` must be a non-empty list of distinct names from {list(INPUTS)}. Received {inputs!r}")
        if num_actions is not None:
            _positive_int(num_actions, "num_actions")
        for what, value in (("segment_length", segment_length), ("pairs_per_update", pairs_per_update), ("hidden", hidden),
                            ("batch_size", batch_size), ("steps_per_update", steps_per_update)):
            _positive_int(value, what)
        if isinstance(capacity, bool) or not isinstance(capacity, int) or capacity < 2:
            raise InvalidParameter(f"`capacity` (segments kept) must be an integer >= 2. Received {capacity!r}")
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not 0 < lr < math.inf:
            raise InvalidParameter(f"`lr` must be a positive number. Received {lr!r}")
        specs = list(factors) if factors is not None else list(self.teacher.factor_names)
        self.factors = [Factor(f) for f in specs]
        names = [f.name for f in self.factors]
        missing = [k for k in self.teacher.factor_names if k not in names]
        if missing:
            raise InvalidParameter(f"The teacher compares factors {missing} that `factors` does not record (it records {names})")
        self._advantage = ref_to_callable(advantage, "PreferenceReward.advantage") if isinstance(advantage, str) else advantage
        if self._advantage is not None and not callable(self._advantage):
            raise InvalidParameter(f"`advantage` must be a function f(obs, action) -> (N,) or a 'module:name' string. Received {advantage!r}")
        if self.teacher.needs_advantage and self._advantage is None:
            raise InvalidParameter("A regret teacher needs `advantage`: a function f(obs, action) -> (N,) giving the optimal advantage of the task reward")
        teacher_param = teacher if isinstance(teacher, (str, Mapping)) else self.teacher.to_config()
        super().__init__(
            name, teacher=teacher_param, factors=None if factors is None else list(factors),
            advantage=advantage, inputs=None if given_inputs is None else list(given_inputs), num_actions=num_actions, segment_length=segment_length,
            pairs_per_update=pairs_per_update, hidden=hidden, lr=float(lr), batch_size=batch_size,
            steps_per_update=steps_per_update, capacity=capacity, normalize=bool(normalize), seed=seed,
        )  # fmt: skip
        self.inputs, self.num_actions, self.segment_length = list(inputs), num_actions, segment_length
        self.pairs_per_update, self.hidden, self.lr, self.batch_size = pairs_per_update, hidden, float(lr), batch_size
        self.steps_per_update, self.normalize, self.seed = steps_per_update, bool(normalize), seed
        self.rng = np.random.default_rng(seed)
        self.net: Any = None
        self.optimizer: Any = None
        self.std = 1.0
        self._version = 0
        self.segments: deque[Segment] = deque(maxlen=capacity)
        self.comparisons: deque[tuple[Segment, Segment, float]] = deque(maxlen=20 * capacity)
        self._streams: list[dict[str, list[Any]]] = []  # per sub-env: the steps of its open episode
        self._seen = {f.name: False for f in self.factors}

    def default_name(self) -> str:
        return "preference"

    def to_config(self) -> dict[str, Any]:
        cfg = super().to_config()
        if cfg.get("factors") is not None:  # functions as 'fn:module:name' strings (ConfigError for a lambda)
            cfg["factors"] = [Factor(f).to_config() if callable(f) else f for f in cfg["factors"]]
        return cfg

    @property
    def version(self) -> int:
        return self._version

    # --- features and prediction ---------------------------------------------------------------
    def features(self, t: Transition) -> np.ndarray:
        """The reward model's input for each sub-env, ``(N, D)`` float32."""
        parts = []
        for key in self.inputs:
            if key == "action":
                a = host(t.action)
                a = a.reshape(a.shape[0], -1) if a.ndim else a.reshape(1, 1)
                if self.num_actions is not None and a.dtype.kind in "iub":
                    a = np.eye(self.num_actions, dtype=np.float32)[a[:, 0].astype(np.int64)]
                parts.append(a.astype(np.float32))
            else:
                x = t.obs if key == "obs" else t.next_obs
                x = {k: host(v) for k, v in x.items()} if isinstance(x, Mapping) else host(x)
                parts.append(np.asarray(flatten(x), dtype=np.float32))
        return np.concatenate(parts, axis=1)

    def _build(self, dim: int) -> None:
        import torch

        from rewardlab.shaping.preferences.model import reward_network

        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.net = reward_network(dim, self.hidden)
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr=self.lr)

    def predict(self, features: np.ndarray) -> np.ndarray:
        """``r_psi`` of feature rows ``(..., D)``, divided by its std when ``normalize``, as float64 ``(...)``."""
        import torch

        if self.net is None:
            self._build(features.shape[-1])
        with torch.no_grad():
            raw = self.net(torch.as_tensor(features, dtype=torch.float32)).squeeze(-1).double().numpy()
        return raw / self.std

    def __call__(self, t: Transition) -> Any:
        feats = self.features(t)
        values = self.predict(feats)
        self._record(t, feats)
        valid = host(t.valid).astype(bool).reshape(-1)
        return like(np.where(valid, values, 0.0), t.reward)

    # --- recording -----------------------------------------------------------------------------
    def _record(self, t: Transition, feats: np.ndarray) -> None:
        n = feats.shape[0]
        if len(self._streams) != n:
            if self._streams and any(s["reward"] for s in self._streams):
                raise InvalidParameter(f"PreferenceReward saw {n} sub-envs after {len(self._streams)}; one term serves one batch of envs")
            self._streams = [self._empty() for _ in range(n)]
        valid = host(t.valid).astype(bool).reshape(-1)
        done = host(t.terminated).astype(bool).reshape(-1) | host(t.truncated).astype(bool).reshape(-1)
        reward = host(t.reward).astype(np.float64).reshape(-1)
        factors = {}
        for f in self.factors:
            self._seen[f.name] = self._seen[f.name] or f.present(t)
            factors[f.name] = f.values(t)
        adv = None if self._advantage is None else host(self._advantage(t.obs, t.action)).astype(np.float64).reshape(-1)
        for i in np.flatnonzero(valid):
            s = self._streams[i]
            s["features"].append(feats[i])
            s["reward"].append(reward[i])
            for k, v in factors.items():
                s["factors"][k].append(v[i])
            if adv is not None:
                s["advantage"].append(adv[i])
            if done[i]:
                self._close(i, final=True)

    def _empty(self) -> dict[str, Any]:
        return {"features": [], "reward": [], "factors": {f.name: [] for f in self.factors}, "advantage": [], "cut": []}

    def _close(self, i: int, final: bool) -> None:
        """Cut sub-env `i`'s open steps into segments (kept until the next update); keep a short remainder unless `final`."""
        s, length = self._streams[i], self.segment_length
        n = len(s["reward"])
        stop = n if final else n - n % length
        for begin in range(0, stop, length):
            end = min(begin + length, stop)
            s["cut"].append(Segment(
                np.stack(s["features"][begin:end]), np.asarray(s["reward"][begin:end]),
                {k: np.asarray(v[begin:end]) for k, v in s["factors"].items()},
                np.asarray(s["advantage"][begin:end]) if s["advantage"] else None))
        for key in ("features", "reward", "advantage"):
            del s[key][:stop]
        for v in s["factors"].values():
            del v[:stop]

    def reset(self, mask: Any, obs: Any) -> None:
        # A new episode: what was open in those sub-envs ended without a done flag (e.g. an early reset).
        for i in np.flatnonzero(host(mask).astype(bool).reshape(-1)):
            if i < len(self._streams):
                self._close(int(i), final=True)

    # --- training ------------------------------------------------------------------------------
    def update(self, rollout: Mapping[str, Any] | None = None) -> dict[str, float]:
        """Cut the recorded steps into segments, get new comparisons, train ``r_psi`` on all of them.

        ``rollout`` is ignored: the term trains on what it recorded while scoring (the hook's
        default), since segments need the episode order that a flat rollout batch has lost.
        """
        new: list[Segment] = []
        for i in range(len(self._streams)):
            self._close(i, final=False)
            new += self._streams[i]["cut"]
            self._streams[i]["cut"] = []
        unseen = [k for k, seen in self._seen.items() if not seen and new]
        if unseen:
            raise InvalidParameter(f"No recorded step had the info keys {unseen} that the factors name; check the env's info")
        self.segments.extend(new)
        self.teacher.observe(new)
        asked = 0
        if len(self.segments) >= 2 and not isinstance(self.teacher, RecordedComparisons):
            asked = self.pairs_per_update
            i = self.rng.integers(len(self.segments), size=asked)
            j = (i + self.rng.integers(1, len(self.segments), size=asked)) % len(self.segments)  # j != i
            a, b = [self.segments[k] for k in i], [self.segments[k] for k in j]
            labels = self.teacher.label(a, b, self.rng)
            self.comparisons.extend((x, y, float(p)) for x, y, p in zip(a, b, labels) if not np.isnan(p))
        pairs = self._training_pairs()
        if pairs is None:
            return {}
        metrics = self._train(*pairs)
        self._renormalize()
        self._version += 1
        return {**metrics, "segments": float(len(new)), "asked": float(asked), "preferences": float(len(pairs[4]))}

    def _training_pairs(self) -> tuple[np.ndarray, ...] | None:
        if isinstance(self.teacher, RecordedComparisons):
            d = self.teacher
            return d.features_a, d.mask_a, d.features_b, d.mask_b, d.prefer
        if not self.comparisons:
            return None
        a, b, p = zip(*self.comparisons)
        fa, ma = pad(a)
        fb, mb = pad(b)
        length = max(fa.shape[1], fb.shape[1])
        grow = lambda x: np.pad(x, [(0, 0), (0, length - x.shape[1])] + [(0, 0)] * (x.ndim - 2))  # noqa: E731
        return grow(fa), grow(ma), grow(fb), grow(mb), np.asarray(p)

    def _train(self, fa: np.ndarray, ma: np.ndarray, fb: np.ndarray, mb: np.ndarray, prefer: np.ndarray) -> dict[str, float]:
        import torch

        from rewardlab.shaping.preferences.model import bradley_terry_loss

        if self.net is None:
            self._build(fa.shape[-1])
        fa_t, fb_t = torch.as_tensor(fa), torch.as_tensor(fb)
        ma_t, mb_t = torch.as_tensor(ma, dtype=torch.float32), torch.as_tensor(mb, dtype=torch.float32)
        p_t = torch.as_tensor(prefer, dtype=torch.float32)

        def returns(f: Any, m: Any) -> Any:  # sum of r_psi over each segment's real steps
            return (self.net(f).squeeze(-1) * m).sum(-1)

        losses = []
        for _ in range(self.steps_per_update):
            rows = torch.as_tensor(self.rng.integers(len(prefer), size=min(self.batch_size, len(prefer))))
            loss = bradley_terry_loss(returns(fa_t[rows], ma_t[rows]), returns(fb_t[rows], mb_t[rows]), p_t[rows])
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
            losses.append(loss.item())
        with torch.no_grad():
            d = returns(fa_t, ma_t) - returns(fb_t, mb_t)
            decided = p_t != 0.5
            agree = ((d > 0) == (p_t > 0.5))[decided].float().mean() if decided.any() else torch.tensor(float("nan"))
        return {"pref_loss": float(np.mean(losses)), "pref_accuracy": float(agree)}

    def _renormalize(self) -> None:
        if not self.normalize or not self.segments:
            return
        self.std = 1.0
        values = self.predict(np.concatenate([s.features for s in self.segments]))
        self.std = float(values.std()) + 1e-8

    # --- state ---------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        import copy

        return {
            "net": None if self.net is None else copy.deepcopy(self.net.state_dict()),
            "optimizer": None if self.optimizer is None else copy.deepcopy(self.optimizer.state_dict()),
            "in_dim": None if self.net is None else int(self.net[0].in_features),
            "std": self.std, "version": self._version, "rng": self.rng.bit_generator.state,
            "segments": list(self.segments), "comparisons": list(self.comparisons), "streams": copy.deepcopy(self._streams),
            "teacher": self.teacher.state_dict() if isinstance(self.teacher, HierarchicalTeacher) else None, "seen": dict(self._seen),
        }  # fmt: skip

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        import copy

        if state["net"] is not None:
            self._build(state["in_dim"])
            self.net.load_state_dict(state["net"])
            self.optimizer.load_state_dict(state["optimizer"])
        self.std, self._version = state["std"], state["version"]
        self.rng.bit_generator.state = state["rng"]
        self.segments.clear()
        self.segments.extend(state["segments"])
        self.comparisons.clear()
        self.comparisons.extend(state["comparisons"])
        self._streams = copy.deepcopy(state["streams"])
        if state["teacher"] is not None:
            self.teacher.load_state_dict(state["teacher"])
        self._seen = dict(state["seen"])
