"""API conformance and equivalence of the coopetition views, over all 20 envs (spec §8.14-16, 18)."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env
from pettingzoo.test import api_test, parallel_api_test

import rewardlab  # noqa: F401  (registers the ids)
from rewardlab.envs.coopetition import CoopetitionVectorEnv, aec_env, list_envs, parallel_env
from rewardlab.envs.coopetition.core import CoopetitionCore
from rewardlab.envs.coopetition.params import build_params, env_names
from rewardlab.errors import InvalidAction, InvalidParameter
from rewardlab.shaping.potentials import potentials_for

NAMES = env_names()
STEPS = 12


def _actions(name: str, steps: int = STEPS, seed: int = 0) -> np.ndarray:
    """A fixed joint-action sequence ``[steps, n]`` inside each agent's bounds."""
    e = build_params(name).endowment
    return np.random.default_rng(seed).uniform(0.0, 1.0, (steps, e.shape[0])) * e


def test_twenty_envs_registered():
    assert len(NAMES) == 20 and [d["id"] for d in list_envs()] == [f"rewardlab/{n}-v0" for n in NAMES]
    assert all(f"rewardlab/{n}-v0" in gym.registry for n in NAMES)


@pytest.mark.parametrize("name", NAMES)
def test_pettingzoo_and_gymnasium_conformance(name):
    parallel_api_test(parallel_env(name), num_cycles=30)
    api_test(aec_env(name), num_cycles=10)
    env = gym.make(f"rewardlab/{name}-v0")
    check_env(env.unwrapped, skip_render_check=True)  # includes the determinism-under-seed checks


def _parallel_run(name, actions, seed=0, **kw):
    env = parallel_env(name, **kw)
    env.reset(seed=seed)
    out = []
    for a in actions:
        obs, rew, term, trunc, info = env.step({ag: [a[i]] for i, ag in enumerate(env.possible_agents)})
        out.append((np.stack(list(obs.values())), np.array(list(rew.values())), term["agent_0"], trunc["agent_0"],
                    np.array([info[ag]["payoff"] for ag in env.possible_agents]), env.state()))
        if term["agent_0"] or trunc["agent_0"]:
            break
    return out


def _aec_run(name, actions, seed=0):
    env = aec_env(name)
    env.reset(seed=seed)
    agents = list(env.possible_agents)
    out = []
    for a in actions:
        for i, ag in enumerate(agents):
            assert env.agent_selection == ag
            env.step(np.array([a[i]], dtype=np.float64))
        out.append((np.array([env.rewards[ag] for ag in agents]), env.terminations[agents[0]],
                    env.truncations[agents[0]], np.array([env.infos[ag]["payoff"] for ag in agents])))
        if env.terminations[agents[0]] or env.truncations[agents[0]]:
            break
    return out


def _gym_run(name, actions, seed=0):
    env = gym.make(f"rewardlab/{name}-v0")
    env.reset(seed=seed)
    out = []
    for a in actions:
        obs, reward, term, trunc, info = env.step(a.astype(np.float32).astype(np.float64))
        out.append((info["rewards"], term, trunc, info["payoff"], reward, obs))
        if term or trunc:
            break
    return out


@pytest.mark.parametrize("name", NAMES)
def test_cross_api_equivalence(name):
    # spec §8.15: Parallel, AEC and Gym give identical per-agent rewards, terminations and payoffs.
    # The Gym Box is float32, so the same float32-representable actions are fed to every view.
    actions = _actions(name).astype(np.float32).astype(np.float64)
    par, aec, gy = _parallel_run(name, actions), _aec_run(name, actions), _gym_run(name, actions)
    assert len(par) == len(aec) == len(gy) > 0
    for (o, r, te, tr, pay, state), (r2, te2, tr2, pay2), (r3, te3, tr3, pay3, agg, gobs) in zip(par, aec, gy):
        assert np.array_equal(r, r2) and np.array_equal(r, r3)
        assert (te, tr) == (te2, tr2) == (te3, tr3)
        assert np.array_equal(pay, pay2) and np.array_equal(pay, pay3)
        assert agg == pytest.approx(r.sum(), rel=1e-12) and np.array_equal(gobs, state)


