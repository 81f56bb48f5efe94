"""TorchPPO (rewardlab.baselines.ppo): learning, NEXT_STEP masking, truncation bootstrap, determinism."""

from __future__ import annotations

import json
import math

import gymnasium as gym
import numpy as np
import pytest
import torch
from gymnasium.vector import AutoresetMode, SyncVectorEnv

from rewardlab.baselines.ppo import PPOArgs, compute_gae, make_vec_env, train
from rewardlab.errors import ConfigError, InvalidParameter
from rewardlab.shaping import EnvReward
from rewardlab.shaping.bonuses import RND
from rewardlab.shaping.bonuses.training import learned_terms
from rewardlab.wrappers import VectorRewardShaping
from toy_envs import CountdownEnv, FiveStepEnv, MultiBinaryEnv

# learning_rate 0: the agent after training is the one that collected the rollout, so values can be recomputed.
FROZEN = dict(n_steps=8, batch_size=8, n_epochs=1, learning_rate=0.0, gamma=0.9, gae_lambda=0.8)


def countdown_envs(truncate: bool, mode: AutoresetMode = AutoresetMode.NEXT_STEP) -> SyncVectorEnv:
    return SyncVectorEnv([lambda: CountdownEnv(length=3, offset=0.5, truncate=truncate)], autoreset_mode=mode)


def value(agent, t: float, offset: float = 0.5) -> float:
    with torch.no_grad():
        return float(agent.value({"obs": torch.tensor([[t, offset]], dtype=torch.float64)}))


def test_solves_cartpole():
    # CleanRL's ppo.py reaches ~490 at 500k steps (specs/performance.md). With its hyper-parameters
    # (4 envs, 128 steps, minibatch 128, 4 epochs, lr 2.5e-4 annealed) this seed scored 437 greedy
    # over 10 episodes after 20,480 steps (seed 1: 500); a random policy scores ~22. 300 is a
    # conservative bound that still needs a learned balance.
    args = PPOArgs(n_steps=128, batch_size=128, n_epochs=4, learning_rate=2.5e-4)
    result = train(args, make_vec_env("CartPole-v1", 4), 20_480, seed=0,
                   eval_envs=make_vec_env("CartPole-v1", 10), eval_every=10_240)
    assert [row["step"] for row in result.curve] == [0, 10_240, 20_480]
    assert result.curve[-1]["task_return"] >= 300, result.curve
    assert result.curve[0]["task_return"] < 100  # the untrained policy


def test_next_step_dummy_steps_are_masked_and_cut_from_gae():
    envs = VectorRewardShaping(countdown_envs(truncate=False), {"type": "Sum", "terms": ["EnvReward", {"type": "Constant", "value": 0.5}]})
    result = train(PPOArgs(**FROZEN), envs, 8, seed=0)
    buf = result.rollout
    # CountdownEnv(3) under NEXT_STEP: steps 0-2 an episode, step 3 the dummy reset, 4-6 an episode,
    # step 7 the next dummy: 6 of the 8 stored steps are transitions.
    assert buf.valid[:, 0].tolist() == [True, True, True, False, True, True, True, False]
    assert result.metrics[0]["charts/samples"] == 6
    assert buf.terminated[:, 0].tolist() == [False, False, True, False, False, False, True, False]
    # Hand GAE over the episode 0-2 with the stored values: delta_2 has no bootstrap (terminated),
    # rewards are 0, 0, 1 from the env plus 0.5 each from the constant term.
    g, lam = 0.9, 0.8
    v = buf.values[:, 0].tolist()
    d0, d1, d2 = 0.5 + g * v[1] - v[0], 0.5 + g * v[2] - v[1], 1.5 - v[2]
    expected = [d0 + g * lam * d1 + (g * lam) ** 2 * d2, d1 + g * lam * d2, d2, 0.0]
    assert buf.advantages[:4, 0].tolist() == pytest.approx(expected, rel=1e-5)
    assert buf.rewards[:, 0].tolist() == [0.5, 0.5, 1.5, 0.0, 0.5, 0.5, 1.5, 0.0]
    # Episode logs skip the dummy steps: 3 steps, task return 1, constant term 3 x 0.5.
    assert [(e["length"], e["task_return"], e["terms"]["constant"]) for e in result.episodes] == [(3, 1.0, 1.5)] * 2


