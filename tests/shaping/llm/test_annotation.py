"""ONI's annotator over real sockets: the scripted server on 127.0.0.1 answers the annotation prompts (spec §C, check H18).

The labels come from ``scripts/gridhack_events.yaml`` (keyword rules written by hand, not by a model);
the expected labels below are read off those rules.
"""

from __future__ import annotations

import dataclasses
import json
import pickle
import threading
import time

import pytest

from rewardlab.envs.gridhack.tiles import MESSAGES
from rewardlab.errors import InvalidParameter, StoreError
from rewardlab.shaping.llm.annotation import Annotator, parse_labels, prompt_events, render_annotation_prompt
from rewardlab.shaping.llm.client import LLMClient
from rewardlab.shaping.llm.server import ANNOTATION_HEADER, SCRIPTED_MODEL, ScriptedServer, load_script

TASK = "Pick up the key and apply it to the locked door, then reach the stairs down."

# gridhack_events.yaml, rule by rule: the messages that are progress (1); every other message is 0.
PROGRESS = {
    "You see here a key.", "You see here a potion of levitation.", "You see here a pair of levitation boots.",
    "You see here a frost horn.", "You see here a wand of cold.", "You see here a wand of death.",
    "f - a key.", "g - a potion of levitation.", "h - a pair of levitation boots.", "i - a frost horn.",
    "j - a wand of cold.", "k - a wand of death.", "The door opens.", "You unlock the door.",
    "As you kick the door, it crashes open!", "You float up!", "The lava cools and solidifies.",
    "You kill the jackal!", "You kill the minotaur!", "There is a staircase down here.", "You climb down the stairs.",
}


def _slow_script(seconds: float):
    return dataclasses.replace(load_script("gridhack_events"), latency_s=seconds)


def _live(server: ScriptedServer, **kw) -> LLMClient:
    return LLMClient(server.url, SCRIPTED_MODEL, mode="live", **kw)


def test_ten_submissions_before_the_label_arrives_make_one_backend_call():
    # Check H18: the in-flight set. The server takes 1 s to answer, so all ten submissions happen
    # while the first request is open; ONI (no in-flight set) would enqueue the message again each time.
    with ScriptedServer(_slow_script(1.0)) as server, _live(server) as client:
        ann = Annotator(TASK, client)
        queued = [ann.submit(["You see here a key."]) for _ in range(10)]
        assert queued == [1] + [0] * 9
        assert ann.label("You see here a key.") is None and ann.in_flight == {"You see here a key."}
        assert ann.wait(timeout=60)
        assert server.requests == 1 and client.requests_sent == 1 and ann.requests == 1
        assert ann.label("You see here a key.") == 1  # rule `\bkey\b`
        assert ann.submit(["You see here a key."]) == 0  # labelled: never asked again
        assert server.requests == 1
        ann.close()


def test_the_newest_queued_texts_are_asked_first_in_batches():
    # ONI's worker annotates the newest `llm_batch_size` messages of its queue first. "a" goes out
    # at once; b..e queue behind the 0.5 s answer and go newest first, two per request.
    with ScriptedServer(_slow_script(0.5)) as server, _live(server) as client:
        ann = Annotator(TASK, client, batch_size=2)
        ann.submit(["a"])
        deadline = time.monotonic() + 30
        while server.in_flight == 0 and time.monotonic() < deadline:  # until the server holds "a"'s request
            time.sleep(0.005)
        assert server.in_flight == 1
        ann.submit(["b", "c", "d", "e"])
        assert ann.wait(timeout=60)
        assert [entry["events"] for entry in server.log] == [["a"], ["d", "e"], ["b", "c"]]
        ann.close()


def test_unparseable_answer_gives_label_0():
    # Check H18 / ONI's get_cls_label: the mountaincar script answers every prompt with reward code,
    # which has no label lines, so each event counts as 0 and as unparsed.
    with Annotator(TASK, script="mountaincar") as ann:
        assert ann.annotate(["f - a key.", "Never mind."]) == {"f - a key.": 0, "Never mind.": 0}
        assert ann.unparsed == 2 and ann.requests == 1


@pytest.mark.parametrize("answer, expected, unparsed", [
    ("1: 1\n2: 0\n3: 1", [1, 0, 1], 0),
    ("Sure!\n1. yes\n2) no\n3 - label: 1", [1, 0, 1], 0),
    ('1: "You see 1 gold piece." -> 0\n2: "0 - an item" 1\n3: true', [0, 1, 1], 0),  # echoed text is not the label
    ("1: 1\n1: 0\n3: 1", [1, 0, 1], 1),  # the first label of an event wins; event 2 has none
    ("1\n0\n1", [1, 0, 1], 0),  # bare labels in order
    ("I am not sure about these events.", [0, 0, 0], 3),
    ("7: 1\n2: maybe", [0, 0, 0], 3),  # out of range, or no label token
])
def test_parse_labels(answer, expected, unparsed):
    assert parse_labels(answer, 3) == (expected, unparsed)


