"""HERON on a small control task with two ranked factors: success first, energy second.

The task (batched numpy, defined here): a point on [-1, 1] starts in [-1, -0.5] and moves by
``0.1 * a`` for an action ``a`` in [-1, 1]; reaching ``x >= 0.9`` is success (the episode ends),
30 steps truncate. ``info`` has ``is_success`` and ``energy = a^2``. The behaviour policy draws a
drift per episode, so some episodes succeed and their energies differ. The hierarchy
``["is_success", "-energy"]`` prefers any success to any failure, and between equals the one that
spent clearly less energy (by more than one running std).
"""

from __future__ import annotations

import numpy as np

from rewardlab.shaping import Transition
from rewardlab.shaping.preferences import HierarchicalPreference

HORIZON = 30


class ReachTask:
    def __init__(self, n: int, seed: int):
        self.n, self.rng = n, np.random.default_rng(seed)
        self.x, self.t, self.drift = np.zeros(n), np.zeros(n, int), np.zeros(n)
        self.reset(np.ones(n, bool))

    def reset(self, mask):
        k = int(mask.sum())
        self.x[mask] = self.rng.uniform(-1.0, -0.5, k)
        self.t[mask] = 0
        self.drift[mask] = self.rng.uniform(-0.2, 1.0, k)

    def step(self):
        a = np.clip(self.drift + 0.3 * self.rng.normal(size=self.n), -1.0, 1.0)
        x2 = np.clip(self.x + 0.1 * a, -1.0, 1.0)
        self.t += 1
        success = x2 >= 0.9
        truncated = ~success & (self.t >= HORIZON)
        t = Transition(self.x[:, None].copy(), a[:, None], x2[:, None], np.zeros(self.n), success, truncated,
                       np.ones(self.n, bool), {"is_success": success, "energy": a**2})
        self.x = x2
        done = success | truncated
        if done.any():
            self.reset(done)
        return t, done


def held_out_episodes(term, n_envs=16, episodes=400, seed=123):
    """Whole episodes as (features (L, D), success, energy sum), scored by the term's features."""
    env, open_ = ReachTask(n_envs, seed), [[] for _ in range(n_envs)]
    out = []
    while len(out) < episodes:
        t, done = env.step()
        feats = term.features(t)
        for i in range(n_envs):
            open_[i].append((feats[i], float(t.info["energy"][i])))
            if done[i]:
                f, e = zip(*open_[i])
                out.append((np.stack(f), bool(t.terminated[i]), sum(e)))
                open_[i] = []
    return out


def test_heron_reward_ranks_held_out_pairs_as_the_hierarchy_does():
    term = HierarchicalPreference(["is_success", "-energy"], segment_length=HORIZON, pairs_per_update=128, hidden=64,
                                  steps_per_update=100, seed=0)
    env = ReachTask(8, seed=0)
    for _ in range(10):  # ten "rollouts" of 60 steps x 8 envs, one update each (the trainer hook)
        for _ in range(60):
            t, done = env.step()
            term(t)
            if done.any():
                term.reset(done, t.next_obs)
        term.update()
    assert term.version == 10

    episodes = held_out_episodes(term)
    rng = np.random.default_rng(7)
    i, j = rng.integers(len(episodes), size=(2, 2000))
    keep = i != j
    i, j = i[keep], j[keep]
    # The hierarchy's own decision on each pair, with the spread it learned in training.
    from rewardlab.shaping.preferences import Segment

    seg = lambda k: Segment(episodes[k][0], np.zeros(len(episodes[k][0])),  # noqa: E731
                            {"is_success": np.array([float(episodes[k][1])]), "energy": np.array([-episodes[k][2]])})
    labels = term.teacher.label([seg(k) for k in i], [seg(k) for k in j], rng)
    decided = ~np.isnan(labels)
    ret = np.array([term.predict(e[0]).sum() for e in episodes])
    agree = (ret[i] > ret[j]) == (labels == 1.0)
    by_success = np.array([episodes[a][1] != episodes[b][1] for a, b in zip(i, j)])
    successes = np.mean([e[1] for e in episodes])
    # Measured with these seeds: 0.944 of the decided pairs agree (seeds 1-4 of term and task: 0.92-0.95).
    # The issue asks for >= 90%. The task mixes successes and failures (success rate 0.39); 58% of
    # the pairs are decided, 46% by success (agreement 0.97) and 12% by energy (agreement 0.83 here,
    # 0.63-0.80 on seeds 1-4: the second level is learned less well, but above chance, 0.5).
    assert 0.1 < successes < 0.9
    assert decided.mean() > 0.5
    assert agree[decided].mean() >= 0.90, agree[decided].mean()
    assert agree[by_success].mean() >= 0.95
    assert agree[decided & ~by_success].mean() > 0.6
