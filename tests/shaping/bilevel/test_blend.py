"""Blend: the blended reward, its config round trip, persistence, and the direction of its outer step."""

import numpy as np
import pytest

torch = pytest.importorskip("torch")
torch.set_num_threads(1)  # the machine is shared

from rewardlab.errors import InvalidParameter  # noqa: E402
from rewardlab.shaping import Constant, EnvReward, FromFunction, Transition  # noqa: E402
from rewardlab.shaping.bilevel import Blend, PolicyBatch, outer_step, outer_terms  # noqa: E402
from rewardlab.shaping.terms import from_config  # noqa: E402


def step(reward, action=None, valid=None, obs=None):
    n = len(reward)
    return Transition(obs, action, obs, np.asarray(reward, float), np.ones(n, bool), np.zeros(n, bool),
                      np.ones(n, bool) if valid is None else np.asarray(valid))


def test_reward_is_primary_plus_bias_plus_weighted_aux():
    blend = Blend(EnvReward(), aux={"a": Constant(2.0), "c": Constant(-1.0)}, init_w=0.5)
    t = step([1.0, 3.0], valid=[True, False])
    # r = r_p + 0 + 0.5*2 + 0.5*(-1), and Constant pays 0 on the dummy step (valid False)
    assert blend(t).tolist() == [1.5, 3.0]
    parts = blend.components(t)
    assert list(parts) == ["env", "a", "c", "blend_bias"]
    assert sum(parts.values()).tolist() == [1.5, 3.0]


def test_config_round_trip():
    cfg = {"type": "Blend", "primary": "EnvReward", "aux": {"bonus": {"type": "Constant", "value": 0.2}},
           "outer_lr": 0.05, "w_bounds": [-1.0, 2.0]}
    term = from_config(cfg)
    assert isinstance(term, Blend) and term.aux_names == ["bonus"]
    assert term.to_config() == {"type": "Blend", "primary": {"type": "EnvReward"},
                                "aux": {"bonus": {"type": "Constant", "value": 0.2}}, "outer_lr": 0.05, "w_bounds": [-1.0, 2.0]}
    assert from_config(term.to_config()).to_config() == term.to_config()


@pytest.mark.parametrize("kwargs", [{"aux": {}}, {"features": "quadratic"}, {"outer_lr": 0.0}, {"gamma": 1.0},
                                    {"w_bounds": (2.0, 1.0)}, {"init_w": 5.0}, {"neumann": -1}])
def test_bad_arguments_raise(kwargs):
    with pytest.raises(InvalidParameter):
        Blend(EnvReward(), **{"aux": {"c": Constant(1.0)}, **kwargs})


def bandit_rollout(blend, aux_on_arm, n=4000, seed=0):
    """One step per sub-env (each an episode) of a softmax bandit at theta = 0: r_p = 1 on arm 0."""
    theta = torch.zeros(2, requires_grad=True)
    g = torch.Generator().manual_seed(seed)
    actions = torch.multinomial(torch.softmax(theta.detach(), 0), n, replacement=True, generator=g).numpy()
    blend(step((actions == 0).astype(float), action=actions))
    batch = PolicyBatch(lambda: torch.log_softmax(theta, 0)[torch.as_tensor(actions)], [theta],
                        np.ones((1, n), bool), np.zeros((1, n), bool), np.ones((1, n), bool), step=n)
    return outer_step(blend, batch)


@pytest.mark.parametrize("aux_on_arm, direction", [(1, -1.0), (0, 1.0)])
def test_outer_step_lowers_a_harmful_weight_and_raises_a_helpful_one(aux_on_arm, direction):
    aux = FromFunction(lambda t: 2.0 * (t.action == aux_on_arm))
    blend = Blend(EnvReward(), aux={"aux": aux}, warmup_rollouts=0, outer_lr=0.1, l2=0.0)
    metrics = bandit_rollout(blend, aux_on_arm)
    # Adam's first step has size outer_lr in the sign of g; the sign is that of
    # grad J_p . grad J_aux: negative when aux pays the other arm, positive when it pays arm 0 (H15's algebra)
    assert metrics["blend/blend/w_aux"] == pytest.approx(1.0 + direction * 0.1)
    assert metrics["blend/blend/grad_norm"] > 0 and metrics["blend/blend/skipped"] == 0.0
    assert metrics["blend/blend/primary_return"] == pytest.approx(0.5, abs=0.05)  # pi = (0.5, 0.5)


