"""The sandbox worker: framing, the layers (probed from inside), the wall clock (H5), memory (H6), restarts.

Timing bounds here are the spec's where it gives one, loosened for a shared 2-core machine; each
says so. The exact figures are printed by benchmarks/llm_reward_overhead.py, not asserted.
"""

from __future__ import annotations

import gc
import inspect
import socket
import threading
import time

import numpy as np
import pytest
from sandbox_helpers import GOOD, MOUNTAINCAR, alive, body, child_pids, rss_bytes

from rewardlab.shaping.llm import sandbox as sandbox_module
from rewardlab.shaping.llm.check import sample_transitions
from rewardlab.shaping.llm.gates import static_check, strip_imports
from rewardlab.shaping.llm.sandbox import RewardSandbox, SandboxWorker, bwrap_available, pack_rows
from rewardlab.shaping.llm.views import EnvDescriptor, Field, descriptor_for
from rewardlab.shaping.llm.worker import RewardRunner


def gated(source: str, **kw) -> str:
    return strip_imports(source, static_check(source, **kw))


@pytest.fixture(scope="module")
def mountaincar():
    batch, _ = sample_transitions(MOUNTAINCAR, 64, seed=3)
    desc = descriptor_for(MOUNTAINCAR)
    layout, matrix = pack_rows(batch["obs"], batch["action"], batch["next_obs"], batch["info"], np.arange(len(batch["action"])),
                               desc.info_keys, desc.obs_keys)
    return desc, layout, matrix


def test_worker_results_equal_the_in_process_runner_bit_for_bit(mountaincar):
    # The worker and an in-process RewardRunner run the same codec and code; the pipe must not
    # change a bit (floats travel as packed float64).
    desc, layout, matrix = mountaincar
    sandbox = RewardSandbox(gated(GOOD), desc.to_dict())
    try:
        result = sandbox.score(matrix, layout, 30.0)
    finally:
        sandbox.close()
    status, totals, _, comps, error = RewardRunner(gated(GOOD), desc.to_dict(), layout).run(matrix)
    assert error is None and result.error is None and (result.status == 0).all()
    assert result.totals.tobytes() == totals.tobytes()
    assert result.names == ["progress", "bonus"] and result.components.tobytes() == comps.tobytes()
    # Expected values by hand from the packed rows: progress = 10 (x' - x), bonus = 10 is_success.
    x, x_next = matrix[:, 0].astype(np.float32), matrix[:, 3].astype(np.float32)
    np.testing.assert_allclose(result.components[:, 0], 10.0 * (x_next.astype(float) - x.astype(float)), rtol=1e-12)


def test_dict_observations_and_box_actions_round_trip():
    desc = EnvDescriptor(env_id="toy-dict", summary="s", action="a", action_kind="box", info=(("is_success", "d"),),
                         success="s", example="", obs_keys=("pos", "glyphs"),
                         fields=(Field("x", "x", key="pos", index=0), Field("glyphs", "g", key="glyphs", kind="array")))
    source = body("return float(obs.x + next_obs.glyphs.sum() + action[1] + info['is_success'])")
    obs = {"pos": np.array([[1.5], [2.5]], np.float32), "glyphs": np.array([[[1, 2], [3, 4]], [[0, 0], [0, 9]]], np.int16)}
    nxt = {"pos": obs["pos"] + 1, "glyphs": obs["glyphs"] * 2}
    act = np.array([[0.0, 0.25], [0.0, -1.0]], np.float32)
    layout, matrix = pack_rows(obs, act, nxt, {"is_success": np.array([1.0, 0.0])}, np.arange(2), desc.info_keys, desc.obs_keys)
    sandbox = RewardSandbox(gated(source), desc.to_dict())
    try:
        result = sandbox.score(matrix, layout, 30.0)
    finally:
        sandbox.close()
    # Hand computation: 1.5 + 2*(1+2+3+4) + 0.25 + 1 = 22.75; 2.5 + 2*9 - 1 + 0 = 19.5.
    assert result.totals.tolist() == [22.75, 19.5]


def test_layers_refuse_sockets_files_and_processes(tmp_path):
    canary, outside = tmp_path / "canary", tmp_path / "outside.txt"
    canary.mkdir()
    worker = SandboxWorker(cwd=canary)
    try:
        probes = {p: worker.probe(p) for p in ("socket", "connect:9", "open_write", f"open_write:{outside}", "open_read",
                                                "open_read:/etc/passwd", "fork", "exec")}
        layers = worker.layers
    finally:
        worker.close()
    assert {"subprocess", "clean-env", "rlimits", "no-new-fds", "seccomp", "wall-clock"} <= set(layers)
    assert all(v.startswith("refused: PermissionError") for v in probes.values()), probes
    assert list(canary.iterdir()) == [] and not outside.exists()


