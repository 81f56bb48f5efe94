"""LLMFeedbackReward: ONI's retrieval and classification rewards on gridhack's messages (spec §C, check H18).

Labels come from the scripted server (``scripts/gridhack_events.yaml``, keyword rules written by
hand, not by a model) over real sockets on 127.0.0.1; the expected rewards are worked out by hand
from ONI's final form ``coef * r_llm(m) / N(m) ** beta``.
"""

from __future__ import annotations

import collections
import dataclasses
import pickle

import gymnasium as gym
import numpy as np
import pytest
import torch

import rewardlab  # noqa: F401  (registers the gridhack ids)
import rewardlab.shaping.llm.feedback  # noqa: F401  (registers LLMFeedbackReward for from_config)
from rewardlab.envs.gridhack.tiles import MESSAGE_TABLE, Msg, decode_message
from rewardlab.errors import ConfigError, InvalidParameter
from rewardlab.shaping import EnvReward, Transition, from_config, update_learned_terms
from rewardlab.shaping.llm.annotation import Annotator
from rewardlab.shaping.llm.client import LLMClient
from rewardlab.shaping.llm.feedback import LLMFeedbackReward
from rewardlab.shaping.llm.server import SCRIPTED_MODEL, ScriptedServer, load_script

TASK = "Pick up the key and apply it to the locked door, then reach the stairs down."
KEY, MIND, NONE, UNLOCK = Msg.PICK_KEY, Msg.NEVER_MIND, Msg.NONE, Msg.UNLOCK  # "f - a key.", "Never mind.", "", "You unlock the door."


def _step(msg_ids, valid=None, done=None):
    n = len(msg_ids)
    valid = np.ones(n, bool) if valid is None else np.asarray(valid)
    done = np.zeros(n, bool) if done is None else np.asarray(done)
    return Transition(None, None, {"message": MESSAGE_TABLE[list(msg_ids)]}, np.zeros(n), done, np.zeros(n, bool), valid)


def test_retrieval_pays_label_over_episode_count_cubed():
    # ONI's final form with coef 0.5, beta 3, episodic counts (ONI's MessageWrapper): the key
    # pickup (label 1) pays 0.5/1, then 0.5/8 and 0.5/27 in the same episode; "Never mind." (label 0)
    # and the empty message pay 0; a reset of sub-env 0 restarts its count, sub-env 1 keeps its own.
    term = LLMFeedbackReward(TASK, coef=0.5, sync=True)
    assert term(_step([KEY, KEY])).tolist() == [0.0, 0.0]  # no labels yet
    assert term.update()["labels"] == 1.0 and term.version == 1
    np.testing.assert_allclose(term(_step([KEY, MIND])), [0.5 / 8, 0.0])  # 2nd key message of sub-env 0's episode
    np.testing.assert_allclose(term(_step([KEY, KEY])), [0.5 / 27, 0.5 / 8])
    term.reset(np.array([True, False]), None)
    np.testing.assert_allclose(term(_step([KEY, KEY])), [0.5, 0.5 / 27])
    np.testing.assert_allclose(term(_step([KEY, NONE], valid=[False, True])), [0.0, 0.0])  # dummy step: 0, not counted
    np.testing.assert_allclose(term(_step([KEY, NONE])), [0.5 / 8, 0.0])
    term.close()


def test_global_count_and_no_decay():
    term = LLMFeedbackReward(TASK, count="global", beta=1.0, sync=True)
    term(_step([KEY]))
    term.update()
    np.testing.assert_allclose(term(_step([KEY, KEY])), [1 / 2, 1 / 3])  # counts 2 and 3 over all sub-envs
    term.reset(np.array([True, True]), None)  # a global count survives episode ends
    np.testing.assert_allclose(term(_step([KEY])), [1 / 4])
    flat = LLMFeedbackReward(TASK, beta=0.0, sync=True)
    flat(_step([KEY]))
    flat.update()
    assert flat(_step([KEY, KEY, UNLOCK])).tolist() == [1.0, 1.0, 0.0]  # "You unlock the door." not asked yet
    term.close(), flat.close()


