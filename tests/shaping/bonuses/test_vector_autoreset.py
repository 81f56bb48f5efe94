"""F16 with the real wrappers: VectorRewardShaping over a gymnasium SyncVectorEnv, both autoreset modes."""

from collections import Counter

import gymnasium as gym
import numpy as np
import pytest
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from rewardlab.shaping import PBRS, Clip, EnvReward, RunningNormalize
from rewardlab.shaping.bonuses import E3B, EpisodicCount, GlobalCount
from rewardlab.wrappers import VectorRewardShaping



class Tiny(gym.Env):
    """Positions s0 = 0, then 1, 0, 1, ... and a distinct final cell 9 at step `length` (terminated)."""

    metadata = {"render_modes": []}

    def __init__(self, length: int):
        self.length = length
        self.observation_space = gym.spaces.Dict({"agent_pos": gym.spaces.Box(0, 9, (2,), np.int64)})
        self.action_space = gym.spaces.Discrete(2)

    def _obs(self, p):
        return {"agent_pos": np.array([p, 0], dtype=np.int64)}

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.t = 0
        return self._obs(0), {}

    def step(self, action):
        self.t += 1
        done = self.t == self.length
        return self._obs(9 if done else self.t % 2), 0.0, done, False, {}


# Per episode, hand computed. First visit of s' (s0 = 0 is registered at reset): lengths 3 and 5
# visit 1 (new), 0 (s0), ..., then 9 (new). E3B (lambda 0.1, first step zeroed) scores the state
# acted from: 0 -> 0, 1 -> 10, 0 -> 1/1.1, 1 -> 1/1.1, 0 -> 1/2.1.
FIRST_VISIT = {3: [1.0, 0.0, 1.0], 5: [1.0, 0.0, 0.0, 0.0, 1.0]}
E3B_VALUES = {3: [0.0, 10.0, 1 / 1.1], 5: [0.0, 10.0, 1 / 1.1, 1 / 1.1, 1 / 2.1]}


def _make(mode):
    envs = SyncVectorEnv([lambda: Tiny(3), lambda: Tiny(5)], autoreset_mode=mode)
    epi = EpisodicCount("pos", indicator=True, name="first_visit")
    glob = RunningNormalize(GlobalCount("pos"), name="global")
    e3b = E3B("bonus_helpers:onehot", ridge=0.1, name="e3b")
    return VectorRewardShaping(envs, EnvReward() + epi + glob + e3b), epi, glob, e3b


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_vector_autoreset_F16(mode):
    envs, epi, glob, e3b = _make(mode)
    obs, _ = envs.reset(seed=0)
    episode = [[0], [0]]  # positions of the current episode per sub-env (from s0)
    phase = [0, 0]  # step within the episode; -1 marks a NEXT_STEP dummy step
    real_steps, episodes_started, finished = 0, 2, 0
    for _ in range(14):
        _, _, term, trunc, info = envs.step(np.zeros(2, np.int64))
        parts = info["reward_terms"]
        for i, length in enumerate((3, 5)):
            if phase[i] == -1:
                # F16: a dummy step pays 0 in every term; the episodic table then holds only the new s0.
                assert parts["first_visit"][i] == parts["e3b"][i] == parts["global"][i] == 0.0
                phase[i], episode[i] = 0, [0]
                episodes_started += 1
            else:
                k = phase[i]
                real_steps += 1
                assert parts["first_visit"][i] == FIRST_VISIT[length][k]
                assert parts["e3b"][i] == pytest.approx(E3B_VALUES[length][k], rel=1e-12)
                phase[i] += 1
                episode[i].append(9 if phase[i] == length else phase[i] % 2)
                if phase[i] == length:
                    finished += 1
                    if mode == AutoresetMode.NEXT_STEP:
                        phase[i] = -1
                    else:  # SAME_STEP: the term was reset with the new s0 in this same step
                        phase[i], episode[i] = 0, [0]
                        episodes_started += 1
            # Episodic state was reset before the new s0 was registered: the table is exactly the
            # visits of the current episode.
            keys = epi.keys({"agent_pos": np.array([[p, 0] for p in episode[i]])})
            assert epi.counts[i] == dict(Counter(keys))
    # The true final observation (cell 9) was used as s', never the auto-reset one (SAME_STEP reads final_obs).
    key9 = epi.keys({"agent_pos": np.array([[9, 0]])})[0]
    assert glob.children()[0].counts[key9] == finished > 0
    # The normaliser saw exactly the real steps; the shared global table holds every occupied state.
    assert glob.count == real_steps
    assert sum(glob.children()[0].counts.values()) == real_steps + episodes_started


def test_clipping_the_bonus_stream_leaves_pbrs_untouched():
    # Clip only the bonus part (spec E.3); the PBRS part must equal PBRS shaping without any bonus.
    phi = lambda obs: obs["agent_pos"][:, 0].astype(np.float64)  # noqa: E731
    shaped = EnvReward() + PBRS(phi, gamma=0.9, name="pbrs") + Clip(E3B("bonus_helpers:onehot", zero_first_step=False), 0.0, 1.0, name="bonus")
    plain = EnvReward() + PBRS(phi, gamma=0.9, name="pbrs")
    envs_a = VectorRewardShaping(SyncVectorEnv([lambda: Tiny(3), lambda: Tiny(5)]), shaped)
    envs_b = VectorRewardShaping(SyncVectorEnv([lambda: Tiny(3), lambda: Tiny(5)]), plain)
    envs_a.reset(seed=0)
    envs_b.reset(seed=0)
    saw_clip = False
    for _ in range(8):
        _, ra, _, _, ia = envs_a.step(np.zeros(2, np.int64))
        _, rb, _, _, ib = envs_b.step(np.zeros(2, np.int64))
        np.testing.assert_array_equal(ia["reward_terms"]["pbrs"], ib["reward_terms"]["pbrs"])
        assert np.all(ia["reward_terms"]["bonus"] <= 1.0)
        saw_clip |= bool(np.any(ia["reward_terms"]["bonus"] == 1.0))  # the raw E3B bonus of a new cell is 10
        np.testing.assert_allclose(ra, rb + ia["reward_terms"]["bonus"], atol=1e-12)
    assert saw_clip
