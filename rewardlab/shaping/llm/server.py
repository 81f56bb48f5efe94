"""A scripted OpenAI-compatible chat server on loopback: tests, examples and CI talk to it over real sockets.

Classes: :class:`ScriptedServer`, :class:`Script`, :class:`Candidate`, :class:`AnnotationRules`.
Functions: :func:`load_script`, :func:`known_scripts`.

Its answers are scripted, not written by a model, and say so: ``model`` is ``"rewardlab-scripted"``,
``system_fingerprint`` is ``"scripted"``, and every answer's text starts with
``# scripted candidate (not written by a model): <name>``.

Endpoints: ``GET /v1/models`` and ``POST /v1/chat/completions`` (non-streaming), answering with
``choices[0].message.content``, ``finish_reason`` and ``usage``. Token counts are rough on purpose:
whitespace-separated words (no tokenizer is shipped); an answer longer than ``max_tokens`` such
words is cut there with ``finish_reason = "length"``.

Which candidate answers (a script is a list of named candidates, see ``scripts/*.yaml``):

- ``#candidate:<name>`` in any message picks that candidate;
- else the request's ``seed`` picks ``candidates[seed % len(candidates)]``;
- else ``int(sha256(canonical JSON of messages)[:8], 16) % len(candidates)`` (never Python's
  salted ``hash()``, so the choice is the same in every process);
- the candidate's ``fixed:`` version is returned instead when the last user message carries a
  traceback or a gate rejection (it contains ``Traceback``, ``Rejected``, ``rejected``,
  ``[static:``, ``[dry_run:`` or ``[runtime:``), so a multi-round search sees feedback work.

Annotation prompts (ONI's event labels, :mod:`rewardlab.shaping.llm.annotation`): a script with an
``annotate:`` section (see ``scripts/gridhack_events.yaml``) answers a prompt that lists events in
the annotator's format (numbered JSON strings) with one ``<number>: <label>`` line per event, from
keyword rules: the first rule whose regular expression matches the event (case-insensitive) gives
its label, else the ``default``. Such an answer starts with
``# scripted annotation (not written by a model): <script> keyword rules``. A script's
``latency_s`` delays every chat answer by that many seconds (a slow model, for benchmarks).

Faults, for testing clients: ``server.inject(["429", "500"])`` queues one fault for each of the next
requests, and a marker ``#fault:<fault>`` in any message applies that fault to every request that
carries it. A fault is one of

- ``429``, ``500``, ``503`` or any other status code, optionally with ``:retry-after=S`` or
  ``:retry-after-ms=MS`` (sent as the ``Retry-After`` / ``retry-after-ms`` header), e.g. ``429:retry-after=2``;
- ``slow=S``: sleep S seconds, then answer normally;
- ``malformed``: a 200 whose body is truncated JSON; ``no_choices``: a 200 with ``"choices": []``;
  ``bad_content``: a 200 whose ``message.content`` is null.

Only loopback addresses are served: the server is a test stand-in and never listens beyond the machine.
The standard library's ``ThreadingHTTPServer`` is enough for this (a few requests a second, one
thread each), so no web framework is added as a dependency.
"""

from __future__ import annotations

import hashlib
import importlib.resources
import ipaddress
import json
import os
import re
import threading
import time
from collections import deque
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from rewardlab.errors import ConfigError, InvalidParameter, did_you_mean

__all__ = [
    "ScriptedServer", "Script", "Candidate", "AnnotationRules", "load_script", "known_scripts", "SCRIPTED_MODEL", "HEADER",
    "ANNOTATION_HEADER",
]

#: The model name every scripted answer carries.
SCRIPTED_MODEL = "rewardlab-scripted"
#: The first line of every scripted answer (followed by the candidate's name).
HEADER = "# scripted candidate (not written by a model): "
#: The first line of every scripted annotation answer (followed by the script's name and "keyword rules").
ANNOTATION_HEADER = "# scripted annotation (not written by a model): "

_FEEDBACK_SIGNS = ("Traceback", "Rejected", "rejected", "[static:", "[dry_run:", "[runtime:")
_FAULT_MARKER = re.compile(r"#fault:([A-Za-z0-9_.=:-]+)")
_CANDIDATE_MARKER = re.compile(r"#candidate:([A-Za-z0-9_.-]+)")
_CANDIDATE_KEYS = {"name", "prose", "code", "text", "after", "fixed", "fixed_prose"}
_SCRIPT_KEYS = {"name", "env_id", "about", "candidates", "annotate", "latency_s"}
_ANNOTATE_KEYS = {"default", "rules"}
_RULE_KEYS = {"match", "label", "why"}


