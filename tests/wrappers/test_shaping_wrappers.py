"""The wrapper fronts: single env, vector env in every autoreset mode (F16), SB3, PettingZoo; F17 bookkeeping."""

from __future__ import annotations

import functools

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode

from rewardlab.errors import NonFiniteError
from rewardlab.shaping import PBRS, Constant, EnvReward, RunningNormalize, Term, register_potentials, register_term
from rewardlab.wrappers import ParallelRewardShaping, RewardShaping, VectorRewardShaping
from toy_envs import CountdownEnv, phi_countdown

GAMMA = 0.9
gym.register("CountdownToy-v0", entry_point="toy_envs:CountdownEnv")
register_potentials("CountdownToy-v0", {"phi": phi_countdown})


@register_term
class Recorder(Term):
    """Pays 0 and records every transition it sees (for checking what terms are given)."""

    def __init__(self, name: str | None = None):
        super().__init__(name)
        self.seen, self.resets = [], []

    def reset(self, mask, obs):
        self.resets.append((np.array(mask), np.array(obs)))

    def __call__(self, t):
        self.seen.append(t)
        return np.zeros_like(t.reward)


def make_vec(lengths, mode, truncate=False):
    fns = [functools.partial(CountdownEnv, length=n, offset=10.0 * i, truncate=truncate) for i, n in enumerate(lengths)]
    return gym.vector.SyncVectorEnv(fns, autoreset_mode=mode)


def episodes_from_vector(envs, steps):
    """Per sub-env lists of PBRS values of real steps, split by episode, plus the dummy-step values."""
    episodes = [[[]] for _ in range(envs.num_envs)]
    dummies = []
    prev_done = np.zeros(envs.num_envs, bool)
    for _ in range(steps):
        _, _, term, trunc, info = envs.step(np.zeros(envs.num_envs, dtype=int))
        pbrs = info["reward_terms"]["pbrs"]
        for i in range(envs.num_envs):
            if envs.autoreset_mode == AutoresetMode.NEXT_STEP and prev_done[i]:
                dummies.append({k: v[i] for k, v in info["reward_terms"].items()})
                continue
            episodes[i][-1].append(pbrs[i])
            if term[i] or trunc[i]:
                episodes[i].append([])
        prev_done = term | trunc
    return [[e for e in eps if e] for eps in episodes], dummies


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_f16_vector_autoreset_telescopes_per_episode(mode):
    # F16: sub-envs with episodes of 3 and 5 steps. For every terminated episode sum gamma^t F_t = -Phi(s0)
    # (Phi(s0) = 1 + offset): this fails if the auto-reset obs is used as s' or Phi(terminal) is kept.
    recorder = Recorder()
    envs = VectorRewardShaping(make_vec([3, 5], mode), EnvReward() + PBRS(phi_countdown, gamma=GAMMA) + recorder)
    envs.reset(seed=0)
    episodes, dummies = episodes_from_vector(envs, 17)
    for i, phi0 in enumerate([1.0, 11.0]):
        assert len(episodes[i]) >= 3
        for ep in episodes[i]:
            if len(ep) == [3, 5][i]:
                assert sum(GAMMA**t * f for t, f in enumerate(ep)) == pytest.approx(-phi0, abs=1e-9)
    if mode == AutoresetMode.NEXT_STEP:
        # Every dummy step pays 0 in every part, and the terms were told it is not a real step.
        assert dummies and all(v == 0 for d in dummies for v in d.values())
        n_invalid = sum(int((~t.valid).sum()) for t in recorder.seen)
        assert n_invalid == len(dummies)
    else:
        # SAME_STEP: s' of a done step is the final obs (t = length), never the new first obs (t = 0).
        ends = [(t.next_obs[i], t.obs[i]) for t in recorder.seen for i in np.flatnonzero(t.terminated)]
        assert ends and all(nxt[0] == obs[0] + 1 for nxt, obs in ends)
    # Terms were reset with the new first observation (t = 0) of exactly the sub-envs that restarted.
    for mask, obs in recorder.resets[1:]:
        assert mask.sum() >= 1 and (obs[mask][:, 0] == 0).all()


def test_f16_normaliser_counts_only_real_steps():
    norm = RunningNormalize(EnvReward())
    envs = VectorRewardShaping(make_vec([3, 5], AutoresetMode.NEXT_STEP), norm)
    envs.reset(seed=0)
    real = 0
    prev_done = np.zeros(2, bool)
    for _ in range(12):
        _, _, term, trunc, _ = envs.step(np.zeros(2, dtype=int))
        real += int((~prev_done).sum())
        prev_done = term | trunc
    # 24 sub-env steps less the dummy step after each done: env 0 (length 3) at steps 4, 8, 12 and
    # env 1 (length 5) at steps 6, 12, so 19 real steps.
    assert real == 19 and norm.count == 19


