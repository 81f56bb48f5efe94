"""Parameter-shared SB3 training (PPO by default) on PettingZoo ParallelEnvs, with per-agent shaped rewards.

Every agent of every env copy is one slot of an SB3 VecEnv, so one policy acts for all agents
(parameter sharing; agents must share observation and action spaces). This replaces the SuperSuit
route (``pettingzoo_env_to_vec_env_v1`` + ``concat_vec_envs_v1``), which in pettingzoo 1.27 /
supersuit 3.11 crashes on ``PPO(seed=...)`` and folds truncation into termination without
``TimeLimit.truncated``, so PPO never bootstraps at ``max_cycles`` (PettingZoo issue #1126).
Here a time limit sets ``TimeLimit.truncated`` and ``terminal_observation``, and SB3 bootstraps.

Classes: :class:`ParallelVecEnv`; functions :func:`make_parallel_vec_env`, :func:`evaluate_parallel`,
:func:`train_parallel`.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable, Mapping
from typing import Any

import gymnasium as gym
import numpy as np
from pettingzoo.utils.env import ParallelEnv
from stable_baselines3.common.vec_env import VecEnv

from rewardlab.baselines.sb3 import TrainResult, algorithm_class, algorithm_gamma, check_action_space, learn_and_evaluate
from rewardlab.baselines.sb3_callbacks import observation_normalizer, success_of
from rewardlab.errors import ConfigError, InvalidParameter
from rewardlab.shaping.bilevel import outer_terms
from rewardlab.shaping.pbrs import check_discount
from rewardlab.shaping.terms import Term, from_config
from rewardlab.wrappers.parallel import ParallelRewardShaping

__all__ = ["ParallelVecEnv", "check_shared_spaces", "make_parallel_vec_env", "evaluate_parallel", "train_parallel"]


def check_shared_spaces(env: ParallelEnv) -> None:
    """One shared policy needs one observation and one action space: InvalidParameter naming the first agent that differs."""
    first = env.possible_agents[0]
    for a in env.possible_agents[1:]:
        if env.observation_space(a) != env.observation_space(first) or env.action_space(a) != env.action_space(first):
            raise InvalidParameter(f"Parameter sharing needs every agent to have the same spaces; agent `{a}` differs from `{first}`")


class ParallelVecEnv(VecEnv):
    """An SB3 VecEnv over ``len(envs) * n_agents`` slots: slot ``c * n_agents + i`` is agent ``i`` of copy ``c``.

    Agents of a copy must end their episode together (a ParallelEnv where agents leave early needs
    black-death padding first). At an episode end every slot's info gets ``terminal_observation``,
    ``TimeLimit.truncated`` (truncated and not terminated) and a Monitor-style ``episode`` entry
    holding the agent's task return, then the copy resets. ``seed(s)`` makes copy ``c`` reset with
    seed ``s + c`` next time, and seeds each copy's action spaces.

    Example:
        >>> from pettingzoo.classic import rps_v2
        >>> venv = ParallelVecEnv([rps_v2.parallel_env(max_cycles=2)])
        >>> venv.seed(0)
        [0, 0]
        >>> obs = venv.reset()
        >>> _ = venv.step(np.array([0, 1]))
        >>> _, rewards, dones, infos = venv.step(np.array([1, 1]))
        >>> rewards.tolist(), dones.tolist(), infos[0]["TimeLimit.truncated"], infos[1]["episode"]["r"]
        ([0.0, 0.0], [True, True], True, 1.0)
    """

    def __init__(self, envs: list[ParallelEnv]):
        if not envs:
            raise InvalidParameter("`envs` must hold at least one ParallelEnv")
        self.envs = envs
        self.agents = list(envs[0].possible_agents)
        check_shared_spaces(envs[0])
        first = self.agents[0]
        obs_space, act_space = envs[0].observation_space(first), envs[0].action_space(first)
        self.n_agents = len(self.agents)
        self._actions: np.ndarray | None = None
        self._returns = np.zeros(self.n_agents * len(envs))
        self._lengths = np.zeros(self.n_agents * len(envs), dtype=np.int64)
        self._start = time.monotonic()
        super().__init__(self.n_agents * len(envs), obs_space, act_space)

    def _stack(self, obs: dict[Any, Any]) -> list[Any]:
        return [obs[a] for a in self.agents]

    def seed(self, seed: int | None = None) -> list[int | None]:
        """Copy ``c`` resets with ``seed + c`` next time (all agents of a copy share its seed)."""
        if seed is None:
            seed = int(np.random.randint(0, np.iinfo(np.uint32).max, dtype=np.uint32))
        self._seeds = [seed + c for c in range(len(self.envs)) for _ in self.agents]
        return self._seeds

    def reset(self) -> np.ndarray:
        out = []
        for c, env in enumerate(self.envs):
            seed = self._seeds[c * self.n_agents]
            obs, infos = env.reset(seed=seed)
            if seed is not None:
                for i, a in enumerate(self.agents):
                    env.action_space(a).seed(seed + i)
            out.extend(self._stack(obs))
            self.reset_infos[c * self.n_agents : (c + 1) * self.n_agents] = [dict(infos.get(a, {})) for a in self.agents]
        self._reset_seeds()
        self._returns[:] = 0
        self._lengths[:] = 0
        return np.stack(out)

    def step_async(self, actions: np.ndarray) -> None:
        self._actions = actions

    def step_wait(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, list[dict[str, Any]]]:
        assert self._actions is not None
        all_obs, rewards, dones, infos = [], [], [], []
        for c, env in enumerate(self.envs):
            base = c * self.n_agents
            actions = {a: self._actions[base + i] for i, a in enumerate(self.agents)}
            obs, rew, term, trunc, info = env.step(actions)
            ended = [bool(term.get(a, False) or trunc.get(a, False)) for a in self.agents]
            if any(ended) and not all(ended):
                raise InvalidParameter(
                    f"Agents of a ParallelEnv copy ended at different steps ({dict(zip(self.agents, ended))}); "
                    "parameter-shared training needs them to end together (pad dead agents, e.g. black death)"
                )
            done = all(ended)
            slot_infos = [dict(info.get(a, {})) for a in self.agents]
            for i, a in enumerate(self.agents):
                slot = base + i
                self._returns[slot] += slot_infos[i].get("task_reward", rew[a])
                self._lengths[slot] += 1
                if done:
                    # The fix for PettingZoo #1126: a time limit is a truncation, and SB3 bootstraps on it.
                    slot_infos[i]["TimeLimit.truncated"] = bool(trunc.get(a, False)) and not bool(term.get(a, False))
                    slot_infos[i]["terminal_observation"] = obs[a]
                    slot_infos[i]["episode"] = {"r": float(self._returns[slot]), "l": int(self._lengths[slot]), "t": round(time.monotonic() - self._start, 6)}
                    self._returns[slot], self._lengths[slot] = 0.0, 0
            if done:
                obs, _ = env.reset()
            all_obs.extend(self._stack(obs))
            rewards.extend(float(rew[a]) for a in self.agents)
            dones.extend([done] * self.n_agents)
            infos.extend(slot_infos)
        return np.stack(all_obs), np.array(rewards, dtype=np.float32), np.array(dones), infos

    def close(self) -> None:
        for env in self.envs:
            env.close()

    def get_attr(self, attr_name: str, indices: Any = None) -> list[Any]:
        return [getattr(self.envs[i // self.n_agents], attr_name, None) for i in self._get_indices(indices)]

    def set_attr(self, attr_name: str, value: Any, indices: Any = None) -> None:
        for i in self._get_indices(indices):
            setattr(self.envs[i // self.n_agents], attr_name, value)

    def env_method(self, method_name: str, *method_args: Any, indices: Any = None, **method_kwargs: Any) -> list[Any]:
        return [getattr(self.envs[i // self.n_agents], method_name)(*method_args, **method_kwargs) for i in self._get_indices(indices)]

    def env_is_wrapped(self, wrapper_class: type[gym.Wrapper], indices: Any = None) -> list[bool]:
        return [False for _ in self._get_indices(indices)]


def make_parallel_vec_env(
    env_fn: Callable[[], ParallelEnv],
    reward: Term | Mapping[str, Any] | str | None = None,
    n_copies: int = 1,
    seed: int = 0,
) -> ParallelVecEnv:
    """``n_copies`` shaped copies of ``env_fn()`` as one SB3 VecEnv; ``reward`` gives each agent its own term instance
    (a dict ``{agent: term}`` gives agents different terms)."""
    if isinstance(n_copies, bool) or not isinstance(n_copies, int) or n_copies < 1:
        raise InvalidParameter(f"`n_copies` must be a positive integer. Received {n_copies!r}")
    term = reward if reward is not None else "EnvReward"
    venv = ParallelVecEnv([ParallelRewardShaping(env_fn(), term) for _ in range(n_copies)])
    venv.seed(seed)
    return venv


def evaluate_parallel(model: Any, env: ParallelEnv, n_episodes: int, seed: int, deterministic: bool = True) -> tuple[float, float]:
    """Mean per-agent task return and success rate (NaN without ``is_success``) over ``n_episodes`` of an
    unshaped ParallelEnv, one shared policy acting for every agent; episode ``k`` resets with ``seed + k``."""
    normalize = observation_normalizer(model)
    returns, successes = [], []
    for k in range(n_episodes):
        obs, infos = env.reset(seed=seed + k)
        totals = dict.fromkeys(env.possible_agents, 0.0)
        while env.agents:
            actions = {a: model.predict(normalize(obs[a]), deterministic=deterministic)[0] for a in env.agents}
            obs, rewards, _, _, infos = env.step(actions)
            for a, r in rewards.items():
                totals[a] += float(r)
        returns.append(float(np.mean(list(totals.values()))))
        successes.append(float(np.mean([success_of(infos.get(a, {})) for a in env.possible_agents])))
    return float(np.mean(returns)), float(np.mean(successes))


def train_parallel(
    env_fn: Callable[[], ParallelEnv],
    reward: Term | Mapping[str, Any] | str | None = None,
    total_steps: int = 10_000,
    seed: int = 0,
    n_copies: int = 1,
    algo: str = "PPO",
    hyperparams: Mapping[str, Any] | None = None,
    eval_every: int | None = None,
    eval_episodes: int = 5,
    eval_deterministic: bool = True,
    normalize_obs: bool = False,
    progress: Callable[[int], None] | None = None,
    torch_threads: int | None = 1,
    tensorboard_dir: str | None = None,
    checkpoint_dir: str | None = None,
) -> TrainResult:
    """Parameter-shared training (PPO by default) on a PettingZoo ParallelEnv; ``total_steps`` counts agent-steps.

    PBRS terms are checked against the learner's gamma. ``episodes`` holds one record per agent
    episode (task return = the agent's summed ``task_reward``); ``curve`` holds deterministic
    evaluations of :func:`evaluate_parallel` on an unshaped ``env_fn()`` seeded ``10_000 + seed``.
    Each agent's own term tree (one per agent and env copy) trains its learned terms at every
    rollout end; ``learner_log`` holds their metrics averaged over the trees. ``tensorboard_dir``
    and ``checkpoint_dir`` are as in :func:`rewardlab.baselines.sb3.train` (no checkpoints).

    Example:
        >>> from pettingzoo.classic import rps_v2
        >>> result = train_parallel(lambda: rps_v2.parallel_env(max_cycles=8), total_steps=64, seed=0, hyperparams={"n_steps": 32, "batch_size": 32, "n_epochs": 1}, eval_every=64, eval_episodes=1)
        >>> result.steps, len(result.episodes), [row["step"] for row in result.curve]  # 2 agents x 32 steps per rollout; 64 / 8 episode ends
        (64, 8, [0, 64])
    """
    import torch
    from stable_baselines3.common.vec_env import VecNormalize

    if torch_threads is not None:
        torch.set_num_threads(torch_threads)
    hyperparams = copy.deepcopy(dict(hyperparams or {}))  # SB3 writes into nested ones (`policy_kwargs`)
    cls = algorithm_class(algo)
    gamma = algorithm_gamma(algo, hyperparams)
    if isinstance(reward, Mapping) and "type" not in reward:
        for agent, t in reward.items():
            check_discount(from_config(t), gamma, where=f"reward[{agent!r}]")
    else:
        check_discount(from_config(reward if reward is not None else "EnvReward"), gamma)
    venv: VecEnv = make_parallel_vec_env(env_fn, reward, n_copies, seed)
    terms = [t for env in venv.envs for t in env.terms.values()]
    if any(outer_terms(t) for t in terms):  # a blend's outer step needs its rows to line up with one (T, N) rollout
        raise ConfigError("A learned blend (Blend) is not supported by parameter-shared SB3 training; use a single-agent env")
    check_action_space(algo, venv.action_space, "parallel env")
    if normalize_obs:
        venv = VecNormalize(venv, norm_obs=True, norm_reward=False)
    try:
        model = cls(hyperparams.pop("policy", "MlpPolicy"), venv, seed=seed, tensorboard_log=tensorboard_dir, **hyperparams)
    except TypeError as e:
        raise ConfigError(f"Bad hyper-parameters for `{algo}`: {e}") from e
    return learn_and_evaluate(model, venv, env_fn(), total_steps, eval_every, eval_episodes, seed, progress,
                              evaluate_parallel, eval_deterministic, terms=terms, tensorboard_dir=tensorboard_dir)