def _check_keys(d: Mapping[str, Any], allowed: Iterable[str], source: str, prefix: str = "") -> None:
    """A ConfigError naming the first key of a script mapping that is not in `allowed`."""
    unknown = sorted(set(d) - set(allowed))
    if unknown:
        k = unknown[0]
        raise ConfigError(f"script {source}: unknown key `{prefix}{k}` (allowed: {sorted(allowed)}).{did_you_mean(k, allowed)}")


@dataclass(frozen=True)
class Candidate:
    """One scripted answer: prose, a ```python block with `code` (or a raw `text`), and an optional fixed code."""

    name: str
    code: str | None = None
    prose: str = "Here is a reward function for the task."
    after: str = ""
    text: str | None = None
    fixed: str | None = None
    fixed_prose: str = "Thanks for the feedback; here is a corrected version."

    def answer(self, fixed: bool = False) -> str:
        """The full answer text, as a chat model would write it (`fixed`: the revision, when there is one)."""
        if fixed and self.fixed is not None:
            return _compose(f"{self.name} (fixed after feedback)", self.fixed_prose, self.fixed, "")
        if self.text is not None:
            return f"{HEADER}{self.name}\n{self.text.rstrip()}\n"
        return _compose(self.name, self.prose, self.code or "", self.after)


def _compose(title: str, prose: str, code: str, after: str) -> str:
    body = f"{HEADER}{title}\n{prose.strip()}\n\n```python\n{code.rstrip()}\n```\n"
    return body + (f"\n{after.strip()}\n" if after.strip() else "")


@dataclass(frozen=True)
class AnnotationRules:
    """Keyword rules that label events: the first ``(regex, label)`` that matches (case-insensitive) wins, else `default`.

    Example:
        >>> rules = AnnotationRules(((r"\\bkey\\b", 1, "a key"), (r"nothing", 0, "")), default=0)
        >>> rules.label("f - a key."), rules.label("You see nothing here."), rules.label("WHAMM!!")
        (1, 0, 0)
    """

    rules: tuple[tuple[str, int, str], ...]
    default: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "_compiled", tuple(re.compile(p, re.IGNORECASE) for p, _, _ in self.rules))

    def label(self, event: str) -> int:
        """The label of one event text."""
        for pattern, (_, label, _) in zip(self._compiled, self.rules):  # type: ignore[attr-defined]
            if pattern.search(event):
                return label
        return self.default

    @classmethod
    def from_dict(cls, d: Any, source: str) -> AnnotationRules:
        if not isinstance(d, Mapping):
            raise ConfigError(f"script {source}: `annotate` must be a mapping with `rules` (and optional `default`)")
        _check_keys(d, _ANNOTATE_KEYS, source, "annotate.")
        default = d.get("default", 0)
        if default not in (0, 1) or isinstance(default, bool):
            raise ConfigError(f"script {source}: `annotate.default` must be 0 or 1; received {default!r}")
        raw = d.get("rules")
        if not isinstance(raw, list) or not raw:
            raise ConfigError(f"script {source}: `annotate.rules` must be a non-empty list of {{match, label}} mappings")
        rules = []
        for i, r in enumerate(raw):
            if not isinstance(r, Mapping) or not isinstance(r.get("match"), str) or r.get("label") not in (0, 1):
                raise ConfigError(f"script {source}: annotate.rules[{i}] needs a string `match` (a regular expression) and a `label` 0 or 1; received {r!r}")
            unknown = set(r) - _RULE_KEYS
            if unknown:
                k = sorted(unknown)[0]
                raise ConfigError(f"script {source}: annotate.rules[{i}] has unknown key `{k}` (allowed: {sorted(_RULE_KEYS)}).{did_you_mean(k, _RULE_KEYS)}")
            try:
                re.compile(r["match"])
            except re.error as e:
                raise ConfigError(f"script {source}: annotate.rules[{i}].match {r['match']!r} is not a valid regular expression: {e}") from e
            rules.append((r["match"], int(r["label"]), str(r.get("why", ""))))
        return cls(tuple(rules), int(default))