@pytest.mark.parametrize("mode", [AutoresetMode.NEXT_STEP, AutoresetMode.SAME_STEP])
def test_truncation_bootstraps_with_the_final_observation(mode):
    result = train(PPOArgs(**FROZEN), countdown_envs(truncate=True, mode=mode), 8, seed=0)
    buf, agent = result.rollout, result.agent
    # Step 2 truncates at obs [3, 0.5]; its successor value is V([3, 0.5]), not V of the reset obs [0, 0.5].
    assert buf.truncated[2, 0] and not buf.terminated[2, 0]
    assert float(buf.next_values[2, 0]) == pytest.approx(value(agent, 3.0), rel=1e-5)
    assert value(agent, 3.0) != pytest.approx(value(agent, 0.0), rel=1e-3)
    # A_2 = r_2 + gamma V(final) - V(s_2), and no carry from the next episode.
    assert float(buf.advantages[2, 0]) == pytest.approx(1.0 + 0.9 * value(agent, 3.0) - value(agent, 2.0), rel=1e-5)
    # SAME_STEP has no dummy steps: all 8 are transitions.
    assert result.metrics[0]["charts/samples"] == (6 if mode == AutoresetMode.NEXT_STEP else 8)


def test_gae_hand_computed():
    # One env, gamma 0.5, lambda 1: step 1 truncates (bootstraps V=5 of its final obs), step 2 is
    # the dummy step, step 3 starts an episode that the rollout cuts (bootstraps next value 4).
    col = lambda *x: torch.tensor(x).reshape(-1, 1)  # noqa: E731
    adv, ret = compute_gae(col(0.0, 1.0, 0.0, 0.0), col(1.0, 2.0, 5.0, 3.0), col(2.0, 5.0, 3.0, 4.0),
                           col(False, False, False, False), col(False, True, False, False), col(True, True, False, True), 0.5, 1.0)
    # delta_3 = 0 + 0.5*4 - 3 = -1; delta_1 = 1 + 0.5*5 - 2 = 1.5; delta_0 = 0 + 0.5*2 - 1 = 0, A_0 = 0 + 0.5*1.5.
    assert adv[:, 0].tolist() == [0.75, 1.5, 0.0, -1.0]
    # Terminated instead of truncated: no bootstrap, delta_1 = 1 - 2 = -1, A_0 = 0.5 * -1.
    adv, _ = compute_gae(col(0.0, 1.0, 0.0, 0.0), col(1.0, 2.0, 5.0, 3.0), col(2.0, 5.0, 3.0, 4.0),
                         col(False, True, False, False), col(False, False, False, False), col(True, True, False, True), 0.5, 1.0)
    assert adv[:, 0].tolist() == [-0.5, -1.0, 0.0, -1.0]


def test_same_seed_same_run_other_seed_differs():
    def run(seed):
        args = PPOArgs(n_steps=32, batch_size=16, n_epochs=2, learning_rate=1e-3)
        r = train(args, make_vec_env("CartPole-v1", 2), 128, seed=seed)
        return torch.cat([p.detach().flatten() for p in r.agent.parameters()]), [e["task_return"] for e in r.episodes]

    (p0, e0), (p0b, e0b), (p1, _) = run(0), run(0), run(1)
    assert torch.equal(p0, p0b) and e0 == e0b
    assert not torch.equal(p0, p1)


def test_learned_terms_train_once_per_rollout():
    rnd = RND(embed_dim=8, hidden=16, seed=0)
    envs = make_vec_env("CartPole-v1", 2, reward=EnvReward() + 0.1 * rnd)
    result = train(PPOArgs(n_steps=16, batch_size=32, n_epochs=1), envs, 96, seed=0)
    # 96 steps / (16 x 2) = 3 rollouts, each followed by one update of the RND predictor.
    assert len(result.metrics) == 3 and learned_terms(envs.term)[0].version == 3
    assert all(m["bonus/rnd/samples"] > 0 for m in result.metrics)


