"""The LLMReward term (gate 3, the runtime guard): config, equivalence with in-process execution,
fallbacks and clipping, H4 (a loop at runtime), H7 (no non-finite reward reaches SB3 or TorchPPO),
worker restarts, pickling, and the fronts' info conventions.
"""

from __future__ import annotations

import os
import pickle
import signal
import time
import warnings

import gymnasium as gym
import numpy as np
import pytest
import torch
from sandbox_helpers import GOOD, MOUNTAINCAR, CounterEnv, alive, body

from rewardlab.errors import ConfigError, InvalidParameter, RewardCodeRejected
from rewardlab.shaping import EnvReward, Sum, Transition, from_config
from rewardlab.shaping.llm.gates import static_check, strip_imports
from rewardlab.shaping.llm.reward import LLMReward
from rewardlab.shaping.llm.sandbox import pack_rows
from rewardlab.shaping.llm.views import descriptor_for
from rewardlab.shaping.llm.worker import RewardRunner
from rewardlab.wrappers import RewardShaping, VectorRewardShaping

torch.set_num_threads(1)

# NaN on a rare state (about 6% of random-policy MountainCar steps, in 64-step episodes, have velocity > 0.008).
RARE_NAN = body("if next_obs.velocity > 0.008:", "    return float('nan')", "return 10.0 * (next_obs.position - obs.position)")


def transition(obs, action, next_obs, reward=None, valid=None, info=None):
    n = len(obs)
    return Transition(np.asarray(obs, np.float32), np.asarray(action), np.asarray(next_obs, np.float32),
                      np.zeros(n) if reward is None else np.asarray(reward, float), np.zeros(n, bool), np.zeros(n, bool),
                      np.ones(n, bool) if valid is None else np.asarray(valid), {} if info is None else info)


def test_config_round_trip_file_path_and_construction_errors(tmp_path):
    cfg = {"type": "LLMReward", "code": GOOD, "name": "llm", "fallback": "env"}
    assert from_config(cfg).to_config() == cfg
    path = tmp_path / "reward.py"
    path.write_text(GOOD)
    term = LLMReward(str(path))
    assert term.to_config() == {"type": "LLMReward", "code": str(path)} and "progress" in term.source
    fenced = LLMReward("Here is my reward:\n```python\n" + GOOD + "```\n")  # an LLM answer works as is
    assert fenced.source == term.source
    with pytest.raises(ConfigError, match="not reward source"):
        LLMReward(str(tmp_path / "missing.py"))
    with pytest.raises(RewardCodeRejected) as e:
        LLMReward(body("while True:", "    pass"))
    assert (e.value.gate, e.value.rule) == ("static", "stmt:While")
    for bad in ({"fallback": "nan"}, {"r_max": 0.0}, {"timeout_ms": -1.0}, {"max_failures": -1}, {"max_failure_rate": 2.0}):
        with pytest.raises(InvalidParameter):
            LLMReward(GOOD, **bad)


def test_vector_env_values_equal_in_process_execution_and_parts_sum_to_the_term():
    # The sandboxed values are bit-identical to running the same gated code in this process.
    term = LLMReward(GOOD, name="llm")
    envs = VectorRewardShaping(gym.make_vec(MOUNTAINCAR, num_envs=4), Sum([EnvReward(), term]))
    desc = descriptor_for(MOUNTAINCAR)
    obs, _ = envs.reset(seed=1)
    rng = np.random.default_rng(1)
    try:
        for _ in range(60):
            action = rng.integers(0, 3, size=4)
            prev = obs
            obs, rewards, terminated, truncated, info = envs.step(action)
            layout, matrix = pack_rows(prev, action, obs, info, np.arange(4), desc.info_keys)
            _, totals, _, comps, _ = RewardRunner(strip_imports(GOOD, static_check(GOOD)), desc.to_dict(), layout).run(matrix)
            parts = info["reward_terms"]
            assert sorted(parts) == ["env", "llm", "llm_bonus", "llm_progress"]
            assert parts["llm_progress"].tobytes() == comps[:, 0].tobytes()
            assert parts["llm_bonus"].tobytes() == comps[:, 1].tobytes()
            # progress + bonus is the total, so the remainder is zero up to rounding.
            np.testing.assert_allclose(parts["llm"] + parts["llm_progress"] + parts["llm_bonus"], totals, rtol=0, atol=1e-12)
            assert info["reward_fallback"].tolist() == [False] * 4 and info["_reward_fallback"].all()
        assert (term.calls, term.fallbacks, term.failures, term.disabled) == (60, 0, 0, False)
        t = transition([[-0.5, 0.0], [-0.4, 0.01]], [0, 2], [[-0.49, 0.01], [-0.38, 0.02]])
        parts = term.components(t)  # the term is bound to MountainCar by the wrapper
        assert term(t).tobytes() == (parts["llm"] + parts["llm_progress"] + parts["llm_bonus"]).tobytes()  # one round trip
        assert term.calls == 61
    finally:
        term.close()


