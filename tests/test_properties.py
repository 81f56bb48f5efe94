"""Property-based tests (hypothesis) of the term algebra, config validation and the action contract.

What each property asserts and where the expectation comes from:

- parts sum to the reward: DESIGN.md's term contract ("the terms sum to the returned reward"),
  for random term trees over random batched transitions;
- config round trip: ``from_config(t.to_config())`` rebuilds the same tree (same config, same values);
- PBRS telescoping: for a terminated episode the discounted PBRS sum is exactly ``-Phi(s0)``
  (Ng et al. 1999; README and tests/shaping/test_pbrs.py F1), for random potentials, gammas and
  episode lengths;
- float path = batched path: ``Term.single`` on an unbatched step equals the batched call at N = 1,
  step after step on a stateful tree (SingleTransition's docstring; STYLE's "float = batched");
- config mutations: any one bad value or unknown key gives a ConfigError whose message names the
  key (DESIGN.md: "an unknown key or an impossible value is an error that names the key");
- invalid actions: for every registered env, a random action outside its space raises
  InvalidAction (docs/contracts.md).

``max_examples`` is kept modest so the file runs in well under a minute on a loaded 2-core machine.
"""

from __future__ import annotations

import copy
import math
import string

import gymnasium as gym
import numpy as np
import pytest
from gymnasium import spaces
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import rewardlab  # noqa: F401  (registers the ids and their potentials)
from rewardlab.ablation import validate
from rewardlab.envs import list_ids
from rewardlab.errors import ConfigError, InvalidAction
from rewardlab.shaping import PBRS, Transition, from_config
from rewardlab.shaping.terms import SingleTransition

FAST = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])

# --- term trees ---------------------------------------------------------------------------------
# Leaves over MountainCar-shaped observations [x, v]: the env reward, a constant, PBRS on the
# published `energy` potential (bound to MountainCar-v0). Inner nodes: Sum, Scale.
finite = st.floats(-10, 10, allow_nan=False, allow_infinity=False)
leaf = st.one_of(
    st.just({"type": "EnvReward"}),
    finite.map(lambda v: {"type": "Constant", "value": v}),
    st.sampled_from([0.9, 0.99, 1.0]).map(lambda g: {"type": "PBRS", "potential": "energy", "gamma": g}),
)
trees = st.recursive(
    leaf,
    lambda kids: st.one_of(
        st.lists(kids, min_size=1, max_size=3).map(lambda ts: {"type": "Sum", "terms": ts}),
        st.tuples(finite, kids).map(lambda p: {"type": "Scale", "scale": p[0], "term": p[1]}),
    ),
    max_leaves=6,
)


def build(cfg):
    term = from_config(copy.deepcopy(cfg))
    term.bind("MountainCar-v0")
    return term


@st.composite
def episodes(draw, n_max=4, t_max=6):
    """(N, T) and arrays of a batched episode: obs (T+1, N, 2), rewards, terminated, truncated, valid."""
    n, t = draw(st.integers(1, n_max)), draw(st.integers(1, t_max))
    xs = draw(st.lists(st.floats(-1.2, 0.6), min_size=(t + 1) * n, max_size=(t + 1) * n))
    vs = draw(st.lists(st.floats(-0.07, 0.07), min_size=(t + 1) * n, max_size=(t + 1) * n))
    obs = np.stack([np.array(xs), np.array(vs)], axis=-1).reshape(t + 1, n, 2)
    rewards = np.array(draw(st.lists(finite, min_size=t * n, max_size=t * n))).reshape(t, n)
    flags = np.array(draw(st.lists(st.sampled_from(["", "term", "trunc"]), min_size=t * n, max_size=t * n))).reshape(t, n)
    return obs, rewards, flags == "term", flags == "trunc", np.ones((t, n), dtype=bool)


def transitions(ep):
    obs, rewards, term, trunc, valid = ep
    for i in range(len(rewards)):
        yield Transition(obs[i], None, obs[i + 1], rewards[i], term[i], trunc[i], valid[i])


@FAST
@given(cfg=trees, ep=episodes())
def test_parts_sum_to_the_reward_and_the_config_round_trips(cfg, ep):
    term, again = build(cfg), build(from_config(copy.deepcopy(cfg)).to_config())
    assert again.to_config() == term.to_config()  # round trip: same tree
    n = ep[0].shape[1]
    for t in (term, again):
        t.reset(np.ones(n, dtype=bool), ep[0][0])
    for tr in transitions(ep):
        # components() and __call__ both advance stateful terms (PBRS), so each runs on its own copy:
        # the parts of the original equal the value of the rebuilt tree, step after step.
        parts = term.components(tr)
        np.testing.assert_allclose(sum(parts.values()), again(tr), rtol=1e-12, atol=1e-12)


