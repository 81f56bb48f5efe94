"""IPPO and MAPPO in torch: one file, read top to bottom, over PettingZoo Parallel envs or the batched coopetition core.

CleanRL's PPO in structure (hyper-parameters in :class:`MARLArgs`, storage ``(n_steps, num_envs,
n_agents, ...)``, the loop in :func:`train`), for several agents:

* **One actor for all agents** (parameter sharing), each agent's observation extended with its
  one-hot id. Agents may have different ``Box`` bounds: the policy acts in [-1, 1] and each agent's
  action is mapped to its own bounds (coopetition endowments differ by agent).
* **Two critics.** IPPO: ``V(o_i, id_i)`` on the agent's own observation. MAPPO: a centralised
  critic ``V(s, id_i)`` on the env's global state (``ParallelEnv.state()``, the core's
  ``state_obs``; all agents' observations concatenated where an env has no state). Returns are
  normalised by a running mean and variance (MAPPO's ValueNorm, Yu et al. 2022): coopetition
  returns are in the tens of thousands.
* **Per-agent rewards** in every reward mode: each agent learns from its own reward, never a sum.
  Shaping terms are per agent (:class:`~rewardlab.wrappers.parallel.ParallelRewardShaping` on the
  PettingZoo path, one term instance per agent over the B envs on the core path).
* **Truncation bootstraps** with ``V(final obs)``, termination does not; agents that leave are
  masked out of the loss and of GAE (:func:`rewardlab.baselines.ppo.compute_gae` over
  ``(T, B * n)``, the same formula as TorchPPO).
* **Batched**: :class:`CoreEnvs` steps B coopetition games as one array program; :class:`ParallelEnvs`
  steps B copies of any ParallelEnv one by one.
* **On the device** with a torch-backend core (``CoreEnvs(..., backend="torch", device=...)``, the
  device of :attr:`MARLArgs.device`): actions go to the core as tensors, and observations, rewards,
  shaping terms, flags and storage stay there; the episode log's inputs are copied to the host once
  per rollout, so the loop makes no host copy per step (``tests/baselines/test_marl_device.py``
  counts them). Numpy envs take the host path, through the same loop.

``total_steps`` and ``steps`` count agent-steps (``B * n`` per vector step), as
:func:`rewardlab.baselines.multiagent.train_parallel` does. In ablation configs: ``algo: IPPO`` or
``algo: MAPPO`` with ``env.parallel_env``; ``rewardlab.envs.coopetition:parallel_env`` runs on the
batched core with ``budget.n_envs`` games (the same game: the ParallelEnv is that core at B = 1).
"""

from __future__ import annotations

import copy
import math
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from gymnasium import spaces
from torch import nn

from rewardlab._array import host, namespace
from rewardlab.baselines.ppo import _check_range, _env_device, _mlp, compute_gae
from rewardlab.baselines.registry import Trainer, TrainRequest
from rewardlab.baselines.result import RunResult
from rewardlab.errors import ConfigError, InvalidParameter
from rewardlab.shaping.terms import Term, Transition, from_config

__all__ = ["MARLArgs", "CoreEnvs", "ParallelEnvs", "Policy", "ValueNorm", "MARLResult", "evaluate", "train",
           "train_parallel_env", "train_coopetition", "TRAINERS"]


