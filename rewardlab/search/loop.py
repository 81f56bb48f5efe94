"""The LLM reward search: sample, gate, train, select, reflect; R rounds of K candidates (Eureka / ICPL).

Function: :func:`run_search`. Classes: :class:`CandidateResult`, :class:`SearchResult`.

One round (spec llm_and_bilevel.md §B4):

1. K samples of the current messages (K requests, seeds ``seed + attempt * K + i``);
2. each answer's code is extracted and gated (``check_reward_code``: static AST gate, sandboxed dry
   run); a rejection gets fitness :data:`~rewardlab.search.selection.REJECTED_FITNESS` and its
   message is kept for the feedback;
3. every survivor trains briefly (:class:`~rewardlab.search.training.AblationTrainer`: the ablation
   runner, one process per run, records in ``DIR/runs``); a crash in training is a failure too;
4. fitness is the task's own metric (:func:`~rewardlab.search.selection.fitness_of`), the best is
   the argmax (ties: lower eval std, then the earlier index);
5. memory is Eureka's: the next round's messages are exactly ``[system, user, best response,
   feedback]``, the feedback being the best's reflection (or, with ``feedback="preference"``, the
   best and worst compared) followed by every failed candidate's rejection.

If every candidate of a round fails, the round is repeated from the same messages with the next
seeds (``execute_rate`` 0 is logged for the attempt), at most ``max_repeats`` times; a round that
still has no executable candidate ends the search with status ``"no_executable_candidate"``
(Eureka repeats forever, which is how its searches hang). The best over all rounds is written to
``DIR/best_reward.py`` and ``DIR/best_reward.yaml``.

A killed search resumes: rerun it with the same settings and ``DIR``. The LLM's answers come back
from ``DIR/llm_cache`` (``live`` runs as ``auto``: a request already answered is never asked
again, so a resumed search sees the same candidates; ``offline`` re-asks its deterministic
scripted server), and every finished training run is read from ``DIR/runs`` instead of trained.
"""

from __future__ import annotations

import hashlib
import math
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from rewardlab.errors import ConfigError, RewardCodeRejected
from rewardlab.search.folder import SearchFolder
from rewardlab.search.selection import REJECTED_FITNESS, better, fitness_of, select_best
from rewardlab.search.training import COMBINE, candidate_reward, reward_name

__all__ = ["run_search", "CandidateResult", "SearchResult", "BACKENDS", "FEEDBACK", "Trainer"]

BACKENDS = ("offline", "replay", "auto", "live")
FEEDBACK = ("reflection", "preference")

#: ``trainer(codes) -> records``: one run record (``status``, ``final``, ``curve``, ``episodes``) per code, in order.
Trainer = Callable[[Sequence[str]], Sequence[Mapping[str, Any]]]


@dataclass
class CandidateResult:
    """One candidate: the LLM's answer, its gate verdict and, when it trained, its record and fitness."""

    round: int
    index: int
    seed: int
    response: str
    finish_reason: str = "stop"
    code: str | None = None
    rejection: RewardCodeRejected | None = None
    gate_report: dict[str, Any] | None = None
    record: dict[str, Any] | None = None
    fitness: float = REJECTED_FITNESS
    std: float = 0.0
    metric: str = ""
    error: str | None = None
    rename: dict[str, str] = field(default_factory=dict)

    @property
    def status(self) -> str:
        """``"rejected"`` (a gate), ``"crashed"`` (training failed) or ``"trained"``."""
        if self.rejection is not None:
            return "rejected"
        return "crashed" if self.error is not None else "trained"

    @property
    def executed(self) -> bool:
        return self.status == "trained"

    @property
    def reward_name(self) -> str | None:
        return reward_name(self.code) if self.code is not None else None

    def gate_json(self) -> dict[str, Any]:
        if self.rejection is not None:
            e = self.rejection
            return {"passed": False, "finish_reason": self.finish_reason, "gate": e.gate, "rule": e.rule, "line": e.line, "detail": e.detail, "hint": e.hint, "message": str(e)}
        return {"passed": True, "finish_reason": self.finish_reason, "report": self.gate_report}

    def fitness_json(self) -> dict[str, Any]:
        out = {"status": self.status, "fitness": self.fitness, "eval_std": self.std, "metric": self.metric or None,
               "reward_name": self.reward_name, "run_key": (self.record or {}).get("key")}  # fmt: skip
        if self.record is not None and self.record.get("final") is not None:
            out["final"] = self.record["final"]
        if self.error is not None:
            out["error"] = self.error
        if self.rejection is not None:
            out["error"] = str(self.rejection)
        return out


