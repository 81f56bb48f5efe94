"""One action contract for every rewardlab env (docs/contracts.md), swept over every registered id.

- An action outside the action space (wrong type, shape, dtype, NaN or inf, out of range for
  Discrete) raises :class:`InvalidAction`, whose message names the action and the space.
- Stepping a single env after its episode ended raises :class:`EpisodeFinished`; ``reset`` clears it.
- Box actions outside ``[low, high]`` are clipped by every rewardlab family (documented in each
  env's docstring): the step equals the step with the clipped action, observation and reward alike.
- Vector envs (autoreset, so no EpisodeFinished) check each row of the batch.

The PettingZoo ParallelEnv of every coopetition game follows the same contract per agent.
Each case below was reproduced as accepted (or, for gridhack, replayed on a finished level) on
main before this contract (issue 16, item 6).
"""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from gymnasium.utils.env_checker import data_equivalence

import rewardlab  # noqa: F401  (registers the ids)
from rewardlab.envs import list_ids
from rewardlab.envs.control.barfi_grid import BonusGrid
from rewardlab.envs.control.subgoal_chain import SubgoalChain
from rewardlab.envs.control.base import ControlTask
from rewardlab.envs.coopetition import list_envs, parallel_env
from rewardlab.envs.coopetition.gym_env import CoopetitionEnv
from rewardlab.envs.gridhack.env import GridhackEnv
from rewardlab.errors import EpisodeFinished, InvalidAction

IDS = list_ids()
VECTOR_IDS = [i for i in IDS if gym.spec(i).vector_entry_point is not None]
GAMES = [e["name"] for e in list_envs()]


def _entry(env_id: str) -> type:
    entry = gym.spec(env_id).entry_point
    return gym.envs.registration.load_env_creator(entry) if isinstance(entry, str) else entry


def invalid_actions(space: gym.Space) -> list:
    """Actions outside `space`, one of each class the contract names."""
    if isinstance(space, spaces.Discrete):
        n, s = int(space.n), int(space.start)
        return [s + n, s - 1, 2.7, float(s), np.float32(s), "3", True, np.bool_(False), None,
                np.array([s]), [s], np.array([s, s]), 1 + 0j]
    assert isinstance(space, spaces.Box), space  # every rewardlab env is Discrete or Box
    good = space.sample()
    nan, inf = good.copy(), good.astype(np.float64)
    nan.flat[-1], inf.flat[0] = np.nan, np.inf
    return [nan, inf, np.append(good, good.flat[0]), good[..., :-1] if good.size > 1 else good.reshape(()),
            good.astype(bool), good.astype(np.complex64), np.full(space.shape, "1"), None, "0.5"]


def short_episode_env(env_id: str) -> gym.Env:
    """The env of `env_id` with a 2-step horizon of its own (its family's documented argument)."""
    cls, spec = _entry(env_id), gym.spec(env_id)
    if issubclass(cls, (ControlTask, BonusGrid, SubgoalChain)):
        return gym.make(env_id, horizon=2)
    if issubclass(cls, CoopetitionEnv):
        return gym.make(env_id, max_steps=2)
    assert issubclass(cls, GridhackEnv), cls  # the three families (and BonusGrid, SubgoalChain) cover every registered id
    return cls(**spec.kwargs, max_episode_steps=2)  # gym.make would take max_episode_steps for its TimeLimit


@pytest.mark.parametrize("env_id", IDS, ids=IDS)
def test_invalid_actions_raise_naming_action_and_space(env_id):
    env = gym.make(env_id)
    env.reset(seed=0)
    space = env.action_space
    for action in invalid_actions(space):
        with pytest.raises(InvalidAction, match=r"is outside the action space " + str(space).split("(")[0]) as err:
            env.step(action)
        assert repr(action)[:20] in str(err.value), (action, str(err.value))
    # the contract refuses without side effects: a valid action still steps the same episode
    env.step(space.sample())
    env.close()


