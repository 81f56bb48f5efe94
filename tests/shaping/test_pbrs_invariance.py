"""PBRS policy invariance, exact (Ng, Harada & Russell 1999): the check of docs/results/pbrs_invariance/check.py, small.

Rewards are real rewardlab terms (EnvReward, PBRS in both truncation modes, a FromFunction bonus)
evaluated into tables; optimal advantages come from value/policy iteration (discounted, the
bootstrapping learner) and from backward induction (finite horizon, truncation as the end).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest

from rewardlab.envs.tabular import tabular_mdp

SCRIPT = Path(__file__).resolve().parents[2] / "docs" / "results" / "pbrs_invariance" / "check.py"


@pytest.fixture(scope="module")
def study():
    spec = importlib.util.spec_from_file_location("pbrs_invariance_check", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    yield module
    del sys.modules[spec.name]


@pytest.mark.parametrize("label,env_id,kwargs,gamma,horizon", [
    ("FrozenLake (slippery)", "FrozenLake-v1", {}, 0.99, 40),
    ("FrozenLake (deterministic)", "FrozenLake-v1", {"is_slippery": False}, 0.99, 20),
    ("CliffWalking", "CliffWalking-v1", {}, 0.99, 40),
    ("Taxi", "Taxi-v3", {}, 0.99, 20),
])  # fmt: skip
def test_pbrs_keeps_the_optimal_policy_and_a_bonus_does_not(study, label, env_id, kwargs, gamma, horizon):
    row = study.check(label, tabular_mdp(env_id, gamma=gamma, **kwargs), horizon, 2, np.random.default_rng(0))
    # Ng et al.: Q'(s, a) = Q(s, a) - phi(s), so A* is unchanged (to rounding) in each learner's own mode.
    assert row.boot_max_dA <= 1e-9 and row.boot_changed == 0
    assert row.term_max_dA <= 1e-9 and row.term_changed == 0
    assert row.boot_starc <= 1e-9  # and STARC sees no difference (spec F4)
    # PBRS in bootstrap mode under a learner that stops at the time limit is not shaping there.
    assert row.mismatch_changed == 2
    # The trap: a "good state" bonus as large as the shaping changes the optimal policy and costs true return.
    assert row.bonus_changed == 2 and row.bonus_regret > 0.1 and row.bonus_starc > 0.1


def test_random_mdps(study):
    rng = np.random.default_rng(1)
    for _ in range(5):
        row = study.check("random", study.random_mdp(rng), 15, 3, rng)
        assert row.boot_max_dA <= 1e-9 and row.term_max_dA <= 1e-9
        assert row.boot_changed == row.term_changed == 0
        assert row.bonus_changed == 3


@pytest.mark.parametrize("potential", ["frozenlake_progress", "frozenlake_away"])
def test_the_learning_study_potentials_keep_the_optimal_policy(potential):
    # examples/pbrs_learning.yaml's potentials on its MDP (FrozenLake 8x8, deterministic): Ng et al.'s
    # Q'(s, a) = Q(s, a) - phi(s), so the optimal advantage, and with it the optimal policy, is unchanged.
    from rewardlab.shaping import PBRS, EnvReward
    from rewardlab.shaping.metrics import optimal_advantage, reward_table

    mdp = tabular_mdp("FrozenLake-v1", gamma=0.99, is_slippery=False, map_name="8x8")
    shaped = EnvReward() + PBRS(f"rewardlab.envs.control.toy_text:{potential}", gamma=0.99)
    a_task = optimal_advantage(mdp.transitions, reward_table(EnvReward(), mdp), 0.99, terminal=mdp.terminal)
    a_shaped = optimal_advantage(mdp.transitions, reward_table(shaped, mdp), 0.99, terminal=mdp.terminal)
    assert np.abs(a_shaped - a_task).max() <= 1e-9