def test_box_actions_and_dict_observations():
    # Pendulum: Box actions (sampled unclipped, sent clipped); FiveStepEnv-sized budget.
    result = train(PPOArgs(n_steps=8, batch_size=8, n_epochs=1), make_vec_env("Pendulum-v1", 2), 16, seed=0)
    assert result.rollout.actions.shape == (8, 2, 1) and result.rollout.actions.dtype == torch.float32
    assert all(math.isfinite(m["losses/value"]) for m in result.metrics)
    # gridhack: Dict of an id grid (embedded) and blstats (scaled), on the batched core.
    envs = make_vec_env("rewardlab/Gridhack-Corridors-R5-v0", 4, env_kwargs={"num_contexts": 1, "observation_keys": ["glyphs_crop", "blstats"]})
    result = train(PPOArgs(n_steps=8, batch_size=16, n_epochs=1), envs, 32, seed=0)
    assert set(result.rollout.obs) == {"glyphs_crop", "blstats"} and result.rollout.obs["glyphs_crop"].shape == (8, 4, 9, 9)
    assert "glyphs_crop" in result.agent.encoder.embeds  # no trunk: the encoder itself


def test_bad_input_raises():
    with pytest.raises(InvalidParameter, match=r"`batch_size` must be a positive integer. Received 0"):
        PPOArgs(batch_size=0)
    with pytest.raises(InvalidParameter, match=r"`total_steps` must be a positive integer"):
        train(PPOArgs(), make_vec_env("CartPole-v1", 1), 0)
    disabled = SyncVectorEnv([lambda: FiveStepEnv()], autoreset_mode=AutoresetMode.DISABLED)
    with pytest.raises(InvalidParameter, match="autoreset_mode DISABLED"):
        train(PPOArgs(), disabled, 8)
    with pytest.raises(ConfigError, match="needs a Discrete or Box action space"):
        train(PPOArgs(), SyncVectorEnv([lambda: MultiBinaryEnv()]), 8)




# ---------------------------------------------------------------- checkpoints and TensorBoard

# anneal_lr off: a run cut short by a smaller total_steps would otherwise anneal on another schedule,
# so it would not be a prefix of the full run (a real interruption keeps total_steps).
RESUME = dict(n_steps=16, batch_size=16, n_epochs=2, learning_rate=1e-3, anneal_lr=False)
CORRIDORS_KW = {"num_contexts": 1, "observation_keys": ["glyphs_crop", "blstats"]}


def record(result):
    """Everything a resumed run must reproduce: the curve, episodes, term totals, losses, parameters and buffers
    (the observation statistics of normalize_obs among them)."""
    losses = [{k: v for k, v in m.items() if k != "charts/sps"} for m in result.metrics]
    params = torch.cat([p.detach().flatten().double() for p in [*result.agent.parameters(), *result.agent.buffers()]])
    # JSON text: exact float reprs, and NaN (success of an env without a criterion) equals NaN.
    return json.dumps([result.curve, result.episodes, result.term_totals, losses, result.learner_log, result.steps, params.tolist()])


def make_cartpole():
    return make_vec_env("CartPole-v1", 2)


def make_gridhack_rnd():
    # The batched core, a stateful count term and a learned term (RND, its predictor and optimiser).
    reward = EnvReward() + 0.1 * RND(embed_dim=8, hidden=16, seed=0)
    return make_vec_env("rewardlab/Gridhack-Corridors-R5-v0", 2, reward, CORRIDORS_KW, max_episode_steps=20)


@pytest.mark.parametrize(("make", "normalize_obs"), [(make_cartpole, False), (make_gridhack_rnd, False), (make_cartpole, True)],
                         ids=["cartpole-sync", "gridhack-rnd", "cartpole-normalize-obs"])