@dataclass
class MARLArgs:
    """IPPO/MAPPO hyper-parameters (PPO's, named as SB3's, plus the critic kind).

    Example:
        >>> MARLArgs(critic="central").critic, MARLArgs().n_steps
        ('central', 64)
        >>> MARLArgs(critic="joint")
        Traceback (most recent call last):
        ...
        rewardlab.errors.InvalidParameter: `critic` must be 'local' (IPPO) or 'central' (MAPPO). Received 'joint'
    """

    n_steps: int = 64
    """steps per env copy in each rollout"""
    batch_size: int = 4096
    """minibatch size in agent-transitions"""
    n_epochs: int = 4
    learning_rate: float = 3e-4
    anneal_lr: bool = True
    gamma: float = 0.99
    gae_lambda: float = 0.95
    clip_range: float = 0.2
    normalize_advantage: bool = True
    ent_coef: float = 0.0
    vf_coef: float = 0.5
    max_grad_norm: float = 0.5
    hidden: tuple[int, ...] = (64, 64)
    """tanh hidden layers of the actor and of the critic"""
    log_std_init: float = -0.5
    """initial log std of the Gaussian policy, in the [-1, 1] action scale"""
    value_norm: bool = True
    """learn values of returns normalised by their running mean and std (MAPPO's ValueNorm)"""
    critic: str = "local"
    """"local": V(o_i, id_i) (IPPO); "central": V(s, id_i) (MAPPO)"""
    device: str = "cpu"

    def __post_init__(self) -> None:
        for name in ("n_steps", "batch_size", "n_epochs"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InvalidParameter(f"`{name}` must be a positive integer. Received {value!r}")
        self.hidden = tuple(self.hidden)
        if any(isinstance(h, bool) or not isinstance(h, int) or h < 1 for h in self.hidden):
            raise InvalidParameter(f"`hidden` must be a list of positive layer sizes. Received {list(self.hidden)!r}")
        _check_range("gamma", self.gamma, 0.0, 1.0, low_open=True)
        _check_range("gae_lambda", self.gae_lambda, 0.0, 1.0)
        for name in ("learning_rate", "ent_coef", "vf_coef"):
            _check_range(name, getattr(self, name), 0.0, math.inf)
        for name in ("clip_range", "max_grad_norm"):
            _check_range(name, getattr(self, name), 0.0, math.inf, low_open=True)
        _check_range("log_std_init", self.log_std_init, -math.inf, math.inf)
        if self.critic not in ("local", "central"):
            raise InvalidParameter(f"`critic` must be 'local' (IPPO) or 'central' (MAPPO). Received {self.critic!r}")


# ---------------------------------------------------------------- batched multi-agent envs
#
# Both fronts return numpy arrays (CoreEnvs on a torch-backend core: tensors on its device): obs
# [B, n, d] (zeros for agents not alive), state [B, s], alive [B, n]; a step returns the post-reset obs/state/alive and, where copies ended, the
# final obs/state (the true successors) for the truncation bootstrap.


@dataclass
class StepOut:
    obs: np.ndarray
    state: np.ndarray
    alive: np.ndarray
    reward: np.ndarray  # shaped, [B, n]
    task_reward: np.ndarray  # the env's own reward, [B, n]
    payoff: np.ndarray  # info["payoff"] (NaN where the env has none), [B, n]
    terms: dict[str, np.ndarray]  # each term's value, [B, n]
    terminated: np.ndarray  # per agent, [B, n]
    truncated: np.ndarray
    success: np.ndarray  # per copy, [B] (NaN without is_success)
    final_obs: np.ndarray | None = None
    final_state: np.ndarray | None = None


class CoreEnvs:
    """B coopetition games stepped as one batch by :class:`~rewardlab.envs.coopetition.CoopetitionCore`.

    ``reward`` (a term or config; None: the env's reward) is copied once per agent; each copy scores
    its agent's column over the B games. Games that end are reset in the same step. With
    ``backend="torch"`` every array it returns is a tensor on `device` (default "cpu"), and it takes
    actions as tensors there.

    Example:
        >>> envs = CoreEnvs("TrustDilemma", 3, reward_mode="private")
        >>> obs, state, alive = envs.reset(seed=0)
        >>> out = envs.step(np.full((3, 2, 1), 40.0))
        >>> obs.shape, state.shape, out.reward.shape, round(float(out.payoff[0, 0]), 2)
        ((3, 2, 13), (3, 11), (3, 2), 148.27)
    """

    def __init__(self, name: str, num_envs: int, reward: Term | Mapping[str, Any] | str | None = None,
                 backend: str = "numpy", device: Any = None, **kwargs: Any):
        from rewardlab.envs.coopetition.core import CoopetitionCore
        from rewardlab.envs.coopetition.params import build_params
        from rewardlab.wrappers.composer import RewardComposer

        #: where a torch-backend core keeps its arrays (None: numpy, the host path)
        self.device = torch.device(device or "cpu") if backend == "torch" else None
        self.core = CoopetitionCore(build_params(name, **kwargs), num_envs, backend, self.device)
        self.num_envs, self.n_agents = self.core.num_envs, self.core.n
        self.agents = [f"agent_{i}" for i in range(self.n_agents)]
        self.obs_dim, self.state_dim = self.core.obs_size, self.core.state_size
        self.discrete, self.n_actions = False, 1
        B, n = self.num_envs, self.n_agents
        self.low = self.core.as_array(np.zeros((n, 1)))
        self.high = self.core.as_array(np.asarray(self.core.params.endowment, dtype=np.float64)[:, None])
        self._alive = self.core.as_array(np.ones((B, n))) > 0
        self._composers = None
        if reward is not None:
            base = from_config(reward)
            self._composers = [RewardComposer(copy.deepcopy(base), f"rewardlab/{name}-v0") for _ in self.agents]
        self._obs: np.ndarray | None = None

    def reset(self, seed: int | None = None) -> tuple[Any, Any, Any]:
        self.core.reset(seeds=None if seed is None else [seed + b for b in range(self.num_envs)])
        self._obs = self.core.agent_obs()
        if self._composers is not None:
            for i, c in enumerate(self._composers):
                c.reset(self._alive[:, 0], self._obs[:, i])
        return self._obs, self.core.state_obs(), self._alive

    def step(self, actions: Any) -> StepOut:
        core, B, n, xp = self.core, self.num_envs, self.n_agents, namespace(self._alive)
        out = core.step(xp.reshape(actions, (B, n)))
        term, trunc = out.terminated, out.truncated
        done = term | trunc
        obs, state = core.agent_obs(), core.state_obs()
        task = out.reward
        reward, terms = task, {"env": task}
        if self._composers is not None:
            reward, terms = xp.zeros_like(task), {}
            for i, c in enumerate(self._composers):
                t = Transition(self._obs[:, i], actions[:, i], obs[:, i], task[:, i], term, trunc, self._alive[:, 0], {})
                reward[:, i], parts = c(t)
                for k, v in parts.items():
                    terms.setdefault(k, xp.zeros_like(task))[:, i] = v
        every_agent = lambda flag: xp.reshape(flag, (B, 1)) & self._alive  # noqa: E731  (B,) -> (B, n)
        result = StepOut(obs, state, self._alive, reward, task, out.payoff, terms,
                         every_agent(term), every_agent(trunc), xp.astype(out.success, xp.float64))
        # On the device the reset is a masked write whether or not a game ended: testing `done.any()`
        # would read the flags back to the host every step.
        if self.device is not None or done.any():
            result.final_obs, result.final_state = obs, state
            core.reset(mask=done)
            result.obs, result.state = core.agent_obs(), core.state_obs()
            if self._composers is not None:
                for i, c in enumerate(self._composers):
                    c.reset(done, result.obs[:, i])
        self._obs = result.obs
        return result


class ParallelEnvs:
    """B copies of any PettingZoo ParallelEnv (Box observations; all agents one Box shape or one Discrete).

    Observations are flattened and zero-padded to the longest agent's; agents that have left read
    zeros and ``alive`` False until their copy resets (when its last agent leaves). Copy ``c`` is
    first reset with ``seed + c``. The global state is ``env.state()``, or all observations
    concatenated where the env has none.

    Example:
        >>> from rewardlab.envs.coopetition import parallel_env
        >>> envs = ParallelEnvs([parallel_env("SLCD", reward_mode="private") for _ in range(2)])
        >>> obs, state, alive = envs.reset(seed=0)
        >>> obs.shape, state.shape, alive.all()
        ((2, 2, 13), (2, 11), np.True_)
    """

    def __init__(self, envs: list[Any]):
        if not envs:
            raise InvalidParameter("`envs` must hold at least one ParallelEnv")
        self.envs, first = envs, envs[0]
        self.device = None  # numpy arrays: the host path
        self.agents = list(first.possible_agents)
        self.num_envs, self.n_agents = len(envs), len(self.agents)
        obs_spaces = [first.observation_space(a) for a in self.agents]
        act_spaces = [first.action_space(a) for a in self.agents]
        if not all(isinstance(s, spaces.Box) for s in obs_spaces):
            raise ConfigError(f"IPPO/MAPPO need Box observations; got {obs_spaces}")
        self.obs_dim = max(int(np.prod(s.shape)) for s in obs_spaces)
        self.discrete = isinstance(act_spaces[0], spaces.Discrete)
        if self.discrete:
            if any(not isinstance(s, spaces.Discrete) or s.n != act_spaces[0].n for s in act_spaces):
                raise ConfigError(f"A shared actor needs every agent to have the same Discrete action space; got {act_spaces}")
            self.n_actions = int(act_spaces[0].n)
        else:
            if any(not isinstance(s, spaces.Box) or s.shape != act_spaces[0].shape for s in act_spaces):
                raise ConfigError(f"A shared actor needs every agent to have Box actions of one shape; got {act_spaces}")
            self.n_actions = int(np.prod(act_spaces[0].shape))
            self.low = np.stack([np.asarray(s.low, np.float64).ravel() for s in act_spaces])
            self.high = np.stack([np.asarray(s.high, np.float64).ravel() for s in act_spaces])
            if not (np.isfinite(self.low).all() and np.isfinite(self.high).all()):
                raise ConfigError("IPPO/MAPPO need bounded Box actions (the policy acts in [-1, 1])")
        self._shape = act_spaces[0].shape
        try:
            first.reset(seed=0)
            self._has_state = True
            self.state_dim = int(np.asarray(first.state()).size)
        except NotImplementedError:
            self._has_state = False
            self.state_dim = self.n_agents * self.obs_dim

    def _fill(self, obs: Mapping[str, Any], row: np.ndarray) -> None:
        row[:] = 0.0
        for i, a in enumerate(self.agents):
            if a in obs:
                o = np.asarray(obs[a], np.float32).ravel()
                row[i, : o.size] = o

    def _state(self, c: int, obs_row: np.ndarray) -> np.ndarray:
        return np.asarray(self.envs[c].state(), np.float32).ravel() if self._has_state else obs_row.ravel()

    def reset(self, seed: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        B, n = self.num_envs, self.n_agents
        obs, state = np.zeros((B, n, self.obs_dim), np.float32), np.zeros((B, self.state_dim), np.float32)
        alive = np.zeros((B, n), bool)
        for c, env in enumerate(self.envs):
            o, _ = env.reset(seed=None if seed is None else seed + c)
            self._fill(o, obs[c])
            state[c] = self._state(c, obs[c])
            alive[c] = [a in env.agents for a in self.agents]
        self._alive = alive.copy()
        return obs, state, alive

    def step(self, actions: np.ndarray) -> StepOut:
        B, n = self.num_envs, self.n_agents
        obs, state = np.zeros((B, n, self.obs_dim), np.float32), np.zeros((B, self.state_dim), np.float32)
        final_obs, final_state = obs.copy(), state.copy()
        zeros = np.zeros((B, n))
        reward, task, payoff = zeros.copy(), zeros.copy(), np.full((B, n), math.nan)
        term, trunc, alive = np.zeros((B, n), bool), np.zeros((B, n), bool), np.zeros((B, n), bool)
        success, terms, any_done = np.full(B, math.nan), {}, False
        for c, env in enumerate(self.envs):
            live = [i for i, a in enumerate(self.agents) if self._alive[c, i]]
            acts = {self.agents[i]: (int(actions[c, i]) if self.discrete else actions[c, i].reshape(self._shape)) for i in live}
            o, r, te, tr, info = env.step(acts)
            succ = []
            for i in live:
                a = self.agents[i]
                inf = info.get(a, {})
                reward[c, i], task[c, i] = float(r.get(a, 0.0)), float(inf.get("task_reward", r.get(a, 0.0)))
                payoff[c, i] = float(inf.get("payoff", math.nan))
                term[c, i], trunc[c, i] = bool(te.get(a, False)), bool(tr.get(a, False))
                for k, v in inf.get("reward_terms", {"env": task[c, i]}).items():
                    terms.setdefault(k, np.zeros((B, n)))[c, i] = v
                if "is_success" in inf:
                    succ.append(float(bool(inf["is_success"])))
            success[c] = np.mean(succ) if succ else math.nan
            self._fill(o, obs[c])
            final_obs[c], final_state[c] = obs[c], self._state(c, obs[c])  # the true successors
            state[c] = final_state[c]
            if not env.agents:  # the copy's episode is over: start the next one
                any_done = True
                o, _ = env.reset()
                self._fill(o, obs[c])
                state[c] = self._state(c, obs[c])
            alive[c] = [a in env.agents for a in self.agents]
        self._alive = alive.copy()
        out = StepOut(obs, state, alive, reward, task, payoff, terms, term, trunc, success)
        if any_done or trunc.any():
            out.final_obs, out.final_state = final_obs, final_state
        return out


# ---------------------------------------------------------------- networks


class ValueNorm(nn.Module):
    """Running mean and variance of return targets; the critic learns normalised values."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("mean", torch.zeros(()))
        self.register_buffer("var", torch.ones(()))
        self.register_buffer("count", torch.tensor(1e-4))

    def update(self, x: torch.Tensor) -> None:
        # Chan et al.'s parallel update of mean and variance, as SB3's RunningMeanStd.
        m, v, k = x.mean(), x.var(unbiased=False), x.numel()
        delta, total = m - self.mean, self.count + k
        self.mean.copy_(self.mean + delta * k / total)
        self.var.copy_((self.var * self.count + v * k + delta**2 * self.count * k / total) / total)
        self.count.copy_(total)

    def normalize(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.var.clamp_min(1e-8).sqrt()

    def denormalize(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.var.clamp_min(1e-8).sqrt() + self.mean


class Policy(nn.Module):
    """A shared actor on ``(o_i, id_i)`` and a critic on ``(o_i, id_i)`` (IPPO) or ``(s, id_i)`` (MAPPO).

    Box actions: a diagonal Gaussian in [-1, 1] units; Discrete: a categorical.

    Example:
        >>> _ = torch.manual_seed(0)
        >>> pi = Policy(obs_dim=5, critic_dim=5, n_actions=1, discrete=False, args=MARLArgs())
        >>> a, logp = pi.act(torch.zeros(3, 2, 5), torch.Generator().manual_seed(0))
        >>> a.shape, logp.shape, pi.value(torch.zeros(3, 2, 5)).shape
        (torch.Size([3, 2, 1]), torch.Size([3, 2]), torch.Size([3, 2]))
    """

    def __init__(self, obs_dim: int, critic_dim: int, n_actions: int, discrete: bool, args: MARLArgs):
        super().__init__()
        self.discrete = discrete
        self.actor = _mlp(obs_dim, args.hidden, n_actions, 0.01)
        self.critic = _mlp(critic_dim, args.hidden, 1, 1.0)
        if not discrete:
            self.log_std = nn.Parameter(torch.full((n_actions,), float(args.log_std_init)))

    def value(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(x).squeeze(-1)

    def act(self, obs: torch.Tensor, generator: torch.Generator, deterministic: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        out = self.actor(obs)
        if self.discrete:
            logp_all = torch.log_softmax(out, -1)
            if deterministic:
                action = out.argmax(-1)
            else:  # Gumbel-max sampling, as TorchPPO
                u = torch.rand(out.shape, generator=generator, device=out.device).clamp_(1e-20, 1.0)
                action = (logp_all - torch.log(-torch.log(u))).argmax(-1)
            return action, logp_all.gather(-1, action.unsqueeze(-1)).squeeze(-1)
        noise = torch.zeros_like(out) if deterministic else torch.randn(out.shape, generator=generator, device=out.device)
        action = out + self.log_std.exp() * noise
        return action, self._logp(out, action)

    def evaluate(self, obs: torch.Tensor, action: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Log-prob and entropy of `action` under the current policy."""
        out = self.actor(obs)
        if self.discrete:
            logp_all = torch.log_softmax(out, -1)
            return logp_all.gather(-1, action.long().unsqueeze(-1)).squeeze(-1), -(logp_all.exp() * logp_all).sum(-1)
        entropy = (0.5 + 0.5 * math.log(2 * math.pi) + self.log_std).sum().expand(out.shape[:-1])
        return self._logp(out, action), entropy

    def _logp(self, mean: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        z = (action - mean) / self.log_std.exp()
        return (-0.5 * z * z - self.log_std - 0.5 * math.log(2 * math.pi)).sum(-1)


def _env_actions(action: torch.Tensor, envs: Any) -> Any:
    """Sampled actions -> what the envs take: numpy on the host, or tensors on a torch-backend core's device."""
    a = action.cpu().numpy() if envs.device is None else action
    if envs.discrete:
        return a
    # The Gaussian is unbounded: the env gets it clipped to [-1, 1] and mapped to each agent's bounds.
    xp = namespace(a)
    u = (xp.clip(a, -1.0, 1.0) + 1.0) / 2.0
    return xp.astype(envs.low + u * (envs.high - envs.low), xp.float32)


class _Inputs:
    """Actor input (obs + one-hot id) and critic input (the same, or state + id) as tensors."""

    def __init__(self, envs: Any, central: bool, device: torch.device):
        n = envs.n_agents
        self.ids = torch.eye(n, device=device)
        self.central, self.device, self.n = central, device, n
        self.obs_dim = envs.obs_dim + n
        self.critic_dim = (envs.state_dim + n) if central else self.obs_dim

    def __call__(self, obs: np.ndarray, state: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        o = torch.as_tensor(obs, dtype=torch.float32, device=self.device)
        ids = self.ids.expand(o.shape[0], self.n, self.n)
        x = torch.cat([o, ids], -1)
        if not self.central:
            return x, x
        s = torch.as_tensor(state, dtype=torch.float32, device=self.device)
        return x, torch.cat([s[:, None, :].expand(-1, self.n, -1), ids], -1)


# ---------------------------------------------------------------- episode log and evaluation


class _EpisodeLog:
    """Per agent episode: task return, payoff, success, length and each term's sum."""

    def __init__(self, agents: list[str], B: int):
        self.agents, n = agents, len(agents)
        self.episodes: list[dict[str, Any]] = []
        self.term_totals: dict[str, float] = {}
        self.term_abs_totals: dict[str, float] = {}
        self._ret, self._pay, self._len = np.zeros((B, n)), np.zeros((B, n)), np.zeros((B, n), np.int64)
        self._terms: dict[str, np.ndarray] = {}

    def step(self, step: int, valid: np.ndarray, task_reward: np.ndarray, payoff: np.ndarray, done: np.ndarray,
             success: np.ndarray, terms: Mapping[str, np.ndarray]) -> None:
        self._ret += np.where(valid, task_reward, 0.0)
        self._pay += np.where(valid, payoff, 0.0)
        self._len += valid
        for k, v in terms.items():
            v = np.where(valid, v, 0.0)
            self._terms.setdefault(k, np.zeros_like(self._ret))[:] += v
            self.term_totals[k] = self.term_totals.get(k, 0.0) + float(v.sum())
            self.term_abs_totals[k] = self.term_abs_totals.get(k, 0.0) + float(np.abs(v).sum())
        for b, i in zip(*np.nonzero(done & valid)):
            self.episodes.append({"step": step, "agent": self.agents[i], "task_return": float(self._ret[b, i]),
                                  "payoff": float(self._pay[b, i]), "success": float(success[b]),
                                  "length": int(self._len[b, i]), "terms": {k: float(v[b, i]) for k, v in self._terms.items()}})
            self._ret[b, i], self._pay[b, i], self._len[b, i] = 0.0, 0.0, 0
            for v in self._terms.values():
                v[b, i] = 0.0


class _RolloutSteps:
    """What :class:`_EpisodeLog` reads of each step, kept as the envs returned it (numpy, or tensors on
    a torch-backend core's device) and copied to the host once per rollout: on the device path the
    log would otherwise copy rewards, flags and every term to the host on every step."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, Any, StepOut]] = []

    def record(self, step: int, valid: Any, out: StepOut) -> None:
        self.rows.append((step, valid, out))

    def replay(self, log: _EpisodeLog) -> None:
        rows, self.rows = self.rows, []
        if not rows:
            return

        def column(values: list[Any]) -> np.ndarray:  # one copy per column and rollout
            return host(torch.stack(values)) if isinstance(values[0], torch.Tensor) else np.stack(values)

        valid = column([v for _, v, _ in rows])
        task, payoff = column([o.task_reward for *_, o in rows]), column([o.payoff for *_, o in rows])
        done, success = column([o.terminated | o.truncated for *_, o in rows]), column([o.success for *_, o in rows])
        # a term missing at a step (no agent of a copy alive on the PettingZoo path) adds 0 there
        names = dict.fromkeys(k for *_, o in rows for k in o.terms)
        terms = {k: column([o.terms.get(k, 0.0 * o.task_reward) for *_, o in rows]) for k in names}
        for t, (step, _, _) in enumerate(rows):
            log.step(step, valid[t], task[t], payoff[t], done[t], success[t], {k: v[t] for k, v in terms.items()})


@torch.no_grad()
def evaluate(policy: Policy, envs: Any, central: bool, seed: int, deterministic: bool = True) -> dict[str, float]:
    """One episode per copy of an unshaped batch: mean per-agent task return and payoff, success,
    and the mean per-agent task return of each agent (``task_return/<agent>``)."""
    device = next(policy.parameters()).device
    inputs = _Inputs(envs, central, device)
    generator = torch.Generator(device).manual_seed(seed)
    obs, state, alive = envs.reset(seed=seed)
    B, n = envs.num_envs, envs.n_agents
    ret, pay, success = np.zeros((B, n)), np.zeros((B, n)), np.full(B, math.nan)
    live, finished = host(alive).copy(), np.zeros(B, bool)
    while not finished.all():
        action, _ = policy.act(inputs(obs, state)[0], generator, deterministic)
        out = envs.step(_env_actions(action, envs))
        # Evaluation is not the training loop: a torch-backend core's results come to the host here.
        done, task, payoff = host(out.terminated | out.truncated), host(out.task_reward), host(out.payoff)
        ret += np.where(live, task, 0.0)
        pay += np.where(live, np.nan_to_num(payoff), 0.0)
        ended = (done & live).any(1) & ~finished
        success[ended] = host(out.success)[ended]
        live &= ~done
        finished |= ~live.any(1)
        obs, state = out.obs, out.state
    row = {"task_return": float(ret.mean()), "payoff": float(pay.mean()), "success": float(np.mean(success))}
    row.update({f"task_return/{a}": float(ret[:, i].mean()) for i, a in enumerate(envs.agents)})
    return row


# ---------------------------------------------------------------- training


@dataclass(kw_only=True)
class MARLResult(RunResult):
    """What :func:`train` returns: the policy and the run's record."""

    policy: Policy
    #: The last rollout's advantages ``(T, B, n)`` and validity mask, for inspection and tests.
    advantages: torch.Tensor | None = None
    valid: torch.Tensor | None = None


def train(args: MARLArgs, envs: CoreEnvs | ParallelEnvs, total_steps: int, seed: int = 0, *,
          eval_envs: CoreEnvs | ParallelEnvs | None = None, eval_every: int | None = None,
          eval_deterministic: bool = True, progress: Callable[[int], None] | None = None,
          torch_threads: int | None = 1, tensorboard_dir: str | None = None, checkpoint_dir: str | None = None,
          checkpoint_every_s: float = 60.0) -> MARLResult:
    """Train IPPO (``args.critic="local"``) or MAPPO (``"central"``) for at least `total_steps` agent-steps.

    Evaluations (seed ``10_000 + seed``) run at the start, past every `eval_every` agent-steps
    (default a tenth of the run) and at the end. With `checkpoint_dir` the run saves at rollout
    boundaries (at most every `checkpoint_every_s` seconds, and at the end) and resumes from a
    checkpoint found there; the envs are pickled into it, so a resumed run equals an uninterrupted one.
    `progress(step)` is called after every rollout.

    Example:
        >>> envs = CoreEnvs("TrustDilemma", 4, reward_mode="private")
        >>> result = train(MARLArgs(n_steps=8, batch_size=32, n_epochs=1), envs, 128, eval_envs=CoreEnvs("TrustDilemma", 2, reward_mode="private"), eval_every=64)
        >>> result.steps, [row["step"] for row in result.curve], tuple(result.advantages.shape)
        (128, [0, 64, 128], (8, 4, 2))
    """
    from rewardlab.baselines.checkpoint import dump_envs, load_checkpoint, load_envs, rng_state, save_checkpoint, set_rng_state
    from rewardlab.baselines.tensorboard import ScalarLog, episode_scalars

    if isinstance(total_steps, bool) or not isinstance(total_steps, int) or total_steps < 1:
        raise InvalidParameter(f"`total_steps` must be a positive integer. Received {total_steps!r}")
    if torch_threads is not None:
        torch.set_num_threads(torch_threads)
    device, central = torch.device(args.device), args.critic == "central"
    torch.manual_seed(seed)
    generator = torch.Generator(device).manual_seed(seed)
    perm_generator = torch.Generator().manual_seed(seed + 1)
    inputs = _Inputs(envs, central, device)
    policy = Policy(inputs.obs_dim, inputs.critic_dim, envs.n_actions, envs.discrete, args).to(device)
    value_norm = ValueNorm().to(device)
    optimizer = torch.optim.Adam(policy.parameters(), lr=args.learning_rate, eps=1e-5)
    T, B, n = args.n_steps, envs.num_envs, envs.n_agents
    n_rollouts = math.ceil(total_steps / (T * B * n))
    eval_every = eval_every or max(1, total_steps // 10)
    eval_seed = 10_000 + seed
    log = _EpisodeLog(envs.agents, B)
    curve: list[dict[str, float]] = []
    learner_log: list[dict[str, float]] = []
    global_step, next_eval, first_rollout, eval_time, elapsed = 0, eval_every, 0, 0.0, 0.0
    act_shape = () if envs.discrete else (envs.n_actions,)

    saved = load_checkpoint(checkpoint_dir) if checkpoint_dir is not None else None
    if saved is not None and saved.get("envs") is not None:
        policy.load_state_dict(saved["policy"])
        value_norm.load_state_dict(saved["value_norm"])
        optimizer.load_state_dict(saved["optimizer"])
        set_rng_state(saved["rng"], generator, perm_generator)
        envs = load_envs(saved["envs"])
        log, curve, learner_log = saved["log"], saved["curve"], saved["learner_log"]
        global_step, next_eval, first_rollout = saved["global_step"], saved["next_eval"], saved["rollout"]
        eval_time, elapsed = saved["eval_time"], saved["elapsed"]
        obs, state, alive = saved["obs"], saved["state"], saved["alive"]
    else:
        obs, state, alive = envs.reset(seed=seed)
    _env_device(obs, device)  # a core's tensors on another device than the learner's: a clear error
    steps = _RolloutSteps()
    tb = ScalarLog(tensorboard_dir, purge_step=global_step if saved is not None else None)

    def run_evaluation(step: int) -> None:
        nonlocal eval_time
        if eval_envs is not None:
            t0 = time.perf_counter()
            row = evaluate(policy, eval_envs, central, eval_seed, eval_deterministic)
            eval_time += time.perf_counter() - t0
            curve.append({"step": step, **row})
            tb.add_many({"eval/task_return": row["task_return"], "eval/success": row["success"], "eval/payoff": row["payoff"]}, step)

    start = time.perf_counter() - elapsed
    last_save = time.monotonic()
    if saved is None:
        run_evaluation(0)
    # Storage (T, B, n, ...): valid marks the agents that acted at step t.
    z = lambda *shape, dtype=torch.float32: torch.zeros((T, B, n, *shape), dtype=dtype, device=device)  # noqa: E731
    b_obs, b_cin = z(inputs.obs_dim), (z(inputs.critic_dim) if central else None)
    b_act = z(*act_shape, dtype=torch.long if envs.discrete else torch.float32)
    b_logp, b_val, b_next, b_rew = z(), z(), z(), z()
    b_term, b_trunc, b_valid = z(dtype=torch.bool), z(dtype=torch.bool), z(dtype=torch.bool)

    def values_of(cin: torch.Tensor) -> torch.Tensor:
        v = policy.value(cin)
        return value_norm.denormalize(v) if args.value_norm else v

    for rollout_i in range(first_rollout, n_rollouts):
        if args.anneal_lr:
            optimizer.param_groups[0]["lr"] = args.learning_rate * (1.0 - rollout_i / n_rollouts)
        rollout_start = time.perf_counter()
        ep_before = len(log.episodes)
        # ---- collect: T vector steps with the current policy
        for t in range(T):
            x, cin = inputs(obs, state)
            with torch.no_grad():
                action, logp = policy.act(x, generator)
                b_val[t] = values_of(cin)
            b_obs[t], b_act[t], b_logp[t] = x, action, logp
            if central:
                b_cin[t] = cin
            out = envs.step(_env_actions(action, envs))
            # as_tensor copies a numpy array to the device and leaves a tensor already there as it is
            b_valid[t] = torch.as_tensor(alive, device=device)
            b_rew[t] = torch.as_tensor(out.reward, dtype=torch.float32, device=device)
            b_term[t] = torch.as_tensor(out.terminated, device=device)
            b_trunc[t] = torch.as_tensor(out.truncated, device=device)
            if out.final_obs is not None:  # bootstrap a time limit with V of the true final observation
                with torch.no_grad():
                    v_final = values_of(inputs(out.final_obs, out.final_state)[1])
                b_next[t] = torch.where(b_trunc[t], v_final, 0.0)
            global_step += B * n
            steps.record(global_step, alive, out)
            obs, state, alive = out.obs, out.state, out.alive
        steps.replay(log)
        # ---- advantages: V of a continuing agent's successor is V of the next stored input
        with torch.no_grad():
            last = values_of(inputs(obs, state)[1])
        nxt = torch.cat([b_val[1:], last[None]])
        b_next = torch.where(b_trunc, b_next, nxt)
        flat = lambda x: x.reshape(T, B * n)  # noqa: E731
        adv, ret = compute_gae(flat(b_rew), flat(b_val), flat(b_next), flat(b_term), flat(b_trunc), flat(b_valid),
                               args.gamma, args.gae_lambda)
        # ---- update over the agents that acted
        keep = b_valid.reshape(-1).nonzero().squeeze(1)
        m_obs, m_act = b_obs.reshape(T * B * n, -1)[keep], b_act.reshape(T * B * n, *act_shape)[keep]
        m_cin = b_cin.reshape(T * B * n, -1)[keep] if central else m_obs
        m_logp, m_adv, m_ret = b_logp.reshape(-1)[keep], adv.reshape(-1)[keep], ret.reshape(-1)[keep]
        if args.value_norm:
            value_norm.update(m_ret)
            m_ret = value_norm.normalize(m_ret)
        n_samples = int(keep.numel())
        clipfracs, approx_kl, stats = [], 0.0, (0.0, 0.0, 0.0)
        for _epoch in range(args.n_epochs):
            perm = torch.randperm(n_samples, generator=perm_generator).to(device)
            for begin in range(0, n_samples, args.batch_size):
                mb = perm[begin: begin + args.batch_size]
                new_logp, entropy = policy.evaluate(m_obs[mb], m_act[mb])
                log_ratio = new_logp - m_logp[mb]
                ratio = log_ratio.exp()
                with torch.no_grad():
                    approx_kl = float(((ratio - 1) - log_ratio).mean())
                    clipfracs.append(float(((ratio - 1.0).abs() > args.clip_range).float().mean()))
                a = m_adv[mb]
                if args.normalize_advantage and a.numel() > 1:
                    a = (a - a.mean()) / (a.std() + 1e-8)
                pg_loss = torch.max(-a * ratio, -a * ratio.clamp(1 - args.clip_range, 1 + args.clip_range)).mean()
                v_loss, ent = ((policy.value(m_cin[mb]) - m_ret[mb]) ** 2).mean(), entropy.mean()
                loss = pg_loss - args.ent_coef * ent + args.vf_coef * v_loss
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(policy.parameters(), args.max_grad_norm)
                optimizer.step()
                stats = (pg_loss.item(), v_loss.item(), ent.item())
        row = {"step": global_step, "losses/policy": stats[0], "losses/value": stats[1], "losses/entropy": stats[2],
               "losses/approx_kl": approx_kl, "losses/clipfrac": float(np.mean(clipfracs)) if clipfracs else 0.0,
               "charts/samples": n_samples, "charts/sps": T * B * n / (time.perf_counter() - rollout_start)}
        learner_log.append(row)
        tb.add_many(episode_scalars(log.episodes[ep_before:]), global_step)
        tb.add_many({k: v for k, v in row.items() if k != "step"}, global_step)
        if global_step >= next_eval:
            run_evaluation(global_step)
            while next_eval <= global_step:
                next_eval += eval_every
        if checkpoint_dir is not None and (time.monotonic() - last_save >= checkpoint_every_s or rollout_i == n_rollouts - 1):
            save_checkpoint(checkpoint_dir, {
                "policy": policy.state_dict(), "value_norm": value_norm.state_dict(), "optimizer": optimizer.state_dict(),
                "rng": rng_state(generator, perm_generator), "envs": dump_envs(envs), "log": log, "curve": curve,
                "learner_log": learner_log, "global_step": global_step, "next_eval": next_eval, "rollout": rollout_i + 1,
                "eval_time": eval_time, "elapsed": time.perf_counter() - start, "obs": obs, "state": state, "alive": alive})
            last_save = time.monotonic()
        if progress is not None:
            progress(global_step)
    if eval_envs is not None and (not curve or curve[-1]["step"] != global_step):
        run_evaluation(global_step)
    tb.close()
    return MARLResult(policy=policy, curve=curve, episodes=log.episodes, term_totals=log.term_totals,
                      term_abs_totals=log.term_abs_totals, steps=global_step, wall_time_s=time.perf_counter() - start,
                      eval_time_s=eval_time, learner_log=learner_log,
                      advantages=adv.reshape(T, B, n), valid=b_valid.clone())


# ---------------------------------------------------------------- entry points


def _args(hyperparams: Mapping[str, Any] | None, critic: str, name: str) -> MARLArgs:
    hyper = dict(hyperparams or {})
    if "critic" in hyper:
        raise ConfigError(f"`critic` is fixed by the algorithm (`{name}`); choose IPPO or MAPPO instead")
    try:
        return MARLArgs(**hyper, critic=critic)
    except TypeError as e:
        raise ConfigError(f"Bad hyper-parameters for `{name}`: {e}") from e


def _check_reward(reward: Any, gamma: float) -> None:
    from rewardlab.shaping.pbrs import check_discount

    if isinstance(reward, Mapping) and "type" not in reward:
        for agent, t in reward.items():
            check_discount(from_config(t), gamma, where=f"reward[{agent!r}]")
    elif reward is not None:
        check_discount(from_config(reward), gamma)


def train_parallel_env(env_fn: Callable[[], Any], reward: Term | Mapping[str, Any] | str | None = None,
                       total_steps: int = 10_000, seed: int = 0, n_envs: int = 8, algo: str = "IPPO",
                       hyperparams: Mapping[str, Any] | None = None, eval_every: int | None = None,
                       eval_episodes: int = 5, eval_deterministic: bool = True,
                       progress: Callable[[int], None] | None = None, torch_threads: int | None = 1,
                       tensorboard_dir: str | None = None, checkpoint_dir: str | None = None) -> MARLResult:
    """IPPO or MAPPO on `n_envs` copies of ``env_fn()``, each agent shaped by its own copy of `reward`.

    Example:
        >>> from rewardlab.envs.coopetition import parallel_env
        >>> result = train_parallel_env(lambda: parallel_env("SLCD", reward_mode="private", max_steps=8), total_steps=64,
        ...                             n_envs=2, algo="MAPPO", hyperparams={"n_steps": 8, "batch_size": 16}, eval_episodes=1)
        >>> result.steps, len(result.episodes), sorted(result.episodes[0])
        (64, 8, ['agent', 'length', 'payoff', 'step', 'success', 'task_return', 'terms'])
    """
    from rewardlab.wrappers.parallel import ParallelRewardShaping

    args = _args(hyperparams, {"IPPO": "local", "MAPPO": "central"}[algo], algo)
    _check_reward(reward, args.gamma)
    term = reward if reward is not None else "EnvReward"
    envs = ParallelEnvs([ParallelRewardShaping(env_fn(), term) for _ in range(n_envs)])
    eval_envs = ParallelEnvs([env_fn() for _ in range(eval_episodes)])
    return train(args, envs, total_steps, seed, eval_envs=eval_envs, eval_every=eval_every,
                 eval_deterministic=eval_deterministic, progress=progress, torch_threads=torch_threads,
                 tensorboard_dir=tensorboard_dir, checkpoint_dir=checkpoint_dir)


def train_coopetition(name: str, reward: Term | Mapping[str, Any] | str | None = None, total_steps: int = 100_000,
                      seed: int = 0, n_envs: int = 1024, algo: str = "IPPO", hyperparams: Mapping[str, Any] | None = None,
                      env_kwargs: Mapping[str, Any] | None = None, eval_every: int | None = None,
                      eval_episodes: int = 5, eval_deterministic: bool = True,
                      progress: Callable[[int], None] | None = None, torch_threads: int | None = 1,
                      tensorboard_dir: str | None = None, checkpoint_dir: str | None = None) -> MARLResult:
    """IPPO or MAPPO directly on the batched coopetition core: `n_envs` games of `name` in one array program.

    ``env_kwargs={"backend": "torch"}`` runs the core in torch on the learner's device (the device path).

    Example:
        >>> result = train_coopetition("TrustDilemma", total_steps=256, n_envs=16, env_kwargs={"reward_mode": "private"},
        ...                            hyperparams={"n_steps": 8, "batch_size": 64}, eval_episodes=2)
        >>> result.steps, result.curve[-1]["step"]
        (256, 256)
    """
    args = _args(hyperparams, {"IPPO": "local", "MAPPO": "central"}[algo], algo)
    if isinstance(reward, Mapping) and "type" not in reward:
        raise ConfigError("Per-agent reward dicts need the PettingZoo path (train_parallel_env); the core path shapes every agent alike")
    _check_reward(reward, args.gamma)
    kwargs = dict(env_kwargs or {})
    if kwargs.get("backend") == "torch":  # the core on the learner's device unless told otherwise
        kwargs.setdefault("device", args.device)
    envs = CoreEnvs(name, n_envs, reward, **kwargs)
    eval_envs = CoreEnvs(name, eval_episodes, None, **kwargs)
    return train(args, envs, total_steps, seed, eval_envs=eval_envs, eval_every=eval_every,
                 eval_deterministic=eval_deterministic, progress=progress, torch_threads=torch_threads,
                 tensorboard_dir=tensorboard_dir, checkpoint_dir=checkpoint_dir)


def _train_request(algo: str) -> Callable[[TrainRequest], RunResult]:
    def run(request: TrainRequest) -> RunResult:
        from rewardlab.shaping.terms import ref_to_callable

        env = request.env
        ref = env.get("parallel_env")
        if ref is None:
            raise ConfigError(f"`{algo}` trains multi-agent envs: give `env.parallel_env` ('module:callable')")
        make, kwargs = ref_to_callable(ref, "parallel_env"), dict(env.get("kwargs") or {})
        common = dict(reward=request.reward, total_steps=request.total_steps, seed=request.seed, n_envs=request.n_envs,
                      algo=algo, hyperparams=request.hyperparams, eval_every=request.eval_every,
                      eval_episodes=request.eval_episodes, eval_deterministic=request.eval_deterministic,
                      progress=request.progress, tensorboard_dir=request.tensorboard_dir, checkpoint_dir=request.checkpoint_dir)
        from rewardlab.envs import coopetition

        per_agent = isinstance(request.reward, Mapping) and "type" not in request.reward
        if make is coopetition.parallel_env and "name" in kwargs and not per_agent:
            # The same game on the batched core (the ParallelEnv is that core at B = 1), n_envs games at once.
            name = kwargs.pop("name")
            return train_coopetition(name, env_kwargs=kwargs, **common)
        return train_parallel_env(lambda: make(**kwargs), **common)

    return run


def _gamma(hyperparams: Mapping[str, Any]) -> float:
    return float(hyperparams.get("gamma", MARLArgs.gamma))


def _check_action_space(space: Any, where: str) -> None:
    if not isinstance(space, (spaces.Box, spaces.Discrete)):
        raise ConfigError(f"IPPO/MAPPO need a Box or Discrete action space; {where} has {space}")


def _collection(hyperparams: Mapping[str, Any], n_envs: int) -> tuple[int, str] | None:
    return None  # agent-steps per rollout depend on the env's agent count


TRAINERS = [
    Trainer(name=algo, train=_train_request(algo), hyperparams=MARLArgs, gamma=_gamma,
            check_action_space=_check_action_space, collection=_collection, single_agent=False, multi_agent=True,
            normalize_obs=False, resumable=True, same_agent_spaces=False)
    for algo in ("IPPO", "MAPPO")
]