@pytest.mark.parametrize("env_id", IDS, ids=IDS)
def test_stepping_a_finished_episode_raises(env_id):
    env = short_episode_env(env_id)
    env.reset(seed=0)
    env.action_space.seed(0)
    done, steps = False, 0
    while not done:
        _, _, terminated, truncated, _ = env.step(env.action_space.sample())
        done, steps = terminated or truncated, steps + 1
    assert steps <= 2  # the horizon of 2 ended it (or the task itself, earlier)
    with pytest.raises(EpisodeFinished, match="call `reset\\(\\)` first"):
        env.step(env.action_space.sample())
    env.reset(seed=1)
    env.step(env.action_space.sample())  # a new episode steps again
    env.close()


BOX_IDS = [i for i in IDS if not issubclass(_entry(i), GridhackEnv)]  # gridhack is Discrete throughout


@pytest.mark.parametrize("env_id", BOX_IDS, ids=BOX_IDS)
def test_out_of_bounds_box_actions_are_clipped(env_id):
    """Each family's docstring says Box actions are clipped to [low, high]: check it step by step."""
    env = gym.make(env_id)
    if not isinstance(env.action_space, spaces.Box):
        pytest.skip("Discrete action space (covered by the range checks above)")
    space = env.action_space
    rng = np.random.default_rng(0)
    for _ in range(3):
        raw = (space.low + (space.high - space.low) * rng.uniform(-1.0, 2.0, space.shape)).astype(space.dtype)
        env.reset(seed=3)
        obs_raw, r_raw, *_ = env.step(raw)
        env.reset(seed=3)
        obs_clip, r_clip, *_ = env.step(np.clip(raw, space.low, space.high))
        assert data_equivalence(obs_raw, obs_clip)
        assert r_raw == r_clip
    env.close()


@pytest.mark.parametrize("env_id", VECTOR_IDS, ids=VECTOR_IDS)
def test_vector_envs_check_every_row(env_id):
    envs = gym.make_vec(env_id, num_envs=3, vectorization_mode="vector_entry_point")
    envs.reset(seed=0)
    single = envs.single_action_space
    good = envs.action_space.sample()
    bad_rows = []
    if isinstance(single, spaces.Discrete):
        row = good.copy()
        row[1] = single.start + single.n
        bad_rows = [row, good.astype(np.float64), good.astype(bool), good[:2], good.reshape(3, 1)]
    else:
        nan = good.copy()
        nan[1, 0] = np.nan
        bad_rows = [nan, good[:2], good[:, :1] if good.shape[1] > 1 else np.repeat(good, 2, axis=1),
                    good.astype(bool), good[0]]
    for actions in bad_rows:
        with pytest.raises(InvalidAction, match="is outside the action space"):
            envs.step(actions)
    envs.step(good)
    envs.close()


@pytest.mark.parametrize("name", GAMES, ids=GAMES)
def test_parallel_env_checks_each_agent(name):
    env = parallel_env(name, max_steps=2)
    env.reset(seed=0)
    agents = list(env.agents)
    good = {a: env.action_space(a).sample() for a in agents}
    first = agents[0]
    cases = [
        {**good, first: np.array([np.nan], np.float32)},
        {**good, first: np.array([1.0, 2.0], np.float32)},  # an extra number, silently dropped before
        {**good, first: "1"},
        {**good, first: np.array([True])},
        {**good, first: None},
        {**good, "agent_99": np.array([1.0], np.float32)},  # an agent the game does not have
        {a: good[a] for a in agents[1:]},  # a live agent without an action
    ]
    for actions in cases:
        with pytest.raises(InvalidAction, match="agent|action space"):
            env.step(actions)
    while env.agents:
        env.step({a: env.action_space(a).sample() for a in env.agents})
    with pytest.raises(EpisodeFinished):
        env.step(good)