@dataclass
class SearchResult:
    """What :func:`run_search` returns.

    Attributes:
        out: the search folder.
        best: the best candidate over all rounds (None when none ever executed).
        candidates: every candidate, in order.
        attempts: one dict per attempt: ``round``, ``attempt``, ``base_seed``, ``candidates``
            (indices), ``fitness``, ``execute_rate``, ``best`` (index in the round, or None).
        messages: the memory after the last round (``[system, user, best, feedback]``).
        status: ``"finished"`` or ``"no_executable_candidate"``.
    """

    out: Path
    best: CandidateResult | None
    candidates: list[CandidateResult]
    attempts: list[dict[str, Any]]
    messages: list[dict[str, str]]
    status: str

    @property
    def execute_rates(self) -> list[float]:
        return [a["execute_rate"] for a in self.attempts]


def _check_choice(value: Any, choices: Sequence[str], name: str) -> None:
    from rewardlab.errors import did_you_mean

    if value not in choices:
        raise ConfigError(f"`{name}` must be one of {list(choices)}. Received {value!r}.{did_you_mean(str(value), choices)}")


def _check_positive(value: Any, name: str, minimum: int = 1) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ConfigError(f"`{name}` must be an integer >= {minimum}. Received {value!r}")


def run_search(
    env_id: str,
    task: str,
    *,
    out: str | Path,
    candidates: int = 4,
    rounds: int = 2,
    steps: int = 30_000,
    backend: str = "offline",
    script: str | None = None,
    algo: str = "PPO",
    feedback: str = "reflection",
    workers: int | None = None,
    seed: int = 0,
    combine: str = "add",
    max_repeats: int = 2,
    model: str | None = None,
    base_url: str | None = None,
    temperature: float = 1.0,
    max_tokens: int = 1024,
    n_envs: int = 8,
    hyperparams: Mapping[str, Any] | None = None,
    eval_episodes: int = 5,
    eval_every: int | None = None,
    client: Any = None,
    trainer: Trainer | None = None,
    stream: TextIO | None = None,
) -> SearchResult:
    """Search for a reward function with an LLM; write everything to ``out`` (see :mod:`rewardlab.search.folder`).

    Args:
        env_id: the Gymnasium id to write a reward for (its descriptor goes into the prompt).
        task: the task in the user's words.
        out: the search folder (a folder holding a search with the same settings is resumed).
        candidates: K, samples per round.
        rounds: R, rounds of feedback.
        steps: env steps each candidate trains for.
        backend: ``offline`` (rewardlab's scripted server on 127.0.0.1: scripted candidates, not
            written by a model), ``replay`` (the cache only), ``auto`` (cache, then server) or
            ``live`` (a server; run as ``auto`` so a resumed search re-reads its answers).
        script: the scripted server's script (``offline`` only; default ``mountaincar``).
        algo: ``PPO`` (SB3) or ``TorchPPO``.
        feedback: ``reflection`` (Eureka) or ``preference`` (ICPL).
        workers: training runs at a time (default: the number of cores).
        seed: the training seed of every candidate, and the LLM seeds' base.
        combine: ``add`` (train on EnvReward + the candidate, default) or ``replace`` (the candidate alone).
        max_repeats: how often a round whose candidates all failed is asked again.
        model, base_url: the server's model and URL (default: ``REWARDLAB_LLM_MODEL``, ``REWARDLAB_LLM_BASE_URL``).
        temperature, max_tokens: sampling settings of each request.
        n_envs, hyperparams, eval_episodes, eval_every: the candidates' training (see
            :class:`~rewardlab.search.training.AblationTrainer`; default 4 evaluations of 5 episodes).
        client: an :class:`~rewardlab.shaping.llm.client.LLMClient` to use instead of building one (tests).
        trainer: ``trainer(codes) -> records`` instead of the ablation runner (tests of the loop's logic).
        stream: where progress lines go (default stdout).

    Raises:
        ConfigError: a bad setting, or ``out`` holding a search with other settings.
        CacheMiss: ``replay`` and an answer missing from the cache.
        LLMBackendError: the server failed after every retry.
    """
    stream = stream if stream is not None else sys.stdout
    _check_choice(backend, BACKENDS, "backend")
    _check_choice(feedback, FEEDBACK, "feedback")
    _check_choice(combine, COMBINE, "combine")
    _check_positive(candidates, "candidates")
    _check_positive(rounds, "rounds")
    _check_positive(steps, "steps")
    _check_positive(max_repeats, "max_repeats", minimum=0)
    if not isinstance(task, str) or not task.strip():
        raise ConfigError(f"`task` must be a non-empty description of the task. Received {task!r}")
    if script is not None and backend != "offline":
        raise ConfigError(f"`script` is for the offline backend (the scripted server); received backend={backend!r}")

    folder = SearchFolder(out)
    folder.lock()
    try:
        owns_client = client is None
        if client is None:
            from rewardlab.shaping.llm.client import LLMClient

            mode = "auto" if backend == "live" else backend
            client = LLMClient(base_url, model, mode=mode, cache_dir=folder.cache_dir, script=script)
        try:
            settings = {
                "env_id": env_id, "task": task, "candidates": candidates, "rounds": rounds, "steps": steps,
                "script": script, "algo": algo, "feedback": feedback, "seed": seed, "combine": combine,
                "max_repeats": max_repeats, "model": client.model, "temperature": temperature, "max_tokens": max_tokens,
                "n_envs": n_envs, "hyperparams": dict(hyperparams or {}), "eval_episodes": eval_episodes, "eval_every": eval_every,
            }  # fmt: skip
            resumed = folder.check_settings(settings)
            if trainer is None:
                from rewardlab.search.training import AblationTrainer

                trainer = AblationTrainer(folder.root, env_id, steps, seed, algo, hyperparams, n_envs,
                                          eval_every=eval_every, eval_episodes=eval_episodes, combine=combine, workers=workers, stream=stream)  # fmt: skip
            search = _Search(env_id, task, settings, folder, client, trainer, stream)
            # Not part of `settings`: a search recorded live may be resumed or replayed from its cache.
            search.backend = {"backend": backend, "mode": getattr(client, "mode", None), "base_url": getattr(client, "base_url", None)}
            _say(stream, f"LLM reward search on {env_id}: {rounds} rounds x {candidates} candidates, {steps:,} steps each"
                         f"{' (resumed from ' + str(folder.root) + ')' if resumed else ''}; backend {backend}, model {client.model}")  # fmt: skip
            if backend == "offline":
                _say(stream, "offline backend: answers come from rewardlab's scripted server (scripted candidates, not written by a model)")
            return search.run()
        finally:
            if owns_client:
                client.close()
    finally:
        folder.unlock()


