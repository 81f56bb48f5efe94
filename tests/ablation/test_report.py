"""The report: table numbers from the store, and the page rendered by a real headless Chromium."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest
import yaml

import rewardlab
from rewardlab.ablation import expand, final_table, format_table, validate, write_report
from rewardlab.ablation.report import load_blend_weights
from rewardlab.ablation.store import RunStore

CHROMIUM = "/usr/bin/chromium"


def fake_sweep(root: Path) -> None:
    """A store written by hand: 3 seeds x 2 rewards on one env, with known final returns.

    The records are those of a real config's runs (keys from ``expand``), since the report counts
    only records of the runs in config.yaml.
    """
    cfg = validate({
        "name": "car", "seeds": 3, "baseline": "sparse", "budget": {"total_steps": 100}, "evaluation": {"every": 100, "episodes": 1},
        "rewards": {"sparse": "EnvReward", "shaped": {"type": "Sum", "terms": ["EnvReward", {"type": "Constant", "value": 1.0}]}},
        "algorithms": ["PPO"], "envs": [{"id": "CartPole-v1", "label": "Car"}],
    })  # fmt: skip
    (root / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    store = RunStore(root)
    finals = {"sparse": [-200.0, -200.0, -150.0], "shaped": [-120.0, -110.0, -200.0]}
    for spec in expand(cfg):
        reward, seed = spec["reward_name"], spec["seed"]
        final = finals[reward][seed]
        store.write(
            {
                "key": spec["key"], "spec": spec, "seed": seed, "status": "completed", "steps": 100, "budget": 100,
                "versions": {"rewardlab": rewardlab.__version__}, "steps_per_s": 50.0, "train_steps_per_s": 80.0 + seed,
                "curve": [{"step": 0, "task_return": -200.0, "success": 0.0}, {"step": 100, "task_return": final, "success": float(final > -200)}],
                "final": {"task_return": final, "success": float(final > -200)},
                "term_abs_totals": {"env": 300.0, "pbrs": 100.0} if reward == "shaped" else {"env": 300.0},
                # a learned blend's log on the shaped runs: its weight falls by 0.1 (seed + 1) per rollout
                "learner_log": [{"step": s, "blend/blend/w_bonus": 1.0 - 0.1 * (seed + 1) * i, "blend/blend/gamma": 0.99,
                                 "blend/blend/grad_norm": 2.0, "losses/policy": 0.1} for i, s in enumerate((50, 100))]
                if reward == "shaped" else [],
            }
        )  # fmt: skip


def test_final_table_values(tmp_path):
    fake_sweep(tmp_path)
    table = final_table(tmp_path, reps=500).set_index("reward")
    # IQM of 3 seeds cuts nothing (floor(3/4) = 0): the mean. sparse: (-200-200-150)/3; shaped: (-120-110-200)/3.
    assert table.loc["sparse", "return_iqm"] == pytest.approx(-550 / 3)
    assert table.loc["shaped", "return_iqm"] == pytest.approx(-430 / 3)
    # P(shaped > sparse) over the 9 pairs: -120 and -110 beat all 3 (6), -200 ties two -200s (1) and loses to -150: 7/9.
    assert table.loc["shaped", "p_improve"] == pytest.approx(7 / 9)
    assert np.isnan(table.loc["sparse", "p_improve"])
    # Term shares: 300 / 400 and 100 / 400 of the summed |term| values.
    assert table.loc["shaped", "term_shares"] == {"env": 0.75, "pbrs": 0.25}
    shown = format_table(final_table(tmp_path, reps=500), "sparse")
    assert shown.set_index("reward").loc["shaped", "term shares of |training reward|"] == "env 75%, pbrs 25%"
    # Found 8: steps/s included evaluation time. The column is training alone: mean of 80, 81, 82 = 81.
    assert table.loc["sparse", "train_steps_per_s"] == pytest.approx(81.0)
    assert shown.set_index("reward").loc["sparse", "train steps/s"] == "81"


def test_blend_weights_are_read_from_learner_logs(tmp_path):
    fake_sweep(tmp_path)
    w = load_blend_weights(tmp_path)
    # 3 shaped seeds x 2 rollouts x (w_bonus, gamma); grad_norm and losses are not parameters
    assert sorted(w["param"].unique()) == ["blend/gamma", "blend/w_bonus"] and len(w) == 12
    last = w[(w["param"] == "blend/w_bonus") & (w["step"] == 100)].sort_values("seed")["value"].tolist()
    assert last == pytest.approx([0.9, 0.8, 0.7])  # 1 - 0.1 (seed + 1)
    assert set(w["reward"]) == {"shaped"}


@pytest.mark.skipif(not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} is absent (apt-get install chromium)")
def test_report_renders_in_headless_chromium(tmp_path):
    fake_sweep(tmp_path)
    page, _ = write_report(tmp_path, reps=200)
    assert (tmp_path / "plots" / "Car.png").stat().st_size > 1000
    assert (tmp_path / "plots" / "Car-blend.png").stat().st_size > 1000
    flags = [
        CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        f"--user-data-dir={tmp_path / 'chrome'}", "--virtual-time-budget=5000",
    ]  # fmt: skip
    dom = subprocess.run([*flags, "--dump-dom", page.as_uri()], capture_output=True, text=True, timeout=120).stdout
    # The page's script sets data-images="loaded" only when every <img> decoded (naturalWidth > 0).
    assert '<body data-images="loaded">' in dom
    assert "task return IQM [95% CI]" in dom and "-183.3 [" in dom  # -550/3 rounded to one decimal
    assert "Learned blend weights" in dom
    shot = tmp_path / "report.png"
    subprocess.run([*flags, f"--screenshot={shot}", "--window-size=1200,1400", page.as_uri()], capture_output=True, timeout=120)
    assert shot.stat().st_size > 20_000  # a blank page is a few kB; plots and table make it much larger
    keep = Path("/tmp/rewardlab_report_screenshot.png")  # for a human to look at
    shutil.copy(shot, keep)
