"""rewardlab's PPO in torch: one file, read top to bottom, over any Gymnasium ``VectorEnv``.

CleanRL's ``ppo.py`` in structure (hyper-parameters in :class:`PPOArgs`, storage of shape
``(n_steps, num_envs, ...)``, the loop in :func:`train`), with what a reward-design study needs:

* **NEXT_STEP autoreset done right.** Under Gymnasium 1.x's default autoreset, the step after a
  done is a dummy reset step: its action is ignored and its reward is 0. It is stored (keeping the
  storage rectangular) but marked ``valid=False``, left out of the loss, and cut out of GAE.
  The observation returned on the done step is the true final observation, so ``V(final obs)`` is
  simply the value computed on the dummy step. SAME_STEP envs read ``info["final_obs"]`` instead.
* **Truncation bootstraps** with ``V(final obs)``; termination does not. They are never merged.
* **Batched envs.** :func:`make_vec_env` builds rewardlab's batched envs (gridhack) through their
  ``vector_entry_point`` (one array program steps all sub-envs: 1.4M raw steps/s at 256 envs on
  Corridors-R5, measured on one CPU core), other
  ids as ``SyncVectorEnv``, shaped by :class:`~rewardlab.wrappers.VectorRewardShaping`.
* **On the device** with a torch-backend env (``gym.make_vec(..., backend="torch", device=...)``,
  the device of :attr:`PPOArgs.device`): actions go to the env as tensors, flags and rewards are
  stored where they are, the shaping terms compute there, and the episode log is kept in device
  buffers and copied to the host once per rollout, so no step copies anything to the host
  (``tests/baselines/test_ppo_device.py`` counts the copies). Numpy envs take the host path.
* **Learned bonus terms** (RND, E3B) train once per rollout, from what they recorded while
  scoring it (:func:`~rewardlab.shaping.bonuses.training.update_learned_terms`); then learned
  blends take their outer step on the same, still on-policy, rollout
  (:func:`~rewardlab.shaping.bilevel.outer.outer_step`), before the policy update.
* **Checkpoints and TensorBoard**: ``checkpoint_dir`` saves the whole run state at rollout
  boundaries (agent, optimiser, random streams, logs, the pickled envs with their term trees) and
  resumes from it to the same numbers; ``tensorboard_dir`` writes the shared scalar tags.
* **HL-Gauss critic** (``value_loss="hl_gauss"``): value learning as classification over bins
  (:mod:`rewardlab.baselines.hl_gauss`).
* **The task's own metric.** Training episodes log the task return (``info["task_reward"]``),
  success and each term's episode sum; evaluation runs an unshaped copy of the env. A run returns
  the same record (:class:`PPOResult`) as the SB3 path, so the ablation store and report read both.
* **Fast on CPU**: the categorical and Gaussian policies are sampled and scored by hand (building
  ``torch.distributions`` objects took more than half of SB3's policy call, specs/performance.md),
  and one torch thread is the default.

Observations: ``Box`` (bounded dimensions scaled to [-1, 1]), ``Discrete`` (one-hot) and ``Dict``
of those; integer grids (a ``Box`` with an integer dtype, two or more dimensions and low 0, like
gridhack's ``glyphs_crop``) get a learned embedding per cell id. Actions: ``Discrete`` or ``Box``.

In an ablation config this trainer is ``algo: TorchPPO``; its ``hyperparams`` are the fields of
:class:`PPOArgs`, and ``budget.n_envs`` is the number of batched sub-envs.
"""

from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import partial
from typing import Any

import gymnasium as gym
import numpy as np
import torch
from gymnasium.vector import AutoresetMode
from torch import nn

from rewardlab.baselines.checkpoint import dump_envs, load_checkpoint, load_envs, rng_state, save_checkpoint, set_rng_state
from rewardlab.baselines.hl_gauss import HLGauss
from rewardlab.baselines.registry import Trainer, TrainRequest
from rewardlab.baselines.result import RunResult
from rewardlab.baselines.tensorboard import ScalarLog, episode_scalars
from rewardlab._array import first_leaf, host
from rewardlab.errors import ConfigError, InvalidParameter, did_you_mean
from rewardlab.shaping.bilevel.outer import PolicyBatch, outer_step, outer_terms
from rewardlab.shaping.bonuses._backend import RunningMoments
from rewardlab.shaping.bonuses.training import learned_terms, update_learned_terms
from rewardlab.shaping.pbrs import check_discount
from rewardlab.shaping.terms import Term, from_config
from rewardlab.wrappers.refs import wrapper_fns
from rewardlab.wrappers.vector import VectorRewardShaping

__all__ = ["ALGO_NAME", "TRAINERS", "VALUE_LOSSES", "PPOArgs", "Agent", "Rollout", "PPOResult", "compute_gae",
           "make_vec_env", "check_action_space", "evaluate", "train", "train_env"]

#: The trainer's name in ablation configs (``algorithms: [{algo: TorchPPO, ...}]``).
ALGO_NAME = "TorchPPO"


