"""One OpenAI-compatible chat-completions client over httpx (OpenAI, vLLM, Ollama, llama.cpp's server).

Classes: :class:`LLMClient`, :class:`ChatResult`.

Settings come from arguments, else from environment variables: ``REWARDLAB_LLM_BASE_URL`` (e.g.
``http://localhost:8000/v1``), ``REWARDLAB_LLM_MODEL``, ``OPENAI_API_KEY`` and ``REWARDLAB_LLM_MODE``.

Modes (spec llm_and_bilevel.md §E3):

- ``live``: ask the server; write each answer to the cache (when there is a ``cache_dir``);
- ``replay``: the cache only; a miss raises :class:`~rewardlab.errors.CacheMiss` naming the key, and no
  HTTP client is even built;
- ``auto`` (the default): the cache first, then the server (writing what it gets);
- ``offline``: starts a :class:`~rewardlab.shaping.llm.server.ScriptedServer` on 127.0.0.1 in this
  process and talks to it over real sockets, writing the cache as ``live`` does, so a later
  ``replay`` needs no server. Its answers are scripted, not written by a model, and recorded under
  the model name ``rewardlab-scripted`` only, so they never pose as a real model's answers.

Why httpx and not the openai SDK: one small dependency, full control of the JSON body (servers
differ in the optional fields they accept), and the retry policy below, which is short to write
(the SDK's policy would also retry 408/409, which this project decided not to).

Retries: connection errors, timeouts, 429 and 5xx are retried, at most ``max_attempts`` (5) attempts
in all; any other 4xx fails at once. Before attempt k+1 the client sleeps the server's
``retry-after-ms`` / ``Retry-After`` (up to 60 s) when given, else ``min(8, 0.5 * 2**k) * U(0.75, 1.0)``
seconds; nothing sleeps past the whole-call ``deadline``. A 200 whose body cannot be parsed (not
JSON, no choices, content not a string) is an :class:`~rewardlab.errors.LLMBackendError` naming what
was wrong; it is retried like a 5xx (a truncated body is usually a transient proxy or server
fault), but at most twice, because a server that always answers so will not change by waiting.

K candidates are K requests with distinct seeds (llama.cpp and Ollama ignore ``n``):
:meth:`LLMClient.chat_many` sends seeds ``base_seed + i`` with ``sample_index = i``, concurrently
within the ``concurrency`` limit, and returns the results in order.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from rewardlab.errors import CacheMiss, InvalidParameter, LLMBackendError, MissingExtraError, did_you_mean
from rewardlab.shaping.llm.cache import RequestCache, request_key
from rewardlab.shaping.llm.server import SCRIPTED_MODEL as _SCRIPTED_MODEL

__all__ = ["LLMClient", "ChatResult", "MODES", "backoff_delay"]

log = logging.getLogger(__name__)

MODES = ("live", "replay", "auto", "offline")
_MAX_RETRY_AFTER_S = 60.0  # a longer Retry-After is treated as absent (as the openai SDK does)
_MAX_MALFORMED_RETRIES = 2


class _Malformed(LLMBackendError):
    """A 200 answer the client could not parse."""


@dataclass
class ChatResult:
    """One chat answer.

    Attributes:
        text: ``choices[0].message.content``.
        finish_reason: ``"stop"``, ``"length"``, ... (``"unknown"`` when the server sent none).
        usage: the server's token counts (``prompt_tokens``, ``completion_tokens``, ``total_tokens``).
        model: the model that answered (as the server names it).
        key: the request's cache key.
        cached: True when the answer came from the cache, not from a server.
        attempts: HTTP attempts this answer took (0 when cached).
        system_fingerprint: the server's fingerprint, if it sent one (``"scripted"`` for the scripted server).
    """

    text: str
    finish_reason: str
    usage: dict[str, Any]
    model: str
    key: str
    cached: bool
    attempts: int = 0
    system_fingerprint: str | None = None
    request: dict[str, Any] = field(default_factory=dict, repr=False)


def backoff_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed attempt `attempt` (0-based): ``min(8, 0.5 * 2**attempt) * U(0.75, 1.0)``.

    Example:
        >>> 0.375 <= backoff_delay(0) <= 0.5 and 0.75 <= backoff_delay(1) <= 1.0 and 6.0 <= backoff_delay(9) <= 8.0
        True
    """
    # Jitter below the nominal delay spreads clients that failed together (spec §E2).
    return min(8.0, 0.5 * 2.0**attempt) * (rng or random).uniform(0.75, 1.0)