def test_warmup_skips_updates_and_state_round_trips():
    aux = FromFunction(lambda t: 2.0 * (t.action == 1))
    blend = Blend(EnvReward(), aux={"aux": aux}, warmup_rollouts=1, outer_lr=0.1)
    assert bandit_rollout(blend, 1)["blend/blend/w_aux"] == 1.0  # rollout 1 is warm-up
    bandit_rollout(blend, 1, seed=1)
    copy = Blend(EnvReward(), aux={"aux": aux}, warmup_rollouts=1, outer_lr=0.1)
    copy.load_state_dict(blend.state_dict())
    assert copy.weights() == blend.weights() and copy.weights()["aux"] < 1.0
    # the next step continues identically (same Adam moments and step count)
    assert bandit_rollout(copy, 1, seed=2) == bandit_rollout(blend, 1, seed=2)


def test_a_batch_that_does_not_match_the_buffer_is_an_error():
    blend = Blend(EnvReward(), aux={"c": Constant(1.0)})
    blend(step([0.0, 0.0]))
    batch = PolicyBatch(lambda: None, [], np.zeros((2, 2), bool), np.zeros((2, 2), bool), np.ones((2, 2), bool), step=4)
    with pytest.raises(InvalidParameter, match="buffered 1 steps of 2 sub-envs"):
        outer_step(blend, batch)


def test_outer_terms_finds_nested_blends():
    tree = EnvReward() + 0.5 * Blend(EnvReward(), aux={"c": Constant(1.0)}, name="b1")
    assert [t.name for t in outer_terms(tree)] == ["b1"]


def test_linear_features_move_only_the_weights_of_features_that_vary():
    # obs = [0, 1] on every row: feature 0 (the constant) and feature 2 (always 1) carry the aux signal,
    # feature 1 (always 0) has zero component returns, so its weight gets exactly 0 gradient and stays 0.
    aux = FromFunction(lambda t: 2.0 * (t.action == 1))
    blend = Blend(EnvReward(), aux={"aux": aux}, features="linear", warmup_rollouts=0, outer_lr=0.1, l2=0.0)
    n = 4000
    theta = torch.zeros(2, requires_grad=True)
    actions = torch.multinomial(torch.full((2,), 0.5), n, replacement=True, generator=torch.Generator().manual_seed(0)).numpy()
    obs = np.tile([0.0, 1.0], (n, 1))
    blend(step((actions == 0).astype(float), action=actions, obs=obs))
    assert blend.w.shape == (1, 3) and blend.w.tolist() == [[1.0, 0.0, 0.0]]
    batch = PolicyBatch(lambda: torch.log_softmax(theta, 0)[torch.as_tensor(actions)], [theta],
                        np.ones((1, n), bool), np.zeros((1, n), bool), np.ones((1, n), bool), step=n)
    metrics = outer_step(blend, batch)
    assert blend.w[0].tolist() == pytest.approx([0.9, 0.0, -0.1])  # Adam: -outer_lr on both signal-carrying features
    assert metrics["blend/blend/w_aux"] == pytest.approx(0.8)  # w(s) = 0.9 * 1 + 0 * 0 - 0.1 * 1


def test_learned_discount_starts_at_gamma_and_is_reported():
    blend = Blend(EnvReward(), aux={"c": Constant(1.0)}, learn_gamma=True, gamma=0.9)
    assert blend.discount == pytest.approx(0.9)  # sigmoid(logit(0.9))
    assert Blend(EnvReward(), aux={"c": Constant(1.0)}, gamma=0.9).discount == 0.9


