"""Float path = batched path, swept over every registered term type.

The single-env wrappers evaluate a term with ``single`` / ``single_components`` on a
``SingleTransition`` (floats, no batch axis); vector wrappers call ``__call__`` / ``components`` on a
batched ``Transition``. The Term contract (terms.py) is that both give the same numbers from the
same state: here two fresh copies of each term, one per path, see the same random N = 1 episode
stream (with resets after dones), and must agree at every step to 1e-12.
"""

from __future__ import annotations

import numpy as np
import pytest

import rewardlab.shaping  # noqa: F401  (registers every built-in term type)
from rewardlab.shaping import (
    E3B,
    KRC,
    PAR,
    PBRS,
    RND,
    Blend,
    Clip,
    Constant,
    EnvReward,
    EpisodicCount,
    FromFunction,
    Gate,
    GlobalCount,
    LLMReward,
    LogSigmoid,
    MultiplicativePenalty,
    NovelD,
    Product,
    RunningNormalize,
    Scale,
    Sum,
)
from rewardlab.shaping.llm.feedback import LLMFeedbackReward
from rewardlab.shaping.preferences import HierarchicalPreference, PreferenceReward
from rewardlab.shaping.terms import TERM_TYPES, SingleTransition, Transition


def phi(obs):
    return 2.0 * obs[:, 0] - obs[:, 1]


def cell(obs):
    return np.floor(obs * 2.0).astype(np.int64)


def identity(obs):
    return np.asarray(obs, dtype=np.float64)


def speed(t):
    return 0.5 * t.next_obs[:, 1]


def factor(t):  # in (0, 1): a valid penalty
    return 1.0 / (1.0 + np.exp(-t.next_obs[:, 0]))


LLM_CODE = "def compute_reward(obs, action, next_obs, info):\n    return (next_obs.x0 - obs.x0, {'progress': next_obs.x0 - obs.x0})\n"
MESSAGES = [b"f - a key.", b"Never mind.", b"", b"You unlock the door."]

#: type name -> a builder with small valid arguments (a new registered type must be added here).
FACTORIES = {
    "PreferenceReward": lambda: PreferenceReward(segment_length=3, pairs_per_update=4, hidden=8, seed=1),
    "HierarchicalPreference": lambda: HierarchicalPreference(["is_success", "-energy"], segment_length=3, hidden=8, seed=1),
    "EnvReward": lambda: EnvReward(),
    "Constant": lambda: Constant(0.3),
    "Sum": lambda: Sum([EnvReward(), Constant(0.1), PBRS(phi, gamma=0.9)]),
    "Scale": lambda: Scale(EnvReward() + Constant(0.2), 0.3),
    "Product": lambda: Product([EnvReward(), Constant(2.0), FromFunction(speed)]),
    "FromFunction": lambda: FromFunction(speed),
    "PBRS": lambda: PBRS(phi, gamma=0.9),
    "Gate": lambda: Gate(Constant(0.1), outcome=EnvReward(), threshold=0.0),
    "Clip": lambda: Clip(EnvReward(), -0.5, 0.5),
    "RunningNormalize": lambda: RunningNormalize(EnvReward(), center=True),
    "GlobalCount": lambda: GlobalCount(cell),
    "EpisodicCount": lambda: EpisodicCount(cell),
    "E3B": lambda: E3B(identity),
    "RND": lambda: RND(key="obs", embed_dim=4, hidden=8, seed=1),
    "NovelD": lambda: NovelD(RND(key="obs", embed_dim=4, hidden=8, seed=1), key="obs"),
    "KRC": lambda: KRC([EnvReward(), Constant(0.5), FromFunction(speed)]),
    "LogSigmoid": lambda: LogSigmoid(EnvReward(), reference={"quantile": 0.5, "window": 5}),
    "PAR": lambda: PAR(EnvReward(), references=[0.0, {"quantile": 0.25, "window": 4}]),
    "MultiplicativePenalty": lambda: MultiplicativePenalty(EnvReward(), [FromFunction(factor), Constant(0.5)]),
    "Blend": lambda: Blend(EnvReward(), aux={"bonus": Constant(0.1)}),
    "LLMReward": lambda: LLMReward(LLM_CODE, name="llm"),
    "LLMFeedbackReward": lambda: LLMFeedbackReward("Pick up the key.", sync=True),
}


def test_every_registered_term_type_is_swept():
    # Built-in types only: other test modules register toy terms of their own.
    builtin = [name for name, cls in TERM_TYPES.items() if cls.__module__.startswith("rewardlab.")]
    assert sorted(FACTORIES) == sorted(builtin)


def episode_stream(kind: str, steps: int = 40, seed: int = 0):
    """(obs, next_obs, reward, terminated, truncated, first obs of the next episode or None) rows of one
    env; observations are arrays of 2 floats, or message dicts. The first row's obs starts an episode."""
    rng = np.random.default_rng(seed)

    def observation():
        if kind == "message":
            row = np.zeros(24, np.uint8)
            text = MESSAGES[rng.integers(len(MESSAGES))]
            row[: len(text)] = np.frombuffer(text, np.uint8)
            return {"message": row}
        return rng.normal(size=2)

    obs = observation()
    for _ in range(steps):
        nxt = observation()
        done = bool(rng.random() < 0.15)
        terminated = done and bool(rng.random() < 0.5)
        restart = observation() if done else None
        yield obs, nxt, float(rng.normal()), terminated, done and not terminated, restart
        obs = nxt if restart is None else restart


def batch(x):
    return {k: v[None] for k, v in x.items()} if isinstance(x, dict) else x[None]


@pytest.mark.parametrize("type_name", sorted(FACTORIES))
def test_float_path_equals_batched_path(type_name):
    kind = "message" if type_name == "LLMFeedbackReward" else "array"
    # One copy per call path (they must not share state): single_components vs components, single vs __call__.
    terms = [FACTORIES[type_name]() for _ in range(4)]
    one = np.ones(1, bool)
    resets = 0
    try:
        for i, (obs, nxt, r, term_, trunc, restart) in enumerate(episode_stream(kind)):
            if i == 0:
                for term in terms:
                    term.reset(one, batch(obs))
            s = SingleTransition(obs, 0, nxt, r, term_, trunc)
            t = Transition(batch(obs), np.zeros(1, np.int64), batch(nxt), np.array([r]), np.array([term_]), np.array([trunc]), one, {})
            parts_s, parts_b = terms[0].single_components(s), terms[1].components(t)
            assert list(parts_s) == list(parts_b)
            for key in parts_b:
                assert isinstance(parts_s[key], float), (key, type(parts_s[key]))
                assert parts_s[key] == pytest.approx(float(parts_b[key][0]), rel=1e-12, abs=1e-12), key
            value_s, value_b = terms[2].single(s), terms[3](t)
            assert value_s == pytest.approx(float(value_b[0]), rel=1e-12, abs=1e-12)
            if restart is not None:  # a new episode: every copy resets with its first observation
                resets += 1
                for term in terms:
                    term.reset(one, batch(restart))
        assert resets >= 3  # the stream crosses episode boundaries (seeded: not luck-dependent)
    finally:
        for term in terms:
            if hasattr(term, "close"):
                term.close()