@dataclass(frozen=True)
class Script:
    """A named list of candidates (see ``scripts/mountaincar.yaml``) and/or annotation rules (``scripts/gridhack_events.yaml``)."""

    name: str
    candidates: tuple[Candidate, ...]
    env_id: str | None = None
    about: str = ""
    annotate: AnnotationRules | None = None
    latency_s: float = 0.0

    def names(self) -> list[str]:
        return [c.name for c in self.candidates]

    @classmethod
    def from_dict(cls, d: Mapping[str, Any], source: str = "<dict>") -> Script:
        """Build a script from its YAML form; an unknown key or a missing field is a ConfigError naming it."""
        if not isinstance(d, Mapping):
            raise ConfigError(f"script {source}: expected a mapping with `candidates`, got {type(d).__name__}")
        _check_keys(d, _SCRIPT_KEYS, source)
        annotate = AnnotationRules.from_dict(d["annotate"], source) if d.get("annotate") is not None else None
        latency = d.get("latency_s", 0.0)
        # A negative or non-numeric delay would make every answer fail in the handler thread instead.
        if isinstance(latency, bool) or not isinstance(latency, (int, float)) or not 0 <= latency <= 600:
            raise ConfigError(f"script {source}: `latency_s` must be a number of seconds in [0, 600]; received {latency!r}")
        raw = d.get("candidates")
        if annotate is not None and raw is None:
            raw = []  # an annotation-only script
        elif not isinstance(raw, list) or not raw:
            raise ConfigError(f"script {source}: `candidates` must be a non-empty list (or give `annotate` rules)")
        cands: list[Candidate] = []
        for i, c in enumerate(raw):
            if not isinstance(c, Mapping) or not isinstance(c.get("name"), str):
                raise ConfigError(f"script {source}: candidates[{i}] needs a string `name`")
            unknown = set(c) - _CANDIDATE_KEYS
            if unknown:
                k = sorted(unknown)[0]
                raise ConfigError(
                    f"script {source}: candidate `{c['name']}` has unknown key `{k}` "
                    f"(allowed: {sorted(_CANDIDATE_KEYS)}).{did_you_mean(k, _CANDIDATE_KEYS)}"
                )
            # Exactly one of them: a candidate is either a fenced code answer or a raw text answer.
            if (c.get("code") is None) == (c.get("text") is None):
                raise ConfigError(f"script {source}: candidate `{c['name']}` needs exactly one of `code` or `text`")
            bad = [k for k in c if not isinstance(c[k], str)]
            if bad:
                raise ConfigError(f"script {source}: candidate `{c['name']}` field `{bad[0]}` must be a string")
            cands.append(Candidate(**dict(c)))
        names = [c.name for c in cands]
        dup = sorted({n for n in names if names.count(n) > 1})
        if dup:
            raise ConfigError(f"script {source}: candidate names must be unique; repeated: {dup}")
        return cls(str(d.get("name", source)), tuple(cands), d.get("env_id"), str(d.get("about", "")), annotate, float(latency))


def _script_dir() -> Any:
    return importlib.resources.files("rewardlab.shaping.llm") / "scripts"


def known_scripts() -> list[str]:
    """Names of the scripts shipped with rewardlab (``rewardlab/shaping/llm/scripts/<name>.yaml``)."""
    return sorted(p.name[: -len(".yaml")] for p in _script_dir().iterdir() if p.name.endswith(".yaml"))


def load_script(script: str | os.PathLike[str] | Mapping[str, Any] | Script) -> Script:
    """A shipped script by name (``"mountaincar"``), a YAML file by path, a dict, or a :class:`Script`.

    Raises:
        ConfigError: an unknown name (the message lists the known ones), or an invalid script.

    Example:
        >>> load_script("mountaincar").names()
        ['good', 'weak', 'syntax_error', 'wrong_signature', 'import', 'loop', 'nan']
    """
    import yaml

    if isinstance(script, Script):
        return script
    if isinstance(script, Mapping):
        return Script.from_dict(script)
    text = os.fspath(script)
    path = Path(text)
    if path.suffix in (".yaml", ".yml") or path.exists() or os.sep in text:
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except OSError as e:
            raise ConfigError(f"cannot read the script file {path}: {e}") from e
        except yaml.YAMLError as e:
            raise ConfigError(f"the script file {path} is not valid YAML: {e}") from e
        return Script.from_dict(data, str(path))
    known = known_scripts()
    if text not in known:
        raise ConfigError(f"unknown script `{text}`; known scripts: {known} (or give a path to a .yaml file).{did_you_mean(text, known)}")
    data = yaml.safe_load((_script_dir() / f"{text}.yaml").read_text(encoding="utf-8"))
    return Script.from_dict(data, text)