def test_call_never_waits_for_the_llm():
    # The server takes 1 s per answer; __call__ returns with the text in flight and pays 0, and
    # pays the label only after it has arrived (check: the env loop does not wait).
    script = dataclasses.replace(load_script("gridhack_events"), latency_s=1.0)
    with ScriptedServer(script) as server, LLMClient(server.url, SCRIPTED_MODEL, mode="live") as client:
        ann = Annotator(TASK, client)
        term = LLMFeedbackReward(annotator=ann, beta=0.0)
        assert term(_step([KEY] * 4)).tolist() == [0.0] * 4
        assert ann.in_flight == {"f - a key."} and server.requests <= 1
        for _ in range(9):  # more steps while the answer is pending: still one request
            term(_step([KEY] * 4))
        assert ann.wait(timeout=60) and server.requests == 1
        assert term(_step([KEY, MIND])).tolist() == [1.0, 0.0]
        ann.close()


def _rollout_messages(task: str, seed: int, steps: int = 300, n: int = 32) -> collections.Counter:
    envs = gym.make_vec(f"rewardlab/Gridhack-{task}-v0", num_envs=n, vectorization_mode="vector_entry_point",
                        observation_keys=("message",))
    envs.reset(seed=seed)
    rng = np.random.default_rng(seed)
    counts: collections.Counter = collections.Counter()
    for _ in range(steps):
        obs, *_ = envs.step(rng.integers(0, envs.single_action_space.n, n))
        counts.update(decode_message(m) for m in obs["message"])
    counts.pop("", None)
    return counts


def test_classifier_agrees_with_the_annotator_on_held_out_rollouts():
    # The check: >= 0.95 agreement with the scripted labels on held-out texts. The classifier
    # trains (in update) on the messages of random rollouts of three skill tasks and is scored on the
    # messages of random rollouts of two others (LavaCross, WoD-Hard), per occurrence. Measured:
    # 0.9996 of occurrences, and 10 of the 11 distinct held-out texts never seen in training (the
    # miss is "You kill the minotaur!", which shares no n-gram of a progress text seen in training).
    train, held_out = collections.Counter(), collections.Counter()
    for task in ("KeyRoom-S10", "Freeze-Wand", "Levitate-Potion"):
        train += _rollout_messages(task, seed=0)
    for task in ("LavaCross", "WoD-Hard"):
        held_out += _rollout_messages(task, seed=1)
    term = LLMFeedbackReward("Cross the lava river with the tool that lies there, then reach the stairs down.",
                             variant="classification", beta=0.0, sync=True)
    rows = np.stack([MESSAGE_TABLE[0]] + [np.frombuffer(t.encode().ljust(256, b"\0"), np.uint8) for t in train])
    term(Transition(None, None, {"message": rows}, np.zeros(len(rows)), None, None, np.ones(len(rows), bool)))
    metrics = term.update()
    assert metrics["labels"] == len(train) and metrics["train_accuracy"] == 1.0
    truth = term.annotator.annotate(list(held_out))  # what the annotator says about the held-out texts
    assert set(truth) == set(held_out)
    texts = list(held_out)
    agree = term.predict(texts) == np.array([truth[t] for t in texts])
    weights = np.array([held_out[t] for t in texts])
    assert (agree * weights).sum() / weights.sum() >= 0.95
    unseen = [i for i, t in enumerate(texts) if t not in train]
    assert len(unseen) == 11 and agree[unseen].sum() == 10
    term.close()


def test_classification_trains_only_in_update_and_pays_unseen_texts():
    term = LLMFeedbackReward(TASK, variant="classification", beta=0.0, sync=True)
    step = _step([Msg.PICK_KEY + 1, MIND])  # "g - a potion of levitation.", "Never mind."
    assert term(step).tolist() == [0.0, 0.0]  # no classifier yet
    assert term.version == 0 and term.classifier.fits == 0
    term.update()
    assert term.classifier.fits == 1 and term.version == 1
    # "h - a pair of levitation boots." was never labelled: the classifier pays it (inventory-letter n-grams)
    boots = _step([Msg.PICK_KEY + 2])
    assert term.annotator.label("h - a pair of levitation boots.") is None
    assert term(boots).tolist() == [1.0]
    w = term.classifier.w.copy()
    for _ in range(5):
        term(boots)
    np.testing.assert_array_equal(term.classifier.w, w)  # __call__ never trains
    term.close()


def test_state_dict_round_trip_gives_the_same_rewards():
    term = LLMFeedbackReward(TASK, variant="classification", sync=True)
    term(_step([KEY, MIND, UNLOCK]))
    term.update()
    term(_step([KEY, KEY, NONE]))
    state = term.state_dict()
    copy = LLMFeedbackReward(TASK, variant="classification", sync=True)
    copy.load_state_dict(state)
    assert copy.annotator.labels == term.annotator.labels == {"f - a key.": 1, "Never mind.": 0, "You unlock the door.": 1}
    step = _step([KEY, UNLOCK, MIND])
    np.testing.assert_array_equal(copy(step), term(step))
    assert copy.annotator.requests == 1  # answers came from the state, no new request
    term.close(), copy.close()


def test_config_round_trip_pickle_and_registration():
    cfg = {"type": "LLMFeedbackReward", "task": TASK, "variant": "classification", "backend": "offline",
           "script": "gridhack_events", "coef": 0.1, "sync": True}
    term = from_config({"type": "Sum", "terms": ["EnvReward", cfg]})
    assert term.to_config()["terms"][1] == cfg
    leaf = term.children()[1]
    copy = pickle.loads(pickle.dumps(leaf))  # spawn-safe: no thread, no client travels
    assert copy.annotator.labels == {} and copy.variant == "classification"
    with pytest.raises(ConfigError, match="Unknown key `tsak`"):
        from_config({"type": "LLMFeedbackReward", "tsak": TASK})


def message_text(t: Transition) -> list:
    """A text source for the 'module:name' key test: the env reward as words."""
    return ["f - a key." if r > 0 else None for r in t.reward]


def test_text_source_function_and_torch_tensors():
    term = LLMFeedbackReward(TASK, key=f"{__name__}:message_text", beta=0.0, sync=True)
    t = Transition(None, None, None, np.array([1.0, 0.0]), None, None, np.ones(2, bool))
    term(t)
    term.update()
    assert term(t).tolist() == [1.0, 0.0]
    obs_term = LLMFeedbackReward(TASK, beta=0.0, sync=True)
    tt = Transition(None, None, {"message": torch.as_tensor(MESSAGE_TABLE[[KEY, MIND]])}, torch.zeros(2), None, None,
                    torch.ones(2, dtype=torch.bool))
    obs_term(tt)
    obs_term.update()
    out = obs_term(tt)
    assert isinstance(out, torch.Tensor) and out.tolist() == [1.0, 0.0]
    term.close(), obs_term.close()


def test_bad_input_names_the_problem():
    with pytest.raises(InvalidParameter, match="needs `task`"):
        LLMFeedbackReward()
    with pytest.raises(InvalidParameter, match="`variant` must be one of"):
        LLMFeedbackReward(TASK, variant="ranking")
    with pytest.raises(InvalidParameter, match="`beta` must be >= 0"):
        LLMFeedbackReward(TASK, beta=-1)
    with pytest.raises(InvalidParameter, match="either `annotator` or its keys"):
        LLMFeedbackReward(TASK, annotator=Annotator(TASK))
    term = LLMFeedbackReward(TASK)
    t = Transition(None, None, {"glyphs": np.zeros((1, 2))}, np.zeros(1), None, None, np.ones(1, bool))
    with pytest.raises(InvalidParameter, match=r"text field `message`.*observation_keys"):
        term(t)


def test_torchppo_trains_the_term_once_per_rollout():
    # The learned-term hook: TorchPPO calls update() after each rollout (2 rollouts of 16 steps x 8 envs).
    from rewardlab.baselines.ppo import PPOArgs, make_vec_env, train

    term = EnvReward() + 0.1 * LLMFeedbackReward(TASK, variant="classification", sync=True)
    envs = make_vec_env("rewardlab/Gridhack-KeyRoom-S10-v0", 8, term,
                        {"observation_keys": ["glyphs_crop", "blstats", "message"]})
    result = train(PPOArgs(n_steps=16, batch_size=64, n_epochs=1), envs, 256, seed=0)
    leaf = term.children()[1].children()[0]
    assert leaf.classifier.fits >= 1 and leaf.version >= 1
    assert [m["bonus/llm_feedback/requests"] for m in result.metrics][-1] >= 1
    assert update_learned_terms(term) is not None
    envs.close()
    leaf.close()


def test_vector_wrapper_records_a_term_on_a_shared_client():
    # VectorRewardShaping deep-copies what it records (gymnasium's RecordConstructorArgs): a term whose
    # annotator was given a client object cannot be written to a config, so the term itself is
    # recorded, and its copy shares that client instead of failing to pickle it.
    from rewardlab.wrappers import VectorRewardShaping

    with ScriptedServer("gridhack_events") as server, LLMClient(server.url, SCRIPTED_MODEL, mode="live") as client:
        term = LLMFeedbackReward(annotator=Annotator(TASK, client), sync=True)
        base = gym.make_vec("rewardlab/Gridhack-KeyRoom-S10-v0", num_envs=2, vectorization_mode="vector_entry_point",
                            observation_keys=("blstats", "message"))
        envs = VectorRewardShaping(base, EnvReward() + term)
        envs.reset(seed=0)
        for a in range(8, 10):  # pickup, apply: "There is nothing here to pick up.", "You don't have anything to use or apply."
            envs.step(np.full(2, a))
        assert term.update()["labels"] == 2.0 and server.requests == 1
        envs.close()


def test_single_env_path_equals_the_batched_one():
    # RewardShaping (one unbatched env) calls term.single(); it must pay what the batched path pays at
    # N = 1 on the same steps (the Term contract): two terms, one per path, over the same message stream.
    from rewardlab.shaping.terms import SingleTransition

    batched = LLMFeedbackReward(TASK, coef=0.5, sync=True)
    single = LLMFeedbackReward(TASK, coef=0.5, sync=True)
    stream = [KEY, MIND, KEY, NONE, UNLOCK, KEY]
    for rnd in range(2):  # before and after the labels arrive
        got_b, got_s = [], []
        for m in stream:
            got_b.append(float(batched(_step([m]))[0]))
            got_s.append(single.single(SingleTransition(None, 0, {"message": MESSAGE_TABLE[m]}, 0.0, False, False)))
        assert got_s == got_b
        batched.update(), single.update()
        batched.reset(np.ones(1, bool), None), single.reset(np.ones(1, bool), None)
    assert got_b == [0.5, 0.0, 0.5 / 8, 0.0, 0.5, 0.5 / 27]  # round 2: labelled; key counts 1, 2, 3 in the episode
    batched.close(), single.close()


def test_rows_are_keyed_by_their_text_not_their_padding():
    # A row's text ends at its first NUL (gridhack's `message`): bytes after it, within the first 64 bytes or past
    # them, and texts longer than 64 bytes count as one text each, by hand: "f - a key." 3 times in sub-env 0's
    # episode, the 100-byte text twice in sub-env 1's.
    term = LLMFeedbackReward(TASK, sync=True)
    long_text = "You see here " + "x" * 87  # 100 bytes: longer than the 64-byte key prefix
    rows = MESSAGE_TABLE[[KEY, NONE]].copy()
    rows[1, : len(long_text)] = list(long_text.encode())
    # clean rows; a byte after sub-env 0's NUL within the 64-byte prefix; bytes after both NULs past it (sub-env 1's
    # step a dummy one there, not counted)
    for garbage, valid in (([], [True, True]), ([(0, 40)], [True, True]), ([(0, 200), (1, 200)], [True, False])):
        step_rows = rows.copy()
        for i, j in garbage:
            step_rows[i, j] = 7
        term(Transition(None, None, {"message": step_rows}, np.zeros(2), None, None, np.array(valid)))
    assert term.state_dict()["episode_counts"] == [{"f - a key.": 3}, {long_text: 2}]
    assert term.texts(Transition(None, None, {"message": rows}, np.zeros(2), None, None, None)) == ["f - a key.", long_text]
    term.close()


def test_labels_replaced_on_the_annotator_are_followed_at_the_next_step():
    # The term keeps each text's label in its own flags and looks again when the annotator's labels change;
    # a label file loaded over them (load_state_dict replaces, it can remove) is followed too, by hand:
    # beta 0 pays the label itself.
    term = LLMFeedbackReward(TASK, beta=0.0, sync=True)
    term(_step([KEY]))
    term.update()
    assert term(_step([KEY, MIND])).tolist() == [1.0, 0.0]  # scripted: the key pickup is progress
    state = {"labels": {"f - a key.": 0, "Never mind.": 1}, "requests": 1, "unparsed": 0, "failures": 0}
    term.annotator.load_state_dict(state)
    assert term(_step([KEY, MIND])).tolist() == [0.0, 1.0]
    term.annotator.load_state_dict({**state, "labels": {}})  # no labels: pays 0, and asks again at the next update
    assert term(_step([KEY, MIND])).tolist() == [0.0, 0.0]
    assert term.update()["labels"] == 2.0 and term.annotator.requests == 2
    assert term(_step([KEY, MIND])).tolist() == [1.0, 0.0]
    term.close()
