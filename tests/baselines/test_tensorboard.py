"""ScalarLog: what reaches the event file (read back with TensorBoard's own reader)."""

from __future__ import annotations

import math

import numpy as np
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from rewardlab.baselines.tensorboard import ScalarLog


def read(folder) -> dict[str, list[tuple[int, float]]]:
    events = EventAccumulator(str(folder))
    events.Reload()
    return {tag: [(e.step, e.value) for e in events.Scalars(tag)] for tag in events.Tags()["scalars"]}


def test_scalars_written_and_junk_skipped(tmp_path):
    log = ScalarLog(tmp_path / "run")
    log.add("losses/value", 0.25, step=10)
    # numpy scalars and ints are numbers; NaN, inf, strings, None and lists are skipped.
    log.add_many({"eval/task_return": np.float32(2.5), "charts/sps": 3, "eval/success": math.nan, "x/inf": math.inf,
                  "x/str": "a", "x/none": None, "x/list": [1.0]}, step=20)
    log.add("losses/value", 0.5, step=30)
    log.close()
    log.close()  # a second close is a no-op
    # 0.25, 0.5, 2.5 and 3 are exact in float32, the event file's type.
    assert read(tmp_path / "run") == {"losses/value": [(10, 0.25), (30, 0.5)], "eval/task_return": [(20, 2.5)],
                                      "charts/sps": [(20, 3.0)]}


def test_no_folder_writes_nothing(tmp_path):
    log = ScalarLog(None)
    log.add("a", 1.0, 0)
    log.add_many({"b": 2.0}, 0)
    log.flush()
    log.close()
    assert log.folder is None and list(tmp_path.iterdir()) == []


def test_purge_step_drops_the_killed_runs_tail(tmp_path):
    # A run checkpointed at step 20 and killed at step 30 wrote 10, 20, 30; the resumed one rewrites 30.
    first = ScalarLog(tmp_path)
    for step in (10, 20, 30):
        first.add("charts/sps", float(step), step)
    first.close()
    resumed = ScalarLog(tmp_path, purge_step=30)
    resumed.add("charts/sps", 31.0, 30)
    resumed.close()
    assert read(tmp_path)["charts/sps"] == [(10, 10.0), (20, 20.0), (30, 31.0)]