def test_each_layer_holds_on_its_own_and_the_probes_are_real(tmp_path, monkeypatch):
    # With seccomp and bwrap off the probes run the real calls: fork is then allowed, and a socket
    # is still refused, by the descriptor limit (EMFILE) instead of seccomp (EPERM). The clean
    # environment is a layer too: the parent's API key never reaches the worker.
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test-secret")
    worker = SandboxWorker(isolation="none", seccomp=False, cwd=tmp_path)
    try:
        assert worker.probe("fork") == "allowed"
        assert worker.probe("socket").startswith("refused: OSError: [Errno 24] Too many open files")
        names = worker.probe("env").split()
    finally:
        worker.close()
    assert "OPENAI_API_KEY" not in names and "PYTHONHASHSEED" in names and "OPENBLAS_NUM_THREADS" in names
    assert "seccomp" not in worker.layers and "bwrap" not in worker.layers


@pytest.mark.skipif(not bwrap_available(), reason="bubblewrap is not installed or cannot create namespaces here")
def test_bwrap_worker_has_no_network_even_without_seccomp(tmp_path):
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(1)
    server.settimeout(0.5)
    worker = SandboxWorker(isolation="bwrap", seccomp=False, cwd=tmp_path)
    try:
        outcome = worker.probe(f"connect:{server.getsockname()[1]}")
    finally:
        worker.close()
    assert outcome.startswith("refused"), outcome  # an empty network namespace: the host's loopback is not there
    with pytest.raises(socket.timeout):
        server.accept()
    server.close()
    assert "bwrap" in worker.layers


def test_h5_wall_clock_kills_a_looping_call_within_budget_and_restarts(mountaincar):
    # H5: killed within budget + 20 ms on an idle machine (spec); asserted with 1 s of slack for a
    # loaded shared machine. The parent keeps running meanwhile (a ticker thread advances).
    desc, layout, matrix = mountaincar
    source = gated(body("while obs.position > -10:", "    pass", "return 0.0"), allow_while=True)
    children = child_pids()
    sandbox = RewardSandbox(source, desc.to_dict())
    ticks = []
    stop = threading.Event()

    def ticker():
        while not stop.is_set():
            ticks.append(time.monotonic())
            time.sleep(0.002)

    try:
        assert sandbox.prepare(layout) is None
        pid = sandbox.worker.pid
        thread = threading.Thread(target=ticker)
        thread.start()
        t0 = time.monotonic()
        result = sandbox.score(matrix, layout, 0.2)
        elapsed = time.monotonic() - t0
        stop.set()
        thread.join()
        assert (result.status == sandbox_module.STATUS["timeout"]).all() and result.error.status == "timeout"
        assert 0.2 <= elapsed < 0.2 + 1.0, elapsed
        assert sum(t0 <= t <= t0 + elapsed for t in ticks) >= 5  # the parent was responsive during the wait
        assert not alive(pid) and sandbox.worker.pid != pid  # killed, and a new worker already started
        assert sandbox.restarts == 1
    finally:
        stop.set()
        sandbox.close()
    assert child_pids() <= children  # the killed worker and its replacement: both gone


def test_cpu_limit_is_a_backstop_behind_the_wall_clock(mountaincar):
    # With a wall clock far away, RLIMIT_CPU (1 s here) ends the call: SIGXCPU kills the worker.
    desc, layout, matrix = mountaincar
    sandbox = RewardSandbox(gated(body("while True:", "    pass"), allow_while=True), desc.to_dict(), cpu_s=1.0)
    try:
        result = sandbox.score(matrix[:1], layout, 60.0)
    finally:
        sandbox.close()
    assert result.error.status == "died" and "SIGXCPU" in result.error.message


def test_h6_computed_memory_bomb_dies_in_the_worker_and_parent_rss_is_unchanged(mountaincar):
    # H6: np.zeros(n) with n computed from the input (10**10 floats = 80 GB) passes gate 1 and meets
    # RLIMIT_AS = 1 GiB in the worker: MemoryError, reported as `memory`; the parent allocates nothing.
    desc, layout, matrix = mountaincar
    source = gated(body("n = int(obs.position * 0 + 10000) * 1000000", "return float(np.zeros(n).sum())"))
    sandbox = RewardSandbox(source, desc.to_dict())
    before = rss_bytes()
    try:
        result = sandbox.score(matrix, layout, 30.0)
        after = rss_bytes()
        assert sandbox.worker.proc.poll() is None  # the worker survived its MemoryError
    finally:
        sandbox.close()
    assert (result.status == sandbox_module.STATUS["memory"]).all()
    assert result.error.exc_type == "MemoryError" and result.error.line == 4
    assert after - before < 64 * 2**20


def test_a_crash_reports_type_message_and_line(mountaincar):
    desc, layout, matrix = mountaincar
    source = gated(body("x = 1.0", "return obs.speed * x"))
    sandbox = RewardSandbox(source, desc.to_dict())
    try:
        result = sandbox.score(matrix, layout, 30.0)
    finally:
        sandbox.close()
    assert result.error.status == "crash" and result.error.exc_type == "AttributeError" and result.error.line == 4
    assert "speed" in result.error.message