def test_disabled_autoreset_resets_terms_by_mask():
    recorder = Recorder()
    envs = VectorRewardShaping(make_vec([2, 4], AutoresetMode.DISABLED), recorder)
    envs.reset(seed=0)
    envs.step(np.zeros(2, dtype=int))
    _, _, term, _, _ = envs.step(np.zeros(2, dtype=int))
    assert term.tolist() == [True, False]
    envs.reset(options={"reset_mask": term})
    assert recorder.resets[-1][0].tolist() == [True, False]


@pytest.mark.parametrize("num_envs", [1, 3])
def test_f17_parts_sum_to_reward_single_and_vector(num_envs):
    term = EnvReward() + PBRS("energy", gamma=0.99) + Constant(-0.01)
    envs = VectorRewardShaping(gym.make_vec("MountainCar-v0", num_envs=num_envs), term)
    raw = gym.make_vec("MountainCar-v0", num_envs=num_envs)
    envs.reset(seed=3)
    raw.reset(seed=3)
    rng = np.random.default_rng(0)
    for _ in range(50):
        actions = rng.integers(0, 3, size=num_envs)
        _, rewards, _, _, info = envs.step(actions)
        _, raw_rewards, _, _, _ = raw.step(actions)
        parts = np.sum(list(info["reward_terms"].values()), axis=0)
        assert np.abs(parts.astype(np.float32) - rewards.astype(np.float32)).max() < 1e-6
        np.testing.assert_array_equal(info["task_reward"], raw_rewards)
    single = RewardShaping(gym.make("MountainCar-v0"), term)
    single.reset(seed=3)
    for _ in range(50):
        _, reward, _, _, info = single.step(int(rng.integers(0, 3)))
        assert abs(np.float32(sum(info["reward_terms"].values())) - np.float32(reward)) < 1e-6
        assert info["task_reward"] == -1.0


def test_single_env_spec_round_trip_rebuilds_the_shaped_env():
    env = RewardShaping(gym.make("CountdownToy-v0", length=4), EnvReward() + PBRS("phi", gamma=GAMMA))
    rebuilt = gym.make(env.spec)
    rewards = []
    for e in (env, rebuilt):
        e.reset(seed=0)
        rewards.append([e.step(0)[1] for _ in range(4)])
    assert rewards[0] == rewards[1]
    # Terminated episode: sum gamma^t F_t = -Phi(s0) = -1, plus the env's reward 1 at t = 3.
    assert sum(GAMMA**t * r for t, r in enumerate(rewards[0])) == pytest.approx(-1.0 + GAMMA**3)


@pytest.mark.parametrize("truncation", ["bootstrap", "terminal"])
def test_single_env_float_path_equals_the_batched_path(truncation):
    # The single-env front evaluates terms in floats (Term.single); the vector front runs the batched
    # arrays. Fast-path terms (Sum, Scale, Product, Constant, EnvReward, PBRS) and terms that fall
    # back to the batched path at N = 1 (Gate, RunningNormalize) must give identical parts, through
    # terminations, MountainCar's 200-step time-outs and resets. MountainCar's observations are float32.
    term_cfg = {
        "type": "Sum",
        "terms": [
            "EnvReward",
            {"type": "PBRS", "potential": "energy", "gamma": 0.99, "truncation": truncation},
            {"type": "Scale", "scale": 0.5, "term": {"type": "Product", "terms": ["EnvReward", {"type": "Constant", "value": 2.0}]}},
            {"type": "Gate", "immediate": {"type": "Constant", "value": 1.0}, "outcome": "EnvReward", "threshold": -150.0},
            {"type": "RunningNormalize", "term": {"type": "Scale", "scale": 3.0, "term": "EnvReward"}},
        ],
    }
    envs = VectorRewardShaping(gym.make_vec("MountainCar-v0", num_envs=1), term_cfg)
    single = RewardShaping(gym.make("MountainCar-v0"), term_cfg)
    envs.reset(seed=5)
    single.reset(seed=5)
    dummy, compared = False, 0
    for a in np.random.default_rng(0).integers(0, 3, 450):
        _, rv, tv, uv, infov = envs.step(np.array([a]))
        if dummy:  # NEXT_STEP: this vector step was the reset; the single env resets by hand
            single.reset()
            dummy = False
            continue
        _, rs, ts, us, infos = single.step(int(a))
        assert (rv[0], tv[0], uv[0]) == (rs, ts, us)
        assert {k: v[0] for k, v in infov["reward_terms"].items()} == infos["reward_terms"]
        dummy, compared = bool(tv[0] or uv[0]), compared + 1
    assert compared == 448  # two time-outs at steps 200 and 400 of 450, each followed by a dummy step
    assert repr(envs.term.state_dict()) == repr(single.term.state_dict())


def test_pbrs_load_state_dict_keeps_a_copy():
    # The single-env path updates the cached potential in place; a loaded state must stay untouched.
    env = RewardShaping(CountdownEnv(length=5), PBRS(phi_countdown, gamma=GAMMA))
    env.reset()
    state = {"last_phi": np.array([1.0])}
    env.term.load_state_dict(state)
    env.step(0)
    assert state["last_phi"][0] == 1.0 and env.term.state_dict()["last_phi"][0] == 2.0  # Phi(s1) = 1 + 0 + 1


