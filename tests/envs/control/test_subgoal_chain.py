"""SubgoalChain (the gated-accumulation study's env): scripted returns, the gate on its rewards, the contract.

Every expected value is a hand computation on the default layout: a 4x4 grid, start (0, 0), sub-goals
(3, 0), (3, 3), (0, 3) in that order, immediate reward 0.1, outcome 1, 40 steps. Actions: 0 right
(+x), 1 down (+y), 2 left, 3 up.
"""

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.utils.env_checker import check_env

from rewardlab.baselines.ppo import make_vec_env
from rewardlab.envs.control.subgoal_chain import ENV_ID, SubgoalChain
from rewardlab.errors import EpisodeFinished, InvalidAction, InvalidParameter

COMPLETE = [0, 0, 0, 1, 1, 1, 2, 2, 2]  # (3,0), then (3,3), then (0,3): the shortest path, 9 steps
FARM = [0, 0, 0] + [2, 0] * 18 + [2]  # reach (3,0), then off and back on 18 times; 40 steps in all
IMMEDIATE = "rewardlab.envs.control.subgoal_chain:immediate"
MODULE_ID = "rewardlab.envs.control.subgoal_chain:" + ENV_ID


def play(env, actions):
    """Step `actions`; return per-step (reward, immediate, outcome, progress, terminated, truncated)."""
    env.reset(seed=0)
    rows = []
    for a in actions:
        _, r, term, trunc, info = env.step(a)
        rows.append((r, info["immediate"], info["outcome"], info["progress"], term, trunc))
    return rows


def test_completing_pays_the_outcome_and_three_immediate_rewards():
    rows = play(SubgoalChain(), COMPLETE)
    # immediate 0.1 on entering each sub-goal (steps 3, 6, 9); the outcome 1 on step 9, which terminates
    assert [r[1] for r in rows] == [0, 0, 0.1, 0, 0, 0.1, 0, 0, 0.1]
    assert [r[0] for r in rows] == [0] * 8 + [1.0]
    assert [r[3] for r in rows] == [0, 0, 1, 1, 1, 2, 2, 2, 3]
    assert rows[-1][4] and not rows[-1][5] and not any(r[4] for r in rows[:-1])
    # direct accumulation's return: 1 + 3 x 0.1
    assert sum(r[0] + r[1] for r in rows) == pytest.approx(1.3)


def test_farming_the_first_subgoal_beats_completing_under_direct_accumulation():
    rows = play(SubgoalChain(), FARM)
    assert len(rows) == 40 and rows[-1][5] and not any(r[4] for r in rows)  # truncated at the 40-step limit
    # 0.1 on the first entry, then 0.1 on each of the 18 re-entries (the "right" of every left-right pair)
    assert sum(r[1] for r in rows) == pytest.approx(1.9)
    assert sum(r[0] for r in rows) == 0.0 and rows[-1][3] == 1  # no outcome; one sub-goal reached


def test_out_of_order_subgoals_and_wall_bumps_pay_nothing():
    # down x3 to (0,3), the third sub-goal, then right x3 to (3,3), the second: neither is the next one
    rows = play(SubgoalChain(), [1, 1, 1, 0, 0, 0])
    assert [r[1] for r in rows] == [0] * 6 and [r[3] for r in rows] == [0] * 6
    # on the reached (3,0), "up" and "right" bump the border: the agent does not enter a cell, no pay
    rows = play(SubgoalChain(), [0, 0, 0, 3, 0])
    assert [r[1] for r in rows] == [0, 0, 0.1, 0, 0]


def test_observation_is_cell_and_progress_one_hots():
    env = SubgoalChain()
    obs, _ = env.reset(seed=0)
    assert obs.shape == (16 + 4,) and obs.sum() == 2.0 and obs[0] == 1.0 and obs[16] == 1.0
    for a in (0, 0, 0, 1):  # -> (3, 1): cell 1*4 + 3 = 7, one sub-goal reached
        obs, *_ = env.step(a)
    assert np.flatnonzero(obs).tolist() == [7, 16 + 1]