def test_run_resumed_after_k_rollouts_equals_uninterrupted(make, normalize_obs, tmp_path):
    args, full, k = PPOArgs(**RESUME, normalize_obs=normalize_obs), 6 * 32, 2  # 6 rollouts of 16 x 2 steps, interrupted after 2
    evals = dict(eval_every=64)  # an evaluation at step 64 in both runs, so the short run's last one is in the full run too

    def run(total, checkpoint_dir=None):
        return train(args, make(), total, seed=3, eval_envs=make_vec_env("CartPole-v1", 2) if make is make_cartpole else None,
                     checkpoint_dir=checkpoint_dir, checkpoint_every_s=60.0, **evals)

    uninterrupted = run(full)
    first = run(k * 32, tmp_path)  # saves its checkpoint at the end
    assert first.steps == 64
    resumed = run(full, tmp_path)
    assert resumed.resumed_at == k and first.resumed_at == 0
    assert record(resumed) == record(uninterrupted)
    assert len(resumed.episodes) > len(first.episodes) > 0  # the resumed run kept the first one's episodes
    if make is make_gridhack_rnd:
        # The learned term trained in both halves: one learner_log row per rollout, versions 1..6.
        assert [row["step"] for row in resumed.learner_log] == [32 * (i + 1) for i in range(6)]


def test_normalize_obs_scales_the_unbounded_dims_by_the_moments_of_past_rollouts():
    # CartPole's cart and pole velocities (dims 1 and 3) are unbounded, its position and angle bounded. With
    # normalize_obs the statistics take in each rollout after its update: after one rollout they are that
    # rollout's mean and variance (by hand with numpy; the merge's prior count of 1e-4 moves them by < 1e-5),
    # the bounded dims keep their [-1, 1] scaling, and the encoder scales the velocities by them, clipped at 10.
    result = train(PPOArgs(n_steps=16, batch_size=16, n_epochs=1, normalize_obs=True), make_cartpole(), 32, seed=0)
    enc, buf = result.agent.obs_encoder, result.rollout
    obs = buf.obs["obs"][buf.valid].double().numpy()
    assert float(enc.obs_count) == pytest.approx(obs.shape[0] + 1e-4)  # the real steps only (not the dummy autoreset ones)
    np.testing.assert_allclose(enc.mean_obs[[1, 3]].numpy(), obs[:, [1, 3]].mean(0), atol=1e-5)
    np.testing.assert_allclose(enc.var_obs[[1, 3]].numpy(), obs[:, [1, 3]].var(0), rtol=1e-4)
    np.testing.assert_allclose(enc.scale_obs.numpy()[[0, 2]], [4.8, 0.41887903], rtol=1e-6)  # CartPole's bounds
    assert enc.center_obs[[0, 2]].tolist() == [0.0, 0.0]
    x = torch.tensor([[1.2, 0.5, -0.1, 1e6]])
    mean, std = obs[:, [1, 3]].mean(0), np.sqrt(obs[:, [1, 3]].var(0))
    expected = [1.2 / 4.8, (0.5 - mean[0]) / std[0], -0.1 / 0.41887903, 10.0]  # 1e6 is clipped to 10
    np.testing.assert_allclose(enc({"obs": x})[0].detach().numpy(), expected, rtol=1e-4)
    # The first rollout was collected and learned from unscaled: the same seed without normalize_obs
    # collects the same first rollout (same actions, same log-probabilities).
    plain = train(PPOArgs(n_steps=16, batch_size=16, n_epochs=1), make_cartpole(), 32, seed=0).rollout
    assert torch.equal(plain.actions, buf.actions) and torch.equal(plain.logprobs, buf.logprobs)


def test_finished_run_resumes_to_its_result_without_training(tmp_path):
    args = PPOArgs(**RESUME)
    done = train(args, make_cartpole(), 64, seed=0, checkpoint_dir=tmp_path)
    again = train(args, make_cartpole(), 64, seed=0, checkpoint_dir=tmp_path)
    assert again.resumed_at == 2 and again.rollout is None
    assert record(again) == record(done)


