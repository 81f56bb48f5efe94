import numpy as np
import pytest
import torch

from rewardlab.errors import InvalidParameter
from rewardlab.shaping import Term, from_config
from rewardlab.shaping.bonuses import E3B, RND, NovelD, update_learned_terms

from bonus_helpers import col, step


class TableNovelty(Term):
    """A novelty source with set values per state, to check NovelD's formula exactly."""

    def __init__(self, table):
        super().__init__(None)
        self.table = table

    def novelty(self, obs):
        return np.array([self.table[float(s)] for s in obs[:, 0]])


def test_noveld_values_F14():
    # F14: n(s_t) = 0.8, n(s_t+1) = 1.0: c = 0.5 gives 1.0 - 0.4 = 0.6 on a first visit, 0 on a revisit.
    s, s2 = 1.0, 2.0
    for c, first in [(0.5, 0.6), (0.1, 0.92)]:
        noveld = NovelD(TableNovelty({0.0: 0.0, s: 0.8, s2: 1.0}), c=c)
        noveld.reset(np.array([True]), col(0.0))
        assert float(noveld(step(col(s), col(s2)))[0]) == pytest.approx(first, abs=1e-12)
        assert float(noveld(step(col(s), col(s2)))[0]) == 0.0  # s2 already visited this episode
    # F14: n(s_t+1) < c n(s_t) is clamped to 0: 0.3 - 0.5 * 0.8 = -0.1 -> 0.
    noveld = NovelD(TableNovelty({0.0: 0.0, s: 0.8, s2: 0.3}), c=0.5)
    noveld.reset(np.array([True]), col(0.0))
    assert float(noveld(step(col(s), col(s2)))[0]) == 0.0


def test_noveld_with_rnd_follows_the_formula_and_feeds_rnd():
    rnd = RND(embed_dim=8, hidden=16, normalize_return=False, seed=0)
    noveld = NovelD(rnd, c=0.1)
    obs, nxt = col(0.0, 1.0), col(3.0, 1.0)
    noveld.reset(np.ones(2, bool), obs)
    expected = np.maximum(rnd.novelty(nxt) - 0.1 * rnd.novelty(obs), 0) * np.array([1.0, 0.0])  # env 1 returns to s0
    np.testing.assert_allclose(noveld(step(obs, nxt, valid=[True, True])), expected, rtol=1e-12)
    assert rnd.model.buffer.size == 2  # states reached are the RND's training data
    assert noveld.to_config() == {"type": "NovelD", "rnd": rnd.to_config(), "c": 0.1}


def test_rnd_training_lowers_novelty_of_seen_states_only():
    rng = np.random.default_rng(0)
    seen, unseen = rng.normal(size=(64, 6)), rng.normal(loc=3.0, size=(64, 6))
    rnd = RND(embed_dim=16, hidden=32, normalize_return=False, normalize_obs=False, lr=3e-3, steps_per_update=200, batch_size=64, seed=0)
    before_seen = rnd.novelty(seen).mean()
    rnd.update({"next_obs": seen})
    after_seen, after_unseen = rnd.novelty(seen).mean(), rnd.novelty(unseen).mean()
    assert after_seen < 0.1 * before_seen  # the predictor fitted the target on seen states
    assert after_unseen > 5 * after_seen  # novel states stay novel
    assert rnd.version == 1


def test_rnd_squared_vs_unsquared_norm():
    x = np.ones((3, 2))
    sq, unsq = RND(squared=True, seed=0), RND(squared=False, seed=0)
    np.testing.assert_allclose(unsq.novelty(x) ** 2, sq.novelty(x), rtol=1e-6)