def test_same_actions_give_the_same_trajectory_whatever_the_seed():
    # The env has no randomness: a random action sequence replayed after resets with other seeds
    # gives identical observations, rewards and infos.
    actions = np.random.default_rng(3).integers(0, 4, 40)
    runs = []
    for seed in (0, 1):
        env = SubgoalChain()
        obs, _ = env.reset(seed=seed)
        trace = [obs]
        for a in actions:
            obs, r, term, trunc, info = env.step(int(a))
            trace.append((obs, r, term, trunc, info))
            if term or trunc:
                break
        runs.append(trace)
    assert len(runs[0]) == len(runs[1])
    np.testing.assert_array_equal(runs[0][0], runs[1][0])
    for a, b in zip(runs[0][1:], runs[1][1:]):
        np.testing.assert_array_equal(a[0], b[0])
        assert a[1:] == b[1:]


def test_gate_pays_the_immediate_rewards_only_on_completion():
    # Sum(outcome, Gate(immediate, outcome >= 1)) in a vector env: env 0 completes, env 1 farms.
    gated = {"type": "Sum", "terms": ["EnvReward", {"type": "Gate", "immediate": {"type": "FromFunction", "fn": IMMEDIATE},
                                                    "outcome": "EnvReward", "threshold": 1.0}]}
    direct = {"type": "Sum", "terms": ["EnvReward", {"type": "FromFunction", "fn": IMMEDIATE}]}
    totals = {}
    for name, reward in (("gated", gated), ("direct", direct)):
        envs = make_vec_env(MODULE_ID, 2, reward)
        envs.reset(seed=0)
        rewards = []
        for t in range(40):
            a0 = COMPLETE[t] if t < len(COMPLETE) else 0  # env 0 autoresets after step 9; its later steps are not summed
            _, r, *_ = envs.step(np.array([a0, FARM[t]]))
            rewards.append(r)
        envs.close()
        totals[name] = np.array(rewards)
    g = totals["gated"]
    # Gate defers: env 0 gets 0 for 8 steps, then 1 + 0.3 on its last step; env 1's gate stays closed: 0
    assert g[:8, 0].tolist() == [0.0] * 8 and g[8, 0] == pytest.approx(1.3)
    assert np.abs(g[:, 1]).max() == 0.0
    d = totals["direct"]
    assert d[:9, 0].sum() == pytest.approx(1.3) and d[:, 1].sum() == pytest.approx(1.9)


def test_action_contract_and_check_env():
    check_env(SubgoalChain())
    env = gym.make(MODULE_ID)  # the "module:id" form registers the id on import
    assert env.spec.id == ENV_ID and env.unwrapped.horizon == 40
    env.reset(seed=0)
    for bad in (4, -1, 2.7, True, "1", np.array([0])):
        with pytest.raises(InvalidAction, match="is outside the action space Discrete"):
            env.step(bad)
    short = SubgoalChain(horizon=2)
    short.reset(seed=0)
    short.step(0)
    assert short.step(0)[3]  # truncated after 2 steps
    with pytest.raises(EpisodeFinished):
        short.step(0)
    done = SubgoalChain(subgoals=[(1, 0)])
    done.reset(seed=0)
    assert done.step(0)[2]  # terminated on the only sub-goal
    with pytest.raises(EpisodeFinished):
        done.step(0)
    done.reset(seed=0)
    assert done.step(2)[1] == 0.0  # reset clears the end


@pytest.mark.parametrize("kwargs", [
    {"size": 1}, {"size": 4.0}, {"step_reward": float("nan")}, {"horizon": 0}, {"horizon": True},
    {"subgoals": []}, {"subgoals": [(1, 0), (1, 0)]}, {"subgoals": [(0, 0)]}, {"subgoals": [(4, 0)]},
    {"subgoals": [(1.5, 0)]}, {"subgoals": [(1,)]}, {"subgoals": 3},
])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(InvalidParameter):
        SubgoalChain(**kwargs)


def test_descriptor_example_passes_the_gates():
    from rewardlab.shaping.llm.check import check_reward_code
    from rewardlab.shaping.llm.views import descriptor_for

    desc = descriptor_for(ENV_ID)
    assert desc.env_id == ENV_ID and desc.info_keys == ("is_success", "immediate", "outcome", "progress")
    report = check_reward_code(desc.example, ENV_ID, samples=64)
    assert report.rows >= 64 and not report.constant
