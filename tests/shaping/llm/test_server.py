"""The scripted OpenAI-compatible server, over real sockets on 127.0.0.1 (spec llm_and_bilevel.md §E3, check H11).

Requests are sent with plain httpx here (not LLMClient), so each test sees the server's raw answers.
"""

from __future__ import annotations

import ast
import hashlib
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import httpx
import numpy as np
import pytest

from rewardlab.errors import ConfigError, InvalidParameter, RewardCodeRejected
from rewardlab.shaping.llm.gates import extract_code, static_check
from rewardlab.shaping.llm.server import HEADER, ScriptedServer, known_scripts, load_script

ORDER = ["good", "weak", "syntax_error", "wrong_signature", "import", "loop", "nan"]  # documented in mountaincar.yaml
ROOT = Path(__file__).resolve().parents[3]


def _msgs(text: str = "Write a reward for Sparse-MountainCar.") -> list[dict]:
    return [{"role": "system", "content": "You write reward functions."}, {"role": "user", "content": text}]


def _post(server: ScriptedServer, messages: list[dict], **extra) -> httpx.Response:
    return httpx.post(server.url + "/chat/completions", json={"model": "any", "messages": messages, **extra}, timeout=30)


def _name(answer: dict) -> str:
    first = answer["choices"][0]["message"]["content"].splitlines()[0]
    assert first.startswith(HEADER)
    return first[len(HEADER) :]


@pytest.fixture(scope="module")
def server():
    with ScriptedServer("mountaincar") as s:
        yield s


def test_models_endpoint(server):
    data = httpx.get(server.url + "/models", timeout=10).json()
    assert [m["id"] for m in data["data"]] == ["rewardlab-scripted"]


def test_completion_says_it_is_scripted_and_counts_words(server):
    msgs = _msgs()
    answer = _post(server, msgs, seed=0).json()
    text = answer["choices"][0]["message"]["content"]
    assert (answer["model"], answer["system_fingerprint"], answer["object"]) == ("rewardlab-scripted", "scripted", "chat.completion")
    assert text.startswith("# scripted candidate (not written by a model): good\n")
    assert answer["choices"][0]["finish_reason"] == "stop"
    # Usage is counted as whitespace-separated words (the server's documented rough count).
    prompt_words = len(msgs[0]["content"].split()) + len(msgs[1]["content"].split())
    assert answer["usage"] == {"prompt_tokens": prompt_words, "completion_tokens": len(text.split()), "total_tokens": prompt_words + len(text.split())}
    assert "```python\ndef compute_reward(obs, action, next_obs, info):" in text


def test_seed_picks_candidates_in_script_order(server):
    # candidates[seed % 7]; a K=4 round (seeds 0..3) gets good, weak and two gate rejections.
    assert load_script("mountaincar").names() == ORDER
    names = [_name(_post(server, _msgs(), seed=s).json()) for s in range(9)]
    assert names == ORDER + ORDER[:2]