def _say(stream: TextIO, text: str) -> None:
    print(f"[search] {text}", file=stream, flush=True)


class _Search:
    """The loop's state: messages, candidates, attempts, best so far (see :func:`run_search`)."""

    def __init__(self, env_id: str, task: str, settings: dict[str, Any], folder: SearchFolder, client: Any,
                 trainer: Trainer, stream: TextIO) -> None:  # fmt: skip
        self.env_id, self.task, self.settings, self.folder = env_id, task, settings, folder
        self.client, self.trainer, self.stream = client, trainer, stream
        self.k = settings["candidates"]
        self.candidates: list[CandidateResult] = []
        self.attempts: list[dict[str, Any]] = []
        self.history: list[dict[str, Any]] = []
        self.best: CandidateResult | None = None
        self.history_sent: list[dict[str, str]] = []
        self.backend: dict[str, Any] = {}

    def run(self) -> SearchResult:
        from rewardlab.shaping.llm.prompts import render_prompt

        messages = render_prompt(_descriptor(self.env_id), self.task)
        status, attempt = "finished", 0
        # Written before round 1 trains: a search killed then still says, with its settings, that it runs here,
        # so a later search with other settings is refused instead of mixing with its runs.
        self._write_search("running")
        for r in range(1, self.settings["rounds"] + 1):
            round_best = None
            for repeat in range(self.settings["max_repeats"] + 1):
                cands = self._attempt(messages, r, repeat, attempt)
                attempt += 1
                i = select_best([c.fitness for c in cands], [c.std for c in cands])
                self.attempts[-1]["best"] = None if i is None else cands[i].index
                self._write_search("running")
                if i is not None:
                    round_best = (cands[i], cands)
                    break
                _say(self.stream, f"round {r}: every candidate failed (execute_rate 0); "
                                  f"{'asking again from the same messages' if repeat < self.settings['max_repeats'] else 'no repeats left'}")  # fmt: skip
            if round_best is None:
                self.history.append({"round": r, "sent": messages, "memory_after": messages})
                status = "no_executable_candidate"
                break
            best, cands = round_best
            if self.best is None or better((best.fitness, best.std), (self.best.fitness, self.best.std)):
                self.best = best
            messages = messages[:2] + [
                {"role": "assistant", "content": best.response},
                {"role": "user", "content": self._feedback(best, cands)},
            ]
            self.history.append({"round": r, "sent": self.history_sent, "memory_after": messages})
            self.folder.write_json(self.folder.messages_json, self.history)
            self._write_search("running")
            _say(self.stream, f"round {r}: best is candidate {best.index} ({best.metric} {best.fitness:.4g}); "
                              f"best so far: round {self.best.round} candidate {self.best.index} ({self.best.metric} {self.best.fitness:.4g})")  # fmt: skip
        self.folder.write_json(self.folder.messages_json, self.history)
        if self.best is not None:
            self._write_best()
        self._write_search(status)
        return SearchResult(self.folder.root, self.best, self.candidates, self.attempts, messages, status)

    # -- one attempt of a round ----------------------------------------------------------------------
    def _attempt(self, messages: list[dict[str, str]], r: int, repeat: int, attempt: int) -> list[CandidateResult]:
        from rewardlab.shaping.llm.check import check_reward_code
        from rewardlab.shaping.llm.gates import extract_code

        self.history_sent = messages
        base_seed = self.settings["seed"] + attempt * self.k
        answers = self.client.chat_many(messages, self.k, base_seed=base_seed, temperature=self.settings["temperature"],
                                        max_tokens=self.settings["max_tokens"])  # fmt: skip
        cands = []
        for i, answer in enumerate(answers):
            c = CandidateResult(r, repeat * self.k + i, base_seed + i, answer.text, answer.finish_reason)
            try:
                c.code = extract_code(answer.text)
                c.gate_report = _report_dict(check_reward_code(c.code, self.env_id))
            except RewardCodeRejected as e:
                c.rejection = e
            path = self.folder.candidate(r, c.index)
            self.folder.write_text(path / "response.txt", c.response)
            if c.code is not None:
                self.folder.write_text(path / "reward.py", c.code)
            self.folder.write_json(path / "gate.json", c.gate_json())
            cands.append(c)
        survivors = [c for c in cands if c.rejection is None]
        _say(self.stream, f"round {r}{f' (repeat {repeat})' if repeat else ''}: {len(survivors)}/{self.k} candidates passed the gates"
                          + "".join(f"; cand {c.index} rejected [{c.rejection.gate}:{c.rejection.rule}]" for c in cands if c.rejection))  # fmt: skip
        records = list(self.trainer([c.code for c in survivors])) if survivors else []
        for c, record in zip(survivors, records):
            self._score(c, record)
        for c in cands:
            self.folder.write_json(self.folder.candidate(r, c.index) / "fitness.json", c.fitness_json())
        self.candidates.extend(cands)
        executed = sum(c.executed for c in cands)
        self.attempts.append({
            "round": r, "attempt": repeat, "base_seed": base_seed, "candidates": [c.index for c in cands],
            "status": [c.status for c in cands], "fitness": [c.fitness for c in cands], "execute_rate": executed / self.k,
        })  # fmt: skip
        return cands

    def _score(self, c: CandidateResult, record: Mapping[str, Any] | None) -> None:
        c.record = dict(record) if record is not None else None
        if record is None or record.get("status") != "completed":
            err = (record or {}).get("error") or "the run left no record"
            tb = (record or {}).get("traceback") or ""
            c.error = f"{err}\n{_tail(tb)}".rstrip()
            return
        fitness, std, metric = fitness_of(record)
        if math.isnan(fitness):
            c.error = f"training finished but its final {metric} is NaN"
            return
        c.fitness, c.std, c.metric = fitness, std, metric
        c.rename = _component_names(record)

    def _feedback(self, best: CandidateResult, cands: list[CandidateResult]) -> str:
        from rewardlab.search.feedback import round_feedback

        trained = [c for c in cands if c.executed]
        worst = None
        for c in trained:  # the lowest fitness; ties to the higher std, then the later index
            if worst is None or not better((c.fitness, c.std), (worst.fitness, worst.std)):
                worst = c
        failures = [(c.index, c.rejection if c.rejection is not None else c.error) for c in cands if not c.executed]
        text = round_feedback(self.settings["feedback"], best, worst, failures)
        if self.settings["combine"] == "add":
            text = "(During training, the environment's own reward, `env_reward`, was added to your reward.)\n\n" + text
        return text

    # -- files ---------------------------------------------------------------------------------------
    def _best_json(self) -> dict[str, Any] | None:
        b = self.best
        if b is None:
            return None
        return {"round": b.round, "candidate": b.index, "fitness": b.fitness, "eval_std": b.std, "metric": b.metric,
                "reward_name": b.reward_name, "code_sha256": hashlib.sha256((b.code or "").encode()).hexdigest(),
                "run_key": (b.record or {}).get("key")}  # fmt: skip

    def _write_search(self, status: str) -> None:
        self.folder.write_json(self.folder.search_json, {
            "settings": self.settings, **self.backend, "status": status, "attempts": self.attempts,
            "execute_rate": [a["execute_rate"] for a in self.attempts], "best": self._best_json(),
        })  # fmt: skip

    def _write_best(self) -> None:
        b = self.best
        assert b is not None and b.code is not None  # only trained candidates become best
        self.folder.write_text(self.folder.root / "best_reward.py", b.code)
        self.folder.write_text(self.folder.root / "best_reward.yaml", best_reward_yaml(b, self.settings))


