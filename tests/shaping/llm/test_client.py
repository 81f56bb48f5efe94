"""LLMClient against the real ScriptedServer over sockets on 127.0.0.1 (spec llm_and_bilevel.md §E2-E3, checks H10, H12).

Waits between attempts go through an injected `sleep` that records the requested seconds and does
not sleep (the bounds checked are the client's choice of wait, which is what H12 specifies).
"""

from __future__ import annotations

import socket

import httpx
import pytest

from rewardlab.errors import CacheMiss, InvalidParameter, LLMBackendError
from rewardlab.shaping.llm.client import LLMClient
from rewardlab.shaping.llm.server import HEADER, ScriptedServer

ORDER = ["good", "weak", "syntax_error", "wrong_signature", "import", "loop", "nan"]  # mountaincar.yaml's order
MSGS = [{"role": "system", "content": "You write reward functions."}, {"role": "user", "content": "Write a reward for Sparse-MountainCar."}]


class Sleeps(list):
    """A `sleep` that records each wait (seconds) instead of sleeping."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _name(text: str) -> str:
    return text.splitlines()[0][len(HEADER) :]


@pytest.fixture()
def server():
    with ScriptedServer("mountaincar") as s:
        yield s


def _live(server: ScriptedServer, sleeps: Sleeps, **kw) -> LLMClient:
    return LLMClient(server.url, "test-model", mode="live", sleep=sleeps, **kw)


def _raising_transport() -> httpx.MockTransport:
    def handler(request: httpx.Request) -> httpx.Response:
        raise AssertionError(f"replay mode sent an HTTP request: {request.url}")

    return httpx.MockTransport(handler)


# -- retries (check H12) ---------------------------------------------------------------------------------


def test_429_429_200_succeeds_on_attempt_3_with_backoff(server):
    sleeps = Sleeps()
    server.inject(["429", "429"])
    with _live(server, sleeps) as client:
        result = client.chat(MSGS, seed=0)
    assert result.attempts == 3 and _name(result.text) == "good"
    assert server.requests == 3 and client.requests_sent == 3
    # Backoff min(8, 0.5 * 2^k) * U(0.75, 1.0) for k = 0, 1 (spec §E2 / H12).
    assert len(sleeps) == 2
    assert 0.375 <= sleeps[0] <= 0.5 and 0.75 <= sleeps[1] <= 1.0


@pytest.mark.parametrize("fault, wait", [("429:retry-after=0.25", 0.25), ("503:retry-after-ms=150", 0.15), ("429:retry-after=3", 3.0)])
def test_retry_after_is_honoured_exactly(server, fault, wait):
    sleeps = Sleeps()
    server.inject([fault])
    with _live(server, sleeps) as client:
        assert client.chat(MSGS, seed=0).attempts == 2
    assert sleeps == [pytest.approx(wait, abs=1e-9)]


def test_retry_after_beyond_60s_falls_back_to_backoff(server):
    # A server asking for minutes would stall a search; above 60 s the client's own backoff is used.
    sleeps = Sleeps()
    server.inject(["429:retry-after=120"])
    with _live(server, sleeps) as client:
        client.chat(MSGS, seed=0)
    assert len(sleeps) == 1 and 0.375 <= sleeps[0] <= 0.5


@pytest.mark.parametrize("status", [400, 401, 403, 404, 408, 409, 422])
def test_other_4xx_are_not_retried(server, status):
    # The issue: no retry on 4xx other than 429 (it overrides the spec's 408/409).
    sleeps = Sleeps()
    server.inject([str(status)])
    with _live(server, sleeps) as client, pytest.raises(LLMBackendError, match=f"HTTP {status} \\(not retried\\): scripted fault"):
        client.chat(MSGS, seed=0)
    assert server.requests == 1 and sleeps == []


@pytest.mark.parametrize("status", [500, 502, 503])
def test_5xx_is_retried(server, status):
    sleeps = Sleeps()
    server.inject([str(status)])
    with _live(server, sleeps) as client:
        assert client.chat(MSGS, seed=0).attempts == 2
    assert server.requests == 2 and len(sleeps) == 1


def test_max_attempts_then_backend_error(server):
    sleeps = Sleeps()
    server.inject(["500"] * 6)
    with _live(server, sleeps) as client, pytest.raises(LLMBackendError, match="failed after 5 attempts; last: HTTP 500"):
        client.chat(MSGS, seed=0)
    assert server.requests == 5
    # Four waits: k = 0..3, nominal 0.5, 1, 2, 4 s, each times U(0.75, 1.0).
    assert len(sleeps) == 4
    for k, s in enumerate(sleeps):
        assert 0.75 * 0.5 * 2**k <= s <= 0.5 * 2**k
    server.inject(["500"] * 2)
    with _live(server, Sleeps(), max_attempts=2) as client, pytest.raises(LLMBackendError, match="after 2 attempts"):
        client.chat(MSGS, seed=0)
    assert server.requests == 7


def test_connection_errors_are_retried():
    # A port nobody listens on (bound, then closed): every attempt is refused.
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps = Sleeps()
    with LLMClient(f"http://127.0.0.1:{port}/v1", "m", mode="live", sleep=sleeps, max_attempts=3) as client:
        with pytest.raises(LLMBackendError, match="after 3 attempts; last: connection failed"):
            client.chat(MSGS)
    assert len(sleeps) == 2 and client.requests_sent == 3


def test_read_timeout_is_retried(server):
    # The first answer comes after 3 s, past the 1 s read timeout; the second comes at once.
    server.inject(["slow=3"])
    sleeps = Sleeps()
    with _live(server, sleeps, timeout=1.0) as client:
        result = client.chat(MSGS, seed=0)
    assert result.attempts == 2 and len(sleeps) == 1 and _name(result.text) == "good"


def test_deadline_stops_waiting(server):
    # A 5 s Retry-After cannot fit in a 1 s deadline: fail now rather than sleep past it.
    sleeps = Sleeps()
    server.inject(["429:retry-after=5"])
    with _live(server, sleeps, deadline=1.0) as client, pytest.raises(LLMBackendError, match="1 s deadline would pass"):
        client.chat(MSGS, seed=0)
    assert sleeps == [] and server.requests == 1


@pytest.mark.parametrize("fault, what", [("malformed", "is not JSON"), ("no_choices", "has no choices"), ("bad_content", "content is NoneType, not a string")])
def test_malformed_200_is_retried_twice_then_named(server, fault, what):
    sleeps = Sleeps()
    server.inject([fault])
    with _live(server, sleeps) as client:
        assert client.chat(MSGS, seed=0).attempts == 2
    server.inject([fault] * 3)
    with _live(server, sleeps) as client, pytest.raises(LLMBackendError, match=f"{what}.*3 malformed answers in a row"):
        client.chat(MSGS, seed=0)
    assert server.requests == 2 + 3


# -- answers, settings ------------------------------------------------------------------------------------


def test_offline_mode_talks_to_its_own_scripted_server(tmp_path):
    with LLMClient(mode="offline", cache_dir=tmp_path) as client:
        result = client.chat(MSGS, seed=3, max_tokens=512)
        assert client.server is not None and client.server.url.startswith("http://127.0.0.1:")
        assert client.server.requests == 1 and client.requests_sent == 1
    assert _name(result.text) == "wrong_signature"
    assert (result.model, result.system_fingerprint, result.finish_reason, result.cached) == ("rewardlab-scripted", "scripted", "stop", False)
    assert result.usage["completion_tokens"] == len(result.text.split())
    assert client.server is None  # close() stopped it


def test_finish_reason_and_usage_are_parsed():
    # The scripted server cuts an answer at max_tokens words with finish_reason "length" (server docstring).
    with LLMClient(mode="offline") as client:
        result = client.chat(MSGS, seed=0, max_tokens=7)
    assert result.finish_reason == "length"
    assert result.usage["completion_tokens"] == 7 and len(result.text.split()) == 7
    assert result.usage["total_tokens"] == result.usage["prompt_tokens"] + 7


def test_settings_from_environment_variables(server, monkeypatch, tmp_path):
    monkeypatch.setenv("REWARDLAB_LLM_BASE_URL", server.url + "/")
    monkeypatch.setenv("REWARDLAB_LLM_MODEL", "env-model")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("REWARDLAB_LLM_MODE", "live")
    with LLMClient() as client:
        assert (client.mode, client.model, client.base_url) == ("live", "env-model", server.url)
        client.chat(MSGS, seed=0)
    assert server.log[-1]["authorization"] == "Bearer sk-test" and server.log[-1]["model"] == "env-model"
    monkeypatch.setenv("REWARDLAB_LLM_MODE", "replay")
    assert LLMClient(cache_dir=tmp_path).mode == "replay"
    # Arguments win over the environment.
    assert LLMClient(server.url, "arg-model", mode="live").model == "arg-model"


def test_no_key_sends_no_authorization(server, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with _live(server, Sleeps()) as client:
        client.chat(MSGS, seed=0)
    assert server.log[-1]["authorization"] is None


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"mode": "replya"}, "Did you mean: `replay`"),
        ({"mode": "live", "model": "m"}, "REWARDLAB_LLM_BASE_URL"),
        ({"mode": "live", "base_url": "http://127.0.0.1:1/v1"}, "REWARDLAB_LLM_MODEL"),
        ({"mode": "replay"}, "needs `cache_dir`"),
        ({"mode": "offline", "base_url": "http://127.0.0.1:1/v1"}, "starts its own scripted server"),
        ({"mode": "offline", "model": "gpt-4o"}, "answers as model 'rewardlab-scripted' only"),
        ({"mode": "live", "base_url": "http://x/v1", "model": "m", "script": "faults"}, "for mode='offline' only"),
        ({"mode": "offline", "concurrency": 0}, "`concurrency` must be an int >= 1"),
        ({"mode": "offline", "deadline": 0}, "`deadline` must be a positive"),
    ],
)
def test_bad_settings_are_named(monkeypatch, kwargs, message):
    for var in ("REWARDLAB_LLM_BASE_URL", "REWARDLAB_LLM_MODEL", "REWARDLAB_LLM_MODE"):
        monkeypatch.delenv(var, raising=False)
    with pytest.raises(InvalidParameter, match=message):
        LLMClient(**kwargs)


def test_bad_messages_are_named():
    with LLMClient(mode="offline") as client:
        with pytest.raises(InvalidParameter, match=r"`messages\[0\]` must be a dict"):
            client.chat([{"role": "user"}])
        with pytest.raises(InvalidParameter, match="`messages` must be a non-empty list"):
            client.chat("hello")
        assert client.requests_sent == 0


# -- K candidates ------------------------------------------------------------------------------------------


def test_chat_many_sends_distinct_seeds_and_keeps_order():
    with LLMClient(mode="offline") as client:
        results = client.chat_many(MSGS, k=4, base_seed=10)
        log = list(client.server.log)
    assert sorted(e["seed"] for e in log) == [10, 11, 12, 13]
    # Results in sample order, whatever order the server answered in: candidates[(10 + i) % 7].
    assert [_name(r.text) for r in results] == [ORDER[(10 + i) % 7] for i in range(4)]
    assert [(r.request["seed"], r.request["sample_index"]) for r in results] == [(10, 0), (11, 1), (12, 2), (13, 3)]
    assert len({r.key for r in results}) == 4


@pytest.mark.parametrize("concurrency", [1, 2, 4])
def test_concurrency_limit_is_honoured(concurrency):
    # Every request sleeps 1 s in the server (slow marker), so requests allowed to overlap do overlap.
    slow = [MSGS[0], {"role": "user", "content": "Write a reward. #fault:slow=1.0"}]
    with LLMClient(mode="offline", concurrency=concurrency) as client:
        client.chat_many(slow, k=4)
        assert client.server.max_in_flight == concurrency


# -- cache and modes (check H10) ---------------------------------------------------------------------------


def test_replay_after_offline_is_byte_identical_with_no_network(tmp_path):
    with LLMClient(mode="offline", cache_dir=tmp_path) as rec:
        recorded = rec.chat_many(MSGS, k=4) + [rec.chat(MSGS, temperature=0.2, seed=None)]
    with LLMClient(mode="replay", cache_dir=tmp_path, transport=_raising_transport()) as replay:
        replayed = replay.chat_many(MSGS, k=4) + [replay.chat(MSGS, temperature=0.2, seed=None)]
        assert replay.requests_sent == 0
    assert [r.text.encode() for r in replayed] == [r.text.encode() for r in recorded]
    assert all(r.cached for r in replayed) and not any(r.cached for r in recorded)
    assert [r.key for r in replayed] == [r.key for r in recorded]


def test_replay_of_a_live_recording_under_another_base_url(server, tmp_path):
    with _live(server, Sleeps(), cache_dir=tmp_path) as rec:
        recorded = rec.chat(MSGS, seed=1)
    # The key excludes base_url: a replay with a different (unused) base URL finds the recording.
    with LLMClient("http://127.0.0.1:9/v1", "test-model", mode="replay", cache_dir=tmp_path, transport=_raising_transport()) as replay:
        assert replay.chat(MSGS, seed=1).text == recorded.text
        assert replay.requests_sent == 0


def test_replay_miss_names_the_key(tmp_path):
    with LLMClient(mode="replay", cache_dir=tmp_path, transport=_raising_transport()) as replay:
        with pytest.raises(CacheMiss, match=r"no cached answer for key [0-9a-f]{64}.*seed=7, sample_index=0") as err:
            replay.chat(MSGS, seed=7)
        assert replay.requests_sent == 0
    assert str(tmp_path) in str(err.value)


def test_auto_mode_asks_once_then_reads_the_cache(server, tmp_path):
    with LLMClient(server.url, "test-model", mode="auto", cache_dir=tmp_path) as client:
        first, second = client.chat(MSGS, seed=2), client.chat(MSGS, seed=2)
        third = client.chat(MSGS, seed=2, sample_index=1)  # another sample: another key, another request
    assert (first.cached, second.cached, third.cached) == (False, True, False)
    assert second.text == first.text and server.requests == 2


def test_live_mode_always_asks_and_writes(server, tmp_path):
    with _live(server, Sleeps(), cache_dir=tmp_path) as client:
        a, b = client.chat(MSGS, seed=0), client.chat(MSGS, seed=0)
    assert (a.cached, b.cached, server.requests) == (False, False, 2)
    assert client.cache.get(a.key)["text"] == a.text