def test_no_seed_picks_by_sha256_of_the_messages(server):
    # Spec §E3: int(sha256(prompt)[:8], 16), the prompt being the canonical JSON of the messages.
    for i in range(5):
        msgs = _msgs(f"Task variant {i}.")
        digest = hashlib.sha256(json.dumps(msgs, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()).hexdigest()
        assert _name(_post(server, msgs).json()) == ORDER[int(digest[:8], 16) % 7]


@pytest.mark.parametrize("feedback", ["Traceback (most recent call last):\n  ...", "[static:syntax] at line 1: invalid syntax", "[dry_run:nonfinite]: NaN", "Rejected: wrong signature"])
def test_fixed_version_when_the_last_user_message_shows_feedback(server, feedback):
    msgs = _msgs() + [{"role": "assistant", "content": "..."}, {"role": "user", "content": f"Your code failed:\n{feedback}\nFix it."}]
    assert _name(_post(server, msgs, seed=2).json()) == "syntax_error (fixed after feedback)"
    assert _name(_post(server, msgs, seed=0).json()) == "good"  # good has no fixed version
    # Feedback in an earlier user message does not count: only the last one does.
    earlier = msgs + [{"role": "assistant", "content": "..."}, {"role": "user", "content": "Now try another idea."}]
    assert _name(_post(server, earlier, seed=2).json()) == "syntax_error"


def test_candidate_marker_overrides_the_seed(server):
    assert _name(_post(server, _msgs("Task. #candidate:nan"), seed=0).json()) == "nan"
    assert _post(server, _msgs("#candidate:nope")).status_code == 400


def test_max_tokens_cuts_with_finish_reason_length(server):
    answer = _post(server, _msgs(), seed=0, max_tokens=5).json()
    assert answer["choices"][0]["finish_reason"] == "length"
    assert answer["usage"]["completion_tokens"] == 5
    assert answer["choices"][0]["message"]["content"] == "# scripted candidate (not written"


@pytest.mark.parametrize(
    "marker, status, header",
    [("#fault:429", 429, None), ("#fault:500", 500, None), ("#fault:503", 503, None),
     ("#fault:429:retry-after=2", 429, ("retry-after", "2")), ("#fault:429:retry-after-ms=150", 429, ("retry-after-ms", "150"))],
)
def test_status_fault_markers(server, marker, status, header):
    resp = _post(server, _msgs(f"Write a reward. {marker}"), seed=0)
    assert resp.status_code == status
    assert resp.json()["error"]["type"] == "scripted_fault"
    if header is not None:
        assert resp.headers[header[0]] == header[1]
    else:
        assert "retry-after" not in resp.headers


def test_malformed_fault_markers(server):
    bad = _post(server, _msgs("#fault:malformed"), seed=0)
    assert bad.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(bad.content)
    assert _post(server, _msgs("#fault:no_choices"), seed=0).json()["choices"] == []
    assert _post(server, _msgs("#fault:bad_content"), seed=0).json()["choices"][0]["message"]["content"] is None


def test_slow_fault_marker(server):
    t0 = time.monotonic()
    resp = _post(server, _msgs("#fault:slow=0.4"), seed=0)
    assert time.monotonic() - t0 >= 0.4  # it slept at least the requested time, then answered normally
    assert resp.status_code == 200 and _name(resp.json()) == "good"


def test_injected_faults_are_a_queue():
    with ScriptedServer() as s:
        s.inject(["429", "500"])
        codes = [_post(s, _msgs(), seed=0).status_code for _ in range(3)]
        assert codes == [429, 500, 200]
        assert [e["fault"] for e in s.log] == ["429", "500", None]
        assert s.requests == 3
        with pytest.raises(InvalidParameter, match="unknown fault"):
            s.inject(["teapot"])
        with pytest.raises(InvalidParameter, match="retry-after=S"):
            s.inject(["429:soon"])


def test_bad_requests_are_4xx(server):
    assert httpx.post(server.url + "/chat/completions", content=b"{not json", timeout=10).status_code == 400
    assert httpx.post(server.url + "/chat/completions", json={"messages": []}, timeout=10).status_code == 400
    assert _post(server, _msgs(), seed="zero").status_code == 400
    assert httpx.get(server.url + "/nowhere", timeout=10).status_code == 404


@pytest.mark.parametrize("host", ["0.0.0.0", "192.168.1.10", "::1", "example.org"])
def test_only_loopback_is_served(host):
    with pytest.raises(InvalidParameter, match="loopback"):
        ScriptedServer(host=host)


def test_unknown_script_lists_the_known_ones(tmp_path):
    with pytest.raises(ConfigError, match=r"known scripts: \['faults', 'gridhack_events', 'mountaincar'\].*Did you mean: `mountaincar`"):
        ScriptedServer("mountaincat")
    bad = tmp_path / "bad.yaml"
    bad.write_text("candidates:\n  - name: a\n    code: x\n    fixd: y\n")
    with pytest.raises(ConfigError, match="unknown key `fixd`.*Did you mean: `fixed`"):
        load_script(bad)
    assert known_scripts() == ["faults", "gridhack_events", "mountaincar"]


_DETERMINISM = """
import json, sys
from rewardlab.shaping.llm.server import ScriptedServer
import httpx
with ScriptedServer() as s:
    out = []
    for body in [{"seed": 3}, {}, {"messages": [{"role": "user", "content": "another prompt"}]}]:
        req = {"model": "m", "messages": [{"role": "user", "content": "Write a reward."}], **body}
        out.append(httpx.post(s.url + "/chat/completions", json=req).json()["choices"][0]["message"]["content"])
print(json.dumps([hash("salted"), out]))
"""


def test_same_answers_across_processes_with_different_hash_seeds():
    # Check H11: the choice never depends on Python's salted hash(); the salted hash itself does differ.
    runs = []
    for hash_seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run([sys.executable, "-c", _DETERMINISM], env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        runs.append(json.loads(done.stdout))
    assert runs[0][0] != runs[1][0]
    assert runs[0][1] == runs[1][1]
    assert runs[0][1][0].splitlines()[0] == HEADER + "wrong_signature"  # seed 3


# -- the mountaincar script's candidates do what mountaincar.yaml says -------------------------------------


def _view(x: float, v: float) -> SimpleNamespace:
    return SimpleNamespace(position=x, velocity=v)


def _function(source: str):
    namespace = {"np": np, "math": math}
    exec(compile(source, "<candidate>", "exec"), namespace)  # trusted: our own script, not model output
    return namespace["compute_reward"]


def test_mountaincar_candidates_fail_the_static_gate_as_documented():
    # The script's header says which static rule rejects each faulty candidate; every fixed version passes.
    script = {c.name: c for c in load_script("mountaincar").candidates}
    expected = {"syntax_error": "syntax", "wrong_signature": "signature", "import": "import:os", "loop": "stmt:While"}
    for name, cand in script.items():
        code = extract_code(cand.answer())
        if name in expected:
            with pytest.raises(RewardCodeRejected) as err:
                static_check(code)
            assert (err.value.gate, err.value.rule) == ("static", expected[name])
        else:
            static_check(code)
        if cand.fixed is not None:
            static_check(extract_code(cand.answer(fixed=True)))
    assert {n for n, c in script.items() if c.fixed is None} == {"good", "weak"}


def test_each_mountaincar_candidate_is_caught_by_its_gate():
    # Check H11, second half: each scripted fault is caught by the gate that should catch it (gates 1+2
    # of check_reward_code on the real Sparse-MountainCar descriptor); good, weak and every fix pass.
    from rewardlab.shaping.llm.check import check_reward_code

    expected = {"syntax_error": ("static", "syntax"), "wrong_signature": ("static", "signature"), "import": ("static", "import:os"),
                "loop": ("static", "stmt:While"), "nan": ("dry_run", "nonfinite")}
    for cand in load_script("mountaincar").candidates:
        if cand.name in expected:
            with pytest.raises(RewardCodeRejected) as err:
                check_reward_code(extract_code(cand.answer()), "rewardlab/Sparse-MountainCar-v0")
            assert (err.value.gate, err.value.rule) == expected[cand.name], cand.name
        else:
            check_reward_code(extract_code(cand.answer()), "rewardlab/Sparse-MountainCar-v0")
        if cand.fixed is not None:
            check_reward_code(extract_code(cand.answer(fixed=True)), "rewardlab/Sparse-MountainCar-v0")


def test_good_candidate_is_pbrs_on_mechanical_energy():
    good = _function(extract_code(load_script("mountaincar").candidates[0].answer()))
    # Hand computation: phi(x, v) = 600 * (0.5 v^2 + 0.0025/3 sin 3x); valley floor at rest (x = -pi/6) is -0.5.
    s, s2 = _view(-math.pi / 6, 0.0), _view(-math.pi / 6 + 0.01, 0.02)
    phi2 = 600.0 * (0.5 * 0.02**2 + 0.0025 / 3.0 * math.sin(3.0 * (-math.pi / 6 + 0.01)))
    total, parts = good(s, 1, s2, {"is_success": 0.0})
    assert parts["energy_progress"] == pytest.approx(0.99 * phi2 - (-0.5), abs=1e-12)
    assert total == pytest.approx(parts["energy_progress"]) and parts["success"] == 0.0
    # The shaping is small per step (|dphi| <= 600 * max one-step energy change, well below 1): order 0.01-0.1.
    assert 0.01 < abs(parts["energy_progress"]) < 1.0
    assert good(s, 1, s, {"is_success": 1.0})[1]["success"] == 1.0


def test_nan_candidate_is_nonfinite_left_of_minus_half_and_its_fix_is_not():
    cand = load_script("mountaincar").candidates[6]
    bad, fixed = _function(extract_code(cand.answer())), _function(extract_code(cand.answer(fixed=True)))
    with np.errstate(invalid="ignore", divide="ignore"):
        assert math.isnan(bad(_view(0, 0), 0, _view(-1.0, 0.0), {"is_success": 0.0})[0])
        assert math.isfinite(bad(_view(0, 0), 0, _view(0.0, 0.0), {"is_success": 0.0})[0])
    for x in np.linspace(-1.2, 0.6, 37):
        assert math.isfinite(fixed(_view(0, 0), 0, _view(float(x), 0.0), {"is_success": 0.0})[0])


def test_weak_and_fixed_candidates_return_a_float_and_components():
    for cand in load_script("mountaincar").candidates:
        for fixed in ([False] if cand.fixed is None else [True]) + ([False] if cand.name in ("good", "weak") else []):
            fn = _function(extract_code(cand.answer(fixed)))
            total, parts = fn(_view(-0.4, 0.01), 2, _view(-0.39, 0.011), {"is_success": 0.0})
            assert isinstance(total, float) and total == pytest.approx(sum(parts.values())), cand.name
    assert ast.parse(extract_code(load_script("faults").candidates[0].answer()))


# -- rewardlab llm-serve as a real subprocess --------------------------------------------------------------


def test_llm_serve_cli_serves_and_exits_0_on_sigterm():
    proc = subprocess.Popen(
        [sys.executable, "-m", "rewardlab", "llm-serve", "--script", "mountaincar", "--port", "0"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        line = proc.stdout.readline().strip()  # blocks until the one line is printed (flushed)
        prefix = "rewardlab scripted LLM server (candidates are scripted, not written by a model): "
        assert line.startswith(prefix + "http://127.0.0.1:") and line.endswith("/v1"), line
        url = line[len(prefix) :]
        assert httpx.get(url + "/models", timeout=10).json()["data"][0]["id"] == "rewardlab-scripted"
        answer = httpx.post(url + "/chat/completions", json={"model": "m", "messages": _msgs(), "seed": 1}, timeout=30).json()
        assert _name(answer) == "weak"
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=30) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


@pytest.mark.parametrize("args, message", [(["--host", "0.0.0.0"], "loopback"), (["--script", "nope"], "known scripts")])
def test_llm_serve_cli_refuses_bad_input(args, message):
    done = subprocess.run([sys.executable, "-m", "rewardlab", "llm-serve", *args], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr
