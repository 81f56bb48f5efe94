"""ONI's annotator: an LLM labels event texts as progress (1) or not (0), off the env loop.

Classes: :class:`Annotator`. Functions: :func:`render_annotation_prompt`, :func:`prompt_events`,
:func:`parse_labels`.

ONI (Zheng et al. 2024; spec llm_and_bilevel.md §C) asks an LLM whether a NetHack message is
helpful towards the goal, from a worker process that never blocks the learner, and keeps the labels
in a dict keyed by the message. This module is that worker, on rewardlab's shared
:class:`~rewardlab.shaping.llm.client.LLMClient` (modes ``offline``, ``replay``, ``auto``, ``live``):

- :meth:`Annotator.submit` queues texts and returns at once; a background thread (started on the
  first submission, so an annotator built in one process and used in another never carries a
  thread across) sends the **newest** ``batch_size`` queued texts in one chat request, as ONI's
  worker takes the newest batch of its queue;
- an **in-flight set**: a text that is queued or being asked about is never queued again before its
  answer arrives (ONI re-enqueues a message until its label comes back; check H18 asks for this fix);
- the labels live in a dict keyed by the text, saved and loaded as JSON (:meth:`Annotator.save`,
  :meth:`Annotator.load`) and through :meth:`Annotator.state_dict`;
- an answer line that cannot be parsed counts as label 0, as in ONI (``get_cls_label``); a failed
  request (the server down, a replay cache miss) is no answer: its texts leave the in-flight set and
  may be asked again after ``retry_s`` seconds (never, for a replay miss).

The prompt asks "is this event progress towards <task>?" for each listed event and wants one
``<number>: <label>`` line per event; events are numbered JSON strings, so quotes and backslashes in
a text survive. The scripted server (:mod:`~rewardlab.shaping.llm.server`, script
``gridhack_events``) answers such prompts by keyword rules and says it is scripted.
"""

from __future__ import annotations

import json
import logging
import math
import os
import re
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Any

from rewardlab._io import write_atomic
from rewardlab.errors import CacheMiss, ConfigError, InvalidParameter, LLMBackendError, StoreError, did_you_mean

__all__ = ["Annotator", "render_annotation_prompt", "prompt_events", "parse_labels", "BACKENDS", "DEFAULT_SCRIPT"]

log = logging.getLogger(__name__)

#: LLMClient modes an annotator can use.
BACKENDS = ("offline", "replay", "auto", "live")
#: The scripted server's script in ``offline`` mode unless another is given.
DEFAULT_SCRIPT = "gridhack_events"
_FORMAT = "rewardlab-annotation-labels"

SYSTEM_PROMPT = (
    "You are a helpful and honest judge of progress in a game. You read short event messages that the game "
    "showed to a player, and you decide for each whether it shows progress towards the player's task."
)
_EVENTS_HEADER = "Events (one JSON string per line):"
_EVENT_LINE = re.compile(r'^\s*(\d+)\.\s+("(?:[^"\\]|\\.)*")\s*$')
_ANSWER_LINE = re.compile(r"^\W*?(\d+)\s*[:.)\]-]\s*(.*)$")
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_LABEL_KEYED = re.compile(r"label\W*(0|1|yes|no|true|false)\b", re.IGNORECASE)
_LABEL_TOKEN = re.compile(r"(?<![\w.])(0|1|yes|no|true|false)(?![\w.])", re.IGNORECASE)
_TRUE = {"1", "yes", "true"}


