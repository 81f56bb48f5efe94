"""tabular_mdp: tables by enumeration match the real envs they come from."""

from __future__ import annotations

import gymnasium as gym
import numpy as np
import pytest

from rewardlab.envs.tabular import NotTabular, tabular_mdp


TOY = [
    ("FrozenLake-v1", {}),
    ("FrozenLake-v1", {"is_slippery": False}),
    ("FrozenLake-v1", {"map_name": "8x8"}),
    ("CliffWalking-v0", {}),  # resolves to the registered version
    ("Taxi-v3", {}),
]


@pytest.mark.parametrize(("env_id", "kwargs"), TOY, ids=lambda x: str(x))
def test_toy_text_tables_match_stepping_the_env(env_id, kwargs):
    mdp = tabular_mdp(env_id, **kwargs)
    t, r = mdp.transitions, mdp.reward
    np.testing.assert_allclose(t.sum(axis=2), 1.0, atol=1e-12)  # rows are distributions
    for s in np.flatnonzero(mdp.terminal):  # terminal states absorb with reward 0
        assert (t[s, :, s] == 1.0).all() and (r[s] == 0.0).all()
    env = gym.make(env_id if env_id in gym.registry else mdp.name, **kwargs).unwrapped
    env.reset(seed=0)
    rng = np.random.default_rng(0)
    # Set the env's state, step, and compare with the table: the successor must be in the support,
    # the reward and the termination as tabulated; over 400 draws the frequencies of a slippery
    # row match its probabilities (binomial 5-sigma band).
    live = np.flatnonzero(~mdp.terminal & mdp.reachable())
    for s in rng.choice(live, size=min(25, len(live)), replace=False):
        for a in range(mdp.num_actions):
            counts = np.zeros(mdp.num_states)
            for _ in range(400 if t[s, a].max() < 1 else 1):
                env.s = int(s)
                s2, reward, terminated, _, _ = env.step(a)
                assert t[s, a, s2] > 0, (s, a, s2)
                assert reward == r[s, a, s2]
                assert terminated == bool(mdp.terminal[s2])
                counts[s2] += 1
            n = counts.sum()
            sd = np.sqrt(t[s, a] * (1 - t[s, a]) / n)
            assert (np.abs(counts / n - t[s, a]) <= 5 * sd + 1e-12).all()
    np.testing.assert_allclose(mdp.initial, env.initial_state_distrib / env.initial_state_distrib.sum())


def test_taxi_terminal_states_are_only_entered_by_a_drop_off():
    # Taxi's P lists the end of an episode as a transition flag; the 4 states it enters (the
    # passenger at its destination, taxi on it) are entered no other way from a reachable state
    # (P also moves the taxi around among the 100 unreachable passenger-delivered states).
    env = gym.make("Taxi-v3" if "Taxi-v3" in gym.registry else "Taxi-v4").unwrapped
    mdp = tabular_mdp("Taxi-v3")
    assert mdp.terminal.sum() == 4
    live = mdp.reachable()
    # 300 start states (passenger waiting, not at its destination), 100 with it in the taxi, 4 terminal
    assert live.sum() == 404
    for s in np.flatnonzero(live & ~mdp.terminal):
        for a in range(6):
            for p, s2, reward, done in env.P[s][a]:
                assert done == bool(mdp.terminal[s2])
                if done:
                    assert reward == 20  # the successful drop-off


@pytest.mark.parametrize("env_id", ["MiniGrid-Empty-5x5-v0", "MiniGrid-DoorKey-5x5-v0", "MiniGrid-LavaGapS5-v0"])
def test_minigrid_table_matches_random_rollouts(env_id):
    pytest.importorskip("minigrid")
    from rewardlab.envs.control.minigrid_tasks import encode_state

    mdp = tabular_mdp(env_id, seed=0)
    assert mdp.num_states <= 400  # "a few hundred states"
    np.testing.assert_allclose(mdp.transitions.sum(axis=2), 1.0)
    index = {o.tobytes(): i for i, o in enumerate(mdp.obs)}
    env = gym.make(env_id).unwrapped
    rng = np.random.default_rng(1)
    steps = 0
    for episode in range(40):
        env.reset(seed=0)
        s = index[encode_state(env).tobytes()]
        assert mdp.initial[s] == 1.0
        for _ in range(60):
            a = int(rng.integers(mdp.num_actions))
            _, reward, terminated, truncated, _ = env.step(a)
            s2 = index[encode_state(env).tobytes()]  # every reached state is enumerated
            assert mdp.transitions[s, a, s2] == 1.0  # deterministic dynamics, as tabulated
            assert mdp.reward[s, a, s2] == float(reward > 0)  # success pays 1 (t = 0 value)
            assert bool(mdp.terminal[s2]) == terminated
            steps += 1
            s = s2
            if terminated or truncated:
                break
    assert steps > 500


