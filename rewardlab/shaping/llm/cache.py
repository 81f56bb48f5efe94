"""A content-addressed cache of chat-completion answers, so a recorded LLM run replays with no network.

Classes: :class:`RequestCache`. Functions: :func:`request_key`.

The key of a request is the sha256 of its canonical JSON (sorted keys, no whitespace, UTF-8) over
exactly :data:`KEY_FIELDS` plus ``schema_version`` and ``endpoint_kind`` (spec llm_and_bilevel.md
§E3). The base URL, the API key and timestamps are left out on purpose, so an answer recorded
against vLLM on one machine replays under any other base URL; ``sample_index`` is in, so K samples
drawn at temperature 1.0 replay as the same K texts.

Each answer is one diff-able JSON file, ``cache_dir/<first 2 hex digits>/<other 62>.json``, holding
``{request, text, finish_reason, usage, model, system_fingerprint, created}``. Files are written
atomically (a temporary file in the same folder, fsync, ``os.replace``), so a killed run leaves
either the old file or the new one, never half of one.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rewardlab._io import write_atomic
from rewardlab.errors import InvalidParameter, StoreError

__all__ = ["RequestCache", "request_key", "KEY_FIELDS", "SCHEMA_VERSION"]

#: Bump when the meaning of a key changes (old recordings then miss instead of answering wrongly).
SCHEMA_VERSION = 1

#: The request fields a key is computed over (besides ``schema_version`` and ``endpoint_kind``).
KEY_FIELDS = ("model", "messages", "temperature", "top_p", "max_tokens", "stop", "seed", "sample_index")

# Fields a cache record must carry for a replay to stand in for a server's answer.
_RECORD_FIELDS = ("request", "text", "finish_reason", "usage", "model")


def _canonical(obj: Any) -> bytes:
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode("utf-8")


def request_key(request: Mapping[str, Any]) -> str:
    """The cache key of a chat request: sha256 hex of the canonical JSON of its :data:`KEY_FIELDS`.

    Fields other than :data:`KEY_FIELDS` (``base_url``, ``api_key``, ...) are ignored; a key field
    that is absent counts as ``None``, except ``model`` and ``messages``, which are required.

    Args:
        request: the request, e.g. ``{"model": ..., "messages": [...], "temperature": 1.0, "seed": 0, ...}``.

    Raises:
        InvalidParameter: `model` or `messages` is missing, or a field is not JSON-serialisable.

    Example:
        >>> r = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "seed": 0}
        >>> request_key(r) == request_key({**r, "base_url": "http://elsewhere/v1", "api_key": "sk-..."})
        True
        >>> request_key(r) == request_key({**r, "seed": 1})
        False
    """
    # Without these two a key would silently collide across unrelated requests.
    for name in ("model", "messages"):
        if request.get(name) is None:
            raise InvalidParameter(f"a cache key needs `{name}`; the request has none: {sorted(request)}")
    keyed = {name: request.get(name) for name in KEY_FIELDS}
    keyed.update(schema_version=SCHEMA_VERSION, endpoint_kind="chat")
    try:
        return hashlib.sha256(_canonical(keyed)).hexdigest()
    except (TypeError, ValueError) as e:
        raise InvalidParameter(f"a chat request must be plain JSON (str, numbers, lists, dicts) to be cached: {e}") from e


class RequestCache:
    """One JSON file per chat request, addressed by :func:`request_key`.

    Args:
        cache_dir: the folder (created on the first :meth:`put`).

    Example:
        >>> import tempfile
        >>> cache = RequestCache(tempfile.mkdtemp())
        >>> req = {"model": "m", "messages": [{"role": "user", "content": "hi"}], "seed": 0}
        >>> k = cache.key(req)
        >>> cache.get(k) is None
        True
        >>> cache.put(k, {"request": req, "text": "hello", "finish_reason": "stop", "usage": {}, "model": "m"})
        >>> cache.get(k)["text"], cache.path(k).relative_to(cache.cache_dir).parts[0] == k[:2]
        ('hello', True)
    """

    def __init__(self, cache_dir: str | os.PathLike[str]):
        self.cache_dir = Path(cache_dir)

    key = staticmethod(request_key)

    def path(self, key: str) -> Path:
        """Where the record of `key` lives: ``cache_dir/ab/cdef....json``."""
        # A key that is not a sha256 hex digest could name a path outside the cache folder.
        if len(key) != 64 or any(c not in "0123456789abcdef" for c in key):
            raise InvalidParameter(f"`key` must be a sha256 hex digest (64 lowercase hex digits); received {key!r}")
        return self.cache_dir / key[:2] / f"{key[2:]}.json"

    def get(self, key: str) -> dict[str, Any] | None:
        """The record stored under `key`, or None when there is none.

        Raises:
            StoreError: the file exists but is not a valid record (the message names its path).
        """
        path = self.path(key)
        try:
            raw = path.read_bytes()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise StoreError(f"cannot read the LLM cache file {path}: {e}") from e
        try:
            record = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            raise StoreError(f"the LLM cache file {path} is corrupt (not UTF-8 JSON: {e}); delete it to re-record") from e
        missing = [f for f in _RECORD_FIELDS if not isinstance(record, dict) or f not in record]
        if missing or not isinstance(record["text"], str):
            raise StoreError(f"the LLM cache file {path} is not a cache record (missing or bad {missing or ['text']}); delete it to re-record")
        # A record under the wrong name (copied or edited by hand) would answer a different request.
        if not isinstance(record["request"], Mapping) or request_key(record["request"]) != key:
            raise StoreError(f"the LLM cache file {path} holds a request whose key is not {key}; delete it to re-record")
        return record

    def put(self, key: str, record: Mapping[str, Any]) -> None:
        """Store `record` under `key`, atomically (temporary file in the same folder, fsync, rename).

        Raises:
            InvalidParameter: `record` lacks a field a replay needs, or its request does not hash to `key`.
            StoreError: the file cannot be written (the message names its path).
        """
        missing = [f for f in _RECORD_FIELDS if f not in record]
        if missing:
            raise InvalidParameter(f"a cache record needs {list(_RECORD_FIELDS)}; missing {missing}")
        if request_key(record["request"]) != key:
            raise InvalidParameter(f"the record's request hashes to {request_key(record['request'])}, not to `key` {key}")
        path = self.path(key)
        data = json.dumps(dict(record), indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8") + b"\n"
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomic(path, data)
        except OSError as e:
            raise StoreError(f"cannot write the LLM cache file {path}: {e}") from e

    def __len__(self) -> int:
        return sum(1 for _ in self.cache_dir.glob("??/*.json")) if self.cache_dir.is_dir() else 0

    def __repr__(self) -> str:
        return f"RequestCache({str(self.cache_dir)!r})"