def _retry_after(headers: Mapping[str, str]) -> float | None:
    """The server's requested wait in seconds (``retry-after-ms``, else ``Retry-After`` as seconds or a date)."""
    ms = headers.get("retry-after-ms")
    if ms is not None:
        try:
            value = float(ms) / 1000.0
        except ValueError:
            value = None
        if value is not None and 0 <= value <= _MAX_RETRY_AFTER_S:
            return value
    ra = headers.get("retry-after")
    if ra is None:
        return None
    try:
        value = float(ra)
    except ValueError:
        try:
            value = email.utils.parsedate_to_datetime(ra).timestamp() - time.time()
        except (TypeError, ValueError):
            return None
    return max(0.0, value) if value <= _MAX_RETRY_AFTER_S else None


def _check_messages(messages: Any) -> list[dict[str, str]]:
    # A malformed message list would be sent, fail as a 400, and never be retried: say why here instead.
    if not isinstance(messages, Sequence) or isinstance(messages, str) or not messages:
        raise InvalidParameter(f"`messages` must be a non-empty list of {{'role', 'content'}} dicts; received {type(messages).__name__}")
    out = []
    for i, m in enumerate(messages):
        if not isinstance(m, Mapping) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            raise InvalidParameter(f"`messages[{i}]` must be a dict with string 'role' and 'content'; received {m!r}")
        out.append({"role": m["role"], "content": m["content"]})
    return out


