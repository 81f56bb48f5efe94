"""The content-addressed request cache (spec llm_and_bilevel.md §E3, check H10)."""

from __future__ import annotations

import hashlib
import json
import os
import threading

import pytest

from rewardlab.errors import InvalidParameter, StoreError
from rewardlab.shaping.llm.cache import KEY_FIELDS, SCHEMA_VERSION, RequestCache, request_key
from rewardlab.shaping.llm.client import LLMClient
from rewardlab.shaping.llm.server import ScriptedServer

REQ = {
    "model": "m",
    "messages": [{"role": "user", "content": "héllo"}],
    "temperature": 1.0,
    "top_p": None,
    "max_tokens": 64,
    "stop": None,
    "seed": 3,
    "sample_index": 1,
}


def _record(req: dict, text: str = "answer") -> dict:
    return {"request": req, "text": text, "finish_reason": "stop", "usage": {}, "model": req["model"]}


def test_key_is_sha256_of_the_canonical_json_spec_e3():
    # Spec §E3: sha256 over canonical JSON (sorted keys, no whitespace, UTF-8) of exactly these fields.
    assert set(KEY_FIELDS) == {"model", "messages", "temperature", "top_p", "max_tokens", "stop", "seed", "sample_index"}
    canonical = json.dumps({**REQ, "schema_version": SCHEMA_VERSION, "endpoint_kind": "chat"}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    assert request_key(REQ) == hashlib.sha256(canonical.encode("utf-8")).hexdigest()


def test_key_pinned_digest():
    # Pinned so a change of the key function (which would orphan every recorded cache) is noticed;
    # recompute with test_key_is_sha256_of_the_canonical_json_spec_e3's formula and bump SCHEMA_VERSION.
    assert request_key(REQ) == "5634f5e8976038cdfe8b430382f6762869860b3e38398db2931452614c3a6a05"


def test_key_ignores_base_url_key_and_order_but_not_parameters():
    # Spec §E3: base_url, api_key and timestamps are excluded; every key field changes the key.
    same = {"created": 123, "base_url": "http://x/v1", "api_key": "sk-1", **dict(reversed(list(REQ.items())))}
    assert request_key(same) == request_key(REQ)
    for name, other in [("model", "m2"), ("seed", 4), ("sample_index", 0), ("temperature", 0.5), ("max_tokens", 65),
                        ("stop", ["\n"]), ("top_p", 0.9), ("messages", [{"role": "user", "content": "hello"}])]:
        assert request_key({**REQ, name: other}) != request_key(REQ), name


def test_key_needs_model_and_messages():
    with pytest.raises(InvalidParameter, match="`model`"):
        request_key({"messages": REQ["messages"]})
    with pytest.raises(InvalidParameter, match="`messages`"):
        request_key({"model": "m"})


def test_same_request_against_two_servers_has_one_key(tmp_path):
    # Two live servers on different ports (different base_url) and different API keys: one key, one file.
    msgs = [{"role": "user", "content": "Write a reward."}]
    with ScriptedServer() as s1, ScriptedServer() as s2:
        assert s1.url != s2.url
        with LLMClient(s1.url, "m", "key-1", mode="live", cache_dir=tmp_path) as c1, LLMClient(s2.url, "m", "key-2", mode="live", cache_dir=tmp_path) as c2:
            r1, r2 = c1.chat(msgs, seed=5), c2.chat(msgs, seed=5)
        assert (s1.requests, s2.requests) == (1, 1)
    assert r1.key == r2.key
    assert len(RequestCache(tmp_path)) == 1


def test_put_get_roundtrip_and_layout(tmp_path):
    cache = RequestCache(tmp_path)
    k = cache.key(REQ)
    assert cache.get(k) is None
    cache.put(k, _record(REQ, "ünïcode ```python\nx\n```"))
    # Layout of spec §E3: cache_dir/ab/cdef....json, a diff-able JSON file holding the request.
    path = tmp_path / k[:2] / f"{k[2:]}.json"
    assert path.is_file()
    on_disk = json.loads(path.read_text(encoding="utf-8"))
    assert on_disk["request"] == REQ and on_disk["text"] == "ünïcode ```python\nx\n```"
    assert cache.get(k)["text"] == "ünïcode ```python\nx\n```"
    assert sorted(p.name for p in path.parent.iterdir()) == [path.name]  # no temporary file left


def test_put_is_atomic_when_the_rename_fails(tmp_path, monkeypatch):
    # A crash between writing and renaming must leave the old record intact and no temporary file.
    cache = RequestCache(tmp_path)
    k = cache.key(REQ)
    cache.put(k, _record(REQ, "old"))

    def failing_replace(src, dst):
        raise OSError("disk full (simulated)")

    monkeypatch.setattr(os, "replace", failing_replace)
    with pytest.raises(StoreError, match="disk full"):
        cache.put(k, _record(REQ, "new"))
    monkeypatch.undo()
    assert cache.get(k)["text"] == "old"
    assert sorted(p.name for p in (tmp_path / k[:2]).iterdir()) == [f"{k[2:]}.json"]


def test_concurrent_puts_leave_one_valid_file(tmp_path):
    # Eight threads write the same key: os.replace makes one of the complete records win.
    cache = RequestCache(tmp_path)
    k = cache.key(REQ)
    threads = [threading.Thread(target=cache.put, args=(k, _record(REQ, f"text {i}" * 500))) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert cache.get(k)["text"] in {f"text {i}" * 500 for i in range(8)}
    assert len(list((tmp_path / k[:2]).iterdir())) == 1


@pytest.mark.parametrize(
    "content, what",
    [(b'{"request": {"mod', "not UTF-8 JSON"), (b'{"text": "x"}', "missing or bad"), (b"[1, 2]", "missing or bad"), (b"\xff\xfe", "not UTF-8 JSON")],
)
def test_corrupt_file_is_an_error_naming_its_path(tmp_path, content, what):
    cache = RequestCache(tmp_path)
    k = cache.key(REQ)
    cache.put(k, _record(REQ))
    cache.path(k).write_bytes(content)
    with pytest.raises(StoreError, match=what) as err:
        cache.get(k)
    assert str(cache.path(k)) in str(err.value)


def test_record_under_the_wrong_key_is_an_error(tmp_path):
    # A file copied to another key's name would answer a request it was not recorded for.
    cache = RequestCache(tmp_path)
    k, other = cache.key(REQ), cache.key({**REQ, "seed": 99})
    cache.put(k, _record(REQ))
    cache.path(other).parent.mkdir(parents=True, exist_ok=True)
    cache.path(other).write_bytes(cache.path(k).read_bytes())
    with pytest.raises(StoreError, match="key is not"):
        cache.get(other)


def test_put_checks_the_record(tmp_path):
    cache = RequestCache(tmp_path)
    with pytest.raises(InvalidParameter, match="missing"):
        cache.put(cache.key(REQ), {"request": REQ, "text": "x"})
    with pytest.raises(InvalidParameter, match="hashes to"):
        cache.put(cache.key({**REQ, "seed": 0}), _record(REQ))
    with pytest.raises(InvalidParameter, match="sha256 hex"):
        cache.path("../../etc/passwd")