def test_checkpoint_of_another_run_is_an_error(tmp_path):
    train(PPOArgs(**RESUME), make_cartpole(), 32, seed=0, checkpoint_dir=tmp_path)
    with pytest.raises(ConfigError, match="belongs to another run"):
        train(PPOArgs(**RESUME), make_cartpole(), 32, seed=1, checkpoint_dir=tmp_path)
    with pytest.raises(ConfigError, match="belongs to another run"):
        train(PPOArgs(**{**RESUME, "n_epochs": 1}), make_cartpole(), 32, seed=0, checkpoint_dir=tmp_path)


def test_unpicklable_envs_resume_with_a_warning(tmp_path):
    # A lambda inside a sub-env does not pickle: the checkpoint keeps the term state, the resumed run resets the envs.
    def make():
        return VectorRewardShaping(SyncVectorEnv([lambda: gym.wrappers.TransformReward(gym.make("CartPole-v1"), lambda r: r)] * 2),
                                   "EnvReward")

    args = PPOArgs(**RESUME)
    train(args, make(), 64, seed=0, checkpoint_dir=tmp_path)
    with pytest.warns(UserWarning, match="could not be pickled; the resumed run resets them"):
        resumed = train(args, make(), 128, seed=0, checkpoint_dir=tmp_path)
    assert resumed.resumed_at == 2 and resumed.steps == 128 and len(resumed.metrics) == 4


KILL_SCRIPT = """
import sys
from rewardlab.baselines.ppo import train_env
train_env("CartPole-v1", total_steps={total}, seed=5, n_envs=2, hyperparams={hyper}, eval_every=256, eval_episodes=2,
          checkpoint_dir=sys.argv[1], checkpoint_every_s=0)
"""


def test_sigkilled_run_resumes_to_the_uninterrupted_result(tmp_path):
    import signal
    import subprocess
    import sys
    import time

    from rewardlab.baselines.checkpoint import CHECKPOINT_FILE, load_checkpoint
    from rewardlab.baselines.ppo import train_env

    hyper, total = dict(RESUME, n_steps=64), 40 * 128  # 40 rollouts: seconds of training after the first checkpoint
    kw = dict(total_steps=total, seed=5, n_envs=2, hyperparams=hyper, eval_every=256, eval_episodes=2)
    folder = tmp_path / "run"
    proc = subprocess.Popen([sys.executable, "-c", KILL_SCRIPT.format(total=total, hyper=hyper), str(folder)])
    try:
        deadline = time.monotonic() + 120
        while not (folder / CHECKPOINT_FILE).exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait()
    assert proc.returncode == -signal.SIGKILL  # killed, not finished or crashed
    saved = load_checkpoint(folder)["rollout"]
    assert 1 <= saved < 40  # the kill came mid-run
    resumed = train_env("CartPole-v1", checkpoint_dir=str(folder), checkpoint_every_s=0, **kw)
    assert resumed.resumed_at >= 1
    assert record(resumed) == record(train_env("CartPole-v1", **kw))