@FAST
@given(cfg=trees, ep=episodes(n_max=1))
def test_float_path_equals_batched_path(cfg, ep):
    batched, single = build(cfg), build(cfg)
    obs = ep[0]
    batched.reset(np.ones(1, dtype=bool), obs[0])
    single.reset(np.ones(1, dtype=bool), obs[0])
    for i, tr in enumerate(transitions(ep)):
        s = SingleTransition(obs[i][0], None, obs[i + 1][0], float(tr.reward[0]), bool(tr.terminated[0]), bool(tr.truncated[0]))
        b = float(batched(tr)[0])
        assert single.single(s) == pytest.approx(b, rel=1e-12, abs=1e-12)
        if tr.terminated[0] or tr.truncated[0]:  # a new episode starts from s' (as the fronts reset)
            batched.reset(np.ones(1, dtype=bool), obs[i + 1])
            single.reset(np.ones(1, dtype=bool), obs[i + 1])


@settings(max_examples=60, deadline=None)
@given(table=st.lists(st.floats(-100, 100), min_size=2, max_size=30), gamma=st.floats(0.01, 1.0),
       data=st.data())
def test_pbrs_telescopes_to_minus_phi_s0(table, gamma, data):
    # a random potential over states 0..k-1 and a random path through them, terminated at the end
    length = data.draw(st.integers(1, 25))
    path = data.draw(st.lists(st.integers(0, len(table) - 1), min_size=length + 1, max_size=length + 1))
    values = np.array(table)
    pbrs = PBRS(lambda obs: values[obs[:, 0].astype(int)], gamma=gamma)
    s = np.array(path, dtype=float).reshape(-1, 1, 1)
    pbrs.reset(np.array([True]), s[0])
    total = 0.0
    for t in range(length):
        last = t == length - 1
        tr = Transition(s[t], None, s[t + 1], np.zeros(1), np.array([last]), np.array([False]), np.ones(1, bool))
        total += gamma**t * float(pbrs(tr)[0])
    scale = max(1.0, float(np.abs(values).max()))
    assert total == pytest.approx(-table[path[0]], abs=1e-9 * scale * length)


# --- config mutations -----------------------------------------------------------------------------
BASE = {
    "name": "prop",
    "seeds": 1,
    "budget": {"total_steps": 100, "n_envs": 1},
    "evaluation": {"every": 50, "episodes": 1},
    "rewards": {"sparse": "EnvReward", "pbrs": {"type": "Sum", "terms": ["EnvReward", {"type": "PBRS", "potential": "energy", "gamma": 0.99}]}},
    "algorithms": [{"algo": "PPO", "hyperparams": {"n_steps": 64}}],
    "envs": [{"id": "MountainCar-v0", "total_steps": 100}],
}
bad_count = st.one_of(st.integers(-10**6, 0), st.floats(allow_nan=False).filter(lambda f: f != int(f) if math.isfinite(f) else True),
                      st.text(string.ascii_letters, min_size=1, max_size=5), st.booleans(), st.none())
bad_count = bad_count.filter(lambda v: v is not None)
names = st.text(string.ascii_lowercase + "_", min_size=3, max_size=12)


