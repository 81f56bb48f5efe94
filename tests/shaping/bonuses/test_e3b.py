import numpy as np
import pytest
import torch

from rewardlab.errors import InvalidParameter
from rewardlab.shaping import from_config
from rewardlab.shaping.bonuses import E3B, EpisodicCount, InverseDynamicsEncoder, update_learned_terms

from bonus_helpers import step

E0, E1 = np.array([[1.0, 0.0]]), np.array([[0.0, 1.0]])


def _scores(term, states, reset_with=None):
    """Bonus of each state acted from, one sub-env, fixed features phi = the observation."""
    term.reset(np.array([True]), states[0] if reset_with is None else reset_with)
    return [float(term(step(s, s))[0]) for s in states]


def test_repeated_feature_F10():
    # F10: lambda = 0.1, unit phi: 1 / (lambda + n) = 10, 0.90909, 0.47619, 0.32258, 0.24390.
    values = _scores(E3B("obs", ridge=0.1, zero_first_step=False), [E0] * 5)
    np.testing.assert_allclose(values, [1 / (0.1 + n) for n in range(5)], rtol=1e-12)
    np.testing.assert_allclose(values, [10, 0.90909, 0.47619, 0.32258, 0.24390], atol=5e-6)


def test_first_step_zeroing_F10():
    # F10: with zeroing (as in the reference code) 0, 0.90909, ...: the covariance still took s0.
    values = _scores(E3B("obs", ridge=0.1), [E0] * 3)
    np.testing.assert_allclose(values, [0.0, 1 / 1.1, 1 / 2.1], rtol=1e-12)


def test_squared_norm_four_F10():
    # F10: |phi|^2 = q = 4 gives q / (lambda + n q) = 40, 0.97561, 0.49383.
    values = _scores(E3B("obs", zero_first_step=False), [2 * E0] * 3)
    np.testing.assert_allclose(values, [40, 4 / 4.1, 4 / 8.1], rtol=1e-12)
    np.testing.assert_allclose(values, [40, 0.97561, 0.49383], atol=5e-6)


def test_orthogonal_features_F10():
    # F10: e0, e1, e0, e1 gives 10, 10, 0.909, 0.909.
    values = _scores(E3B("obs", zero_first_step=False), [E0, E1, E0, E1])
    np.testing.assert_allclose(values, [10, 10, 1 / 1.1, 1 / 1.1], rtol=1e-12)


@pytest.mark.parametrize("zero_first_step, first", [(False, 10.0), (True, 0.0)])
def test_reset_returns_to_first_bonus_F10(zero_first_step, first):
    term = E3B("obs", zero_first_step=zero_first_step)
    _scores(term, [E0] * 3)
    # F10: after an episode reset the first bonus returns to 10, or 0 with zeroing.
    assert _scores(term, [E0, E0]) == pytest.approx([first, 1 / 1.1])


def test_sherman_morrison_matches_direct_inversion_F11():
    # F11: 20 random 4-d features; the rank-1 bonus equals phi^T (lambda I + sum phi phi^T)^-1 phi.
    rng = np.random.default_rng(0)
    feats = rng.normal(size=(20, 1, 4))
    values = _scores(E3B("obs", ridge=0.1, zero_first_step=False), list(feats))
    cov = 0.1 * np.eye(4)
    for phi, b in zip(feats[:, 0], values):
        assert abs(phi @ np.linalg.solve(cov, phi) - b) < 1e-10
        cov += np.outer(phi, phi)


def test_per_env_independence_F18():
    # F18: 5 transitions to env 0 only; env 1's inverse covariance stays exactly I / lambda and its
    # episodic counts stay empty (env 1 was never started: reset mask [True, False]).
    e3b, epi = E3B("obs", ridge=0.1), EpisodicCount("obs")
    obs = np.array([[1.0, 0.0], [0.0, 1.0]])
    for term in (e3b, epi):
        term.reset(np.array([True, False]), obs)
        for k in range(5):
            term(step(obs, obs + k, valid=[True, False]))
    assert np.array_equal(e3b.cinv[1], np.eye(2) / 0.1)
    assert not np.array_equal(e3b.cinv[0], np.eye(2) / 0.1)
    assert epi.counts[1] == {} and sum(epi.counts[0].values()) == 6  # s0 plus 5 visits


def test_vector_equals_independent_single_envs():
    rng = np.random.default_rng(1)
    seq = rng.normal(size=(6, 3, 4))
    batched = E3B("obs")
    singles = [E3B("obs") for _ in range(3)]
    batched.reset(np.ones(3, bool), seq[0])
    for i, term in enumerate(singles):
        term.reset(np.array([True]), seq[0][i : i + 1])
    for s in seq:
        expected = [float(term(step(s[i : i + 1], s[i : i + 1]))[0]) for i, term in enumerate(singles)]
        np.testing.assert_allclose(batched(step(s, s)), expected, rtol=1e-12)