def best_reward_yaml(best: CandidateResult, settings: Mapping[str, Any]) -> str:
    """The ablation snippet for the chosen code: a ``rewards:`` entry with the LLMReward inline."""
    assert best.code is not None
    head = (
        f"# The reward chosen by `rewardlab llm-reward generate` for {settings['env_id']}: round {best.round},\n"
        f"# candidate {best.index}, {best.metric} {best.fitness:.4g} after {settings['steps']:,} training steps\n"
        f"# (model {settings['model']}). Put this entry under `rewards:` of an ablation config.\n"
    )
    body = yaml.dump({"rewards": {best.reward_name: candidate_reward(best.code, settings["combine"])}},
                     Dumper=_BlockDumper, sort_keys=False)  # fmt: skip
    return head + body


class _BlockDumper(yaml.SafeDumper):
    """Writes multi-line strings as ``|`` blocks, so the code in the snippet reads as code."""


def _str_block(dumper: yaml.SafeDumper, data: str) -> yaml.Node:
    style = "|" if "\n" in data else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_BlockDumper.add_representer(str, _str_block)


def _tail(text: str, lines: int = 12) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _report_dict(report: Any) -> dict[str, Any] | None:
    return report.to_dict() if hasattr(report, "to_dict") else None


def _component_names(record: Mapping[str, Any]) -> dict[str, str]:
    """Term names of the record's episodes -> the names the LLM's code used (its components' own names)."""
    from rewardlab.search.feedback import component_rename

    names = {n for ep in record.get("episodes", []) for n in ep.get("terms", {})}
    return component_rename(names)


def _descriptor(env_id: str) -> Any:
    import gymnasium as gym

    import rewardlab  # noqa: F401  (registers the rewardlab/ ids)
    from rewardlab.shaping.llm.views import descriptor_for

    env = gym.make(env_id)
    try:
        return descriptor_for(env_id, env.observation_space, env.action_space)
    finally:
        env.close()