def _check_loopback(host: str) -> str:
    # The scripted server answers anyone who connects; serving beyond this machine is never wanted.
    if host == "localhost":
        return "127.0.0.1"
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        raise InvalidParameter(f"`host` must be a loopback IPv4 address such as 127.0.0.1; received {host!r}") from None
    if ip.version != 4 or not ip.is_loopback:
        raise InvalidParameter(
            f"`host` must be a loopback IPv4 address (127.x.x.x); received {host!r}. "
            "The scripted server is a test stand-in and never serves beyond this machine."
        )
    return host


def _words(text: str) -> int:
    return len(text.split())


def _truncate(text: str, max_words: int) -> str:
    """`text` cut after its first `max_words` whitespace-separated words (layout kept)."""
    matches = list(re.finditer(r"\S+", text))
    return text[: matches[max_words - 1].end()] if max_words > 0 else ""


def _parse_fault(fault: str) -> tuple[str, Any]:
    """("status", (code, headers)) | ("slow", seconds) | ("malformed"|"no_choices"|"bad_content", None)."""
    if fault in ("malformed", "no_choices", "bad_content"):
        return fault, None
    if fault.startswith("slow="):
        try:
            return "slow", float(fault[len("slow=") :])
        except ValueError:
            pass
    head, _, opt = fault.partition(":")
    if head.isdigit() and 100 <= int(head) <= 599:
        headers: dict[str, str] = {}
        if opt:
            name, _, value = opt.partition("=")
            if name not in ("retry-after", "retry-after-ms") or not value:
                raise InvalidParameter(f"fault {fault!r}: the option after the status must be retry-after=S or retry-after-ms=MS")
            headers["Retry-After" if name == "retry-after" else "retry-after-ms"] = value
        return "status", (int(head), headers)
    raise InvalidParameter(
        f"unknown fault {fault!r}; use a status code (429, 500, 429:retry-after=2, 503:retry-after-ms=150), "
        "slow=SECONDS, malformed, no_choices or bad_content"
    )