def test_recursion_is_contained(mountaincar):
    desc, layout, matrix = mountaincar
    source = gated("def _f(n):\n    return _f(n + 1)\n" + body("return _f(0)"))
    sandbox = RewardSandbox(source, desc.to_dict())
    try:
        first = sandbox.score(matrix[:2], layout, 30.0)
        again = sandbox.score(matrix[:2], layout, 30.0)  # the same worker keeps serving
        pid = sandbox.worker.pid
    finally:
        sandbox.close()
    assert first.error.exc_type == "RecursionError" and again.error.exc_type == "RecursionError"
    assert sandbox.restarts == 0 and pid is not None


def test_close_and_garbage_collection_kill_the_worker(mountaincar):
    desc, layout, matrix = mountaincar
    sandbox = RewardSandbox(gated(GOOD), desc.to_dict())
    sandbox.score(matrix[:1], layout, 30.0)
    pid = sandbox.worker.pid
    sandbox.close()
    assert not alive(pid)
    sandbox = RewardSandbox(gated(GOOD), desc.to_dict())
    sandbox.score(matrix[:1], layout, 30.0)
    pid = sandbox.worker.pid
    del sandbox
    gc.collect()
    assert not alive(pid)


def test_nothing_from_the_worker_is_unpickled_or_evaluated():
    # The parent parses replies with struct and numpy.frombuffer only (a design rule of issue 14).
    source = inspect.getsource(sandbox_module)
    for banned in ("import pickle", "pickle.", "marshal", "eval(", "exec(", "literal_eval", "json.loads"):
        assert banned not in source, banned


def test_large_batches_travel_exactly():
    # 2,048 rows of 8 floats in one message (larger than a pipe buffer): every value comes back.
    desc = descriptor_for(None, type("Box", (), {"shape": (8,), "low": -np.inf, "high": np.inf})())
    obs = np.random.default_rng(0).normal(size=(2048, 8))
    layout, matrix = pack_rows(obs, None, obs, {}, np.arange(2048), desc.info_keys)
    sandbox = RewardSandbox(gated(body("return float(np.asarray(obs).sum())")), desc.to_dict())
    try:
        result = sandbox.score(matrix, layout, 60.0)
    finally:
        sandbox.close()
    assert result.totals.tolist() == [float(row.sum()) for row in obs]


# ------------------------------------------------------------------ check_reward_code (gates 1 + 2)
def test_check_reward_code_report_for_a_good_program(tmp_path):
    from rewardlab.shaping.llm.check import check_reward_code

    report = check_reward_code(GOOD, MOUNTAINCAR, samples=64, cwd=str(tmp_path))
    d = report.to_dict()
    # 64 random-policy transitions + 4 edge cases (zeros, low bound, high bound, a success step).
    assert (d["rows"], d["edge_cases"]) == (68, 4)
    assert sorted(d["components"]) == ["bonus", "progress"]
    assert d["components"]["bonus"]["max"] == 10.0  # the success edge case: 10 * is_success
    assert d["constant"] is False and d["warnings"] == []
    assert 0 < d["latency_p50_ms"] <= d["latency_p99_ms"] <= 5.0
    assert "seccomp" in d["layers"] and list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("expr", ["np.float32(0.5)", "np.array(0.5)", "True", "1", "np.int64(2)"])
def test_h8_scalar_like_returns_are_coerced(expr, tmp_path):
    # H8: a 0-d array, numpy scalars and bools are accepted as floats (the rejected types are in
    # the adversarial corpus: shape (3,), str, None -> return:type).
    from rewardlab.shaping.llm.check import check_reward_code

    report = check_reward_code(body(f"return {expr}"), MOUNTAINCAR, samples=8, cwd=str(tmp_path))
    assert report.constant and report.reward["min"] == float(eval(expr, {"np": np}))  # noqa: S307 - test's own literal
    assert any("same" in w for w in report.warnings)  # a constant reward only warns


def test_h9_latency_rule_and_transitions_passed_in(tmp_path):
    # H9's determinism and unchanged inputs hold for GOOD (its report above); here the latency
    # bound rejects and pre-made transitions replace sampling.
    from rewardlab.errors import RewardCodeRejected
    from rewardlab.shaping.llm.check import check_reward_code, sample_transitions

    batch, _ = sample_transitions(MOUNTAINCAR, 16, seed=1)
    report = check_reward_code(GOOD, MOUNTAINCAR, transitions=batch, cwd=str(tmp_path))
    assert report.rows == 16 + 4
    with pytest.raises(RewardCodeRejected) as e:
        check_reward_code(GOOD, MOUNTAINCAR, transitions=batch, latency_ms=1e-6, cwd=str(tmp_path))
    assert (e.value.gate, e.value.rule) == ("dry_run", "latency")
