"""A recorded search replays byte-identically with no network (spec llm_and_bilevel.md check H10).

One K=4, R=2 search is recorded in the offline backend (rewardlab's scripted server on 127.0.0.1,
script ``mountaincar``: scripted candidates, not written by a model); two replays of it from the
recorded cache, each into a fresh folder, must write reward-code files with equal sha256 and send
zero HTTP requests (their client's transport raises on any call). Training is the fake trainer
(H10 is about the LLM path); its fitness depends only on the code, so round 2's prompt, which
carries round 1's reflection, is the same in every run, as it must be for the cache to answer it.
"""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import httpx
import pytest

from rewardlab.errors import CacheMiss
from rewardlab.search import run_search
from rewardlab.shaping.llm.client import LLMClient
from search_helpers import FakeTrainer

ENV = "rewardlab/Sparse-MountainCar-v0"
TASK = "Drive the car up the right hill to the flag."


def _no_network(request: httpx.Request) -> httpx.Response:
    raise AssertionError(f"replay sent an HTTP request: {request.method} {request.url}")


def code_digests(out: Path) -> dict[str, str]:
    files = sorted(out.glob("round_*/cand_*/reward.py")) + [out / "best_reward.py"]
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def test_h10_replay_twice_is_byte_identical_with_zero_requests(tmp_path):
    recorded = run_search(ENV, TASK, out=tmp_path / "rec", candidates=4, rounds=2, backend="offline", trainer=FakeTrainer())
    assert recorded.status == "finished"
    reference = code_digests(tmp_path / "rec")
    # Every scripted answer has a fenced code block (the faulty ones too), so all 4 + 4 candidates
    # wrote reward.py, plus best_reward.py.
    assert len(reference) == 9
    digests = []
    for name in ("replay1", "replay2"):
        cache = tmp_path / name / "llm_cache"
        shutil.copytree(tmp_path / "rec" / "llm_cache", cache)
        client = LLMClient(mode="replay", cache_dir=cache, transport=httpx.MockTransport(_no_network))
        with client:
            run_search(ENV, TASK, out=tmp_path / name, candidates=4, rounds=2, backend="replay", client=client, trainer=FakeTrainer())
            assert client.requests_sent == 0
        digests.append(code_digests(tmp_path / name))
    assert digests[0] == digests[1] == reference


def test_h10_replay_miss_raises_cache_miss(tmp_path):
    # Nothing was recorded for this folder: the first request misses, and replay never asks a server.
    with pytest.raises(CacheMiss):
        run_search(ENV, TASK, out=tmp_path / "empty", candidates=2, rounds=1, backend="replay", trainer=FakeTrainer())


def test_offline_round_two_sees_the_scripted_fixes(tmp_path):
    # mountaincar.yaml: seeds 0-3 answer good, weak, syntax_error, wrong_signature; the feedback
    # carries the two rejections, so round 2 (seeds 4-7: import, loop, nan, good) gets the fixed
    # versions of import, loop and nan, and all four pass the gates.
    result = run_search(ENV, TASK, out=tmp_path / "o", candidates=4, rounds=2, backend="offline", trainer=FakeTrainer())
    attempts = json.loads((tmp_path / "o/search.json").read_text())["attempts"]
    assert [a["status"] for a in attempts] == [["trained", "trained", "rejected", "rejected"], ["trained"] * 4]
    assert result.execute_rates == [0.5, 1.0]
    assert "(fixed after feedback)" in (tmp_path / "o/round_2/cand_0/response.txt").read_text()