def test_torch_tensors_give_the_numpy_values():
    rng = np.random.default_rng(2)
    seq = rng.normal(size=(5, 2, 3))
    a, b = E3B("obs"), E3B("obs")
    a.reset(np.ones(2, bool), seq[0])
    b.reset(torch.ones(2, dtype=torch.bool), torch.as_tensor(seq[0]))
    for s in seq:
        t = step(torch.as_tensor(s), torch.as_tensor(s))
        t.reward, t.valid = torch.zeros(2, dtype=torch.float64), torch.tensor([True, False])
        out = b(t)
        assert isinstance(out, torch.Tensor) and isinstance(b.cinv, torch.Tensor)
        np.testing.assert_allclose(out.numpy(), a(step(s, s, valid=[True, False])), rtol=1e-12)


def _inverse_dynamics_data(n, rng):
    """A ring of 8 cells, obs = one-hot cell + 4 noise dims; action 1 moves right, 0 moves left."""
    cells = rng.integers(0, 8, size=n)
    actions = rng.integers(0, 2, size=n)
    nxt = (cells + np.where(actions == 1, 1, -1)) % 8

    def obs(c):
        return np.concatenate([np.eye(8)[c], rng.normal(size=(n, 4))], axis=1).astype(np.float32)

    return {"obs": obs(cells), "next_obs": obs(nxt), "actions": actions}


def _inverse_dynamics_loss(enc, data):
    with torch.no_grad():
        x0, x1 = torch.as_tensor(data["obs"]), torch.as_tensor(data["next_obs"])
        logits = enc.head(torch.cat([enc.encoder(x0), enc.encoder(x1)], 1))
        return float(torch.nn.functional.cross_entropy(logits, torch.as_tensor(data["actions"])))


def test_inverse_dynamics_encoder_learns_the_action():
    rng = np.random.default_rng(0)
    data = _inverse_dynamics_data(512, rng)
    enc = InverseDynamicsEncoder(num_actions=2, latent_dim=8, hidden=32, lr=1e-2, batch_size=128, steps_per_update=150, seed=0)
    enc.embed(data["obs"][:1])  # builds the networks
    before = _inverse_dynamics_loss(enc, data)
    enc.update(data)
    after = _inverse_dynamics_loss(enc, data)
    # Untrained: about ln 2 = 0.693 (chance over 2 actions); the action is a function of (s, s').
    assert before == pytest.approx(np.log(2), abs=0.15)
    assert after < 0.1 and enc.version == 1


def test_e3b_with_learned_encoder_records_real_steps_and_trains():
    rng = np.random.default_rng(0)
    data = _inverse_dynamics_data(4, rng)
    e3b = E3B({"num_actions": 2, "latent_dim": 8, "hidden": 16, "steps_per_update": 2, "seed": 0})
    e3b.reset(np.ones(4, bool), data["obs"])
    phi_before = e3b.embed(data["obs"])
    assert phi_before.shape == (4, 8) and phi_before.dtype == np.float64
    t = step(data["obs"], data["next_obs"], valid=[True, True, False, True], action=data["actions"])
    e3b(t)
    assert e3b.encoder.buffer.size == 3  # the dummy step is not training data
    metrics = update_learned_terms(e3b)
    assert metrics["e3b"]["samples"] == 3.0 and e3b.version == 1 and e3b.encoder.buffer.size == 0
    assert not np.allclose(e3b.embed(data["obs"]), phi_before)  # a new weight snapshot
    # Config and weights round-trip: same embedding after load.
    clone = from_config(e3b.to_config())
    assert e3b.to_config()["encoder"] == {"num_actions": 2, "latent_dim": 8, "hidden": 16, "steps_per_update": 2, "seed": 0}
    clone.load_state_dict(e3b.state_dict())
    np.testing.assert_allclose(clone.embed(data["obs"]), e3b.embed(data["obs"]))


def test_bad_arguments_raise():
    with pytest.raises(InvalidParameter, match="`ridge`"):
        E3B("obs", ridge=0.0)
    with pytest.raises(InvalidParameter, match="`zero_first_step`"):
        E3B("obs", zero_first_step="yes")
    with pytest.raises(InvalidParameter, match="num_actions"):
        E3B({"num_actions": 1})
    with pytest.raises(InvalidParameter, match="unexpected keyword"):
        E3B({"num_actions": 2, "latent": 3})
    enc = InverseDynamicsEncoder(num_actions=2)
    with pytest.raises(InvalidParameter, match=r"Actions must be integers in \[0, 2\)"):
        enc.update({"obs": np.zeros((2, 3)), "next_obs": np.zeros((2, 3)), "actions": np.array([0, 5])})