def _parse(body: bytes) -> tuple[str, str, dict[str, Any], str | None, str | None]:
    """(text, finish_reason, usage, model, system_fingerprint) of a chat-completions answer, else _Malformed."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise _Malformed(f"the server's 200 answer is not JSON (starts {body[:60]!r})") from None
    choices = data.get("choices") if isinstance(data, dict) else None
    if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
        raise _Malformed(f"the server's answer has no choices (choices = {choices!r})")
    message = choices[0].get("message")
    content = message.get("content") if isinstance(message, dict) else None
    if not isinstance(content, str):
        raise _Malformed(f"the server's choices[0].message.content is {type(content).__name__}, not a string")
    usage = data.get("usage") if isinstance(data.get("usage"), dict) else {}
    finish = choices[0].get("finish_reason")
    return content, finish if isinstance(finish, str) else "unknown", usage, data.get("model"), data.get("system_fingerprint")


class LLMClient:
    """Chat completions from an OpenAI-compatible server, with retries, a cache and four modes.

    Args:
        base_url: the server's ``.../v1`` URL (default ``REWARDLAB_LLM_BASE_URL``); not used in
            ``replay``, and refused in ``offline`` (which starts its own server).
        model: the model name (default ``REWARDLAB_LLM_MODEL``; ``"rewardlab-scripted"`` in
            ``offline`` and, when none is set, in ``replay``).
        api_key: sent as ``Authorization: Bearer ...`` (default ``OPENAI_API_KEY``; none is sent when unset).
        mode: ``live``, ``replay``, ``auto`` or ``offline`` (default ``REWARDLAB_LLM_MODE``, else ``auto``).
        cache_dir: the request cache's folder; required by ``replay``; without it nothing is cached.
        script: ``offline`` only: the scripted server's script (default ``"mountaincar"``).
        timeout: read (and write) timeout of one attempt, seconds.
        connect_timeout: connect timeout of one attempt, seconds.
        deadline: the most seconds one :meth:`chat` may take, retries and waits included.
        max_attempts: HTTP attempts per request, first one included.
        concurrency: the most requests in flight at once (across threads).
        transport: an ``httpx`` transport to use instead of the network (tests).
        sleep: the function that waits between attempts (tests pass one that records).

    Raises:
        InvalidParameter: an unknown mode, a missing base URL or model, a bad limit.
        MissingExtraError: httpx is not installed (``pip install "rewardlab[llm]"``).

    Example:
        >>> import tempfile
        >>> cache = tempfile.mkdtemp()
        >>> msgs = [{"role": "user", "content": "Write a reward for Sparse-MountainCar."}]
        >>> with LLMClient(mode="offline", cache_dir=cache) as client:   # a scripted server on 127.0.0.1
        ...     answers = client.chat_many(msgs, k=2)
        ...     client.requests_sent
        2
        >>> [a.text.splitlines()[0] for a in answers]
        ['# scripted candidate (not written by a model): good', '# scripted candidate (not written by a model): weak']
        >>> with LLMClient(mode="replay", cache_dir=cache) as replay:      # no server, no network
        ...     again = replay.chat_many(msgs, k=2)
        ...     replay.requests_sent, [a.text for a in again] == [a.text for a in answers], again[0].cached
        (0, True, True)
    """

    def __init__(
        self,
        base_url: str | None = None,
        model: str | None = None,
        api_key: str | None = None,
        *,
        mode: str | None = None,
        cache_dir: str | os.PathLike[str] | None = None,
        script: Any = None,
        timeout: float = 120.0,
        connect_timeout: float = 5.0,
        deadline: float = 600.0,
        max_attempts: int = 5,
        concurrency: int = 2,
        transport: Any = None,
        sleep: Callable[[float], None] = time.sleep,
    ):
        mode = mode if mode is not None else os.environ.get("REWARDLAB_LLM_MODE") or "auto"
        if mode not in MODES:
            raise InvalidParameter(f"`mode` must be one of {list(MODES)}; received {mode!r}.{did_you_mean(mode, MODES)}")
        # Each limit below bounds how long a failing server can hold up a search.
        for name, value in (("timeout", timeout), ("connect_timeout", connect_timeout), ("deadline", deadline)):
            if not isinstance(value, (int, float)) or not value > 0:
                raise InvalidParameter(f"`{name}` must be a positive number of seconds; received {value!r}")
        for name, value in (("max_attempts", max_attempts), ("concurrency", concurrency)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InvalidParameter(f"`{name}` must be an int >= 1; received {value!r}")
        if mode == "replay" and cache_dir is None:
            raise InvalidParameter("`mode='replay'` answers from the cache only and needs `cache_dir`")
        if mode != "offline" and script is not None:
            raise InvalidParameter(f"`script` is for mode='offline' only; received mode={mode!r}")
        self.mode = mode
        self.cache = RequestCache(cache_dir) if cache_dir is not None else None
        self.timeout, self.connect_timeout, self.deadline = float(timeout), float(connect_timeout), float(deadline)
        self.max_attempts, self.concurrency = max_attempts, concurrency
        self.requests_sent = 0
        self.server = None  # the in-process ScriptedServer of offline mode
        self._sleep = sleep
        self._transport = transport
        self._http: Any = None
        self._lock = threading.Lock()
        self._slots = threading.BoundedSemaphore(concurrency)
        self._rng = random.Random()
        self.api_key = api_key if api_key is not None else os.environ.get("OPENAI_API_KEY") or None

        if mode == "offline":
            if base_url is not None:
                raise InvalidParameter("mode='offline' starts its own scripted server; pass mode='live' to use `base_url`")
            # Scripted answers are recorded under the scripted model's name only, so a cache can
            # never hand them out later as a real model's answers.
            if model not in (None, _SCRIPTED_MODEL):
                raise InvalidParameter(f"mode='offline' answers as model {_SCRIPTED_MODEL!r} only; received model={model!r}")
            from rewardlab.shaping.llm.server import ScriptedServer

            self.server = ScriptedServer("mountaincar" if script is None else script).start()
            self.base_url, self.model = self.server.url, _SCRIPTED_MODEL
        else:
            self.base_url = (base_url or os.environ.get("REWARDLAB_LLM_BASE_URL") or "").rstrip("/") or None
            self.model = model or os.environ.get("REWARDLAB_LLM_MODEL") or (_SCRIPTED_MODEL if mode == "replay" else None)
            if self.model is None:
                raise InvalidParameter(f"mode={mode!r} needs a model: pass `model` or set REWARDLAB_LLM_MODEL")
            if mode in ("live", "auto") and self.base_url is None:
                raise InvalidParameter(
                    f"mode={mode!r} needs a server: pass `base_url` or set REWARDLAB_LLM_BASE_URL "
                    "(e.g. https://api.openai.com/v1, http://localhost:8000/v1 for vLLM, "
                    "http://localhost:11434/v1 for Ollama, http://localhost:8080/v1 for llama.cpp)"
                )

    # -- public API ------------------------------------------------------------------------------------
    def chat(
        self,
        messages: Sequence[Mapping[str, str]],
        *,
        temperature: float = 1.0,
        max_tokens: int = 1024,
        seed: int | None = None,
        stop: str | list[str] | None = None,
        top_p: float | None = None,
        sample_index: int = 0,
    ) -> ChatResult:
        """One chat completion (from the cache or the server, as the mode says).

        Args:
            messages: ``[{"role": "system"|"user"|"assistant", "content": str}, ...]``.
            temperature: sampling temperature.
            max_tokens: the most tokens to generate.
            seed: sampling seed (servers may ignore it; the cache key includes it).
            stop: stop sequence(s).
            top_p: nucleus sampling mass (not sent when None).
            sample_index: which of several samples of one prompt this is (part of the cache key).

        Raises:
            CacheMiss: ``replay`` mode and no cached answer (the message names the key).
            LLMBackendError: the server failed on every attempt, or answered a 4xx other than 429.
            InvalidParameter: malformed `messages` or parameters.
        """
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            raise InvalidParameter(f"`max_tokens` must be an int >= 1; received {max_tokens!r}")
        if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
            raise InvalidParameter(f"`seed` must be an int or None; received {seed!r}")
        request = {
            "model": self.model,
            "messages": _check_messages(messages),
            "temperature": float(temperature),
            "top_p": None if top_p is None else float(top_p),
            "max_tokens": max_tokens,
            "stop": stop,
            "seed": seed,
            "sample_index": int(sample_index),
        }
        key = request_key(request)
        if self.cache is not None and self.mode in ("replay", "auto"):
            record = self.cache.get(key)
            if record is not None:
                return ChatResult(
                    text=record["text"],
                    finish_reason=record["finish_reason"],
                    usage=dict(record["usage"]),
                    model=record["model"],
                    key=key,
                    cached=True,
                    system_fingerprint=record.get("system_fingerprint"),
                    request=request,
                )
        if self.mode == "replay":
            where = self.cache.path(key) if self.cache is not None else key
            raise CacheMiss(
                f"replay mode: no cached answer for key {key} (expected at {where}; model={self.model!r}, "
                f"seed={seed}, sample_index={sample_index}); record it first in mode 'live', 'auto' or 'offline'"
            )
        text, finish, usage, model, fingerprint, attempts = self._post(request)
        result = ChatResult(text, finish, usage, model or self.model, key, False, attempts, fingerprint, request)
        if self.cache is not None:
            self.cache.put(
                key,
                {
                    "request": request,
                    "text": text,
                    "finish_reason": finish,
                    "usage": usage,
                    "model": result.model,
                    "system_fingerprint": fingerprint,
                    "created": int(time.time()),
                },
            )
        return result

    def chat_many(self, messages: Sequence[Mapping[str, str]], k: int, *, base_seed: int = 0, **kw: Any) -> list[ChatResult]:
        """`k` samples of one prompt: requests with seeds ``base_seed + i`` and ``sample_index = i``, in order.

        They run concurrently, at most ``concurrency`` at a time. Other keywords go to :meth:`chat`.

        Raises:
            InvalidParameter: `k` < 1, or `seed` / `sample_index` given (they are set per sample).
        """
        if not isinstance(k, int) or isinstance(k, bool) or k < 1:
            raise InvalidParameter(f"`k` must be an int >= 1; received {k!r}")
        if "seed" in kw or "sample_index" in kw:
            raise InvalidParameter("chat_many sets `seed` and `sample_index` per sample; pass `base_seed` instead")
        messages = _check_messages(messages)
        if k == 1:
            return [self.chat(messages, seed=base_seed, sample_index=0, **kw)]
        with ThreadPoolExecutor(max_workers=min(k, self.concurrency), thread_name_prefix="rewardlab-llm") as pool:
            futures = [pool.submit(self.chat, messages, seed=base_seed + i, sample_index=i, **kw) for i in range(k)]
            return [f.result() for f in futures]

    def close(self) -> None:
        """Close the HTTP connections and stop the offline server (idempotent)."""
        if self._http is not None:
            self._http.close()
            self._http = None
        if self.server is not None:
            self.server.stop()
            self.server = None

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"LLMClient(mode={self.mode!r}, model={self.model!r}, base_url={self.base_url!r}, cache={self.cache!r})"

    # -- HTTP ------------------------------------------------------------------------------------------
    def _client(self) -> Any:
        with self._lock:
            if self._http is None:
                try:
                    import httpx
                except ImportError as e:
                    raise MissingExtraError("the LLM client", "llm", e) from e
                headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
                self._http = httpx.Client(
                    base_url=self.base_url or "",
                    headers=headers,
                    timeout=httpx.Timeout(self.timeout, connect=self.connect_timeout),
                    limits=httpx.Limits(max_connections=self.concurrency),
                    transport=self._transport,
                )
            return self._http

    def _post(self, request: dict[str, Any]) -> tuple[str, str, dict[str, Any], str | None, str | None, int]:
        import httpx

        body = {k: request[k] for k in ("model", "messages", "temperature", "max_tokens")}
        body.update({k: request[k] for k in ("top_p", "stop", "seed") if request[k] is not None})
        body["stream"] = False
        http = self._client()
        start = time.monotonic()
        malformed = 0
        for attempt in range(self.max_attempts):
            remaining = self.deadline - (time.monotonic() - start)
            retry_after = None
            try:
                with self._slots:
                    with self._lock:
                        self.requests_sent += 1
                    # The last attempt gets only what is left of the whole-call deadline.
                    timeout = httpx.Timeout(min(self.timeout, remaining), connect=min(self.connect_timeout, remaining))
                    resp = http.post("/chat/completions", json=body, timeout=timeout)
            except httpx.TimeoutException as e:
                reason = f"timed out ({type(e).__name__})"
            except httpx.TransportError as e:
                reason = f"connection failed ({type(e).__name__}: {e})"
            else:
                if resp.status_code == 200:
                    try:
                        return (*_parse(resp.content), attempt + 1)
                    except _Malformed as e:
                        malformed += 1
                        if malformed > _MAX_MALFORMED_RETRIES:
                            raise LLMBackendError(f"{self.base_url}: {e} ({malformed} malformed answers in a row)") from None
                        reason = str(e)
                elif resp.status_code == 429 or resp.status_code >= 500:
                    reason = f"HTTP {resp.status_code}: {_error_message(resp)}"
                    retry_after = _retry_after(resp.headers)
                else:  # any other status will not change by asking again
                    raise LLMBackendError(
                        f"{self.base_url}/chat/completions answered HTTP {resp.status_code} (not retried): {_error_message(resp)}"
                    )
            if attempt + 1 == self.max_attempts:
                raise LLMBackendError(f"{self.base_url}/chat/completions failed after {self.max_attempts} attempts; last: {reason}")
            wait = retry_after if retry_after is not None else backoff_delay(attempt, self._rng)
            if time.monotonic() - start + wait >= self.deadline:
                raise LLMBackendError(
                    f"{self.base_url}/chat/completions: the {self.deadline:g} s deadline would pass before attempt "
                    f"{attempt + 2} (wait {wait:.2f} s); last: {reason}"
                )
            log.warning("LLM request attempt %d failed (%s); retrying in %.2f s", attempt + 1, reason, wait)
            self._sleep(wait)
        raise AssertionError("unreachable")  # the loop returns or raises


def _error_message(resp: Any) -> str:
    """The server's error message (OpenAI's ``{"error": {"message": ...}}``), else the body's start."""
    try:
        data = resp.json()
        msg = data["error"]["message"] if isinstance(data.get("error"), dict) else data.get("error") or data.get("detail")
        if msg:
            return str(msg)[:300]
    except Exception:  # any body that is not OpenAI's error shape: show its start instead
        pass
    return resp.text[:300]