def test_prompt_round_trips_texts_with_quotes_and_newlines():
    events = ['He said "hi"', "back\\slash", "two\nlines", "é"]
    msgs = render_annotation_prompt(TASK, events)
    assert "is this event progress towards the task?" in msgs[1]["content"] and TASK in msgs[1]["content"]
    assert prompt_events(msgs[1]["content"]) == events
    assert prompt_events("Write a reward for Sparse-MountainCar.") is None


def test_scripted_rules_label_every_gridhack_message_as_the_script_says():
    # Every message gridhack can show, through the real server; the scripted answer says it is scripted.
    events = [m for m in MESSAGES if m]
    with ScriptedServer("gridhack_events") as server, _live(server) as client:
        answer = client.chat(render_annotation_prompt(TASK, events), temperature=0.1, seed=0)
        assert answer.text.startswith(ANNOTATION_HEADER + "gridhack_events keyword rules")
        assert answer.model == SCRIPTED_MODEL and answer.system_fingerprint == "scripted"
        labels, unparsed = parse_labels(answer.text, len(events))
    assert unparsed == 0
    assert {e for e, y in zip(events, labels) if y} == PROGRESS


def test_labels_survive_save_and_load(tmp_path):
    texts = ["f - a key.", "Never mind.", "You unlock the door."]
    with Annotator(TASK) as ann:
        first = ann.annotate(texts)
        ann.save(tmp_path / "labels.json")
    assert first == {"f - a key.": 1, "Never mind.": 0, "You unlock the door.": 1}
    body = json.loads((tmp_path / "labels.json").read_text())
    assert body["format"] == "rewardlab-annotation-labels" and body["labels"] == first
    # A replay client over an empty request cache: any request would be a CacheMiss, so answers
    # can only come from the loaded labels.
    with Annotator(TASK, backend="replay", cache_dir=tmp_path / "empty") as again:
        assert again.load(tmp_path / "labels.json") == 3
        assert again.annotate(texts) == first
        assert again.requests == 0
        assert again.state_dict()["labels"] == first


def test_state_dict_round_trip_and_pickle_start_no_thread():
    with Annotator(TASK) as ann:
        ann.annotate(["f - a key.", "Never mind."])
        state = ann.state_dict()
        before = {t.name for t in threading.enumerate()}
        copy = pickle.loads(pickle.dumps(ann))  # what a spawned run process receives
        assert {t.name for t in threading.enumerate()} == before  # no thread until the copy submits
        assert copy.labels == ann.labels and copy.requests == 1
    fresh = Annotator(TASK)
    fresh.load_state_dict(state)
    assert fresh.labels == {"f - a key.": 1, "Never mind.": 0} and fresh.requests == 1
    fresh.close()


def test_bad_label_file_is_a_store_error(tmp_path):
    bad = tmp_path / "labels.json"
    bad.write_text('{"format": "something else"}')
    with pytest.raises(StoreError, match="not an annotation label file"):
        Annotator(TASK).load(bad)
    bad.write_text("{not json")
    with pytest.raises(StoreError, match="cannot read the annotation labels"):
        Annotator(TASK).load(bad)


def test_failed_request_frees_the_texts_and_waits_retry_s():
    # Nothing listens on port 9 of 127.0.0.1: the request fails, its texts leave the in-flight set
    # with no label, and are not queued again before retry_s.
    client = LLMClient("http://127.0.0.1:9/v1", "m", mode="live", max_attempts=1, sleep=lambda s: None)
    ann = Annotator(TASK, client, retry_s=3600)
    assert ann.submit(["f - a key."]) == 1
    assert ann.wait(timeout=60)
    assert ann.failures == 1 and ann.label("f - a key.") is None and ann.in_flight == set()
    assert "connection failed" in ann.last_error
    assert ann.submit(["f - a key."]) == 0
    ann.close()
    client.close()


def test_replay_miss_is_never_asked_again(tmp_path):
    with Annotator(TASK, backend="replay", cache_dir=tmp_path, retry_s=0) as ann:
        assert ann.annotate(["f - a key."]) == {}
        assert ann.failures == 1 and "CacheMiss" in ann.last_error
        assert ann.submit(["f - a key."]) == 0


def test_bad_arguments_name_the_problem():
    with pytest.raises(InvalidParameter, match="`task` must be a non-empty"):
        Annotator(" ")
    with pytest.raises(InvalidParameter, match="`backend` must be one of .*Did you mean: `offline`"):
        Annotator(TASK, backend="ofline")
    with pytest.raises(InvalidParameter, match="`batch_size` must be an int in"):
        Annotator(TASK, batch_size=0)
    with pytest.raises(InvalidParameter, match="`script` is for backend='offline' only"):
        Annotator(TASK, backend="replay", script="gridhack_events", cache_dir=".")
    ann = Annotator(TASK)
    ann.close()
    with pytest.raises(InvalidParameter, match="closed"):
        ann.submit(["x"])