@pytest.mark.parametrize("fallback", ["zero", "env"])
def test_failed_rows_get_the_fallback_and_values_are_clipped(fallback):
    # Row 0 returns NaN (position > 0), row 1 returns 1e9 (clipped to r_max = 5), row 2 is a dummy
    # autoreset step (valid False: 0, not scored), row 3 is fine (-0.5).
    code = body("if obs.position > 0:", "    return float('nan')", "if obs.position < -1:", "    return 1e9", "return obs.position")
    term = LLMReward(code, MOUNTAINCAR, fallback=fallback, r_max=5.0)
    t = transition([[0.1, 0], [-1.1, 0], [-0.3, 0], [-0.5, 0]], [0, 0, 0, 0], [[0, 0]] * 4, reward=[-1.0, -1.0, -1.0, -1.0],
                   valid=[True, True, False, True])
    try:
        values = term(t)
    finally:
        term.close()
    expected_row0 = 0.0 if fallback == "zero" else -1.0
    assert values.tolist() == [expected_row0, 5.0, 0.0, np.float32(-0.5).item()]
    assert t.info["reward_fallback"].tolist() == [True, False, False, False]
    assert (term.calls, term.fallbacks, term.failures) == (1, 1, 1)
    assert term.last_error.status == "nonfinite"


def test_h4_a_runtime_loop_falls_back_within_budget_and_the_candidate_is_disabled():
    # H4: the reward loops from step 500 on (10**10 iterations of a nested for: gate 1 allows it, as
    # it cannot prove termination). Budget 20 ms per call. Expected: steps 0-499 normal; from 500
    # every step flagged; the candidate disabled after failure 11 > max(10, 1% of 511 calls), i.e.
    # at step 510 (0-based); no call after that. The spec's bounds (fallback within 30 ms, the whole 1,000
    # steps in < 2 s) are for an idle machine; here: the first looping call < 1 s, the run < 60 s.
    code = body("if obs.x0 >= 500:", "    for i in range(100000):", "        for j in range(100000):", "            pass",
                "return 1.0")
    env = RewardShaping(CounterEnv(), LLMReward(code, timeout_ms=20.0))
    term = env.term
    env.reset(seed=0)
    flags, durations = [], []
    start = time.monotonic()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for _ in range(1000):
            t0 = time.monotonic()
            _, reward, _, _, info = env.step(0)
            durations.append(time.monotonic() - t0)
            flags.append((info["reward_fallback"], reward))
    elapsed = time.monotonic() - start
    print(f"H4: 1000 steps in {elapsed:.2f} s; first looping call {durations[500] * 1000:.1f} ms")
    assert all(type(f) is bool for f, _ in flags)  # a single env's info gets a bool
    assert flags[:500] == [(False, 1.0)] * 500  # obs.x0 is the step count of s: 0..499 on the first 500 steps
    assert flags[500:] == [(True, 0.0)] * 500
    assert term.disabled and term.failures == 11 and term.calls == 511 and term.fallbacks == 500
    assert term.pid is None  # the worker was closed when the candidate was disabled
    assert any("disabled after 11 failed calls" in str(w.message) for w in caught)
    assert durations[500] < 1.0 and elapsed < 60.0


def test_a_killed_worker_is_restarted_and_only_that_step_falls_back():
    term = LLMReward(GOOD, MOUNTAINCAR)
    t = transition([[-0.5, 0.0]], [2], [[-0.45, 0.01]])
    try:
        first = term(t).tolist()
        pid = term.pid
        os.kill(pid, signal.SIGKILL)  # under bwrap this is bwrap; its namespace's processes die just after
        deadline = time.monotonic() + 10
        while alive(pid) and time.monotonic() < deadline:
            time.sleep(0.01)
        time.sleep(0.5)
        t2 = transition([[-0.5, 0.0]], [2], [[-0.45, 0.01]])
        assert term(t2).tolist() == [0.0] and t2.info["reward_fallback"].tolist() == [True]
        assert term.last_error.status == "died"
        t3 = transition([[-0.5, 0.0]], [2], [[-0.45, 0.01]])
        assert term(t3).tolist() == first and term.pid not in (None, pid)
        assert not alive(pid)
    finally:
        term.close()
    assert term.state_dict()["failures"] == 1


def test_h7_sb3_rollout_buffer_stays_finite_with_a_rare_nan_reward():
    # H7: the reward is NaN on rare states; SB3's buffer must hold only finite rewards, the episode
    # log counts the fallbacks per episode (DummyVecEnv: a bool per info dict).
    from stable_baselines3 import PPO

    from rewardlab.baselines.sb3 import make_vec_env
    from rewardlab.baselines.sb3_callbacks import EpisodeLogger

    term = LLMReward(RARE_NAN, max_failures=10_000)  # keep it enabled: every NaN must be caught, not just the first ten
    venv = make_vec_env(MOUNTAINCAR, reward=Sum([EnvReward(), term]), n_envs=2, seed=0, max_episode_steps=64)
    logger = EpisodeLogger()
    try:
        model = PPO("MlpPolicy", venv, n_steps=128, batch_size=64, n_epochs=1, seed=0, device="cpu")
        model.learn(256, callback=logger)
        assert np.isfinite(model.rollout_buffer.rewards).all()
    finally:
        term.close()
    assert term.fallbacks > 0 and not term.disabled
    assert len(logger.episodes) >= 4 and all(isinstance(ep["reward_fallbacks"], int) for ep in logger.episodes)
    assert 0 < sum(ep["reward_fallbacks"] for ep in logger.episodes) <= term.fallbacks