def render_annotation_prompt(task: str, events: Sequence[str]) -> list[dict[str, str]]:
    """The chat messages that ask for one progress label per event.

    Args:
        task: what the player must do, in words (e.g. "pick up the key and unlock the door to the stairs").
        events: the event texts, in the order their labels must come back.

    Raises:
        InvalidParameter: an empty task or no events.

    Example:
        >>> msgs = render_annotation_prompt("reach the stairs", ["You see here a key.", 'A "quoted" one'])
        >>> print(msgs[1]["content"].split("Events")[1])
         (one JSON string per line):
        1. "You see here a key."
        2. "A \\"quoted\\" one"
        >>> prompt_events(msgs[1]["content"])
        ['You see here a key.', 'A "quoted" one']
    """
    if not isinstance(task, str) or not task.strip():
        raise InvalidParameter(f"`task` must be a non-empty description of the task; received {task!r}")
    if not events:
        raise InvalidParameter("an annotation prompt needs at least one event")
    lines = [f"{i}. {json.dumps(str(e), ensure_ascii=False)}" for i, e in enumerate(events, 1)]
    user = (
        f"The player's task: {task.strip()}\n\n"
        "For each event below, is this event progress towards the task? Answer 1 when it shows progress "
        "towards the task (for example a step the task needs, done), and 0 when it is neutral, unhelpful or harmful.\n"
        f"Reply with exactly {len(events)} lines, in the order of the events, each of the form `<number>: <label>` "
        "with <label> 1 or 0, and nothing else.\n\n"
        f"{_EVENTS_HEADER}\n" + "\n".join(lines)
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def prompt_events(text: str) -> list[str] | None:
    """The events an annotation prompt lists (as :func:`render_annotation_prompt` writes them), else None."""
    head, sep, body = text.partition(_EVENTS_HEADER)
    if not sep:
        return None
    events = []
    for line in body.strip().splitlines():
        m = _EVENT_LINE.match(line)
        if m is None or int(m.group(1)) != len(events) + 1:
            return None
        events.append(json.loads(m.group(2)))
    return events or None


def parse_labels(answer: str, n: int) -> tuple[list[int], int]:
    """Labels of `n` events from an answer, and how many could not be parsed (each of those counts as 0).

    A line ``<i>: ...`` (also ``i.``, ``i)``, ``i -``) gives event ``i``'s label: an explicit
    ``label: X`` if the line has one, else the first 0/1/yes/no/true/false token outside quoted
    text (so an echoed event such as ``"1 gold piece"`` is not read as its label). If no line is
    numbered but exactly `n` lines are bare labels, they are taken in order. The first label of an
    event wins; events without one are unparsed and get 0 (ONI: "Parse failure -> 0").

    Example:
        >>> parse_labels("# scripted\\n1: 1\\n2: 0\\n3. \\"5 gold pieces\\" -> yes", 3)
        ([1, 0, 1], 0)
        >>> parse_labels("I cannot tell.", 2)
        ([0, 0], 2)
    """
    found: dict[int, int] = {}
    bare: list[int] = []
    for line in answer.splitlines():
        m = _ANSWER_LINE.match(line)
        if m is not None and 1 <= int(m.group(1)) <= n:
            label = _label_of(m.group(2))
            if label is not None:
                found.setdefault(int(m.group(1)) - 1, label)
            continue
        stripped = line.strip().strip("`*").strip()
        if stripped.lower() in ("0", "1", "yes", "no", "true", "false"):
            bare.append(int(stripped.lower() in _TRUE))
    if not found and len(bare) == n:
        return bare, 0
    labels = [found.get(i, 0) for i in range(n)]
    return labels, n - len(found)


def _label_of(rest: str) -> int | None:
    keyed = _LABEL_KEYED.search(rest)
    if keyed:
        return int(keyed.group(1).lower() in _TRUE)
    token = _LABEL_TOKEN.search(_QUOTED.sub(" ", rest))
    return None if token is None else int(token.group(1).lower() in _TRUE)


class Annotator:
    """Labels event texts with an LLM from a background thread; a label cache keyed by the text.

    Args:
        task: the task the labels judge progress towards, in words (goes into every prompt).
        client: an :class:`~rewardlab.shaping.llm.client.LLMClient` to use (not closed by
            :meth:`close`); None builds one on first use from `backend` and the keys below.
        backend: the client's mode: ``offline`` (a scripted server in this process), ``replay``,
            ``auto`` or ``live``.
        script: ``offline`` only: the scripted server's script (default ``gridhack_events``).
        cache_dir: the client's request cache (needed by ``replay``).
        base_url, model: the server and model for ``live``/``auto`` (default: the client's env vars).
        batch_size: the most texts one request asks about (ONI's ``llm_batch_size``, default 100).
        temperature: sampling temperature (ONI: 0.1).
        retry_s: seconds before texts of a failed request may be asked again.

    Raises:
        InvalidParameter: an empty task, an unknown backend, a bad batch size; a client together with backend keys.

    Example:
        >>> ann = Annotator("pick up the key and unlock the door")          # offline: a scripted server
        >>> ann.annotate(["f - a key.", "You see no door there."])          # blocking, in this thread
        {'f - a key.': 1, 'You see no door there.': 0}
        >>> ann.submit(["The door opens.", "The door opens."]), ann.wait(timeout=30), ann.label("The door opens.")
        (1, True, 1)
        >>> ann.requests, ann.unparsed
        (2, 0)
        >>> ann.close()
    """

    def __init__(
        self,
        task: str,
        client: Any = None,
        *,
        backend: str = "offline",
        script: Any = None,
        cache_dir: str | os.PathLike[str] | None = None,
        base_url: str | None = None,
        model: str | None = None,
        batch_size: int = 100,
        temperature: float = 0.1,
        retry_s: float = 60.0,
    ):
        if not isinstance(task, str) or not task.strip():
            raise InvalidParameter(f"`task` must be a non-empty description of the task the labels judge; received {task!r}")
        if backend not in BACKENDS:
            raise InvalidParameter(f"`backend` must be one of {list(BACKENDS)}; received {backend!r}.{did_you_mean(str(backend), BACKENDS)}")
        # A batch of 0 never asks anything; a huge one outgrows any model's context.
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or not 1 <= batch_size <= 1000:
            raise InvalidParameter(f"`batch_size` must be an int in [1, 1000]; received {batch_size!r}")
        if isinstance(retry_s, bool) or not isinstance(retry_s, (int, float)) or retry_s < 0:
            raise InvalidParameter(f"`retry_s` must be a non-negative number of seconds; received {retry_s!r}")
        if backend != "offline" and script is not None:
            raise InvalidParameter(f"`script` is for backend='offline' only; received backend={backend!r}")
        if client is not None and (script is not None or cache_dir is not None or base_url is not None or model is not None):
            raise InvalidParameter("give either `client` or the keys to build one (script, cache_dir, base_url, model), not both")
        self.task = task.strip()
        self.backend, self.script, self.base_url, self.model = backend, script, base_url, model
        self.cache_dir = None if cache_dir is None else os.fspath(cache_dir)
        self.batch_size, self.temperature, self.retry_s = batch_size, float(temperature), float(retry_s)
        self.requests = 0  # chat requests answered or failed
        self.unparsed = 0  # events whose answer line could not be parsed (label 0)
        self.failures = 0  # requests that got no answer
        self.last_error: str | None = None
        self._client, self._owns_client = client, client is None
        self._labels: dict[str, int] = {}
        self._view = MappingProxyType(self._labels)
        self._init_runtime()

    def _init_runtime(self) -> None:
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._client_lock = threading.Lock()
        self._queue: list[str] = []  # submitted, not yet sent (oldest first)
        self._in_flight: set[str] = set()  # queued or being asked about
        self._failed: dict[str, float] = {}  # text -> monotonic time it may be asked again
        self._thread: threading.Thread | None = None
        self._closed = False
        self._fatal: BaseException | None = None

    # -- labels ------------------------------------------------------------------------------------------
    def label(self, text: str) -> int | None:
        """The label of `text`, or None while it has none."""
        return self._labels.get(text)

    @property
    def label_view(self) -> Mapping[str, int]:
        """A live read-only view of the labels (no copy: for lookups on every env step)."""
        return self._view

    @property
    def labels(self) -> dict[str, int]:
        """A copy of every label so far (text -> 0 or 1)."""
        with self._lock:
            return dict(self._labels)

    def __len__(self) -> int:
        return len(self._labels)

    @property
    def in_flight(self) -> set[str]:
        """A copy of the texts queued or being asked about."""
        with self._lock:
            return set(self._in_flight)

    # -- asking ------------------------------------------------------------------------------------------
    def submit(self, texts: Iterable[str]) -> int:
        """Queue the texts that have no label and are not in flight; returns how many were queued. Never blocks on the LLM.

        Raises:
            InvalidParameter: after :meth:`close`.
        """
        now = time.monotonic()
        added = 0
        with self._lock:
            if self._closed:
                raise InvalidParameter("this Annotator is closed")
            for text in texts:
                if text in self._labels or text in self._in_flight or self._failed.get(text, 0.0) > now:
                    continue
                self._in_flight.add(text)
                self._queue.append(text)
                added += 1
            if added:
                if self._thread is None:
                    self._thread = threading.Thread(target=self._run, name="rewardlab-annotator", daemon=True)
                    self._thread.start()
                self._changed.notify_all()
        return added

    def annotate(self, texts: Iterable[str]) -> dict[str, int]:
        """Labels of `texts`, asking (in this thread, blocking) about those without one; in batches of ``batch_size``.

        A text whose request fails keeps no label and is left out of the result.

        Raises:
            LLMBackendError: the annotator could not build its client (e.g. ``live`` without a server).
        """
        wanted = list(dict.fromkeys(texts))
        with self._lock:
            todo = [t for t in wanted if t not in self._labels and t not in self._in_flight]
            self._in_flight.update(todo)
        for i in range(0, len(todo), self.batch_size):
            self._ask(todo[i : i + self.batch_size])
        self.raise_if_failed()
        with self._lock:
            return {t: self._labels[t] for t in wanted if t in self._labels}

    def wait(self, timeout: float | None = None) -> bool:
        """Block until nothing is queued or in flight; False if `timeout` seconds passed first."""
        deadline = None if timeout is None else time.monotonic() + timeout
        with self._lock:
            while self._in_flight and self._fatal is None:
                left = None if deadline is None else deadline - time.monotonic()
                if left is not None and left <= 0:
                    return False
                self._changed.wait(left)
        self.raise_if_failed()
        return True

    def raise_if_failed(self) -> None:
        """Raise the error that stopped the annotator (it could not build its client), if any."""
        if self._fatal is not None:
            raise LLMBackendError(f"the annotator cannot ask the LLM: {self._fatal}") from self._fatal

    def close(self) -> None:
        """Stop the background thread and close the client this annotator built (idempotent)."""
        with self._lock:
            self._closed = True
            self._changed.notify_all()
            thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=10)
        with self._client_lock:
            if self._owns_client and self._client is not None:
                self._client.close()
                self._client = None

    def __enter__(self) -> Annotator:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _run(self) -> None:
        while True:
            with self._lock:
                while not self._queue and not self._closed:
                    self._changed.wait()
                if self._closed:
                    return
                # ONI's worker annotates the newest messages first; older backlog waits its turn.
                batch = self._queue[-self.batch_size :]
                del self._queue[-self.batch_size :]
            self._ask(batch)

    def connect(self) -> Any:
        """Build the client now (in ``offline`` mode this starts the scripted server) instead of on the first request; returns it."""
        return self._get_client()

    def _get_client(self) -> Any:
        with self._client_lock:
            if self._client is None:
                from rewardlab.shaping.llm.client import LLMClient

                script = (self.script if self.script is not None else DEFAULT_SCRIPT) if self.backend == "offline" else None
                self._client = LLMClient(self.base_url, self.model, mode=self.backend, cache_dir=self.cache_dir, script=script)
            return self._client

    def _ask(self, batch: list[str]) -> None:
        """One request about `batch` (all in flight); records the labels or the failure, then frees the batch."""
        labels: list[int] | None = None
        retry_at = time.monotonic() + self.retry_s
        try:
            client = self._get_client()
            answer = client.chat(render_annotation_prompt(self.task, batch), temperature=self.temperature,
                                 max_tokens=64 + 16 * len(batch), seed=0)
            labels, unparsed = parse_labels(answer.text, len(batch))
        except CacheMiss as e:  # replay: this batch was never recorded, and asking again will not change that
            error, retry_at = e, math.inf
        except LLMBackendError as e:
            error = e
        except Exception as e:  # noqa: BLE001  (a broken client config: stop, and say why on the next wait/update)
            error = e
            with self._lock:
                self._fatal = e
        with self._lock:
            self.requests += 1
            if labels is not None:
                self.unparsed += unparsed
                self._labels.update(zip(batch, labels))
            else:
                self.failures += 1
                self.last_error = f"{type(error).__name__}: {error}"
                self._failed.update(dict.fromkeys(batch, retry_at))
                log.warning("annotation request for %d texts failed: %s", len(batch), self.last_error)
            self._in_flight.difference_update(batch)
            self._changed.notify_all()

    # -- persistence -------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """The labels and counters (texts in flight are not kept: they are asked again after a load)."""
        with self._lock:
            return {"task": self.task, "labels": dict(self._labels), "requests": self.requests, "unparsed": self.unparsed,
                    "failures": self.failures}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        """Replace the labels and counters with `state`'s."""
        labels = _check_labels(state.get("labels"), "state_dict")
        with self._lock:
            self._labels.clear()  # in place: label_view stays live
            self._labels.update(labels)
            self._in_flight.difference_update(labels)
            self.requests, self.unparsed, self.failures = int(state["requests"]), int(state["unparsed"]), int(state["failures"])

    def save(self, path: str | os.PathLike[str]) -> None:
        """Write the labels to a JSON file (atomically: a killed run leaves the old file or the new one)."""
        path = Path(path)
        body = {"format": _FORMAT, "version": 1, "task": self.task, "model": self.model, "backend": self.backend,
                "labels": self.labels}
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, json.dumps(body, ensure_ascii=False, indent=1, sort_keys=True))

    def load(self, path: str | os.PathLike[str]) -> int:
        """Add the labels of a file written by :meth:`save` (they win over labels already held); returns how many.

        Raises:
            StoreError: the file cannot be read or is not a label file (the message names the path).
        """
        try:
            body = json.loads(Path(path).read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise StoreError(f"cannot read the annotation labels at {path}: {e}") from e
        if not isinstance(body, dict) or body.get("format") != _FORMAT:
            raise StoreError(f"{path} is not an annotation label file (no \"format\": \"{_FORMAT}\")")
        labels = _check_labels(body.get("labels"), str(path))
        with self._lock:
            self._labels.update(labels)
            self._in_flight.difference_update(labels)
        return len(labels)

    def to_config(self) -> dict[str, Any]:
        """The keys that rebuild this annotator (:class:`~rewardlab.shaping.llm.feedback.LLMFeedbackReward` accepts them)."""
        if not self._owns_client:
            raise ConfigError("an Annotator built on a client object cannot be written to a config; give `backend` "
                              "(and base_url/model/cache_dir) instead of `client`")
        cfg: dict[str, Any] = {"task": self.task, "backend": self.backend}
        for key, value, default in (("script", self.script, None), ("cache_dir", self.cache_dir, None),
                                    ("base_url", self.base_url, None), ("model", self.model, None),
                                    ("batch_size", self.batch_size, 100), ("temperature", self.temperature, 0.1),
                                    ("retry_s", self.retry_s, 60.0)):
            if value != default:
                cfg[key] = value
        return cfg

    _PORTABLE = ("task", "backend", "script", "base_url", "model", "cache_dir", "batch_size", "temperature", "retry_s",
                 "requests", "unparsed", "failures", "last_error", "_owns_client")

    def _portable_state(self) -> dict[str, Any]:
        state = {k: self.__dict__[k] for k in self._PORTABLE}
        state["_labels"] = self.labels
        return state

    def __getstate__(self) -> dict[str, Any]:
        # Threads, locks and HTTP clients do not cross processes: a copy starts its own on first use.
        if not self._owns_client:
            raise ConfigError("an Annotator built on a client object cannot be pickled; give `backend` (and "
                              "base_url/model/cache_dir) instead of `client`, so each process builds its own client")
        return self._portable_state()

    def __deepcopy__(self, memo: dict[int, Any]) -> Annotator:
        # A copy (gymnasium deep-copies a wrapper's recorded arguments) starts with a copy of the labels and
        # no thread; it shares a client it was given, and builds its own otherwise.
        copy = Annotator.__new__(Annotator)
        copy.__setstate__(self._portable_state())
        if not self._owns_client:
            copy._client = self._client
        return copy

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__dict__.update(state)
        self._view = MappingProxyType(self._labels)
        self._client = None
        self._init_runtime()

    def __repr__(self) -> str:
        return (f"Annotator(task={self.task!r}, backend={self.backend!r}, labels={len(self._labels)}, "
                f"in_flight={len(self._in_flight)}, requests={self.requests})")


def _check_labels(labels: Any, where: str) -> dict[str, int]:
    if not isinstance(labels, Mapping) or not all(isinstance(k, str) and v in (0, 1) for k, v in labels.items()):
        raise StoreError(f"{where}: `labels` must map texts to 0 or 1")
    return {k: int(v) for k, v in labels.items()}