@st.composite
def mutations(draw):
    """(mutated config, the key its error must name)."""
    cfg = copy.deepcopy(BASE)
    kind = draw(st.sampled_from(["unknown_top", "budget", "evaluation", "deterministic", "seeds", "hyper",
                                 "unknown_hyper", "env_steps", "term_type", "env_kwargs", "unknown_env_key"]))
    if kind == "unknown_top":
        key = draw(names.filter(lambda k: k not in BASE and k not in ("description", "baseline")))
        cfg[key] = 1
        return cfg, f"config.{key}"
    if kind in ("budget", "evaluation"):
        key = draw(st.sampled_from(["total_steps", "n_envs"] if kind == "budget" else ["every", "episodes"]))
        cfg[kind][key] = draw(bad_count)
        return cfg, f"{kind}.{key}"
    if kind == "deterministic":
        cfg["evaluation"]["deterministic"] = draw(st.one_of(st.integers(), st.text(max_size=3)))
        return cfg, "evaluation.deterministic"
    if kind == "seeds":
        cfg["seeds"] = [0, draw(st.integers(-10**6, -1))]
        return cfg, "seeds[1]"
    if kind == "hyper":
        key = draw(st.sampled_from(["n_steps", "batch_size", "n_epochs", "learning_rate", "gamma", "gae_lambda"]))
        sizes = key in ("n_steps", "batch_size", "n_epochs")
        bad = draw(st.one_of(st.integers(-10**6, 0), st.text(string.ascii_letters, min_size=1, max_size=6)) if sizes
                   else st.one_of(st.floats(-1e6, -1e-6), st.floats(1.01, 1e6) if key != "learning_rate" else st.just(-1.0),
                                  st.text(string.ascii_letters, min_size=1, max_size=6)))
        cfg["algorithms"][0]["hyperparams"][key] = bad
        if key == "gamma":  # keep PBRS consistent so that the gamma's own check is the one that fires
            cfg["rewards"].pop("pbrs")
        return cfg, f"algorithms[0].hyperparams.{key}"
    if kind == "unknown_hyper":
        key = draw(names.filter(lambda k: k not in ("gamma", "n_steps", "batch_size", "n_epochs", "device", "policy")))
        cfg["algorithms"][0]["hyperparams"][key] = 1
        return cfg, f"algorithms[0].hyperparams.{key}"
    if kind == "env_steps":
        cfg["envs"][0]["total_steps"] = draw(bad_count)
        return cfg, "envs[0].total_steps"
    if kind == "term_type":
        cfg["rewards"]["sparse"] = {"type": draw(st.one_of(names.map(lambda s: "X" + s), st.lists(st.just("Sum"), min_size=1, max_size=2),
                                                           st.integers()))}
        return cfg, "rewards.sparse"
    if kind == "env_kwargs":
        cfg["envs"][0]["kwargs"] = draw(st.one_of(st.integers(), st.text(min_size=1, max_size=4), st.lists(st.integers(), max_size=2)))
        return cfg, "envs[0].kwargs"
    key = draw(names.filter(lambda k: k not in ("id", "label", "kwargs", "wrappers", "rewards", "total_steps",
                                                "max_episode_steps", "parallel_env")))
    cfg["envs"][0][key] = 1
    return cfg, f"envs[0].{key}"


def test_base_config_is_valid():
    assert validate(copy.deepcopy(BASE))["name"] == "prop"  # so each mutation below is the only fault


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mutations())
def test_config_mutation_names_the_key(case):
    cfg, key = case
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert f"`{key}" in str(err.value), (key, str(err.value))


# --- invalid actions for every registered env --------------------------------------------------------
IDS = list_ids()
_ENVS: dict[str, gym.Env] = {}


def env_for(env_id: str) -> gym.Env:
    if env_id not in _ENVS:
        env = gym.make(env_id)
        env.reset(seed=0)
        _ENVS[env_id] = env
    return _ENVS[env_id]


@st.composite
def invalid_action(draw, space):
    if isinstance(space, spaces.Discrete):
        lo, hi = int(space.start), int(space.start + space.n)
        return draw(st.one_of(
            st.integers(max_value=lo - 1), st.integers(min_value=hi),                       # out of range
            st.floats(allow_nan=True),                                                      # a float, even 2.0
            st.booleans(), st.text(max_size=3), st.none(),                                  # wrong types
            st.lists(st.integers(lo, hi - 1), min_size=1, max_size=3).map(np.array),         # wrong shape
        ))
    good = np.asarray(space.sample(), dtype=np.float64)
    kind = draw(st.sampled_from(["nonfinite", "shape", "dtype"]))
    if kind == "nonfinite":
        i = draw(st.integers(0, good.size - 1))
        bad = good.copy()
        bad.flat[i] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        return bad
    if kind == "shape":
        shape = draw(st.lists(st.integers(0, 4), min_size=0, max_size=3).map(tuple).filter(lambda s: s != space.shape))
        return np.zeros(shape)
    return draw(st.sampled_from([good.astype(bool), good.astype(np.complex128), good.astype(str), good.astype(object)]))


@pytest.mark.parametrize("env_id", IDS, ids=IDS)
@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_invalid_actions_raise_invalid_action(env_id, data):
    env = env_for(env_id)
    action = data.draw(invalid_action(env.action_space))
    with pytest.raises(InvalidAction, match="is outside the action space"):
        env.step(action)
