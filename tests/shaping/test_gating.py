"""G-RA checks (shaping.md F15) in both forms: the deferred wrapper term and the buffer rewrite."""

from __future__ import annotations

import numpy as np
import pytest

from rewardlab.errors import InvalidParameter
from rewardlab.shaping import Constant, EnvReward, FromFunction, Gate, Transition, gate_rollout


def step_rewards(values):
    """A FromFunction term paying values[k] on the k-th call (one env)."""
    it = iter(values)
    return FromFunction(lambda t: np.array([next(it)]))


def run_gate(gate, outcomes, ends=None):
    """Feed one env's episode; outcome rewards ride on the env reward. Returns the gate's outputs."""
    gate.reset(np.array([True]), None)
    ends = ends or [False] * (len(outcomes) - 1) + [True]
    out = []
    for r, end in zip(outcomes, ends):
        t = Transition(None, None, None, np.array([r]), np.array([end]), np.array([False]), np.array([True]))
        out.append(float(gate(t)[0]))
    return out


IMMEDIATE = [0.1, 0.2, 0.3]


@pytest.mark.parametrize(
    "outcome, op, released",
    [
        (0.5, "ge", 0.0),  # outcome < delta = 1: gated immediate sum 0
        (2.0, "ge", 0.6),  # outcome >= delta: R_H + 0.6
        (1.0, "ge", 0.6),  # exactly delta: open under ge ...
        (1.0, "gt", 0.0),  # ... closed under gt
    ],
)
def test_f15_two_levels_deferred(outcome, op, released):
    gate = Gate(step_rewards(IMMEDIATE), EnvReward(), threshold=1.0, op=op)
    out = run_gate(gate, [0.0, 0.0, outcome])
    assert out[:2] == [0.0, 0.0]  # nothing is paid before the episode ends
    assert out[2] == pytest.approx(released)
    assert gate.last_gate[0] == (released > 0)
    # With R_H added by EnvReward, the total is R_H + gate * 0.6.
    assert sum(out) + outcome == pytest.approx(outcome + released)


def test_f15_three_levels_nest():
    # Level 3 rewards count only if both gates pass: Gate(Gate(r3, R2, d2), R1, d1).
    def total(r1, r2):
        r1_term = step_rewards([0.0, 0.0, r1])
        r2_term = step_rewards([0.0, 0.0, r2])
        gate = Gate(Gate(Constant(0.1), r2_term, threshold=1.0), r1_term, threshold=1.0)
        return sum(run_gate(gate, [0.0, 0.0, 0.0]))

    assert total(1.0, 1.0) == pytest.approx(0.3)
    assert total(0.0, 1.0) == 0.0
    assert total(1.0, 0.0) == 0.0


def test_f15_unfinished_episode_pays_nothing_and_next_episode_starts_fresh():
    gate = Gate(step_rewards([0.1, 0.2, 0.3, 0.4]), EnvReward(), threshold=1.0)
    assert run_gate(gate, [0.0, 5.0], ends=[False, False]) == [0.0, 0.0]  # still running: nothing yet
    gate.reset(np.array([True]), None)  # reset before it ended: its 0.3 is dropped (closed)
    t = Transition(None, None, None, np.array([1.0]), np.array([True]), np.array([False]), np.array([True]))
    assert float(gate(t)[0]) == pytest.approx(0.3)  # only the new episode's immediate reward


def test_f15_buffer_form_rewrites_in_place_at_original_steps():
    # Two envs x 6 steps: env 0 has an episode passing (outcome 1) then an unfinished one;
    # env 1 has one failing (outcome 0) then one passing.
    imm = np.array([[0.1, 0.1], [0.2, 0.2], [0.3, 0.3], [0.4, 0.4], [0.5, 0.5], [0.6, 0.6]])
    out = np.array([[0, 0], [0, 0], [1, 0], [0, 0], [0, 0], [0, 2.0]])
    dones = np.zeros((6, 2), bool)
    dones[2, 0] = dones[2, 1] = dones[5, 1] = True
    closed = imm.copy()
    gates = gate_rollout(closed, out, dones, threshold=1.0)
    np.testing.assert_allclose(gates[:, 0], [1, 1, 1, 0, 0, 0])
    np.testing.assert_allclose(closed[:, 0], [0.1, 0.2, 0.3, 0, 0, 0])
    np.testing.assert_allclose(closed[:, 1], [0, 0, 0, 0.4, 0.5, 0.6])
    opened = imm.copy()
    Gate(Constant(0.0), EnvReward(), threshold=1.0, on_unfinished="open").rollout(opened, out, dones)
    np.testing.assert_allclose(opened[:, 0], [0.1, 0.2, 0.3, 0.4, 0.5, 0.6])


def test_deferred_and_buffer_forms_agree_on_undiscounted_return():
    # The deferred form equals the faithful one only for the undiscounted return from t = 0.
    rng = np.random.default_rng(0)
    imm = rng.uniform(size=(8, 1))
    out = np.zeros((8, 1))
    out[7, 0] = 1.0
    dones = np.zeros((8, 1), bool)
    dones[7, 0] = True
    deferred = run_gate(Gate(step_rewards(list(imm[:, 0])), EnvReward(), threshold=0.5), list(out[:, 0]))
    rewritten = imm.copy()
    gate_rollout(rewritten, out, dones, threshold=0.5)
    assert sum(deferred) == pytest.approx(rewritten.sum())
    assert deferred[:7] == [0.0] * 7 and rewritten[0, 0] > 0  # but the credit sits at the end


def test_gate_argument_errors():
    with pytest.raises(InvalidParameter, match="`op`"):
        Gate(Constant(0.1), EnvReward(), threshold=1.0, op=">=")
    with pytest.raises(InvalidParameter, match="`on_unfinished`"):
        Gate(Constant(0.1), EnvReward(), threshold=1.0, on_unfinished="bootstrap")
    with pytest.raises(InvalidParameter, match="`threshold`"):
        Gate(Constant(0.1), EnvReward(), threshold="high")
    with pytest.raises(InvalidParameter, match="share one"):
        gate_rollout(np.zeros((3, 2)), np.zeros((3, 1)), np.zeros((3, 2), bool), threshold=1.0)
