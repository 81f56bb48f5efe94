"""A short soak of the batched cores (the 1M-step version is `python benchmarks/soak.py`).

100k random env-steps of a gridhack vector env (jackals, lava, doors) and of two coopetition vector
envs, run by the benchmark script itself in a fresh process: no NaN or inf in rewards and float
observations, every sampled observation batch inside the observation space, and flat memory. The
RSS bound: after a warm-up of 10% of the steps, growth of at most 16 MiB over 6,250 batched steps
(B = 16); leaking one batch of gridhack observations per step (16 x 21 x 79 x 4 bytes = 104 KiB)
would grow it by about 580 MiB, one coopetition observation batch per step by tens of MiB.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "soak.py"


def test_soak_100k_steps_no_nan_flat_memory():
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--steps", "100000", "--num-envs", "16", "--check-every", "1000", "--json",
         "--gridhack", "MultiRoom-N6-LavaMonsters", "--coopetition", "PublicGoods", "DynamicPartnerSelection"],
        capture_output=True, text=True, timeout=600, check=True,
    )
    results = json.loads(out.stdout.strip().splitlines()[-1])
    assert [r["env"] for r in results] == ["rewardlab/Gridhack-MultiRoom-N6-LavaMonsters-v0",
                                           "rewardlab/PublicGoods-v0", "rewardlab/DynamicPartnerSelection-v0"]
    for r in results:
        assert r["env_steps"] == 100_000 // 16 * 16, r
        assert r["episodes"] > 0, r  # autoreset was exercised
        assert r["nonfinite"] == 0, r
        assert r["obs_outside_space"] == 0, r
        assert r["rss_growth_mib"] <= 16.0, r