def test_rnd_return_normalisation_uses_forward_filter():
    # Hand computation of the normaliser: R <- 0.5 R + b per sub-env, then divide b by the running std
    # of R (prior mean 0, var 1, count 1e-4, merged with each step's real returns).
    rnd = RND(gamma=0.5, seed=0)
    raw = RND(normalize_return=False, seed=0)
    obs = np.array([[0.0, 1.0], [2.0, 0.0]])
    ret, mean, var, count = np.zeros(2), 0.0, 1.0, 1e-4
    for _ in range(3):
        b = raw(step(obs, obs))
        ret = 0.5 * ret + b
        bm, bv, n = ret.mean(), ret.var(), 2
        tot = count + n
        delta = bm - mean
        var = (var * count + bv * n + delta**2 * count * n / tot) / tot
        mean, count = mean + delta * n / tot, tot
        np.testing.assert_allclose(rnd(step(obs, obs)), b / np.sqrt(var + 1e-8), rtol=1e-9)
    assert rnd.return_stats.count == pytest.approx(6 + 1e-4)


def test_rnd_dummy_steps_pay_zero_and_are_not_recorded():
    rnd = RND(seed=0)
    out = rnd(step(col(0.0, 1.0), col(1.0, 2.0), valid=[False, True]))
    assert out[0] == 0.0 and out[1] > 0 and rnd.model.buffer.size == 1
    assert rnd.return_stats.count == pytest.approx(1 + 1e-4)


def test_rnd_scores_the_chosen_state():
    a, b = RND(score="next_obs", seed=0), RND(score="obs", normalize_return=False, seed=0)
    obs, nxt = col(0.0), col(5.0)
    np.testing.assert_allclose(b(step(obs, nxt)), b.novelty(obs))
    with pytest.raises(InvalidParameter, match="`score`"):
        RND(score="state")
    assert a.to_config() == {"type": "RND"}


def test_e3b_times_rnd_is_the_elementwise_product():
    # spec C.4: E3B x RND = b_E3B(s_t) * |f(s_t) - f_target(s_t)|^2, both on the state acted from.
    e3b, rnd = E3B("obs", zero_first_step=False), RND(score="obs", normalize_return=False, seed=0)
    product = E3B("obs", zero_first_step=False) * RND(score="obs", normalize_return=False, seed=0)
    obs = np.array([[1.0, 0.0], [0.0, 2.0]])
    for term in (e3b, product):
        term.reset(np.ones(2, bool), obs)
    for _ in range(2):
        t = step(obs, obs)
        np.testing.assert_allclose(product(t), e3b(t) * rnd(t), rtol=1e-12)
    cfg = product.to_config()
    assert [c["type"] for c in cfg["terms"]] == ["E3B", "RND"] and from_config(cfg).to_config() == cfg


def test_rnd_state_dict_round_trip_and_torch_inputs():
    rnd = RND(seed=3)
    x = np.random.default_rng(0).normal(size=(8, 4))
    rnd.update({"next_obs": x})
    clone = RND(seed=99)
    clone.load_state_dict(rnd.state_dict())
    np.testing.assert_allclose(clone.novelty(x), rnd.novelty(x), rtol=1e-6)
    out = rnd.novelty(torch.as_tensor(x, dtype=torch.float32))
    assert isinstance(out, torch.Tensor)
    np.testing.assert_allclose(out.numpy(), rnd.novelty(x), rtol=1e-5)


def test_update_learned_terms_trains_every_learned_term_in_a_tree():
    rnd, e3b = RND(seed=0), E3B({"num_actions": 2, "latent_dim": 4, "hidden": 8, "seed": 0})
    tree = 0.5 * (e3b * rnd) + NovelD(RND(seed=1), name="nd")
    obs = col(0.0, 1.0)
    tree.reset(np.ones(2, bool), obs)
    tree(step(obs, col(1.0, 0.0), action=[1, 0]))
    metrics = update_learned_terms(tree)
    assert sorted(metrics) == ["e3b", "rnd", "rnd_2"]  # NovelD's RND is the second "rnd"
    assert e3b.version == 1 and rnd.version == 1 and tree.children()[1].children()[0].version == 1
