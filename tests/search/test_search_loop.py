"""The search loop's selection, memory and repeat logic (spec llm_and_bilevel.md check H13, §B1, §B4).

The LLM is rewardlab's scripted server on 127.0.0.1 (offline backend) with a test script whose
candidate i answers seed i; the gates are the real ones; training is the fake trainer of
search_helpers (the loop's logic is under test, not PPO), which reads each code's
``FITNESS = v`` back as its final success rate, so every expected choice below is a hand computation.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from rewardlab.errors import ConfigError
from rewardlab.search import REJECTED_FITNESS, run_search
from search_helpers import SYNTAX_ERROR, FakeTrainer, scored_code, write_script

ENV = "rewardlab/Sparse-MountainCar-v0"
TASK = "Drive the car up the right hill to the flag."


def search(tmp_path: Path, codes: list[str], trainer: FakeTrainer, **kw):
    script = write_script(tmp_path / "script.yaml", codes)
    kw.setdefault("candidates", 4)
    kw.setdefault("rounds", 1)
    kw.setdefault("backend", "offline")
    return run_search(ENV, TASK, out=tmp_path / "out", script=script, trainer=trainer, **kw)


def test_h13_picks_index_2_and_rejected_gets_minus_1e4(tmp_path):
    # H13: fitness [0.1, error, 0.7, 0.3] -> argmax is index 2; the error (a syntax error, rejected
    # by the static gate before training) gets -1e4, and only the 3 survivors were trained.
    trainer = FakeTrainer()
    result = search(tmp_path, [scored_code(0.1), SYNTAX_ERROR, scored_code(0.7), scored_code(0.3)], trainer)
    assert result.attempts[0]["fitness"] == [0.1, REJECTED_FITNESS, 0.7, 0.3]
    assert result.attempts[0]["best"] == 2 and result.best.index == 2 and result.best.fitness == 0.7
    assert len(trainer.calls) == 1 and len(trainer.calls[0]) == 3
    out = tmp_path / "out"
    gate = json.loads((out / "round_1/cand_1/gate.json").read_text())
    assert gate["passed"] is False and (gate["gate"], gate["rule"]) == ("static", "syntax")
    assert json.loads((out / "round_1/cand_1/fitness.json").read_text())["fitness"] == REJECTED_FITNESS
    assert (out / "best_reward.py").read_text() == scored_code(0.7)
    assert json.loads((out / "search.json").read_text())["execute_rate"] == [0.75]


def test_h13_memory_is_four_messages_after_each_round(tmp_path):
    # Eureka's memory (§B1 step 8): [system, first user message, best response, its feedback],
    # the last two overwritten every round; the feedback names the rejected candidate's rule.
    result = search(tmp_path, [scored_code(0.1), SYNTAX_ERROR, scored_code(0.7), scored_code(0.3)], FakeTrainer(), rounds=2)
    history = json.loads((tmp_path / "out/messages.json").read_text())
    first = history[0]["memory_after"]
    assert [m["role"] for m in first] == ["system", "user", "assistant", "user"]
    assert first[2]["content"] == (tmp_path / "out/round_1/cand_2/response.txt").read_text()
    assert "[static:syntax]" in first[3]["content"]
    assert history[1]["sent"] == first  # round 2 was asked with round 1's memory
    assert len(result.messages) == 4 and result.messages[:2] == first[:2]


def test_h13_all_failed_round_repeats_from_same_messages(tmp_path):
    # Seeds 0-3 answer syntax errors, seeds 4-7 scored codes: attempt 1 executes nothing
    # (execute_rate 0 logged), the repeat (seeds 4-7) executes all 4 and picks 0.5 (candidate 4 + 1).
    codes = [SYNTAX_ERROR] * 4 + [scored_code(0.2), scored_code(0.5), scored_code(0.4), scored_code(0.1)]
    trainer = FakeTrainer()
    result = search(tmp_path, codes, trainer)
    assert result.execute_rates == [0.0, 1.0]
    assert json.loads((tmp_path / "out/search.json").read_text())["execute_rate"] == [0.0, 1.0]
    assert result.best.index == 5 and result.best.fitness == 0.5
    assert len(trainer.calls) == 1  # the all-failed attempt trained nothing
    # Every request of the round (8 cached requests) carried the same messages: the round repeated
    # from the same state, with new seeds.
    requests = [json.loads(p.read_text())["request"] for p in (tmp_path / "out/llm_cache").glob("??/*.json")]
    assert len(requests) == 8 and sorted(r["seed"] for r in requests) == list(range(8))
    assert all(r["messages"] == requests[0]["messages"] for r in requests) and len(requests[0]["messages"]) == 2


def test_repeats_are_bounded(tmp_path):
    # max_repeats=1: two attempts of syntax errors, then the search stops instead of looping forever.
    trainer = FakeTrainer()
    result = search(tmp_path, [SYNTAX_ERROR], trainer, candidates=2, rounds=3, max_repeats=1)
    assert result.status == "no_executable_candidate" and result.best is None
    assert result.execute_rates == [0.0, 0.0] and trainer.calls == []
    assert not (tmp_path / "out/best_reward.py").exists()
    assert json.loads((tmp_path / "out/search.json").read_text())["status"] == "no_executable_candidate"


def test_training_crash_is_a_failure_fed_back(tmp_path):
    # A run that crashes in training counts as failed (-1e4) like a rejection, and its traceback
    # reaches the next prompt (Eureka's "fix it" feedback).
    trainer = FakeTrainer(crash=(0.9,))
    result = search(tmp_path, [scored_code(0.9), scored_code(0.2)], trainer, candidates=2, rounds=2)
    first = result.attempts[0]
    assert first["fitness"] == [REJECTED_FITNESS, 0.2] and first["status"] == ["crashed", "trained"]
    feedback = json.loads((tmp_path / "out/messages.json").read_text())[0]["memory_after"][3]["content"]
    assert "Candidate 0 crashed during training" in feedback and "RuntimeError: trainer blew up" in feedback


def test_preference_feedback_shows_best_and_worst(tmp_path):
    # ICPL (§B3): the feedback holds the best (0.7) and the worst (0.1) trained candidates' code.
    search(tmp_path, [scored_code(0.1), SYNTAX_ERROR, scored_code(0.7), scored_code(0.3)], FakeTrainer(), feedback="preference")
    feedback = json.loads((tmp_path / "out/messages.json").read_text())[0]["memory_after"][3]["content"]
    assert "FITNESS = 0.7" in feedback and "FITNESS = 0.1" in feedback and "FITNESS = 0.3" not in feedback


def test_reflection_reports_component_statistics(tmp_path):
    # Reflection (§B1 step 5) reports the components under the names the code used ("bonus", not
    # the record's "llm_bonus"); the fake record's bonus episode sums are 0.7 * i for i < 20.
    search(tmp_path, [scored_code(0.1), SYNTAX_ERROR, scored_code(0.7), scored_code(0.3)], FakeTrainer())
    feedback = json.loads((tmp_path / "out/messages.json").read_text())[0]["memory_after"][3]["content"]
    assert "bonus" in feedback and "llm_bonus" not in feedback
    assert "13.3" in feedback  # the largest episode sum, 0.7 * 19


def test_other_settings_in_the_same_folder_are_refused(tmp_path):
    search(tmp_path, [scored_code(0.5)], FakeTrainer(), candidates=1)
    with pytest.raises(ConfigError, match="candidates"):
        search(tmp_path, [scored_code(0.5)], FakeTrainer(), candidates=2)


def test_a_search_killed_in_its_first_round_keeps_its_settings(tmp_path):
    # The folder says that a search runs there, and with which settings, from its start: a search killed while
    # round 1 trains (the trainer raises KeyboardInterrupt, as Ctrl-C does) leaves search.json with status
    # "running", so a later search with other settings in the same folder is refused, not mixed with its runs.
    class Killed(FakeTrainer):
        def __call__(self, codes):
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        search(tmp_path, [scored_code(0.5)], Killed(), candidates=1)
    assert json.loads((tmp_path / "out/search.json").read_text())["status"] == "running"
    with pytest.raises(ConfigError, match="candidates"):
        search(tmp_path, [scored_code(0.5)], FakeTrainer(), candidates=2)


def test_best_reward_yaml_drops_into_an_ablation_config(tmp_path):
    # The snippet is a `rewards:` entry: merged beside the sparse reward it validates as an ablation config.
    from rewardlab.ablation import validate

    search(tmp_path, [scored_code(0.1), scored_code(0.7)], FakeTrainer(), candidates=2)
    snippet = yaml.safe_load((tmp_path / "out/best_reward.yaml").read_text())
    (name, reward), = snippet["rewards"].items()
    assert reward["terms"][0] == "EnvReward" and reward["terms"][1]["code"] == scored_code(0.7)
    cfg = validate({"envs": [ENV], "rewards": {"sparse": "EnvReward", **snippet["rewards"]}, "algorithms": ["PPO"], "seeds": 1})
    assert list(cfg["rewards"]) == ["sparse", name]


@pytest.mark.parametrize("bad, match", [({"candidates": 0}, "candidates"), ({"backend": "online"}, "backend"),
                                        ({"feedback": "votes"}, "feedback"), ({"combine": "mul"}, "combine")])
def test_bad_settings_name_the_setting(tmp_path, bad, match):
    with pytest.raises(ConfigError, match=match):
        search(tmp_path, [scored_code(0.5)], FakeTrainer(), **bad)