@pytest.mark.parametrize("name", NAMES)
def test_vector_env_matches_single_envs_and_torch(name):
    # sub-env i of the vector env seeded s is the single env seeded s + i; numpy and torch backends
    # give the same trajectory (float64 on both; equal to 1e-12 relative, flags exactly)
    torch = pytest.importorskip("torch")
    acts = np.stack([_actions(name, seed=1), _actions(name, seed=2)], axis=1)  # [steps, B=2, n]
    envs = {b: CoopetitionVectorEnv(name, num_envs=2, backend=b) for b in ("numpy", "torch")}
    for env in envs.values():
        env.reset(seed=7)
    singles = [_parallel_run(name, acts[:, i], seed=7 + i) for i in range(2)]
    for t in range(STEPS):
        o_np, r_np, te_np, tr_np, i_np = envs["numpy"].step(acts[t])
        o_t, r_t, te_t, tr_t, i_t = envs["torch"].step(torch.as_tensor(acts[t]))
        assert isinstance(r_t, torch.Tensor)
        np.testing.assert_allclose(r_t.numpy(), r_np, rtol=1e-12)
        np.testing.assert_allclose(i_t["payoff"].numpy(), i_np["payoff"], rtol=1e-12)
        np.testing.assert_allclose(o_t.numpy(), o_np, rtol=1e-6, atol=1e-7)  # float32 observations
        assert np.array_equal(te_t.numpy(), te_np) and np.array_equal(tr_t.numpy(), tr_np)
        for i in range(2):
            if t < len(singles[i]):
                _, r, te, tr, pay, _ = singles[i][t]
                assert np.array_equal(i_np["rewards"][i], r) and np.array_equal(i_np["payoff"][i], pay)
                assert (bool(te_np[i]), bool(tr_np[i])) == (te, tr)


def test_make_vec_reaches_batched_core():
    envs = gym.make_vec("rewardlab/LoyaltyTeam-v0", num_envs=8, vectorization_mode="vector_entry_point",
                        reward_mode="private")
    assert isinstance(envs.unwrapped, CoopetitionVectorEnv) and envs.unwrapped.core.num_envs == 8
    assert envs.metadata["autoreset_mode"] == gym.vector.AutoresetMode.SAME_STEP
    obs, _ = envs.reset(seed=0)
    assert obs.shape == (8, envs.unwrapped.core.state_size)


def test_vector_same_step_autoreset():
    # TrustDilemma at a constant 0 ends at step 3 (spec §8.9): the 3rd step returns the next episode's
    # first observation and the true last one in info["final_obs"]
    envs = CoopetitionVectorEnv("TrustDilemma", num_envs=2)
    first, _ = envs.reset(seed=0)
    for _ in range(3):
        obs, _, term, _, info = envs.step(np.zeros((2, 2)))
    assert term.tolist() == [True, True] and info["_final_obs"].tolist() == [True, True]
    assert np.array_equal(obs, first) and not np.array_equal(info["final_obs"], first)


@pytest.mark.parametrize("name", ["SynergySearch", "LoyaltyTeam", "DynamicPartnerSelection", "GiftExchange"])
def test_determinism_and_episode_independence(name):
    # spec §8.14, §8.16: same seed -> same trajectory in fresh envs and in a reused env; nothing survives a reset
    actions = _actions(name)
    a = _parallel_run(name, actions, seed=3)
    env = parallel_env(name)
    env.reset(seed=99)
    for act in _actions(name, seed=5):  # a different episode first, to leave state behind
        env.step({ag: [act[i]] for i, ag in enumerate(env.possible_agents)})
    obs0, _ = env.reset(seed=3)
    fresh_obs0, _ = parallel_env(name).reset(seed=3)
    assert all(np.array_equal(obs0[k], fresh_obs0[k]) for k in obs0)
    b = []
    for act in actions:
        obs, rew, term, trunc, info = env.step({ag: [act[i]] for i, ag in enumerate(env.possible_agents)})
        b.append(np.array(list(rew.values())))
    assert all(np.array_equal(x[1], y) for x, y in zip(a, b))


def test_synergy_search_gamma_follows_seed():
    # spec §3 defect 3: gamma drawn from the seeded generator: equal per seed, different across seeds
    gammas = []
    for seed in (42, 42, 43):
        env = parallel_env("SynergySearch", reveal_gamma=True)
        env.reset(seed=seed)
        gammas.append(float(env.state()[-1]))
    assert gammas[0] == gammas[1] != gammas[2] and all(0.2 <= g <= 0.9 for g in gammas)