class ScriptedServer:
    """An OpenAI-compatible chat server on 127.0.0.1 that answers from a script (see the module docstring).

    Args:
        script: a shipped script name (``"mountaincar"``), a YAML path, a dict or a :class:`Script`.
        host: a loopback IPv4 address (anything else is refused).
        port: the port; 0 picks a free one (read it from :attr:`url` after :meth:`start`).
        quiet: do not print one line per request to stderr.

    Attributes:
        url: ``http://127.0.0.1:PORT/v1`` once started.
        requests: HTTP requests received (every path, faults included).
        log: one dict per chat request: ``seed``, ``candidate``, ``fixed``, ``fault``, ``authorization``, ``model``
            (and ``events``, the texts of an annotation request).
        max_in_flight: the most chat requests handled at the same time.

    Raises:
        InvalidParameter: a non-loopback `host`.
        ConfigError: an unknown script name or an invalid script.

    Example:
        >>> import httpx
        >>> with ScriptedServer("mountaincar") as server:
        ...     body = {"model": "any", "messages": [{"role": "user", "content": "Write a reward."}], "seed": 0}
        ...     answer = httpx.post(server.url + "/chat/completions", json=body).json()
        >>> answer["model"], answer["choices"][0]["finish_reason"]
        ('rewardlab-scripted', 'stop')
        >>> answer["choices"][0]["message"]["content"].splitlines()[0]
        '# scripted candidate (not written by a model): good'
        >>> server.requests
        1
    """

    def __init__(
        self,
        script: str | os.PathLike[str] | Mapping[str, Any] | Script = "mountaincar",
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        quiet: bool = True,
    ):
        self.host = _check_loopback(host)
        if not isinstance(port, int) or not 0 <= port <= 65535:
            raise InvalidParameter(f"`port` must be an int in [0, 65535]; received {port!r}")
        self.port = port
        self.script = load_script(script)
        self.quiet = quiet
        self.requests = 0
        self.log: list[dict[str, Any]] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._faults: deque[str] = deque()
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise InvalidParameter("the server has no URL before start()")
        return f"http://{self.host}:{self._httpd.server_address[1]}/v1"

    def inject(self, faults: Iterable[str]) -> None:
        """Queue faults, one for each of the next chat requests (checked now: an unknown fault raises InvalidParameter)."""
        faults = list(faults)
        for f in faults:
            _parse_fault(f)
        with self._lock:
            self._faults.extend(faults)

    # -- lifecycle -------------------------------------------------------------------------------------
    def bind(self) -> ScriptedServer:
        """Open the listening socket (without serving yet); :attr:`url` is known from here on."""
        if self._httpd is None:
            self._httpd = ThreadingHTTPServer((self.host, self.port), _make_handler(self))
            self._httpd.daemon_threads = True
        return self

    def start(self) -> ScriptedServer:
        """Serve in a daemon thread; returns self."""
        self.bind()
        if self._thread is None:
            assert self._httpd is not None
            self._thread = threading.Thread(target=self._httpd.serve_forever, name="rewardlab-scripted-llm", daemon=True)
            self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent)."""
        httpd, self._httpd = self._httpd, None
        if httpd is not None:
            if self._thread is not None:  # shutdown() would wait forever on a server that never served
                httpd.shutdown()
            httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> ScriptedServer:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.url if self._httpd is not None else "not started"
        return f"ScriptedServer({self.script.name!r}, {where})"

    # -- answering -------------------------------------------------------------------------------------
    def choose(self, messages: list[Mapping[str, Any]], seed: int | None) -> tuple[Candidate, bool]:
        """The candidate that answers `messages` with `seed`, and whether its fixed version is used."""
        texts = [m.get("content") if isinstance(m.get("content"), str) else "" for m in messages]
        cands = self.script.candidates
        by_name = {c.name: c for c in cands}
        named = [m for t in texts for m in _CANDIDATE_MARKER.findall(t)]
        if named:
            if named[-1] not in by_name:
                raise InvalidParameter(f"#candidate:{named[-1]} names no candidate of script `{self.script.name}`: {list(by_name)}")
            cand = by_name[named[-1]]
        elif seed is not None:
            cand = cands[seed % len(cands)]
        else:
            digest = hashlib.sha256(json.dumps(messages, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8"))
            cand = cands[int(digest.hexdigest()[:8], 16) % len(cands)]
        users = [m for m in messages if m.get("role") == "user" and isinstance(m.get("content"), str)]
        feedback = bool(users) and any(s in users[-1]["content"] for s in _FEEDBACK_SIGNS)
        return cand, feedback and cand.fixed is not None

    def _next_fault(self, messages: list[Mapping[str, Any]]) -> str | None:
        with self._lock:
            if self._faults:
                return self._faults.popleft()
        for m in messages:
            content = m.get("content")
            if isinstance(content, str):
                found = _FAULT_MARKER.findall(content)
                if found:
                    return found[0]
        return None

    def completion(self, body: Mapping[str, Any], fault: str | None = None) -> tuple[dict[str, Any], dict[str, Any]]:
        """The JSON answer to a valid request `body`, and the log entry describing it."""
        messages = body["messages"]
        seed = body.get("seed")
        events = self._annotation_events(messages)
        if events is not None:
            text, name, fixed = self.annotation_answer(events), "annotation", False
        elif self.script.candidates:
            cand, fixed = self.choose(messages, seed)
            text, name = cand.answer(fixed), cand.name
        else:  # an annotation-only script asked for something else
            text, name, fixed = f"{ANNOTATION_HEADER}{self.script.name} only answers annotation prompts.\n", "none", False
        finish = "stop"
        max_tokens = body.get("max_tokens")
        if isinstance(max_tokens, int) and _words(text) > max_tokens:
            text, finish = _truncate(text, max_tokens), "length"
        prompt_tokens = sum(_words(m["content"]) for m in messages if isinstance(m.get("content"), str))
        completion_tokens = _words(text)
        rid = hashlib.sha256(text.encode("utf-8")).hexdigest()[:24]
        answer = {
            "id": f"chatcmpl-scripted-{rid}",
            "object": "chat.completion",
            "created": int(time.time()),
            "model": SCRIPTED_MODEL,
            "system_fingerprint": "scripted",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish, "logprobs": None}],
            "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens, "total_tokens": prompt_tokens + completion_tokens},
        }
        entry = {"seed": seed, "candidate": name, "fixed": fixed, "fault": fault, "model": body.get("model")}
        if events is not None:
            entry["events"] = list(events)
        return answer, entry

    def _annotation_events(self, messages: list[Mapping[str, Any]]) -> list[str] | None:
        """The events an annotation prompt lists (its last user message), or None when this is no annotation request."""
        if self.script.annotate is None:
            return None
        from rewardlab.shaping.llm.annotation import prompt_events  # the annotator owns the prompt format

        users = [m["content"] for m in messages if m.get("role") == "user" and isinstance(m.get("content"), str)]
        return prompt_events(users[-1]) if users else None

    def annotation_answer(self, events: list[str]) -> str:
        """The scripted answer to an annotation prompt: a header line, then ``<i>: <label>`` per event (1-based)."""
        assert self.script.annotate is not None
        lines = [f"{ANNOTATION_HEADER}{self.script.name} keyword rules"]
        lines += [f"{i}: {self.script.annotate.label(e)}" for i, e in enumerate(events, 1)]
        return "\n".join(lines) + "\n"


def _error_body(status: int, message: str, kind: str) -> bytes:
    return json.dumps({"error": {"message": message, "type": kind, "code": status}}).encode("utf-8")


def _make_handler(server: ScriptedServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as real OpenAI-compatible servers
        server_version = "rewardlab-scripted-llm"
        timeout = 60  # an idle keep-alive connection frees its thread after a minute
        # Headers and body go out in two writes; with Nagle's algorithm on, the body then waits for the
        # client's delayed ACK (~40 ms per answer on Linux), which dwarfed the scripted work itself.
        disable_nagle_algorithm = True

        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the base class's name)
            if not server.quiet:
                super().log_message(format, *args)

        def _send(self, status: int, payload: bytes, headers: Mapping[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.end_headers()
            self.wfile.write(payload)

        def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
            with server._lock:
                server.requests += 1
            if self.path.rstrip("/") == "/v1/models":
                data = {"object": "list", "data": [{"id": SCRIPTED_MODEL, "object": "model", "created": 0, "owned_by": "rewardlab (scripted)"}]}
                self._send(200, json.dumps(data).encode("utf-8"))
            else:
                self._send(404, _error_body(404, f"no such path {self.path}; this scripted server has /v1/models and /v1/chat/completions", "not_found"))

        def do_POST(self) -> None:  # noqa: N802
            with server._lock:
                server.requests += 1
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            if self.path.rstrip("/") != "/v1/chat/completions":
                self._send(404, _error_body(404, f"no such path {self.path}; POST /v1/chat/completions", "not_found"))
                return
            try:
                body = json.loads(raw.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError) as e:
                self._send(400, _error_body(400, f"the request body is not JSON: {e}", "invalid_request_error"))
                return
            problem = _request_problem(body)
            if problem:
                self._send(400, _error_body(400, problem, "invalid_request_error"))
                return
            with server._lock:
                server.in_flight += 1
                server.max_in_flight = max(server.max_in_flight, server.in_flight)
            try:
                self._answer(body)
            finally:
                with server._lock:
                    server.in_flight -= 1

        def _answer(self, body: dict[str, Any]) -> None:
            fault = server._next_fault(body["messages"])
            try:
                answer, entry = server.completion(body, fault)
            except InvalidParameter as e:
                self._send(400, _error_body(400, str(e), "invalid_request_error"))
                return
            entry["authorization"] = self.headers.get("Authorization")
            with server._lock:
                server.log.append(entry)
            kind, arg = _parse_fault(fault) if fault else (None, None)
            if server.script.latency_s > 0:  # the script's model is slow on every request
                time.sleep(server.script.latency_s)
            if kind == "slow":
                time.sleep(arg)
            elif kind == "status":
                status, headers = arg
                self._send(status, _error_body(status, f"scripted fault: HTTP {status}", "scripted_fault"), headers)
                return
            elif kind == "malformed":
                self._send(200, json.dumps(answer).encode("utf-8")[:40])
                return
            elif kind == "no_choices":
                answer["choices"] = []
            elif kind == "bad_content":
                answer["choices"][0]["message"]["content"] = None
            self._send(200, json.dumps(answer).encode("utf-8"))

    return Handler


def _request_problem(body: Any) -> str | None:
    """What makes `body` an invalid chat request (None when it is valid)."""
    if not isinstance(body, dict):
        return "the request body must be a JSON object"
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "`messages` must be a non-empty list"
    for i, m in enumerate(messages):
        if not isinstance(m, dict) or not isinstance(m.get("role"), str) or not isinstance(m.get("content"), str):
            return f"messages[{i}] must be an object with string `role` and `content`"
    seed = body.get("seed")
    if seed is not None and (not isinstance(seed, int) or isinstance(seed, bool)):
        return f"`seed` must be an integer; received {seed!r}"
    max_tokens = body.get("max_tokens")
    if max_tokens is not None and (not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1):
        return f"`max_tokens` must be a positive integer; received {max_tokens!r}"
    return None