def test_non_finite_env_reward_is_refused():
    class NanEnv(CountdownEnv):
        def step(self, action):
            obs, _, term, trunc, info = super().step(action)
            return obs, float("nan"), term, trunc, info

    env = RewardShaping(NanEnv(), EnvReward())
    env.reset()
    with pytest.raises(NonFiniteError, match="non-finite reward"):
        env.step(0)


def test_sb3_wrapper_uses_terminal_observation_and_bootstraps_truncation():
    pytest.importorskip("stable_baselines3")
    from stable_baselines3.common.vec_env import DummyVecEnv

    from rewardlab.wrappers import SB3RewardShaping

    # Env 0 terminates after 3 steps; env 1 is cut by a TimeLimit after 4 (SB3 sets TimeLimit.truncated).
    venv = DummyVecEnv([lambda: CountdownEnv(length=3), lambda: gym.wrappers.TimeLimit(CountdownEnv(length=99, offset=10.0), 4)])
    venv = SB3RewardShaping(venv, PBRS(phi_countdown, gamma=GAMMA), env_id="CountdownToy-v0")
    venv.reset()
    values = [[], []]
    for _ in range(4):
        _, rewards, dones, infos = venv.step(np.zeros(2, dtype=int))
        for i in range(2):
            values[i].append(float(infos[i]["reward_terms"]["pbrs"]))
    # Terminated: sum gamma^t F_t = -Phi(s0) = -1 (uses terminal_observation t=3, zeroed as terminal).
    assert sum(GAMMA**t * f for t, f in enumerate(values[0][:3])) == pytest.approx(-1.0)
    # Truncated (bootstrap mode): Phi(s4) = 4 + 10 + 1 is kept, so the sum is gamma^4 * 15 - 11.
    assert sum(GAMMA**t * f for t, f in enumerate(values[1])) == pytest.approx(GAMMA**4 * 15 - 11)
    # After the reset the next step's F starts from the new episode's Phi(s0) = 1: F = 0.9*2 - 1.
    assert values[0][3] == pytest.approx(0.8)


def test_parallel_wrapper_gives_each_agent_its_own_term():
    from pettingzoo.classic import rps_v2

    env = ParallelRewardShaping(
        rps_v2.parallel_env(max_cycles=3),
        {"player_0": EnvReward() + Constant(1.0), "player_1": {"type": "Scale", "term": "EnvReward", "scale": 2.0}},
    )
    env.reset(seed=0)
    _, rewards, terms, truncs, infos = env.step({"player_0": 1, "player_1": 0})  # paper beats rock
    assert infos["player_0"]["task_reward"] == 1.0 and rewards["player_0"] == 2.0
    assert infos["player_1"]["task_reward"] == -1.0 and rewards["player_1"] == -2.0
    with pytest.raises(Exception, match="every possible agent"):
        ParallelRewardShaping(rps_v2.parallel_env(), {"player_0": EnvReward()})


def test_parallel_wrapper_zeroes_potential_on_agent_termination():
    from pettingzoo.classic import rps_v2

    # rps observations are the opponent's last move (0-3); Phi = obs + 1. max_cycles=2 truncates at t=2,
    # so in "terminal" truncation mode each agent's sum gamma^t F_t = -Phi(s0) = -(3 + 1) (obs 3 = none yet).
    def phi(obs):
        return np.asarray(obs, dtype=float).reshape(len(obs), -1)[:, 0] + 1.0

    env = ParallelRewardShaping(rps_v2.parallel_env(max_cycles=2), PBRS(phi, gamma=GAMMA, truncation="terminal"))
    env.reset(seed=0)
    sums = {a: 0.0 for a in env.possible_agents}
    for t in range(2):
        _, _, _, _, infos = env.step({"player_0": 0, "player_1": 2})
        for a in sums:
            sums[a] += GAMMA**t * infos[a]["reward_terms"]["pbrs"]
    assert sums == pytest.approx({a: -4.0 for a in sums})
    assert env.terms["player_0"] is not env.terms["player_1"]


@pytest.mark.parametrize("wrapper", [RewardShaping, VectorRewardShaping])
def test_wrappers_record_every_constructor_argument(wrapper):
    # As Gymnasium's test_record_constructor_args: what is recorded is the signature less `env`.
    import inspect

    inner = gym.make("CartPole-v1") if wrapper is RewardShaping else gym.make_vec("CartPole-v1", num_envs=2)
    env = wrapper(inner, {"type": "Constant", "value": 1.0})
    expected = [p for p in inspect.signature(wrapper.__init__).parameters if p not in ("self", "env")]
    assert list(env._saved_kwargs) == expected
    assert env._saved_kwargs["term"] == {"type": "Constant", "value": 1.0}
