import numpy as np
import pytest
import torch

from rewardlab.errors import InvalidParameter
from rewardlab.shaping import from_config
from rewardlab.shaping.bonuses import EpisodicCount, GlobalCount

from bonus_helpers import col, step

S0, A, B = 0.0, 1.0, 2.0


def _run(term, episodes):
    """Feed episodes (lists of states after s0 = S0) to one sub-env; return the bonuses."""
    out = []
    for states in episodes:
        term.reset(np.array([True]), col(S0))
        prev = S0
        for s in states:
            out.append(float(term(step(col(prev), col(s)))[0]))
            prev = s
    return out


def test_episodic_count_sequence_and_reset_F12():
    # F12: visits to one state give 1/sqrt(n) = 1, 0.7071, 0.5774, 0.5; a new episode gives 1 again.
    values = _run(EpisodicCount("obs"), [[A, A, A, A], [A]])
    np.testing.assert_allclose(values, [1, 2**-0.5, 3**-0.5, 0.5, 1.0], atol=1e-12)


def test_episodic_indicator_sequence_and_reset_F12():
    # F12: the indicator version gives 1, 0, 0, 0 and 1 again in a new episode.
    assert _run(EpisodicCount("obs", indicator=True), [[A, A, A, A], [A]]) == [1.0, 0.0, 0.0, 0.0, 1.0]


def test_global_vs_episodic_vs_product_F13():
    # F13: A visited twice in episode 1 and once in episode 2.
    episodes = [[A, A], [A]]
    np.testing.assert_allclose(_run(GlobalCount("obs"), episodes), [1, 2**-0.5, 3**-0.5], atol=1e-12)
    assert _run(EpisodicCount("obs", indicator=True), episodes) == [1.0, 0.0, 1.0]
    product = GlobalCount("obs") * EpisodicCount("obs", indicator=True)
    np.testing.assert_allclose(_run(product, episodes), [1.0, 0.0, 3**-0.5], atol=1e-12)


def test_reset_registers_first_observation():
    # Design choice: s0 counts as a visit, so stepping back to it is not a first visit,
    # and the global table counts s0 too (states occupied = transitions + episode starts).
    epi, glob = EpisodicCount("obs", indicator=True), GlobalCount("obs")
    assert _run(epi, [[S0, A]]) == [0.0, 1.0]
    np.testing.assert_allclose(_run(glob, [[S0]]), [2**-0.5])
    assert sum(glob.counts.values()) == 2


def test_dummy_steps_pay_zero_and_count_nothing():
    epi, glob = EpisodicCount("obs"), GlobalCount("obs")
    for term in (epi, glob):
        term.reset(np.ones(2, bool), col(S0, S0))
        assert term(step(col(S0, S0), col(A, A), valid=[False, True])).tolist() == [0.0, 1.0]
    assert epi.counts[0] == {epi.keys(col(S0))[0]: 1}  # env 0: only s0
    assert glob.counts[glob.keys(col(A))[0]] == 1


def test_per_env_episodic_tables_and_shared_global_table():
    epi, glob = EpisodicCount("obs"), GlobalCount("obs")
    for term in (epi, glob):
        term.reset(np.ones(2, bool), col(S0, S0))
    # Both sub-envs reach A in one step: episodic tables are per env (1 each); the global table is
    # shared by design and counts sub-envs in index order (1, then 1/sqrt(2)).
    assert epi(step(col(S0, S0), col(A, A))).tolist() == [1.0, 1.0]
    np.testing.assert_allclose(glob(step(col(S0, S0), col(A, A))), [1.0, 2**-0.5])
    # Resetting env 1 alone leaves env 0's table as it was.
    epi.reset(np.array([False, True]), col(B, B))
    assert epi(step(col(A, B), col(A, B))).tolist() == pytest.approx([2**-0.5, 2**-0.5])


def test_torch_inputs_match_numpy():
    term_np, term_t = GlobalCount("obs") * EpisodicCount("obs", indicator=True), GlobalCount("obs") * EpisodicCount("obs", indicator=True)
    seq = [col(A, B), col(A, A), col(B, A)]
    term_np.reset(np.ones(2, bool), col(S0, S0))
    term_t.reset(torch.ones(2, dtype=torch.bool), torch.as_tensor(col(S0, S0)))
    for s in seq:
        a = term_np(step(col(S0, S0), s))
        t = step(col(S0, S0), s)
        t.next_obs, t.reward, t.valid = torch.as_tensor(s), torch.zeros(2, dtype=torch.float32), torch.ones(2, dtype=torch.bool)
        b = term_t(t)
        assert isinstance(b, torch.Tensor) and b.dtype == torch.float32
        np.testing.assert_allclose(b.numpy(), a, rtol=1e-6)


def test_state_dict_round_trip_and_config():
    term = EpisodicCount("pos", indicator=True)
    obs = {"agent_pos": np.array([[1, 1]])}
    term.reset(np.array([True]), obs)
    clone = from_config(term.to_config())
    assert term.to_config() == {"type": "EpisodicCount", "indicator": True}
    clone.load_state_dict(term.state_dict())
    assert clone(step(obs, obs)).tolist() == [0.0]  # (1, 1) was registered at reset in the original
    assert GlobalCount("message").name == "global_count_message"


def test_bad_arguments_raise():
    with pytest.raises(InvalidParameter, match="`indicator`"):
        EpisodicCount("pos", indicator=1)
    with pytest.raises(InvalidParameter, match="`key`"):
        GlobalCount(3)