def test_config_honesty():
    # spec §8.18: reward_mode takes effect through gym.make, unknown kwargs raise, per-agent bounds high == e_i
    env = gym.make("rewardlab/TrustDilemma-v0", reward_mode="private")
    env.reset(seed=0)
    _, reward, _, _, info = env.step(np.array([60.0, 20.0], dtype=np.float32))
    assert reward == pytest.approx(info["payoff"].sum())
    with pytest.raises(InvalidParameter, match="reward_type"):
        gym.make("rewardlab/TrustDilemma-v0", reward_type="private")
    with pytest.raises(InvalidParameter, match="reward_mode"):
        parallel_env("SLCD", reward_mode="cooperatve")
    with pytest.raises(InvalidParameter, match="phase"):
        parallel_env("RenaultNissan", phase="honeymoon")
    with pytest.raises(InvalidParameter, match="aggregate"):
        gym.make("rewardlab/SLCD-v0", control=0, aggregate="sum")
    penv = parallel_env("AppleAppStore")
    assert [float(penv.action_space(a).high[0]) for a in penv.possible_agents] == [100.0, 80.0, 60.0]
    assert gym.make("rewardlab/AppleAppStore-v0").action_space.high.tolist() == [100.0, 80.0, 60.0]
    penv.reset(seed=0)
    with pytest.raises(InvalidAction, match=r"`actions\['agent_0'\]` .*non-finite"):
        penv.step({"agent_0": [np.nan], "agent_1": [1.0], "agent_2": [1.0]})


def test_agent_control_default_nash_others():
    # control=0: the others play their stage-game Nash level; TrustDilemma's is 23.242 (spec §2.1), so
    # agent 1's payoff at our 23.242 equals the symmetric Nash payoff
    env = gym.make("rewardlab/TrustDilemma-v0", control=0, reward_mode="private")
    env.reset(seed=0)
    assert env.observation_space.shape == (13,) and env.action_space.shape == (1,)
    _, reward, _, _, info = env.step(np.array([23.242], dtype=np.float32))
    assert info["payoff"][1] == pytest.approx(info["payoff"][0], abs=1e-3) and reward == info["payoff"][0]


def test_observation_normalised_time():
    # time enters as t / T (spec §7.4): after 10 of 100 steps the state's time entry is 0.1
    env = parallel_env("SLCD")
    env.reset(seed=0)
    for _ in range(10):
        env.step({"agent_0": [30.0], "agent_1": [30.0]})
    n = 2
    assert env.state()[n + 2 * n * n] == pytest.approx(0.1)


def test_trust_received_potential():
    # the named potential resolves by the env id in metadata["name"] and reads the same trust from both layouts
    env = parallel_env("TrustDilemma")
    obs, _ = env.reset(seed=0)
    env.step({"agent_0": [60.0], "agent_1": [20.0]})
    obs = env._observations()
    phi = potentials_for(env.metadata["name"])["trust_received"]
    assert phi(obs["agent_0"][None])[0] == pytest.approx(env.core.T[0, 1, 0], abs=1e-6)  # T10 = .575
    assert phi(env.state()[None])[0] == pytest.approx((0.575 + 0.194) / 2, abs=1e-3)


@pytest.mark.parametrize("name", ["SynergySearch", "ApacheProject", "GraduatedSanction"])
def test_pickle_round_trip(name):
    # a pickled env continues exactly like the original (Gymnasium's env sweeps pickle every spec)
    import pickle

    env = gym.make(f"rewardlab/{name}-v0")
    env.reset(seed=4)
    act = _actions(name, 1)[0].astype(np.float32)
    clone = pickle.loads(pickle.dumps(env))
    a, b = env.step(act), clone.step(act)
    assert np.array_equal(a[0], b[0]) and a[1] == b[1]


def test_core_rejects_bad_arguments():
    with pytest.raises(InvalidParameter, match="num_envs"):
        CoopetitionCore(build_params("SLCD"), num_envs=0)
    with pytest.raises(InvalidParameter, match="backend"):
        CoopetitionCore(build_params("SLCD"), backend="jax")
