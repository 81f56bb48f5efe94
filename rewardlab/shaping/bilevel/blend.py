"""BARFI's learned reward blend (Gupta et al., NeurIPS 2023) as a reward term: :class:`Blend`."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from rewardlab._array import host, namespace
from rewardlab.errors import InvalidParameter
from rewardlab.shaping.bilevel.gradient import (
    alignment_scores,
    discounted_returns,
    gamma_derivative,
    neumann_direction,
    outer_gradient,
    primary_direction,
)
from rewardlab.shaping.terms import SingleTransition, Term, Transition, from_config, register_term

__all__ = ["Blend"]

FEATURES = ("none", "linear")
_BETAS, _ADAM_EPS = (0.9, 0.999), 1e-8
_BASELINE_DECAY = 0.9  # running mean of primary returns: the baseline of the primary advantage


@register_term
class Blend(Term):
    """``r_phi = r_p + b(s) + sum_k w_k(s) r_aux_k``, with ``b``, ``w`` (and optionally the discount) learned.

    The blend parameters follow the primary objective through the agent's own update (BARFI, spec
    F1/G2): once per rollout the trainer calls :meth:`outer_step` (through
    :func:`rewardlab.shaping.bilevel.outer_step`), which estimates the one-step unrolled
    meta-gradient ``alpha (d_phi grad_theta J_phi)^T grad_theta J`` and takes an Adam step on it:

    1. ``v``: the gradient of the primary objective, ``grad_theta mean[log pi * A^p]`` with ``A^p``
       the Monte-Carlo primary return (discount `gamma`) minus a running mean, normalised to unit norm;
       with ``neumann = N > 0`` it is replaced by ``sum_{j<=N} (I + alpha H)^j v`` (``H`` the Hessian of
       the blended surrogate ``mean[log pi * A^phi]``).
    2. ``u_t = grad_theta log pi(a_t|s_t) . v`` by a central difference (two forward passes).
    3. Component returns ``G^(k)`` of each aux reward (and of the bias, a reward of 1 per step) within
       episodes, with the blend's discount.
    4. ``g_k = alpha * mean[u (G^(k) - mean G^(k))] - 2 l2 w_k``; ``w <- clip(w + outer_lr Adam(g), w_bounds)``.
       A step with a non-finite gradient, ``|v| < 1e-8``, or a rollout whose primary returns are all
       equal (no signal about the primary objective) is skipped and counted.

    With ``split`` (default) and at least two sub-envs, ``v`` comes from the first half of the
    sub-envs and the cross term from the other half: independent episodes, so their product is an
    unbiased estimate (the spec's "split the rollout" variant of BARFI's online cross-validation).
    With one sub-env both use every row, which biases the estimate by O(1/rows).

    The rewards of a rollout are scored with the weights of its start; the new weights apply from
    the next rollout. The primary multiplier stays 1 (as in BARFI). Each call buffers its components
    (one call per vector step, ``N`` rows), so one outer step consumes exactly one rollout.

    Args:
        primary: the primary reward (what the task wants), usually ``EnvReward()``.
        aux: ``{name: term}`` auxiliary rewards (terms or their configs); the names label the
            weights in the log (``w_<name>``) and the parts in ``info["reward_terms"]``.
        features: ``"none"``: ``w_k`` and ``b`` are scalars (BARFI's MuJoCo choice); ``"linear"``:
            linear in ``[1, obs]`` (flattened numeric observations; small observation spaces only).
        learn_gamma: also learn the discount ``gamma_phi = sigmoid(psi)``, started at `gamma`; the
            trainer reads :attr:`discount` (the SB3 callback sets ``model.gamma`` from it).
        outer_lr: Adam step size of the blend parameters.
        neumann: Neumann terms ``N`` of the inverse Hessian (0: first order).
        alpha: the inner step size ``alpha`` of the unrolled update (also the Neumann step).
        l2: L2 penalty on the blend parameters.
        w_bounds: the box the parameters are clipped to after each step.
        gamma: the learner's (true) discount, used for the primary return and as ``gamma_phi``'s start.
        warmup_rollouts: rollouts (outer-step calls) before the first update, trained on the initial blend.
        init_w: initial aux weight (1: the naive sum).
        eps: central-difference step of ``u``.
        split: use independent sub-env halves for ``v`` and the cross term.

    Example:
        >>> import numpy as np, torch
        >>> from rewardlab.shaping import Constant, EnvReward, Transition
        >>> from rewardlab.shaping.bilevel import PolicyBatch, outer_step
        >>> blend = Blend(EnvReward(), aux={"bonus": Constant(0.5)}, warmup_rollouts=0, outer_lr=0.1)
        >>> step = Transition(None, None, None, np.array([1.0, 0.0]), np.zeros(2, bool), np.zeros(2, bool), np.ones(2, bool))
        >>> {k: v.tolist() for k, v in blend.components(step).items()}   # r_p + 0 + 1.0 * 0.5
        {'env': [1.0, 0.0], 'bonus': [0.5, 0.5], 'blend_bias': [0.0, 0.0]}
        >>> theta = torch.zeros(2, requires_grad=True)           # a one-step bandit, one row per sub-env
        >>> batch = PolicyBatch(lambda: torch.log_softmax(theta, 0), [theta], np.ones((1, 2), bool),
        ...                     np.zeros((1, 2), bool), np.ones((1, 2), bool), step=2)
        >>> sorted(outer_step(blend, batch))[:3]
        ['blend/blend/b', 'blend/blend/gamma', 'blend/blend/grad_norm']
    """

    child_params = ("primary",)

    def __init__(
        self,
        primary: Term | Mapping[str, Any] | str,
        aux: Mapping[str, Term | Mapping[str, Any] | str],
        features: str = "none",
        learn_gamma: bool = False,
        outer_lr: float = 0.01,
        neumann: int = 0,
        alpha: float = 1.0,
        l2: float = 1e-3,
        w_bounds: tuple[float, float] | list[float] = (-1.0, 3.0),
        gamma: float = 0.99,
        warmup_rollouts: int = 2,
        init_w: float = 1.0,
        eps: float = 1e-3,
        split: bool = True,
        name: str | None = None,
    ):
        if not isinstance(aux, Mapping) or not aux:
            raise InvalidParameter(f"`aux` must be a non-empty dict {{name: term}}. Received {aux!r}")
        for key in aux:
            if not isinstance(key, str) or not key:
                raise InvalidParameter(f"`aux` keys must be non-empty strings (they name the weights). Received {key!r}")
        if features not in FEATURES:
            raise InvalidParameter(f"`features` must be one of {FEATURES}. Received {features!r}")
        for label, value, low in (("outer_lr", outer_lr, 0.0), ("alpha", alpha, 0.0), ("eps", eps, 0.0)):
            if not _is_number(value) or not value > low:
                raise InvalidParameter(f"`{label}` must be a positive number. Received {value!r}")
        if not _is_number(l2) or l2 < 0:
            raise InvalidParameter(f"`l2` must be a non-negative number. Received {l2!r}")
        if not _is_number(init_w):
            raise InvalidParameter(f"`init_w` must be a finite number. Received {init_w!r}")
        # gamma = 1 has no logit, so a learned discount could not start there
        if not _is_number(gamma) or not 0.0 < gamma < 1.0:
            raise InvalidParameter(f"`gamma` must be in (0, 1). Received {gamma!r}")
        for label, value in (("neumann", neumann), ("warmup_rollouts", warmup_rollouts)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InvalidParameter(f"`{label}` must be a non-negative integer. Received {value!r}")
        if (not isinstance(w_bounds, (list, tuple)) or len(w_bounds) != 2 or not all(_is_number(x) for x in w_bounds)
                or not w_bounds[0] < w_bounds[1]):
            raise InvalidParameter(f"`w_bounds` must be [low, high] with low < high. Received {w_bounds!r}")
        if not w_bounds[0] <= init_w <= w_bounds[1]:
            raise InvalidParameter(f"`init_w` must lie inside `w_bounds` {list(w_bounds)}. Received {init_w!r}")
        primary_term = from_config(primary)
        aux_terms = {k: from_config(v) for k, v in aux.items()}
        super().__init__(
            name, primary=primary_term, aux=aux_terms, features=features, learn_gamma=bool(learn_gamma),
            outer_lr=float(outer_lr), neumann=neumann, alpha=float(alpha), l2=float(l2),
            w_bounds=(float(w_bounds[0]), float(w_bounds[1])), gamma=float(gamma), warmup_rollouts=warmup_rollouts,
            init_w=float(init_w), eps=float(eps), split=bool(split),
        )  # fmt: skip
        self.primary, self.aux = primary_term, aux_terms
        self.aux_names = list(aux_terms)
        self.features, self.learn_gamma = features, bool(learn_gamma)
        self.gamma, self.w_bounds = float(gamma), (float(w_bounds[0]), float(w_bounds[1]))
        self.w: np.ndarray | None = None  # (K, F) aux weights; F features (1 with "none")
        self.b: np.ndarray | None = None  # (F,) bias
        self.psi = math.log(gamma / (1.0 - gamma))  # gamma_phi = sigmoid(psi)
        self._adam: dict[str, Any] | None = None
        if features == "none":
            self._allocate(1)
        self.baseline: float | None = None
        self.rollouts = 0
        self.skipped = 0
        self._buffer: list[tuple[Any, Any, Any, Any]] = []  # per step (primary, aux, feats, valid), numpy or device tensors
        self._episode_sum: np.ndarray | None = None
        self._device_weights: tuple[Any, Any, Any, Any] | None = None  # (w, b) and their copies on the rewards' device

    # --- the term ------------------------------------------------------------------------------
    def default_name(self) -> str:
        return "blend"

    def children(self) -> list[Term]:
        return [self._params["primary"], *self._params["aux"].values()]

    @property
    def discount(self) -> float:
        """The blend's discount ``gamma_phi`` (equal to `gamma` unless ``learn_gamma``)."""
        return 1.0 / (1.0 + math.exp(-self.psi)) if self.learn_gamma else self.gamma

    def weights(self) -> dict[str, float]:
        """The current scalar weights ``{aux name: w}`` (with linear features, the constant feature's weight)."""
        assert self.w is not None, "weights are allocated at the first call with linear features"
        return {k: float(self.w[i, 0]) for i, k in enumerate(self.aux_names)}

    def __call__(self, t: Transition) -> Any:
        parts = self.components(t)
        values = iter(parts.values())
        total = next(values)
        for value in values:
            total = total + value
        return total

    def components(self, t: Transition) -> dict[str, Any]:
        primary_parts = self.primary.components(t)
        values = iter(primary_parts.values())
        primary = next(values)
        for value in values:
            primary = primary + value
        # In the rewards' backend: numpy on the host, torch on the tensors' device (the buffer stays
        # there until the outer step, which copies the rollout to the host once).
        on_host = isinstance(t.reward, np.ndarray)
        xp = np if on_host else namespace(t.reward)
        f64 = (lambda x: np.asarray(host(x), dtype=np.float64)) if on_host else (lambda x: xp.astype(x, xp.float64))
        aux = xp.stack([f64(term(t)) for term in self.aux.values()], axis=-1)  # (N, K)
        valid = host(t.valid).astype(bool) if on_host else xp.astype(t.valid, xp.bool)
        feats = self._features(t.obs, aux.shape[0], aux)
        w_mat, b_vec = self._weights_like(aux)
        w = feats @ w_mat.T  # (N, K)
        bias = xp.where(valid, feats @ b_vec, 0.0)
        self._buffer.append((f64(primary), aux, feats, valid))
        out = dict(primary_parts)
        ref = t.reward
        for i, key in enumerate(self.aux_names):
            out[_unique(key, out)] = _like(w[:, i] * aux[:, i], ref)
        out[_unique(f"{self.name}_bias", out)] = _like(bias, ref)
        return out

    def _weights_like(self, ref: Any) -> tuple[Any, Any]:
        """``(w, b)`` in the backend and on the device of `ref`; copied there once per change of the weights."""
        if isinstance(ref, np.ndarray):
            return self.w, self.b
        cached = self._device_weights
        if cached is None or cached[0] is not self.w or cached[1] is not self.b or cached[2].device != ref.device:
            xp = namespace(ref)
            cached = (self.w, self.b, xp.asarray(self.w, device=ref.device), xp.asarray(self.b, device=ref.device))
            self._device_weights = cached
        return cached[2], cached[3]

    def single_components(self, s: SingleTransition) -> dict[str, float]:
        # the same parts as the batched path (one buffered row), as floats
        return {k: float(host(v)[0]) for k, v in self.components(s.batched()).items()}

    def single(self, s: SingleTransition) -> float:
        return float(sum(self.single_components(s).values()))

    def _features(self, obs: Any, n: int, like: Any) -> Any:
        """``(N, F)`` float64 features in `like`'s backend and device: ``[1]`` or ``[1, obs]``."""
        xp = np if isinstance(like, np.ndarray) else namespace(like)
        ones = xp.ones((n, 1), dtype=xp.float64) if xp is np else xp.ones((n, 1), dtype=xp.float64, device=like.device)
        if self.features == "none":
            return ones
        try:
            if xp is np:
                x = host(obs).astype(np.float64).reshape(n, -1)
            else:
                x = xp.reshape(xp.astype(obs, xp.float64), (n, -1))
        except (TypeError, ValueError, AttributeError) as e:
            raise InvalidParameter(
                f"Blend `{self.name}` with features='linear' needs numeric array observations; received {type(obs).__name__}"
            ) from e
        feats = xp.concat([ones, x], axis=1)
        if self.w is None:
            self._allocate(feats.shape[1])
        elif feats.shape[1] != self.w.shape[1]:
            raise InvalidParameter(f"Blend `{self.name}`: observation features changed size from {self.w.shape[1] - 1} to {x.shape[1]}")
        return feats

    def _allocate(self, n_features: int) -> None:
        k = len(self._params["aux"])
        self.w = np.zeros((k, n_features))
        self.w[:, 0] = self._params["init_w"]
        self.b = np.zeros(n_features)
        size = self.w.size + self.b.size + int(self.learn_gamma)
        self._adam = {"m": np.zeros(size), "v": np.zeros(size), "t": 0}

    def _flat_params(self) -> np.ndarray:
        extra = [self.psi] if self.learn_gamma else []
        return np.concatenate([self.w.reshape(-1), self.b, np.asarray(extra, dtype=np.float64)])

    def _set_flat_params(self, flat: np.ndarray) -> None:
        kw, kb = self.w.size, self.b.size
        low, high = self.w_bounds
        self.w = np.clip(flat[:kw], low, high).reshape(self.w.shape)
        self.b = np.clip(flat[kw: kw + kb], low, high)
        if self.learn_gamma:
            self.psi = float(flat[-1])

    # --- the outer step ------------------------------------------------------------------------
    def outer_step(self, batch: Any) -> dict[str, float]:
        """One outer update on the rollout this term buffered since the last call (spec G2); returns its metrics.

        Raises:
            InvalidParameter: the buffered steps do not match the batch's ``(T, N)`` shape (the term was
                called on steps that are not this rollout's, or the trainer skipped steps).
        """
        valid = np.asarray(batch.valid, dtype=bool)
        if valid.ndim != 2 or len(self._buffer) != valid.shape[0] or (self._buffer and self._buffer[0][0].shape[0] != valid.shape[1]):
            got = (len(self._buffer), self._buffer[0][0].shape[0] if self._buffer else 0)
            self._buffer.clear()
            raise InvalidParameter(
                f"Blend `{self.name}` buffered {got[0]} steps of {got[1]} sub-envs since its last outer step, "
                f"but the batch is {valid.shape}; call outer_step once per rollout on the envs this term shapes"
            )
        primary = _stacked(self._buffer, 0) * valid  # (T, N)
        aux = _stacked(self._buffer, 1)  # (T, N, K)
        feats = _stacked(self._buffer, 2)  # (T, N, F)
        self._buffer.clear()
        done = np.asarray(batch.terminated, dtype=bool) | np.asarray(batch.truncated, dtype=bool)
        T, N = valid.shape
        self.rollouts += 1

        returns_p = discounted_returns(primary, done, self.gamma)
        real = returns_p[valid]
        if real.size:
            mean = float(real.mean())
            self.baseline = mean if self.baseline is None else _BASELINE_DECAY * self.baseline + (1 - _BASELINE_DECAY) * mean
        metrics = self._episode_metrics(primary, done, valid)
        metrics["grad_norm"] = 0.0
        if self.rollouts <= self._params["warmup_rollouts"] or not real.size:
            return {**self._weight_metrics(feats, valid), **metrics, "skipped": float(self.skipped)}
        if np.ptp(real) == 0.0:
            # Every step had the same primary return (e.g. the goal never reached): the policy-gradient
            # estimate of the primary objective is then pure noise (E[grad log pi] = 0), and Adam would
            # turn that noise (or the l2 pull alone) into full-size steps. No primary signal, no step.
            self.skipped += 1
            return {**self._weight_metrics(feats, valid), **metrics, "skipped": float(self.skipped)}

        g = self._gradient(batch, primary, aux, feats, valid, done, returns_p - self.baseline, metrics)
        if g is None or not np.all(np.isfinite(g)):
            self.skipped += 1
        else:
            metrics["grad_norm"] = float(np.linalg.norm(g))
            self._adam_ascent(g)
        return {**self._weight_metrics(feats, valid), **metrics, "skipped": float(self.skipped)}

    def _gradient(self, batch: Any, primary: np.ndarray, aux: np.ndarray, feats: np.ndarray, valid: np.ndarray,
                  done: np.ndarray, advantages: np.ndarray, metrics: dict[str, float]) -> np.ndarray | None:
        import torch

        T, N = valid.shape
        K, F = self.w.shape
        gamma_phi = self.discount
        # per-parameter rewards: aux_k * feature_f for each (k, f), then the bias's feature_f on real steps
        comp = np.concatenate([(aux[..., :, None] * feats[..., None, :]).reshape(T, N, K * F), feats * valid[..., None]], axis=-1)
        returns = discounted_returns(comp, done, gamma_phi).reshape(T * N, -1)
        if self.learn_gamma:
            blended = primary + np.einsum("tnp,p->tn", comp, self._flat_params()[: K * F + F])
            d_gamma = gamma_derivative(blended, done, gamma_phi) * gamma_phi * (1.0 - gamma_phi)  # chain rule through sigmoid
            returns = np.concatenate([returns, d_gamma.reshape(T * N, 1)], axis=1)
        v_rows, cross_rows = valid.copy(), valid.copy()
        if self._params["split"] and N >= 2:
            v_rows[:, N // 2:] = False
            cross_rows[:, : N // 2] = False
        v_rows, cross_rows = v_rows.reshape(-1), cross_rows.reshape(-1)
        if not v_rows.any() or not cross_rows.any():
            return None
        q_v, q_c = v_rows / v_rows.sum(), cross_rows / cross_rows.sum()
        params = list(batch.parameters)
        v = primary_direction(batch.log_prob, params, advantages.reshape(-1), q_v)
        v_norm = float(v.norm())
        metrics["v_norm"] = v_norm
        if not math.isfinite(v_norm) or v_norm < 1e-8:
            return None
        direction = v / v_norm
        alpha = self._params["alpha"]
        if self._params["neumann"] > 0:
            blended_returns = discounted_returns(primary, done, gamma_phi).reshape(-1) + returns[:, : K * F + F] @ self._flat_params()[: K * F + F]
            adv_phi = blended_returns - q_c @ blended_returns
            scale = q_c * adv_phi

            def surrogate() -> Any:
                lp = batch.log_prob()
                return (lp * torch.as_tensor(scale, dtype=lp.dtype, device=lp.device)).sum()

            direction = neumann_direction(surrogate, params, direction, alpha, self._params["neumann"])
        u = alignment_scores(batch.log_prob, params, direction, self._params["eps"])
        metrics["u_abs_mean"] = float(np.abs(u[cross_rows]).mean())
        g = outer_gradient(u[cross_rows], returns[cross_rows], q_c[cross_rows], alpha)
        reg = np.zeros_like(g)
        reg[: K * F + F] = 2.0 * self._params["l2"] * self._flat_params()[: K * F + F]
        return g - reg

    def _adam_ascent(self, g: np.ndarray) -> None:
        a = self._adam
        a["t"] += 1
        a["m"] = _BETAS[0] * a["m"] + (1 - _BETAS[0]) * g
        a["v"] = _BETAS[1] * a["v"] + (1 - _BETAS[1]) * g * g
        m_hat = a["m"] / (1 - _BETAS[0] ** a["t"])
        v_hat = a["v"] / (1 - _BETAS[1] ** a["t"])
        self._set_flat_params(self._flat_params() + self._params["outer_lr"] * m_hat / (np.sqrt(v_hat) + _ADAM_EPS))

    def _weight_metrics(self, feats: np.ndarray, valid: np.ndarray) -> dict[str, float]:
        rows = feats[valid] if valid.any() else feats.reshape(-1, feats.shape[-1])
        w = rows @ self.w.T  # the state-dependent weights, averaged over the rollout's states
        out = {f"w_{k}": float(w[:, i].mean()) for i, k in enumerate(self.aux_names)}
        out["b"] = float((rows @ self.b).mean())
        out["gamma"] = self.discount
        return out

    def _episode_metrics(self, primary: np.ndarray, done: np.ndarray, valid: np.ndarray) -> dict[str, float]:
        # whole-episode primary returns (undiscounted), carried across rollouts per sub-env
        if self._episode_sum is None or self._episode_sum.shape[0] != primary.shape[1]:
            self._episode_sum = np.zeros(primary.shape[1])
        finished: list[float] = []
        for t in range(primary.shape[0]):
            self._episode_sum += primary[t]
            ends = done[t] & valid[t]
            finished.extend(self._episode_sum[ends].tolist())
            self._episode_sum[ends] = 0.0
        # left out when no episode ended in this rollout: a partial sum is not an episode's return
        return {"primary_return": float(np.mean(finished))} if finished else {}

    # --- persistence ---------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        adam = None if self._adam is None else {"m": self._adam["m"].copy(), "v": self._adam["v"].copy(), "t": self._adam["t"]}
        return {
            "children": super().state_dict(),
            "w": None if self.w is None else self.w.copy(), "b": None if self.b is None else self.b.copy(),
            "psi": self.psi, "adam": adam, "baseline": self.baseline, "rollouts": self.rollouts, "skipped": self.skipped,
            "episode_sum": None if self._episode_sum is None else self._episode_sum.copy(),
        }  # fmt: skip

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        super().load_state_dict(state["children"])
        self.w = None if state["w"] is None else np.array(state["w"], dtype=np.float64)
        self.b = None if state["b"] is None else np.array(state["b"], dtype=np.float64)
        self.psi = float(state["psi"])
        adam = state["adam"]
        self._adam = None if adam is None else {"m": np.array(adam["m"]), "v": np.array(adam["v"]), "t": int(adam["t"])}
        self.baseline = state["baseline"]
        self.rollouts, self.skipped = int(state["rollouts"]), int(state["skipped"])
        self._episode_sum = None if state["episode_sum"] is None else np.array(state["episode_sum"])
        self._buffer.clear()

    def to_config(self) -> dict[str, Any]:
        cfg = super().to_config()
        cfg["aux"] = {k: t.to_config() for k, t in self._params["aux"].items()}
        if "w_bounds" in cfg:
            cfg["w_bounds"] = list(cfg["w_bounds"])
        return cfg


def _is_number(x: Any) -> bool:
    return not isinstance(x, bool) and isinstance(x, (int, float)) and math.isfinite(x)


def _unique(key: str, taken: Mapping[str, Any]) -> str:
    unique, i = key, 1
    while unique in taken:
        i += 1
        unique = f"{key}_{i}"
    return unique


def _stacked(buffer: list[tuple[Any, ...]], j: int) -> np.ndarray:
    """Column `j` of the buffered steps as one host array (one copy per rollout for device tensors)."""
    rows = [row[j] for row in buffer]
    if isinstance(rows[0], np.ndarray):
        return np.stack(rows)
    return host(namespace(rows[0]).stack(rows))


def _like(values: Any, ref: Any) -> Any:
    """`values` in the backend of the env reward `ref` (numpy, or a torch tensor on its device)."""
    if isinstance(ref, np.ndarray):
        return values.astype(ref.dtype, copy=False)
    xp = namespace(ref)
    return xp.asarray(values, dtype=ref.dtype, device=ref.device)