def test_primary_return_counts_whole_episodes_across_rollouts_and_skips_dummy_steps():
    blend = Blend(EnvReward(), aux={"c": Constant(1.0)}, warmup_rollouts=10)  # no update: log_prob is never called

    def rollout(rewards, done, valid):
        for r, v in zip(rewards, valid):
            blend(step(r, valid=v))
        done = np.asarray(done)
        batch = PolicyBatch(lambda: None, [], done, np.zeros_like(done), np.asarray(valid), step=0)
        return outer_step(blend, batch)

    # env 0: 0, then 1 and done, then a NEXT_STEP dummy step (its reward 5 must not count); env 1 runs on
    first = rollout([[0.0, 1.0], [1.0, 1.0], [5.0, 1.0]], [[False, False], [True, False], [False, False]],
                    [[True, True], [True, True], [False, True]])
    assert first["blend/blend/primary_return"] == 1.0
    # env 1 ends in the next rollout: its episode sums 3 (rollout 1) + 2 = 5
    second = rollout([[0.0, 2.0]], [[False, True]], [[True, True]])
    assert second["blend/blend/primary_return"] == 5.0
    third = rollout([[0.0, 0.0]], [[False, False]], [[True, True]])
    assert "blend/blend/primary_return" not in third  # no episode ended: no return to report



def test_no_primary_signal_no_step():
    # The second rollout's primary reward is 0 on every row. Its advantages against the running baseline
    # (0.45 after rollout 1) are one constant, so the primary policy gradient is pure noise
    # (E[grad log pi] = 0): the step is skipped and counted, and the weight stays where rollout 1 left it.
    pay = [1.0]
    primary = FromFunction(lambda t: pay[0] * (t.action == 0))
    aux = FromFunction(lambda t: 2.0 * (t.action == 1))
    blend = Blend(primary, aux={"aux": aux}, warmup_rollouts=0, outer_lr=0.1)
    first = bandit_rollout(blend, 1)
    assert first["blend/blend/skipped"] == 0.0 and first["blend/blend/w_aux"] < 1.0
    pay[0] = 0.0
    second = bandit_rollout(blend, 1, seed=1)
    assert second["blend/blend/skipped"] == 1.0 and second["blend/blend/grad_norm"] == 0.0
    assert second["blend/blend/w_aux"] == first["blend/blend/w_aux"]


@pytest.mark.parametrize("delayed, direction", [("primary", 1.0), ("aux", -1.0)])
def test_learned_discount_moves_towards_the_primary_objective(delayed, direction):
    # Two-step episodes of a softmax bandit at theta = 0 (the arm is chosen at step 1; step 2's action
    # is forced). "primary": arm 0's primary reward 1 comes at step 2, so a larger discount credits
    # arm 0 more in the blended return, which the primary objective also favours: gamma rises.
    # "aux": arm 0 pays the primary at step 1 and arm 1 the aux 1 at step 2, so a larger discount
    # favours arm 1 against the primary: gamma falls. (dG_1/dgamma = r_2 for a two-step episode.)
    n = 4000
    aux = FromFunction(lambda t: t.obs[:, 0])
    blend = Blend(EnvReward(), aux={"aux": aux}, learn_gamma=True, gamma=0.9, warmup_rollouts=0, outer_lr=0.1, l2=0.0)
    theta = torch.zeros(2, requires_grad=True)
    arm = torch.multinomial(torch.full((2,), 0.5), n, replacement=True, generator=torch.Generator().manual_seed(0)).numpy()
    zeros = np.zeros((n, 1))
    if delayed == "primary":
        blend(step(np.zeros(n), action=arm, obs=zeros))
        blend(step((arm == 0).astype(float), action=arm, obs=zeros))
    else:
        blend(step((arm == 0).astype(float), action=arm, obs=zeros))
        blend(step(np.zeros(n), action=arm, obs=(arm == 1).astype(float)[:, None]))

    def log_prob():
        first = torch.log_softmax(theta, 0)[torch.as_tensor(arm)]
        return torch.cat([first, torch.zeros(n)])  # rows (t, env): step 2's forced action has log-prob 0

    done = np.array([[False] * n, [True] * n])
    batch = PolicyBatch(log_prob, [theta], done, np.zeros_like(done), np.ones_like(done), step=2 * n)
    outer_step(blend, batch)
    # Adam's first step moves logit(gamma) by outer_lr in the gradient's sign (up to Adam's eps = 1e-8 against |g| ~ 1e-2)
    moved = np.log(blend.discount / (1.0 - blend.discount)) - np.log(0.9 / 0.1)
    assert moved == pytest.approx(direction * 0.1, rel=1e-5)