@dataclass
class PPOArgs:
    """PPO hyper-parameters, named as SB3's ``PPO`` arguments.

    Defaults: CleanRL ``ppo.py``'s rollout and optimiser (128 steps, 4 epochs, lr 2.5e-4 annealed);
    SB3's entropy coefficient (0), minibatch given as a size, and mean-squared value loss.

    Example:
        >>> PPOArgs(n_steps=64).n_steps, PPOArgs().clip_range
        (64, 0.2)
        >>> PPOArgs(gamma=1.5)
        Traceback (most recent call last):
        ...
        rewardlab.errors.InvalidParameter: `gamma` must be in (0, 1]. Received 1.5
        >>> PPOArgs(value_loss="hl_gauss", v_max=100.0)
        Traceback (most recent call last):
        ...
        rewardlab.errors.InvalidParameter: value_loss='hl_gauss' needs `v_min` and `v_max`, the range of returns the critic can represent; `v_min` is missing
    """

    n_steps: int = 128
    """steps per sub-env in each rollout"""
    batch_size: int = 256
    """minibatch size (in transitions; the last minibatch of an epoch may be smaller)"""
    n_epochs: int = 4
    """passes over each rollout"""
    learning_rate: float = 2.5e-4
    """Adam step size (eps 1e-5, as CleanRL and SB3)"""
    anneal_lr: bool = True
    """decay the learning rate linearly to 0 over training"""
    gamma: float = 0.99
    """discount"""
    gae_lambda: float = 0.95
    """GAE lambda"""
    clip_range: float = 0.2
    """PPO ratio clip"""
    clip_range_vf: float | None = None
    """clip the value change around the rollout's values (None: no value clipping, SB3's default)"""
    normalize_advantage: bool = True
    """normalise advantages per minibatch"""
    ent_coef: float = 0.0
    """entropy bonus weight"""
    vf_coef: float = 0.5
    """value loss weight; the value loss is the mean squared error, as in SB3 (CleanRL halves it)"""
    max_grad_norm: float = 0.5
    """global gradient-norm clip"""
    target_kl: float | None = None
    """stop a rollout's epochs early once the approximate KL exceeds this (None: never)"""
    hidden: tuple[int, ...] = (64, 64)
    """tanh hidden layers of the actor and of the critic (separate networks, as SB3's MlpPolicy)"""
    trunk: int = 0
    """width of one tanh layer shared by actor and critic after the encoder (0: none); cheaper than
    two wide first layers when the encoder's output is wide (embedded grids)"""
    embed_dim: int = 8
    """embedding size per cell of integer-grid observations"""
    normalize_obs: bool = False
    """scale the unbounded dimensions of Box observations (MuJoCo's velocities) by their running mean and
    std, clipped to [-10, 10] as SB3's VecNormalize; the statistics take in each rollout after its update,
    so a rollout is collected and learned from under the same ones (the first one passes unscaled)"""
    value_loss: str = "mse"
    """"mse": a scalar critic and the squared error; "hl_gauss": a categorical critic over `n_bins` bins of
    [`v_min`, `v_max`] trained by cross-entropy to a Gaussian-smoothed target (Farebrother et al., 2024,
    "Stop Regressing"; :mod:`rewardlab.baselines.hl_gauss`)"""
    n_bins: int = 51
    """bins of the hl_gauss critic"""
    v_min: float | None = None
    """low end of the hl_gauss support (required with hl_gauss: the lowest return to represent)"""
    v_max: float | None = None
    """high end of the hl_gauss support (required with hl_gauss; e.g. 1 / (1 - gamma) for rewards in [0, 1])"""
    device: str = "cpu"
    """torch device of the learner: "cpu" or "cuda" (the env runs where it runs)"""

    def __post_init__(self) -> None:
        if isinstance(self.trunk, bool) or not isinstance(self.trunk, int) or self.trunk < 0:
            raise InvalidParameter(f"`trunk` must be a non-negative integer. Received {self.trunk!r}")
        for name in ("n_steps", "batch_size", "n_epochs", "embed_dim"):
            value = getattr(self, name)
            # A zero or fractional size has no rollout or minibatch to build.
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidParameter(f"`{name}` must be a positive integer. Received {value!r}")
        self.hidden = tuple(self.hidden)
        if any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in self.hidden):
            raise InvalidParameter(f"`hidden` must be a list of positive layer sizes. Received {list(self.hidden)!r}")
        _check_range("gamma", self.gamma, 0.0, 1.0, low_open=True)
        _check_range("gae_lambda", self.gae_lambda, 0.0, 1.0)
        for name in ("learning_rate", "ent_coef", "vf_coef"):
            _check_range(name, getattr(self, name), 0.0, math.inf)
        for name in ("clip_range", "max_grad_norm", "clip_range_vf", "target_kl"):
            value = getattr(self, name)
            if value is not None or name in ("clip_range", "max_grad_norm"):
                _check_range(name, value, 0.0, math.inf, low_open=True)
        for name in ("anneal_lr", "normalize_advantage", "normalize_obs"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidParameter(f"`{name}` must be true or false. Received {getattr(self, name)!r}")
        self._check_value_loss()
        if not isinstance(self.device, str):
            raise InvalidParameter(f"`device` must be a torch device name such as 'cpu' or 'cuda'. Received {self.device!r}")


    def _check_value_loss(self) -> None:
        if self.value_loss not in VALUE_LOSSES:
            raise InvalidParameter(f"`value_loss` must be one of {list(VALUE_LOSSES)}. Received {self.value_loss!r}"
                                   + did_you_mean(str(self.value_loss), VALUE_LOSSES))
        if self.value_loss == "mse":
            # The MSE critic has no support: a range given for it would be silently ignored.
            for name in ("v_min", "v_max"):
                if getattr(self, name) is not None:
                    raise InvalidParameter(f"`{name}` applies to value_loss='hl_gauss' only. Received {name}={getattr(self, name)!r} with value_loss='mse'")
            return
        for name in ("v_min", "v_max"):
            if getattr(self, name) is None:
                raise InvalidParameter(f"value_loss='hl_gauss' needs `v_min` and `v_max`, the range of returns the critic can represent; `{name}` is missing")
        # Value clipping moves a scalar around the old value; a distribution has no such clip here.
        if self.clip_range_vf is not None:
            raise InvalidParameter(f"`clip_range_vf` applies to value_loss='mse' only. Received clip_range_vf={self.clip_range_vf!r} with value_loss='hl_gauss'")
        HLGauss(self.v_min, self.v_max, self.n_bins)  # checks the bounds and the bin count


#: The critic losses :class:`PPOArgs` accepts.
VALUE_LOSSES = ("mse", "hl_gauss")


def _check_range(name: str, value: Any, low: float, high: float, low_open: bool = False) -> None:
    ok = isinstance(value, (int, float)) and not isinstance(value, bool) and value <= high and (value > low if low_open else value >= low)
    if not ok:
        raise InvalidParameter(f"`{name}` must be in {'(' if low_open else '['}{low:g}, {high:g}]. Received {value!r}")


# ---------------------------------------------------------------- networks


def _is_id_grid(space: gym.Space) -> bool:
    """An integer grid of ids (gridhack's glyphs, MiniGrid's image): embedded per cell, not scaled."""
    return (isinstance(space, gym.spaces.Box) and np.issubdtype(space.dtype, np.integer) and len(space.shape) >= 2
            and bool(np.all(space.low == 0)) and int(space.high.max()) < 2**16)


class Encoder(nn.Module):
    """Observation (a dict of tensors with leading batch dims) -> flat float features.

    Integer grids embed each cell's id; ``Discrete`` is one-hot; other ``Box`` parts are flattened
    and, where both bounds are finite, scaled to [-1, 1] (so counters and coordinates arrive in a
    range a tanh network can use); with `normalize`, the unbounded dimensions are scaled by the
    running mean and std that :meth:`update_stats` keeps, and clipped to [-10, 10].

    Example:
        >>> import gymnasium as gym, torch
        >>> enc = Encoder(gym.spaces.Box(-float("inf"), float("inf"), (1,)), 8, normalize=True)
        >>> enc.update_stats({"obs": torch.tensor([[1.0], [3.0]])})   # mean 2, std 1
        >>> enc({"obs": torch.tensor([[4.0], [100.0]])})
        tensor([[ 2.],
                [10.]])
    """

    def __init__(self, space: gym.Space, embed_dim: int, normalize: bool = False):
        super().__init__()
        parts = space.spaces if isinstance(space, gym.spaces.Dict) else {"obs": space}
        self.keys = list(parts)
        self.shapes = {k: tuple(sub.shape) for k, sub in parts.items()}
        self.embeds = nn.ModuleDict()
        self.n_features = 0
        self._onehot: dict[str, int] = {}
        self._normalized: list[str] = []  # Box keys with unbounded dimensions, when `normalize`
        for key, sub in parts.items():
            if _is_id_grid(sub):
                self.embeds[key] = nn.Embedding(int(sub.high.max()) + 1, embed_dim)
                self.n_features += int(np.prod(sub.shape)) * embed_dim
            elif isinstance(sub, gym.spaces.Discrete):
                self._onehot[key] = int(sub.n)
                self.register_buffer(f"start_{key}", torch.tensor(int(sub.start)))
                self.n_features += int(sub.n)
            elif isinstance(sub, gym.spaces.Box):
                low, high = sub.low.astype(np.float64).ravel(), sub.high.astype(np.float64).ravel()
                bounded = np.isfinite(low) & np.isfinite(high) & (high > low)
                low, high = np.where(bounded, low, -1.0), np.where(bounded, high, 1.0)  # unbounded dims pass as they are
                center, scale = (high + low) / 2, (high - low) / 2
                self.register_buffer(f"center_{key}", torch.as_tensor(center, dtype=torch.float32))
                self.register_buffer(f"scale_{key}", torch.as_tensor(scale, dtype=torch.float32))
                self.n_features += low.size
                if normalize and not bounded.all():
                    self._normalized.append(key)
                    self.register_buffer(f"free_{key}", torch.as_tensor(~bounded))
                    self.register_buffer(f"mean_{key}", torch.zeros(low.size))
                    self.register_buffer(f"var_{key}", torch.ones(low.size))
            else:
                raise InvalidParameter(f"TorchPPO handles Box, Discrete and Dict observations; `{key}` is {sub}")
        if self._normalized:  # in the state dict, so a checkpoint resumes with the statistics
            self.register_buffer("obs_count", torch.tensor(1e-4, dtype=torch.float64))

    @torch.no_grad()
    def update_stats(self, obs: Mapping[str, torch.Tensor]) -> None:
        """Take the observations `obs` (one leading batch dim) into the running moments of the unbounded dimensions."""
        for key in self._normalized:
            mean, var = getattr(self, f"mean_{key}"), getattr(self, f"var_{key}")
            moments = RunningMoments(mean, var, float(self.obs_count))
            moments.update(obs[key].reshape(obs[key].shape[0], -1).float())
            mean.copy_(moments.mean), var.copy_(moments.var)
            free = getattr(self, f"free_{key}")
            getattr(self, f"center_{key}")[free] = moments.mean[free]
            getattr(self, f"scale_{key}")[free] = torch.sqrt(moments.var[free] + 1e-8)
        if self._normalized:
            self.obs_count += next(iter(obs.values())).shape[0]

    def forward(self, obs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        feats = []
        for key in self.keys:
            x = obs[key]
            batch = x.shape[: x.dim() - len(self.shapes[key])]  # one or two leading dims
            if key in self.embeds:
                # index_select, not nn.Embedding's forward: its backward (a plain index_add) was 2.8x
                # faster on CPU than embedding_dense_backward for 4096 x 81 ids.
                table = self.embeds[key].weight
                feats.append(table.index_select(0, x.reshape(-1).long()).reshape(*batch, -1))
            elif key in self._onehot:
                feats.append(nn.functional.one_hot(x.long() - getattr(self, f"start_{key}"), self._onehot[key]).float())
            else:
                flat = (x.reshape(*batch, -1).float() - getattr(self, f"center_{key}")) / getattr(self, f"scale_{key}")
                feats.append(flat.clamp(-10.0, 10.0) if key in self._normalized else flat)
        return feats[0] if len(feats) == 1 else torch.cat(feats, dim=-1)


def _mlp(n_in: int, hidden: Sequence[int], n_out: int, out_gain: float) -> nn.Sequential:
    layers: list[nn.Module] = []
    for h in hidden:
        layers += [_init(nn.Linear(n_in, h), math.sqrt(2)), nn.Tanh()]
        n_in = h
    return nn.Sequential(*layers, _init(nn.Linear(n_in, n_out), out_gain))


def _init(layer: nn.Linear, gain: float) -> nn.Linear:
    # Orthogonal init with these gains (sqrt 2 hidden, 0.01 policy, 1 value) is what both CleanRL and SB3 use.
    nn.init.orthogonal_(layer.weight, gain)
    nn.init.zeros_(layer.bias)
    return layer


class Agent(nn.Module):
    """Actor and critic over a shared observation encoder (and optional shared ``trunk`` layer);
    categorical or diagonal-Gaussian policy.

    Example:
        >>> import gymnasium as gym, torch
        >>> _ = torch.manual_seed(0)
        >>> agent = Agent(gym.spaces.Box(-1, 1, (3,)), gym.spaces.Discrete(2), PPOArgs())
        >>> action, logp, value = agent.act({"obs": torch.zeros(4, 3)}, torch.Generator().manual_seed(0))
        >>> action.shape, logp.shape, value.shape
        (torch.Size([4]), torch.Size([4]), torch.Size([4]))
    """

    def __init__(self, obs_space: gym.Space, action_space: gym.Space, args: PPOArgs):
        super().__init__()
        encoder = Encoder(obs_space, args.embed_dim, args.normalize_obs)
        n_in = encoder.n_features
        if args.trunk:
            encoder = nn.Sequential(encoder, _init(nn.Linear(n_in, args.trunk), math.sqrt(2)), nn.Tanh())
            n_in = args.trunk
        self.encoder = encoder
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        n_out = int(action_space.n) if self.discrete else int(np.prod(action_space.shape))
        self.actor = _mlp(n_in, args.hidden, n_out, 0.01)
        # hl_gauss: the critic's outputs are logits over the bins; its value is their expected centre.
        self.hl_gauss = HLGauss(args.v_min, args.v_max, args.n_bins) if args.value_loss == "hl_gauss" else None
        self.critic = _mlp(n_in, args.hidden, args.n_bins if self.hl_gauss is not None else 1, 1.0)
        if not self.discrete:
            self.log_std = nn.Parameter(torch.zeros(n_out))

    @property
    def obs_encoder(self) -> Encoder:
        """The observation encoder (under the trunk, if there is one)."""
        return self.encoder[0] if isinstance(self.encoder, nn.Sequential) else self.encoder

    def critic_value(self, critic_out: torch.Tensor) -> torch.Tensor:
        """The critic's output (``(B, 1)``, or ``(B, n_bins)`` logits for hl_gauss) -> values ``(B,)``."""
        return self.hl_gauss.value(critic_out) if self.hl_gauss is not None else critic_out.squeeze(-1)

    def value(self, obs: Mapping[str, torch.Tensor]) -> torch.Tensor:
        return self.critic_value(self.critic(self.encoder(obs)))

    def actor_parameters(self) -> list[nn.Parameter]:
        """The parameters the policy's log-probabilities depend on: encoder, actor and log-std."""
        return [*self.encoder.parameters(), *self.actor.parameters(), *([self.log_std] if not self.discrete else [])]

    def log_prob(self, obs: Mapping[str, torch.Tensor], action: torch.Tensor) -> torch.Tensor:
        """``log pi(action | obs)`` under the current policy, with a graph (the actor only, no critic)."""
        out = self.actor(self.encoder(obs))
        if self.discrete:
            return torch.log_softmax(out, dim=-1).gather(-1, action.long().unsqueeze(-1)).squeeze(-1)
        return self._gaussian_logp(out, action)

    def act(self, obs: Mapping[str, torch.Tensor], generator: torch.Generator, deterministic: bool = False
            ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Sample (or take the mode of) the policy: ``(action, log-prob, value)``."""
        x = self.encoder(obs)
        out = self.actor(x)
        if self.discrete:
            logp_all = torch.log_softmax(out, dim=-1)
            if deterministic:
                action = out.argmax(-1)
            else:  # Gumbel-max: one uniform draw per logit, no distribution object
                u = torch.rand(out.shape, generator=generator, device=out.device).clamp_(1e-20, 1.0)
                action = (logp_all - torch.log(-torch.log(u))).argmax(-1)
            logp = logp_all.gather(-1, action.unsqueeze(-1)).squeeze(-1)
        else:
            std = self.log_std.exp()
            noise = torch.zeros_like(out) if deterministic else torch.randn(out.shape, generator=generator, device=out.device)
            action = out + std * noise
            logp = self._gaussian_logp(out, action)
        return action, logp, self.critic_value(self.critic(x))

    def evaluate(self, obs: Mapping[str, torch.Tensor], action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Log-prob and entropy of `action` under the current policy, and the critic's raw output for
        the loss: values ``(B,)``, or ``(B, n_bins)`` logits for hl_gauss (:meth:`critic_value` turns
        them into values)."""
        x = self.encoder(obs)
        out = self.actor(x)
        if self.discrete:
            logp_all = torch.log_softmax(out, dim=-1)
            logp = logp_all.gather(-1, action.long().unsqueeze(-1)).squeeze(-1)
            entropy = -(logp_all.exp() * logp_all).sum(-1)
        else:
            logp = self._gaussian_logp(out, action)
            entropy = (0.5 + 0.5 * math.log(2 * math.pi) + self.log_std).sum().expand(out.shape[0])
        critic_out = self.critic(x)
        return logp, entropy, critic_out if self.hl_gauss is not None else critic_out.squeeze(-1)

    def _gaussian_logp(self, mean: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        z = (action - mean) / self.log_std.exp()
        return (-0.5 * z * z - self.log_std - 0.5 * math.log(2 * math.pi)).sum(-1)


# ---------------------------------------------------------------- rollout storage and GAE


@dataclass
class Rollout:
    """One rollout, each tensor ``(n_steps, num_envs, ...)``; ``valid`` is False on NEXT_STEP dummy steps.

    ``next_values[t]`` is ``V`` of step ``t``'s true successor: on a truncation, ``V(final obs)``.
    """

    obs: dict[str, torch.Tensor]
    actions: torch.Tensor
    logprobs: torch.Tensor
    values: torch.Tensor
    next_values: torch.Tensor
    rewards: torch.Tensor
    terminated: torch.Tensor
    truncated: torch.Tensor
    valid: torch.Tensor
    advantages: torch.Tensor | None = None
    returns: torch.Tensor | None = None

    @classmethod
    def allocate(cls, n_steps: int, num_envs: int, obs_space: gym.Space, action_space: gym.Space, device: torch.device) -> Rollout:
        parts = obs_space.spaces if isinstance(obs_space, gym.spaces.Dict) else {"obs": obs_space}
        size = (n_steps, num_envs)
        obs = {k: torch.zeros(size + tuple(s.shape), dtype=_torch_dtype(s.dtype), device=device) for k, s in parts.items()}
        act_shape = () if isinstance(action_space, gym.spaces.Discrete) else tuple(action_space.shape)
        act_dtype = torch.long if not act_shape else torch.float32
        z = partial(torch.zeros, size, device=device)
        return cls(obs, torch.zeros(size + act_shape, dtype=act_dtype, device=device), z(), z(), z(), z(),
                   z(dtype=torch.bool), z(dtype=torch.bool), z(dtype=torch.bool))


def _torch_dtype(dtype: Any) -> torch.dtype:
    return torch.from_numpy(np.zeros(0, dtype=dtype)).dtype


def compute_gae(rewards: torch.Tensor, values: torch.Tensor, next_values: torch.Tensor, terminated: torch.Tensor,
                truncated: torch.Tensor, valid: torch.Tensor, gamma: float, gae_lambda: float) -> tuple[torch.Tensor, torch.Tensor]:
    """Advantages and returns of a ``(T, N)`` rollout: GAE with done and dummy steps cut out.

    ``delta_t = r_t + gamma * (1 - terminated_t) * next_values_t - values_t`` (a truncated step
    bootstraps with its final observation's value), and ``A_t = delta_t + gamma * lambda * A_{t+1}``
    within an episode only: the sum stops at any done. Dummy steps (``valid`` False) get 0.

    Example:
        >>> t = lambda *x: torch.tensor(x).reshape(-1, 1)
        >>> adv, ret = compute_gae(t(0.0, 1.0, 0.0, 0.0), t(1.0, 2.0, 5.0, 3.0), t(2.0, 5.0, 3.0, 4.0),
        ...                        t(False, False, False, False), t(False, True, False, False),
        ...                        t(True, True, False, True), gamma=0.5, gae_lambda=1.0)
        >>> adv.squeeze(1).tolist(), ret.squeeze(1).tolist()
        ([0.75, 1.5, 0.0, -1.0], [1.75, 3.5, 5.0, 2.0])
    """
    advantages = torch.zeros_like(rewards)
    last = torch.zeros_like(rewards[0])
    for t in reversed(range(rewards.shape[0])):
        delta = rewards[t] + gamma * next_values[t] * (~terminated[t]) - values[t]
        carry = ~(terminated[t] | truncated[t])
        last = (delta + gamma * gae_lambda * carry * last) * valid[t]
        advantages[t] = last
    return advantages, advantages + values


# ---------------------------------------------------------------- envs


def make_vec_env(env_id: str, n_envs: int = 1, reward: Term | Mapping[str, Any] | str | None = None,
                 env_kwargs: Mapping[str, Any] | None = None, wrappers: Sequence[Any] = (),
                 max_episode_steps: int | None = None) -> gym.vector.VectorEnv:
    """``n_envs`` copies of ``env_id`` as one VectorEnv, shaped by ``reward`` when it is given.

    A ``rewardlab/`` id with a ``vector_entry_point`` (gridhack) and no ``wrappers`` is built batched
    (``gym.make_vec(..., vectorization_mode="vector_entry_point")``); anything else is a
    ``SyncVectorEnv``. ``wrappers`` are 'module:name' or ``{wrapper, kwargs}`` refs, as in the SB3 path.

    Example:
        >>> envs = make_vec_env("rewardlab/Gridhack-Corridors-R5-v0", 4, reward="EnvReward", env_kwargs={"num_contexts": 1})
        >>> type(envs.unwrapped).__name__, envs.num_envs, type(envs).__name__
        ('GridhackVectorEnv', 4, 'VectorRewardShaping')
    """
    import rewardlab  # noqa: F401  (registers the rewardlab/ ids)

    if isinstance(n_envs, bool) or not isinstance(n_envs, int) or n_envs < 1:
        raise InvalidParameter(f"`n_envs` must be a positive integer. Received {n_envs!r}")
    kwargs = dict(env_kwargs or {})
    if max_episode_steps is not None:
        kwargs["max_episode_steps"] = max_episode_steps
    try:
        batched = env_id.startswith("rewardlab/") and not wrappers and gym.spec(env_id).vector_entry_point is not None
        if batched:
            envs = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="vector_entry_point", **kwargs)
        else:
            envs = gym.make_vec(env_id, num_envs=n_envs, vectorization_mode="sync", wrappers=wrapper_fns(wrappers), **kwargs)
    except gym.error.Error as e:
        raise ConfigError(f"Cannot make env `{env_id}`: {e}") from e
    return envs if reward is None else VectorRewardShaping(envs, from_config(reward))


def check_action_space(space: gym.Space, env_id: str) -> None:
    """Raise when TorchPPO cannot act in `space` (it needs Discrete or Box)."""
    if not isinstance(space, (gym.spaces.Discrete, gym.spaces.Box)):
        raise ConfigError(f"Algorithm `{ALGO_NAME}` needs a Discrete or Box action space; env `{env_id}` has {space}")


def _shaping_term(envs: gym.vector.VectorEnv) -> Term | None:
    env: Any = envs
    while env is not None:
        if isinstance(env, VectorRewardShaping):
            return env.term
        env = getattr(env, "env", None)
    return None


class _ToTorch:
    """numpy observations (array or dict of arrays, leading batch dim) -> dict of tensors on `device`."""

    def __init__(self, space: gym.Space, device: torch.device):
        self.is_dict, self.device = isinstance(space, gym.spaces.Dict), device

    def __call__(self, obs: Any) -> dict[str, torch.Tensor]:
        parts = obs if self.is_dict else {"obs": obs}
        # Tensors of a torch-backend env are already on the learner's device (checked at the start): no copy.
        return {k: v if isinstance(v, torch.Tensor) else torch.as_tensor(np.asarray(v), device=self.device) for k, v in parts.items()}

    def stack(self, rows: Sequence[Any]) -> dict[str, torch.Tensor]:
        """Single observations (``info["final_obs"]`` entries) -> one batch."""
        if self.is_dict:
            return self({k: np.stack([r[k] for r in rows]) for k in rows[0]})
        return self(np.stack(rows))


class _EnvActions:
    """Sampled actions -> what the env takes: numpy on the host, or tensors on the device of a torch-backend env."""

    def __init__(self, space: gym.Space, device: torch.device | None):
        self.space, self.device = space, device  # device None: a numpy env
        self.discrete = isinstance(space, gym.spaces.Discrete)
        if device is not None and not self.discrete:
            self.low, self.high = (torch.as_tensor(b, device=device) for b in (space.low, space.high))
            self.dtype = _torch_dtype(space.dtype)

    def __call__(self, action: torch.Tensor) -> Any:
        if self.device is not None:  # stays on the device
            if self.discrete:
                return action + int(self.space.start) if self.space.start else action
            return torch.clamp(action, self.low, self.high).to(self.dtype)
        a = action.cpu().numpy()
        if self.discrete:
            return a + int(self.space.start) if self.space.start else a
        # The Gaussian is unbounded; the env gets the action clipped to its bounds, the loss the sampled one.
        return np.clip(a, self.space.low, self.space.high).astype(self.space.dtype)


def _env_device(obs: Any, device: torch.device) -> torch.device | None:
    """The device of a torch-backend env's observations (None for numpy ones); it must be the learner's."""
    leaf = first_leaf(obs)
    if not isinstance(leaf, torch.Tensor):
        return None
    # A mismatch would copy every observation and action between devices, which is the numpy path's cost.
    if leaf.device.type != device.type or (device.index is not None and leaf.device != device):
        raise ConfigError(f"The env's tensors are on `{leaf.device}` but the learner's `device` is `{device}`; "
                          f"make the env with device={str(device)!r} or set PPOArgs(device={str(leaf.device)!r})")
    return leaf.device


class _DeviceSteps:
    """What :class:`_EpisodeLog` reads of each step, kept on the device for one rollout and copied once at its end.

    On a torch-backend env the log would otherwise copy rewards, flags and every term to the host on
    every step; here the rollout loop only writes into ``(T, N)`` device buffers.
    """

    def __init__(self, n_steps: int, num_envs: int, device: torch.device):
        self.size, self.device = (n_steps, num_envs), device
        self.columns: dict[str, torch.Tensor] = {}
        self.terms: dict[str, torch.Tensor] = {}
        self.steps: list[int] = []

    def _column(self, store: dict[str, torch.Tensor], key: str, dtype: torch.dtype) -> torch.Tensor:
        if key not in store:
            store[key] = torch.zeros(self.size, dtype=dtype, device=self.device)
        return store[key]

    def record(self, t: int, step: int, reward: torch.Tensor, done: torch.Tensor, valid: torch.Tensor,
               info: Mapping[str, Any]) -> None:
        self.steps.append(step)
        self._column(self.columns, "task_reward", torch.float64)[t] = info.get("task_reward", reward)
        self._column(self.columns, "done", torch.bool)[t] = done
        self._column(self.columns, "valid", torch.bool)[t] = valid
        if "is_success" in info:
            self._column(self.columns, "is_success", torch.bool)[t] = torch.as_tensor(info["is_success"], device=self.device)
            mask = info.get("_is_success")
            # a host mask that is all True (the usual one) is written as a constant: no copy to the device
            whole = mask is None or (isinstance(mask, np.ndarray) and bool(mask.all()))
            self._column(self.columns, "_is_success", torch.bool)[t] = True if whole else torch.as_tensor(mask, device=self.device)
        if "reward_fallback" in info:
            self._column(self.columns, "reward_fallback", torch.bool)[t] = torch.as_tensor(info["reward_fallback"], device=self.device)
        for name, value in info.get("reward_terms", {}).items():
            self._column(self.terms, name, torch.float64)[t] = value

    def replay(self, log: _EpisodeLog) -> None:
        """Copy the rollout to the host (one transfer per column) and feed the log step by step."""
        cols = {k: v.cpu().numpy() for k, v in self.columns.items()}
        terms = {k: v.cpu().numpy() for k, v in self.terms.items()}
        for t, step in enumerate(self.steps):
            info: dict[str, Any] = {"task_reward": cols["task_reward"][t], "reward_terms": {k: v[t] for k, v in terms.items()}}
            for key in ("is_success", "_is_success", "reward_fallback"):
                if key in cols:
                    info[key] = cols[key][t]
            log.step(step, cols["task_reward"][t], cols["done"][t], cols["valid"][t], info)
        self.steps = []


# ---------------------------------------------------------------- episode logging and evaluation


class _EpisodeLog:
    """Per training episode: task return, success, length and each term's sum (dummy steps skipped)."""

    def __init__(self, n: int):
        self.episodes: list[dict[str, Any]] = []
        self.term_totals: dict[str, float] = {}
        self.term_abs_totals: dict[str, float] = {}
        self._ret, self._len = np.zeros(n), np.zeros(n, dtype=np.int64)
        self._terms: dict[str, np.ndarray] = {}
        self._fallbacks: np.ndarray | None = None  # LLMReward rows that got the fallback reward, once reported

    def step(self, step: int, reward: np.ndarray, done: np.ndarray, valid: np.ndarray, info: Mapping[str, Any]) -> None:
        self._ret += np.where(valid, np.asarray(info.get("task_reward", reward), dtype=np.float64), 0.0)
        self._len += valid
        if "reward_fallback" in info:
            if self._fallbacks is None:
                self._fallbacks = np.zeros_like(self._len)
            self._fallbacks += np.asarray(info["reward_fallback"], dtype=bool) & valid
        for name, value in info.get("reward_terms", {}).items():
            value = np.asarray(value, dtype=np.float64)  # 0 on dummy steps (VectorRewardShaping)
            self._terms.setdefault(name, np.zeros_like(self._ret))[:] += value
            self.term_totals[name] = self.term_totals.get(name, 0.0) + float(value.sum())
            self.term_abs_totals[name] = self.term_abs_totals.get(name, 0.0) + float(np.abs(value).sum())
        for i in np.flatnonzero(done & valid):
            self.episodes.append({"step": step, "task_return": float(self._ret[i]), "success": _success(info, i),
                                  "length": int(self._len[i]), "terms": {k: float(v[i]) for k, v in self._terms.items()}})
            if self._fallbacks is not None:
                self.episodes[-1]["reward_fallbacks"] = int(self._fallbacks[i])
                self._fallbacks[i] = 0
            self._ret[i], self._len[i] = 0.0, 0
            for v in self._terms.values():
                v[i] = 0.0

    def drop_partial(self) -> None:
        """Forget the episodes in progress (their envs were reset without ending them)."""
        self._ret[:], self._len[:] = 0.0, 0
        for v in self._terms.values():
            v[:] = 0.0
        if self._fallbacks is not None:
            self._fallbacks[:] = 0


def _success(info: Mapping[str, Any], i: int) -> float:
    # No success criterion is invented: an env that does not report `is_success` gets NaN.
    if "is_success" not in info or not info.get("_is_success", np.ones(i + 1, bool))[i]:
        return math.nan
    return float(bool(info["is_success"][i]))


@torch.no_grad()
def evaluate(agent: Agent, envs: gym.vector.VectorEnv, seed: int, deterministic: bool = True) -> tuple[float, float]:
    """Mean task return and success rate of one episode per sub-env of an unshaped vector env.

    ``envs.reset(seed=seed)`` starts every evaluation of a run from the same states (a
    ``SyncVectorEnv`` seeds sub-env ``k`` with ``seed + k``, as the SB3 path's episode ``k``).
    Sampled actions draw from a generator seeded with ``seed``, so evaluation never moves the
    training random stream.
    """
    to_torch = _ToTorch(envs.single_observation_space, next(agent.parameters()).device)
    generator = torch.Generator(to_torch.device).manual_seed(seed)
    obs, _ = envs.reset(seed=seed)
    env_actions = _EnvActions(envs.single_action_space, _env_device(obs, to_torch.device))
    n = envs.num_envs
    returns, success, finished = np.zeros(n), np.full(n, math.nan), np.zeros(n, dtype=bool)
    while not finished.all():
        action = agent.act(to_torch(obs), generator, deterministic)[0]
        obs, reward, terminated, truncated, info = envs.step(env_actions(action))
        # Evaluation is not the training loop: a torch-backend env's flags come to the host here.
        reward, terminated, truncated = host(reward), host(terminated), host(truncated)
        returns += np.where(finished, 0.0, reward)
        for i in np.flatnonzero((terminated | truncated) & ~finished):
            success[i] = _success(info, i)
        finished |= terminated | truncated
    return float(returns.mean()), float(success.mean())


# ---------------------------------------------------------------- training


@dataclass(kw_only=True)
class PPOResult(RunResult):
    """What :func:`train` returns: the agent and the run's record (read by the ablation store).

    ``learner_log`` (a :class:`RunResult` field) has one row per rollout when the term tree has
    learned or outer-step terms, ``[]`` otherwise.
    """

    agent: Agent
    #: Per rollout: ``{"step", "losses/...", "charts/sps", "charts/samples", bonus and blend metrics}``.
    metrics: list[dict[str, float]] = field(default_factory=list)
    #: The last rollout, with its advantages and returns (for inspection and tests; None when the
    #: run resumed from a checkpoint of a finished run).
    rollout: Rollout | None = None
    #: The rollout index this run resumed at (0: it started fresh).
    resumed_at: int = 0


def _discount_term(outer: Sequence[Term]) -> Term | None:
    """The outer term that learns the discount (a ``Blend(learn_gamma=True)``), if any; GAE then uses its ``discount``."""
    learning = [t for t in outer if getattr(t, "learn_gamma", False)]
    # One learner has one discount: two learned ones would pull it two ways.
    if len(learning) > 1:
        raise ConfigError(f"At most one term may learn the discount; {[t.name for t in learning]} all have learn_gamma=True")
    return learning[0] if learning else None


def train(args: PPOArgs, envs: gym.vector.VectorEnv, total_steps: int, seed: int = 0, *,
          eval_envs: gym.vector.VectorEnv | None = None, eval_every: int | None = None,
          eval_deterministic: bool = True, progress: Callable[[int], None] | None = None,
          torch_threads: int | None = 1, tensorboard_dir: str | None = None, checkpoint_dir: str | None = None,
          checkpoint_every_s: float = 60.0) -> PPOResult:
    """Train PPO on `envs` for at least `total_steps` env steps (whole rollouts; dummy steps count).

    Args:
        args: hyper-parameters.
        envs: any Gymnasium VectorEnv in NEXT_STEP or SAME_STEP autoreset mode, usually shaped
            (:func:`make_vec_env`); if a :class:`VectorRewardShaping` is in its stack, learned
            terms of its tree are trained after every rollout, and outer-step terms (``Blend``)
            take their step before each policy update (a Blend that learns its discount sets the
            GAE discount to its ``discount``).
        total_steps: env steps summed over sub-envs.
        seed: seeds torch (network init, sampling, minibatches) and ``envs.reset``; on CPU the
            same seed gives the same run.
        eval_envs: an unshaped vector env, one evaluation episode per sub-env (None: no evaluation).
        eval_every: env steps between evaluations (default ``total_steps // 10``); evaluations run
            at the start, at the first rollout end past each mark, and at the end; seed ``10_000 + seed``.
        eval_deterministic: greedy actions in evaluation, or sampled as in training.
        progress: optional ``fn(steps)`` called about once a second.
        torch_threads: ``torch.set_num_threads`` (one by default; None leaves it alone).
        tensorboard_dir: this run's TensorBoard folder (None: no log); tags as in
            :mod:`rewardlab.baselines.tensorboard`.
        checkpoint_dir: this run's checkpoint folder (None: no checkpoints). The run saves one at a
            rollout boundary at most every `checkpoint_every_s` seconds and at the end, and resumes
            from the one it finds there: the same seed then gives the same numbers as an
            uninterrupted run (curve, episodes, parameters). The envs are pickled into the checkpoint
            and the resumed run continues on that copy (``envs`` is then used for nothing else);
            where they do not pickle (an ``AsyncVectorEnv``, a term holding a live client), the term
            tree's ``state_dict`` is saved instead and the resumed run resets ``envs`` with seed
            ``seed + global_step``: it goes on training but no longer matches an uninterrupted run
            (a warning says so). A resumed run keeps this call's `total_steps` (the learning-rate
            schedule follows it); a checkpoint of another seed or other hyper-parameters is an error.
        checkpoint_every_s: seconds between checkpoints (0: after every rollout).

    Raises:
        ConfigError: the checkpoint in `checkpoint_dir` was written by a run with another seed or
            other hyper-parameters.

    Example:
        >>> envs = make_vec_env("CartPole-v1", 2)
        >>> result = train(PPOArgs(n_steps=16, batch_size=16, n_epochs=1), envs, 64, seed=0,
        ...                eval_envs=make_vec_env("CartPole-v1", 2), eval_every=32)
        >>> [row["step"] for row in result.curve], result.steps, result.rollout.values.shape
        ([0, 32, 64], 64, torch.Size([16, 2]))
    """
    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
        raise InvalidParameter(f"`total_steps` must be a positive integer. Received {total_steps!r}")
    if isinstance(checkpoint_every_s, bool) or not isinstance(checkpoint_every_s, (int, float)) or not checkpoint_every_s >= 0:
        raise InvalidParameter(f"`checkpoint_every_s` must be a non-negative number of seconds. Received {checkpoint_every_s!r}")
    check_action_space(envs.single_action_space, str(envs.spec.id if envs.spec else envs))
    if torch_threads is not None:
        torch.set_num_threads(torch_threads)
    device = torch.device(args.device)
    torch.manual_seed(seed)
    generator = torch.Generator(device).manual_seed(seed)
    perm_generator = torch.Generator().manual_seed(seed + 1)

    agent = Agent(envs.single_observation_space, envs.single_action_space, args).to(device)
    optimizer = torch.optim.Adam(agent.parameters(), lr=args.learning_rate, eps=1e-5)
    saved = load_checkpoint(checkpoint_dir)
    run_id = {"seed": seed, "args": repr(args)}
    if saved is not None and saved["run"] != run_id:
        raise ConfigError(f"The checkpoint in `{checkpoint_dir}` belongs to another run ({saved['run']}), not to this one "
                          f"({run_id}); delete it or give this run its own `checkpoint_dir`")
    own_envs = saved is not None and saved["envs"] is not None
    if own_envs:
        envs = load_envs(saved["envs"])  # the envs exactly as they were at the checkpoint
    mode = AutoresetMode(envs.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP))
    if mode == AutoresetMode.DISABLED:
        raise InvalidParameter("`envs` must autoreset (NEXT_STEP or SAME_STEP); received a vector env with autoreset_mode DISABLED")
    term = _shaping_term(envs)
    learned = term is not None and bool(learned_terms(term))
    outer = outer_terms(term) if term is not None else []
    discount_term = _discount_term(outer)
    T, N = args.n_steps, envs.num_envs
    buf = Rollout.allocate(T, N, envs.single_observation_space, envs.single_action_space, device)
    to_torch = _ToTorch(envs.single_observation_space, device)
    n_rollouts = math.ceil(total_steps / (T * N))

    log = _EpisodeLog(N)
    curve: list[dict[str, float]] = []
    metrics: list[dict[str, float]] = []
    learner_log: list[dict[str, float]] = []
    eval_every = eval_every or max(1, total_steps // 10)
    eval_seed = 10_000 + seed
    eval_time, wall_before = 0.0, 0.0  # seconds spent evaluating (taken out of the training steps/s); wall time before a resume
    global_step, next_eval, first_rollout = 0, eval_every, 0
    if saved is None:
        obs, _ = envs.reset(seed=seed)
        env_device = _env_device(obs, device)
        next_obs = to_torch(obs)
    else:
        agent.load_state_dict(saved["agent"])
        optimizer.load_state_dict(saved["optimizer"])
        set_rng_state(saved["rng"], generator, perm_generator)
        log, curve, metrics, learner_log = saved["log"], saved["curve"], saved["metrics"], saved["learner_log"]
        global_step, next_eval, first_rollout = saved["global_step"], saved["next_eval"], saved["rollout"]
        eval_time, wall_before = saved["eval_time_s"], saved["wall_time_s"]
        if own_envs:
            next_obs, prev_done = {k: v.to(device) for k, v in saved["next_obs"].items()}, saved["prev_done"]
            prev_done = prev_done.to(device) if isinstance(prev_done, torch.Tensor) else prev_done
            env_device = device if isinstance(prev_done, torch.Tensor) else None
        else:
            warnings.warn(f"The envs of the checkpoint in `{checkpoint_dir}` could not be pickled; the resumed run "
                          "resets them and no longer matches an uninterrupted run", stacklevel=2)
            if term is not None:
                term.load_state_dict(saved["term"])
            obs, _ = envs.reset(seed=seed + global_step)
            env_device = _env_device(obs, device)
            next_obs = to_torch(obs)
            log.drop_partial()
    # A torch-backend env (tensors on the learner's device) keeps stepping, shaping and storage there:
    # the loop below then copies nothing to the host per step (flags, rewards and the episode log stay
    # on the device until the rollout ends). A numpy env takes the host path.
    on_device = env_device is not None
    if saved is None or not own_envs:
        prev_done = torch.zeros(N, dtype=torch.bool, device=device) if on_device else np.zeros(N, dtype=bool)
    all_valid = torch.ones(N, dtype=torch.bool, device=device) if on_device else np.ones(N, dtype=bool)
    env_actions = _EnvActions(envs.single_action_space, env_device)
    device_steps = _DeviceSteps(T, N, device) if on_device else None
    final_values = torch.zeros(T, N, device=device)  # device path, SAME_STEP: V(final obs) where has_final
    has_final = torch.zeros(T, N, dtype=torch.bool, device=device)
    tb = ScalarLog(tensorboard_dir, purge_step=global_step if saved is not None else None)

    def run_evaluation(step: int) -> None:
        nonlocal eval_time
        if eval_envs is not None:
            t0 = time.perf_counter()
            ret, success = evaluate(agent, eval_envs, eval_seed, eval_deterministic)
            eval_time += time.perf_counter() - t0
            curve.append({"step": step, "task_return": ret, "success": success})
            tb.add_many({"eval/task_return": ret, "eval/success": success}, step)

    start = time.perf_counter()
    last_progress, last_checkpoint = 0.0, time.monotonic()

    def checkpoint(next_rollout: int) -> None:
        tb.flush()
        pickled_envs = dump_envs(envs)  # the term tree travels inside; its state_dict only when they do not pickle
        save_checkpoint(checkpoint_dir, {
            "run": run_id, "rollout": next_rollout, "global_step": global_step, "next_eval": next_eval,
            "agent": agent.state_dict(), "optimizer": optimizer.state_dict(),
            "rng": rng_state(generator, perm_generator),
            "log": log, "curve": curve, "metrics": metrics, "learner_log": learner_log,
            "eval_time_s": eval_time, "wall_time_s": wall_before + time.perf_counter() - start,
            "envs": pickled_envs, "next_obs": {k: v.cpu() for k, v in next_obs.items()}, "prev_done": prev_done,
            "term": term.state_dict() if term is not None and pickled_envs is None else None,
        })

    if saved is None:
        run_evaluation(0)
    for rollout_i in range(first_rollout, n_rollouts):
        if args.anneal_lr:
            optimizer.param_groups[0]["lr"] = args.learning_rate * (1.0 - rollout_i / n_rollouts)
        rollout_start = time.perf_counter()
        n_episodes_before = len(log.episodes)
        host_final_values: dict[tuple[int, int], float] = {}  # host path, SAME_STEP truncations: (t, env) -> V(final obs)
        has_final.zero_()

        # ---- collect: T vector steps with the current policy
        for t in range(T):
            with torch.no_grad():
                action, logp, value = agent.act(next_obs, generator)
            for k, v in next_obs.items():
                buf.obs[k][t] = v
            buf.actions[t], buf.logprobs[t], buf.values[t] = action, logp, value
            # Under NEXT_STEP the step after a done only resets that sub-env: not a transition.
            valid = ~prev_done if mode == AutoresetMode.NEXT_STEP else all_valid
            obs, reward, terminated, truncated, info = envs.step(env_actions(action))
            done = terminated | truncated
            global_step += N
            if on_device:  # tensors on the learner's device: copied into storage there, nothing to the host
                buf.valid[t], buf.rewards[t], buf.terminated[t], buf.truncated[t] = valid, reward, terminated, truncated
                if mode == AutoresetMode.SAME_STEP and "final_obs" in info:
                    with torch.no_grad():
                        final_values[t] = agent.value(to_torch(info["final_obs"]))
                    has_final[t] = truncated
                device_steps.record(t, global_step, reward, done, valid, info)
            else:
                buf.valid[t] = torch.as_tensor(valid, device=device)
                buf.rewards[t] = torch.as_tensor(np.asarray(reward, dtype=np.float32), device=device)
                buf.terminated[t] = torch.as_tensor(terminated, device=device)
                buf.truncated[t] = torch.as_tensor(truncated, device=device)
                if mode == AutoresetMode.SAME_STEP and truncated.any():
                    rows = np.flatnonzero(truncated)
                    with torch.no_grad():
                        v_final = agent.value(to_torch.stack([info["final_obs"][i] for i in rows]))
                    host_final_values.update({(t, int(i)): float(v) for i, v in zip(rows, v_final)})
                log.step(global_step, np.asarray(reward), done, valid, info)
            prev_done = done
            next_obs = to_torch(obs)
            if progress is not None and time.monotonic() - last_progress >= 1.0:
                last_progress = time.monotonic()
                progress(global_step)
        if on_device:
            device_steps.replay(log)  # the rollout's episode log: one copy to the host per column
        rollout_metrics: dict[str, float] = {}
        if learned:  # learned bonuses train on what they recorded; the next rollout is scored with them
            for name, values in update_learned_terms(term).items():
                rollout_metrics.update({f"bonus/{name}/{k}": float(v) for k, v in values.items()})
        if outer:  # the outer step (Blend) sees this rollout on-policy: before the update
            flat_obs = {k: v.reshape(T * N, *v.shape[2:]) for k, v in buf.obs.items()}  # t-major: row t*N + i
            flat_actions = buf.actions.reshape(T * N, *buf.actions.shape[2:])
            rollout_metrics.update(outer_step(term, PolicyBatch(
                log_prob=lambda: agent.log_prob(flat_obs, flat_actions), parameters=agent.actor_parameters(),
                terminated=buf.terminated.cpu().numpy(), truncated=buf.truncated.cpu().numpy(),
                valid=buf.valid.cpu().numpy(), step=global_step)))
        if learned or outer:
            learner_log.append({"step": global_step, **rollout_metrics})

        # ---- advantages: V of each step's true successor is V of the next stored obs (NEXT_STEP
        # stores the final obs on the dummy step), or V(final_obs) for a SAME_STEP truncation.
        with torch.no_grad():
            buf.next_values[:-1] = buf.values[1:]
            buf.next_values[-1] = agent.value(next_obs)
        for (t, i), v in host_final_values.items():
            buf.next_values[t, i] = v
        if on_device and mode == AutoresetMode.SAME_STEP:
            buf.next_values = torch.where(has_final, final_values, buf.next_values)
        gamma = args.gamma if discount_term is None else float(discount_term.discount)
        buf.advantages, buf.returns = compute_gae(buf.rewards, buf.values, buf.next_values, buf.terminated,
                                                  buf.truncated, buf.valid, gamma, args.gae_lambda)

        # ---- update: n_epochs of minibatches over the valid transitions only
        keep = buf.valid.reshape(-1).nonzero().squeeze(1)
        b_obs = {k: v.reshape(T * N, *v.shape[2:])[keep] for k, v in buf.obs.items()}
        b_actions = buf.actions.reshape(T * N, *buf.actions.shape[2:])[keep]
        b_logprobs, b_values, b_adv, b_returns = (x.reshape(-1)[keep] for x in (buf.logprobs, buf.values, buf.advantages, buf.returns))
        n_samples = int(keep.numel())
        clipfracs, approx_kl, stats = [], 0.0, (0.0, 0.0, 0.0)
        for _epoch in range(args.n_epochs):
            perm = torch.randperm(n_samples, generator=perm_generator).to(device)
            for begin in range(0, n_samples, args.batch_size):
                mb = perm[begin: begin + args.batch_size]
                new_logp, entropy, critic_out = agent.evaluate({k: v[mb] for k, v in b_obs.items()}, b_actions[mb])
                log_ratio = new_logp - b_logprobs[mb]
                ratio = log_ratio.exp()
                with torch.no_grad():  # kept as tensors: a float() per minibatch would wait for the device
                    approx_kl_t = ((ratio - 1) - log_ratio).mean()  # Schulman's k3 estimator, as CleanRL
                    clipfracs.append(((ratio - 1.0).abs() > args.clip_range).float().mean())
                adv = b_adv[mb]
                if args.normalize_advantage and adv.numel() > 1:
                    adv = (adv - adv.mean()) / (adv.std() + 1e-8)
                pg_loss = torch.max(-adv * ratio, -adv * ratio.clamp(1 - args.clip_range, 1 + args.clip_range)).mean()
                if agent.hl_gauss is not None:  # cross-entropy to the return's smoothed histogram
                    v_loss = agent.hl_gauss.loss(critic_out, b_returns[mb])
                else:
                    v_err = (critic_out - b_returns[mb]) ** 2
                    if args.clip_range_vf is not None:
                        clipped = b_values[mb] + (critic_out - b_values[mb]).clamp(-args.clip_range_vf, args.clip_range_vf)
                        v_err = torch.max(v_err, (clipped - b_returns[mb]) ** 2)
                    v_loss = v_err.mean()
                ent = entropy.mean()
                loss = pg_loss - args.ent_coef * ent + args.vf_coef * v_loss
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()
                stats_t = (pg_loss.detach(), v_loss.detach(), ent.detach())
            if n_samples:
                approx_kl = float(approx_kl_t)
            if args.target_kl is not None and approx_kl > args.target_kl:
                break
        if n_samples:
            stats = tuple(float(x) for x in stats_t)
        if args.normalize_obs:  # after the update: the next rollout is collected and learned from under the new statistics
            agent.obs_encoder.update_stats(b_obs)
        rollout_metrics.update({
            "step": global_step, "losses/policy": stats[0], "losses/value": stats[1], "losses/entropy": stats[2],
            "losses/approx_kl": approx_kl, "losses/clipfrac": float(torch.stack(clipfracs).mean()) if clipfracs else 0.0,
            "charts/samples": n_samples, "charts/sps": T * N / (time.perf_counter() - rollout_start),
        })
        metrics.append(rollout_metrics)
        tb.add_many({k: v for k, v in rollout_metrics.items() if k != "step"}, global_step)
        tb.add_many(episode_scalars(log.episodes[n_episodes_before:]), global_step)
        if global_step >= next_eval:
            run_evaluation(global_step)
            while next_eval <= global_step:
                next_eval += eval_every
        if checkpoint_dir is not None and (rollout_i == n_rollouts - 1 or time.monotonic() - last_checkpoint >= checkpoint_every_s):
            checkpoint(rollout_i + 1)
            last_checkpoint = time.monotonic()
    ran = first_rollout < n_rollouts
    if eval_envs is not None and curve[-1]["step"] != global_step:
        run_evaluation(global_step)
    tb.close()
    wall = wall_before + time.perf_counter() - start
    if progress is not None:
        progress(global_step)
    if own_envs:
        envs.close()
    return PPOResult(agent=agent, curve=curve, episodes=log.episodes, term_totals=log.term_totals,
                     term_abs_totals=log.term_abs_totals, steps=global_step, wall_time_s=wall, eval_time_s=eval_time,
                     metrics=metrics, learner_log=learner_log, rollout=buf if ran else None, resumed_at=first_rollout)


def train_env(env_id: str, reward: Term | Mapping[str, Any] | str | None = None, total_steps: int = 10_000, seed: int = 0,
              n_envs: int = 8, hyperparams: Mapping[str, Any] | None = None, env_kwargs: Mapping[str, Any] | None = None,
              wrappers: Sequence[Any] = (), max_episode_steps: int | None = None, eval_every: int | None = None,
              eval_episodes: int = 5, eval_deterministic: bool = True, progress: Callable[[int], None] | None = None,
              torch_threads: int | None = 1, tensorboard_dir: str | None = None, checkpoint_dir: str | None = None,
              checkpoint_every_s: float = 60.0) -> PPOResult:
    """Train TorchPPO on ``env_id`` shaped by ``reward`` and evaluate on the task reward (the ablation entry).

    The same arguments as :func:`rewardlab.baselines.sb3.train` where they apply: ``hyperparams``
    are :class:`PPOArgs` fields, ``n_envs`` sub-envs train (batched for gridhack), and
    ``eval_episodes`` sub-envs of an unshaped copy evaluate. ``tensorboard_dir``, ``checkpoint_dir``
    and ``checkpoint_every_s`` are :func:`train`'s.

    Raises:
        ConfigError: unknown hyper-parameters, an env it cannot make, a PBRS term whose gamma
            differs from ``hyperparams["gamma"]``.
    """
    try:
        args = PPOArgs(**dict(hyperparams or {}))
    except TypeError as e:
        raise ConfigError(f"Bad hyper-parameters for `{ALGO_NAME}`: {e}") from e
    term = from_config(reward if reward is not None else "EnvReward")
    check_discount(term, args.gamma)
    envs = make_vec_env(env_id, n_envs, term, env_kwargs, wrappers, max_episode_steps)
    eval_envs = make_vec_env(env_id, eval_episodes, None, env_kwargs, wrappers, max_episode_steps)
    try:
        return train(args, envs, total_steps, seed, eval_envs=eval_envs, eval_every=eval_every,
                     eval_deterministic=eval_deterministic, progress=progress, torch_threads=torch_threads,
                     tensorboard_dir=tensorboard_dir, checkpoint_dir=checkpoint_dir, checkpoint_every_s=checkpoint_every_s)
    finally:
        envs.close()
        eval_envs.close()


# ---------------------------------------------------------------- registry entry


def _gamma(hyperparams: Mapping[str, Any]) -> float:
    return float(hyperparams.get("gamma", PPOArgs.gamma))


def _collection(hyperparams: Mapping[str, Any], n_envs: int) -> tuple[int, str]:
    return n_envs * int(hyperparams.get("n_steps", PPOArgs.n_steps)), "rollouts of n_envs x n_steps"


def _train_request(request: TrainRequest) -> PPOResult:
    """One ablation run: :func:`train_env` with the request's env, reward, budget and folders."""
    env = request.env
    return train_env(
        env["id"], request.reward, total_steps=request.total_steps, seed=request.seed, n_envs=request.n_envs,
        hyperparams={**request.hyperparams, "normalize_obs": request.normalize_obs},
        env_kwargs=env.get("kwargs"), wrappers=env.get("wrappers") or (),
        max_episode_steps=env.get("max_episode_steps"), eval_every=request.eval_every, eval_episodes=request.eval_episodes,
        eval_deterministic=request.eval_deterministic, progress=request.progress,
        tensorboard_dir=request.tensorboard_dir, checkpoint_dir=request.checkpoint_dir,
        checkpoint_every_s=_checkpoint_every_s(),
    )  # fmt: skip


#: Environment variable: seconds between an ablation run's checkpoints (default 60; tests of
#: killed sweeps set it low so that a checkpoint exists before the kill).
CHECKPOINT_EVERY_ENV = "REWARDLAB_CHECKPOINT_EVERY_S"


def _checkpoint_every_s() -> float:
    raw = os.environ.get(CHECKPOINT_EVERY_ENV, "60")
    try:
        value = float(raw)
    except ValueError:
        value = math.nan
    if not value >= 0:
        raise ConfigError(f"`{CHECKPOINT_EVERY_ENV}` must be a non-negative number of seconds. Received {raw!r}")
    return value


#: This module's registry entries (:mod:`rewardlab.baselines.registry`).
TRAINERS = [Trainer(name=ALGO_NAME, train=_train_request, hyperparams=PPOArgs, gamma=_gamma,
                    check_action_space=check_action_space, collection=_collection,
                    resumable=True)]