def test_h7_torch_ppo_rollout_stays_finite_and_episodes_count_fallbacks():
    from rewardlab.baselines.ppo import PPOArgs, make_vec_env, train

    term = LLMReward(RARE_NAN, max_failures=10_000)
    envs = make_vec_env(MOUNTAINCAR, 2, reward=Sum([EnvReward(), term]), max_episode_steps=64)
    try:
        result = train(PPOArgs(n_steps=64, batch_size=64, n_epochs=1), envs, 512, seed=0)  # 2 x 256 steps: 4 episodes of 64
    finally:
        term.close()
    assert torch.isfinite(result.rollout.rewards).all()
    assert len(result.episodes) >= 4 and all(isinstance(ep["reward_fallbacks"], int) for ep in result.episodes)
    assert 0 < sum(ep["reward_fallbacks"] for ep in result.episodes) <= term.fallbacks


def test_pickled_term_gets_its_own_worker_and_state_dict_round_trips():
    term = LLMReward(GOOD, MOUNTAINCAR, name="llm")
    t = transition([[-0.5, 0.0]], [2], [[-0.45, 0.01]])
    try:
        value = term(t).tolist()
        copy = pickle.loads(pickle.dumps(term))
        t2 = transition([[-0.5, 0.0]], [2], [[-0.45, 0.01]])
        assert copy.pid is None and copy(t2).tolist() == value and copy.pid != term.pid
        state = term.state_dict()
        fresh = LLMReward(GOOD, MOUNTAINCAR, name="llm")
        fresh.load_state_dict(state)
        assert fresh.state_dict() == {**state, "restarts": 0} and state["calls"] == 1
    finally:
        term.close()
        copy.close()


def test_single_env_and_vector_env_agree():
    # The single-env front (Term.single) and the vector front give the same reward for the same steps.
    single = RewardShaping(gym.make(MOUNTAINCAR), LLMReward(GOOD))
    vector = VectorRewardShaping(gym.make_vec(MOUNTAINCAR, num_envs=1), LLMReward(GOOD))
    single.reset(seed=4)
    vector.reset(seed=4)
    try:
        for a in [2, 2, 0, 1, 2, 2, 2, 0]:
            _, r1, _, _, i1 = single.step(a)
            _, r2, _, _, i2 = vector.step(np.array([a]))
            assert r1 == r2[0] and i1["reward_fallback"] is False and i2["reward_fallback"].tolist() == [False]
            assert i1["reward_terms"] == {k: v[0] for k, v in i2["reward_terms"].items()}
    finally:
        single.term.close()
        vector.term.close()


def test_sb3_infos_carry_a_bool_per_sub_env():
    from rewardlab.baselines.sb3 import make_vec_env

    term = LLMReward(body("if obs.position > -0.5:", "    return float('inf')", "return 1.0"))
    venv = make_vec_env(MOUNTAINCAR, reward=term, n_envs=3, seed=0)
    obs = venv.reset()
    try:
        _, rewards, _, infos = venv.step(np.array([1, 1, 1]))
    finally:
        term.close()
    expected = [bool(p > -0.5) for p in obs[:, 0]]  # the failing rows, from the observations given
    assert [info["reward_fallback"] for info in infos] == expected
    assert rewards.tolist() == [0.0 if bad else 1.0 for bad in expected]


def test_a_forked_copy_starts_its_own_worker_and_leaves_the_parents_alone():
    # A process pool may fork a trainer whose term already has a worker: the child must neither talk
    # to that worker nor kill it when it exits.
    term = LLMReward(GOOD, MOUNTAINCAR)
    try:
        expected = term(transition([[-0.5, 0.0]], [2], [[-0.45, 0.01]])).tolist()
        parent_worker = term.pid
        read, write = os.pipe()
        child = os.fork()
        if child == 0:  # pragma: no cover - runs in the forked child
            try:
                value = term(transition([[-0.5, 0.0]], [2], [[-0.45, 0.01]])).tolist()
                ok = value == expected and term.pid not in (None, parent_worker)
                term.close()
                os.write(write, b"1" if ok else b"0")
            finally:
                os._exit(0)
        os.close(write)
        answer = os.read(read, 1)
        os.waitpid(child, 0)
        os.close(read)
        assert answer == b"1"
        assert alive(parent_worker) and term.pid == parent_worker
        assert term(transition([[-0.5, 0.0]], [2], [[-0.45, 0.01]])).tolist() == expected
    finally:
        term.close()