# Small gridhack levels: (task, states found for the level of reset(seed=0) with num_contexts=1, counted
# when the enumeration was written; a change in the rules or the level generator changes them).
GRIDHACK = [("Corridors-R5", 211), ("KeyRoom-S10", 1123), ("Levitate-Potion", 1087), ("MultiRoom-N6-Lava", 797),
            ("Staircase-Lvl2", 337)]


@pytest.mark.parametrize("task,n_states", GRIDHACK)
def test_gridhack_table_matches_random_rollouts(task, n_states):
    import rewardlab.envs  # noqa: F401  (registers rewardlab ids)

    env_id = f"rewardlab/Gridhack-{task}-v0"
    mdp = tabular_mdp(env_id, num_contexts=1)
    assert mdp.num_states == n_states
    np.testing.assert_allclose(mdp.transitions.sum(axis=2), 1.0)
    assert (mdp.obs["blstats"][:, 7] == 0).all()  # the turn counter is not part of the state

    def state_key(obs):  # what the agent sees, but the turn counter; unique per state on these levels
        return obs["glyphs"].tobytes() + obs["blstats"][:7].tobytes() + obs["message"].tobytes()

    index = {state_key({k: v[i] for k, v in mdp.obs.items()}): i for i in range(mdp.num_states)}
    assert len(index) == mdp.num_states
    env = gym.make(env_id, num_contexts=1)
    rng = np.random.default_rng(1)
    steps = episodes = 0
    while steps < 2000 and episodes < 400:  # random walks end fast in lava: many short episodes there
        episodes += 1
        obs, _ = env.reset(seed=0)
        s = index[state_key(obs)]
        assert mdp.initial[s] == 1.0
        for _ in range(150):
            a = int(rng.integers(mdp.num_actions))
            obs, reward, terminated, truncated, _ = env.step(a)
            s2 = index[state_key(obs)]  # every reached state is enumerated
            assert mdp.transitions[s, a, s2] == 1.0  # deterministic without monsters and kicks
            assert mdp.reward[s, a, s2] == reward
            assert bool(mdp.terminal[s2]) == terminated
            steps, s = steps + 1, s2
            if terminated or truncated:
                break
    assert steps > 1000
    # the table's success transitions: reward 1 into a terminal state (gridhack pays +1 on success only)
    assert set(np.unique(mdp.reward)) <= {0.0, 1.0}
    assert (mdp.terminal[np.nonzero(mdp.reward == 1.0)[2]]).all()


def test_gridhack_pbrs_is_invisible_to_starc():
    """d(R, R + PBRS(subgoal_distance)) = 0 on a gridhack level: the env's own potential, through reward_table."""
    import rewardlab.envs  # noqa: F401
    from rewardlab.shaping import PBRS, EnvReward, potentials_for
    from rewardlab.shaping.metrics import reward_table, starc_distance

    env_id = "rewardlab/Gridhack-KeyRoom-S10-v0"
    mdp = tabular_mdp(env_id, gamma=0.99, num_contexts=1)
    phi = potentials_for(env_id)["subgoal_distance"]
    base, shaped = reward_table(EnvReward(), mdp), reward_table(EnvReward() + PBRS(phi, gamma=0.99), mdp)
    assert np.abs(shaped - base).max() > 1.0  # the potential moves the reward (100 per subgoal left)
    assert starc_distance(base, shaped, mdp.transitions, 0.99) <= 1e-9


def test_unsupported_envs_raise_not_tabular():
    with pytest.raises(NotTabular, match="sampled"):
        tabular_mdp("CartPole-v1")
    import rewardlab.envs  # noqa: F401  (registers rewardlab ids)

    # gridhack's monsters and kicks roll a hash of the step counter: not Markov without it
    with pytest.raises(NotTabular, match="has monsters"):
        tabular_mdp("rewardlab/Gridhack-MultiRoom-N6-LavaMonsters-v0")
    with pytest.raises(NotTabular, match="kick"):
        tabular_mdp("rewardlab/Gridhack-MultiRoom-N4-Locked-v0")
    with pytest.raises(NotTabular, match="kick"):
        tabular_mdp("rewardlab/Gridhack-KeyRoom-S10-v0", action_set="full")
    with pytest.raises(NotTabular, match="max_states=100"):
        tabular_mdp("rewardlab/Gridhack-Corridors-R5-v0", max_states=100)
    # the config's "module:id" form imports the module (as gym.make does): a typed NotTabular, not a gym parse error
    with pytest.raises(NotTabular, match="BonusGrid"):
        tabular_mdp("rewardlab.envs.control.barfi_grid:rewardlab/BonusGrid-v0")
    pytest.importorskip("minigrid")
    with pytest.raises(NotTabular, match="max_states=50"):
        tabular_mdp("MiniGrid-DoorKey-5x5-v0", max_states=50)