def test_tensorboard_scalars_follow_the_run(tmp_path):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    envs = make_vec_env("rewardlab/Gridhack-Corridors-R5-v0", 4, EnvReward() + 0.1 * RND(embed_dim=8, hidden=16, seed=0),
                        CORRIDORS_KW, max_episode_steps=20)
    eval_envs = make_vec_env("rewardlab/Gridhack-Corridors-R5-v0", 2, None, CORRIDORS_KW, max_episode_steps=20)
    result = train(PPOArgs(n_steps=32, batch_size=64, n_epochs=1), envs, 256, seed=0, eval_envs=eval_envs, eval_every=128,
                   tensorboard_dir=str(tmp_path))
    events = EventAccumulator(str(tmp_path))
    events.Reload()
    tags = set(events.Tags()["scalars"])
    assert {"eval/task_return", "eval/success", "losses/policy", "losses/value", "losses/entropy", "losses/approx_kl",
            "charts/sps", "bonus/rnd/samples"} <= tags and "step" not in tags
    # The evaluations are the curve's rows, at the curve's steps.
    assert [(e.step, e.value) for e in events.Scalars("eval/task_return")] == [
        (row["step"], pytest.approx(row["task_return"])) for row in result.curve]
    assert [e.step for e in events.Scalars("losses/value")] == [32 * 4 * (i + 1) for i in range(2)]
    # Episodes end every 20 steps (the time limit): their task return, success and term sums per rollout.
    assert {"train/episode_task_return", "train/episode_success", "terms/env", "terms/rnd"} <= tags, tags
    first_rollout = [e for e in result.episodes if e["step"] <= 128]
    assert [(e.step, e.value) for e in events.Scalars("terms/rnd")][0] == (
        128, pytest.approx(np.mean([e["terms"]["rnd"] for e in first_rollout]), rel=1e-6))


def test_blend_takes_one_outer_step_per_rollout_before_the_update(tmp_path):
    from rewardlab.shaping import Constant
    from rewardlab.shaping.bilevel import Blend

    def make():
        return make_vec_env("CartPole-v1", 2, Blend(EnvReward(), aux={"bonus": Constant(0.5)}, warmup_rollouts=1, outer_lr=0.1))

    args = PPOArgs(**RESUME)
    result = train(args, make(), 4 * 32, seed=0)
    # One learner_log row per rollout, at the rollout's end step, with the Blend's metrics; the outer
    # step ran on the rollout's 16 x 2 rows, after the warm-up rollout the weight moved off its start 1.0.
    assert [row["step"] for row in result.learner_log] == [32, 64, 96, 128]
    assert all("blend/blend/w_bonus" in row and "blend/blend/grad_norm" in row for row in result.learner_log)
    assert result.learner_log[0]["blend/blend/w_bonus"] == 1.0 and result.learner_log[-1]["blend/blend/w_bonus"] != 1.0
    assert [m["blend/blend/w_bonus"] for m in result.metrics] == [row["blend/blend/w_bonus"] for row in result.learner_log]
    # The blend's weights are part of the checkpoint: a run resumed after 2 rollouts ends the same.
    train(args, make(), 2 * 32, seed=0, checkpoint_dir=tmp_path)
    assert record(train(args, make(), 4 * 32, seed=0, checkpoint_dir=tmp_path)) == record(result)


def test_two_learned_discounts_are_an_error():
    from rewardlab.shaping import Constant
    from rewardlab.shaping.bilevel import Blend

    blends = Blend(EnvReward(), aux={"a": Constant(0.5)}, learn_gamma=True, name="b1") + Blend(
        EnvReward(), aux={"a": Constant(0.5)}, learn_gamma=True, name="b2")
    with pytest.raises(ConfigError, match=r"At most one term may learn the discount; \['b1', 'b2'\]"):
        train(PPOArgs(**RESUME), make_vec_env("CartPole-v1", 2, blends), 32)


def test_a_learned_discount_is_the_gae_discount():
    from rewardlab.shaping import Constant
    from rewardlab.shaping.bilevel import Blend

    # The Blend's discount starts at its gamma 0.5 (no outer update during its 2 warm-up rollouts);
    # the learner's own gamma is 0.9. The stored advantages are GAE with 0.5, not 0.9.
    blend = Blend(EnvReward(), aux={"a": Constant(0.5)}, learn_gamma=True, gamma=0.5)
    buf = train(PPOArgs(**FROZEN), make_vec_env("CartPole-v1", 2, blend), 16, seed=0).rollout
    assert blend.discount == pytest.approx(0.5)
    gae = lambda gamma: compute_gae(buf.rewards, buf.values, buf.next_values, buf.terminated, buf.truncated,  # noqa: E731
                                    buf.valid, gamma, FROZEN["gae_lambda"])[0]
    assert torch.equal(buf.advantages, gae(blend.discount)) and not torch.allclose(buf.advantages, gae(0.9))
