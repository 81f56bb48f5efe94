"""`rewardlab distance CONFIG` and the report's reward-distance matrix (issue 18)."""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

import numpy as np
import pytest
import yaml

import rewardlab
from rewardlab.ablation import expand, validate, write_report
from rewardlab.ablation.distances import distance_matrices, format_matrix
from rewardlab.ablation.store import RunStore
from rewardlab.cli_distance import add_distance_parser

POTENTIAL = '''
import numpy as np

def lake_phi(obs):
    """Minus the Manhattan distance to the goal of the 4x4 lake (nonzero on the holes)."""
    s = np.asarray(obs).reshape(-1)
    return -((3 - s // 4) + (3 - s % 4)).astype(np.float64)
'''

REWARDS = {
    "env": "EnvReward",
    "shaped": {"type": "Sum", "terms": ["EnvReward", {"type": "PBRS", "potential": "lake_potentials:lake_phi", "gamma": 0.99}]},
    "double": {"type": "Scale", "term": "EnvReward", "scale": 2.0},
    "neg": {"type": "Scale", "term": "EnvReward", "scale": -1.0},
    "step_cost": {"type": "Sum", "terms": ["EnvReward", {"type": "Constant", "value": -0.05}]},
}


@pytest.fixture
def lake_config(tmp_path, monkeypatch):
    (tmp_path / "lake_potentials.py").write_text(POTENTIAL)
    monkeypatch.syspath_prepend(str(tmp_path))
    return {
        "name": "lake", "seeds": 2, "budget": {"total_steps": 100}, "evaluation": {"every": 100, "episodes": 1},
        "rewards": REWARDS, "algorithms": [{"algo": "PPO", "hyperparams": {"gamma": 0.99}}],
        "envs": [{"id": "FrozenLake-v1", "label": "lake"}, {"id": "CartPole-v1", "label": "pole", "rewards": ["env"]}],
    }  # fmt: skip


def test_matrix_on_frozenlake(lake_config):
    lake, pole = distance_matrices(validate(lake_config))
    assert lake.available and lake.rewards == list(REWARDS) and lake.gamma == 0.99
    d = {(a, b): lake.starc[i, j] for i, a in enumerate(lake.rewards) for j, b in enumerate(lake.rewards)}
    # Policy-ordering identities (spec F4): shaping and positive scaling give 0, negation 1.
    assert d["env", "shaped"] <= 1e-9 and d["env", "double"] <= 1e-9
    assert d["env", "neg"] == pytest.approx(1.0, abs=1e-12)
    # A per-step cost on an episodic task is not shaping (it ends episodes sooner): strictly between.
    assert 0.05 < d["env", "step_cost"] < 0.95
    np.testing.assert_allclose(lake.starc, lake.starc.T, atol=1e-15)
    np.testing.assert_array_equal(np.diag(lake.starc), 0.0)
    # EPIC on the same table: scale-invariant, and blind to shaping only where the potential
    # vanishes on terminal states, which this one does not (the holes), as the note says.
    e = {(a, b): lake.epic[i, j] for i, a in enumerate(lake.rewards) for j, b in enumerate(lake.rewards)}
    assert e["env", "double"] <= 1e-9 and e["env", "neg"] == pytest.approx(1.0, abs=1e-12)
    assert e["env", "shaped"] > 0.1
    assert any("vanish on terminal states" in n for n in lake.notes)
    # CartPole has no table: the reason, no numbers.
    assert not pole.available and "no exact tabular form" in pole.reason
    assert format_matrix(pole).startswith("pole: no distances (")


def test_matrix_on_a_gridhack_level():
    """The bonus study's rewards on its Corridors-R5 level, as a run starts (counts empty)."""
    cfg = validate(yaml.safe_load((Path(rewardlab.__file__).parents[1] / "examples" / "bonus_study.yaml").read_text()))
    cfg["envs"] = cfg["envs"][:1]  # Corridors-R5, one context
    (m,) = distance_matrices(cfg)
    assert m.available and m.rewards == ["global", "episodic", "product"]
    d = {(a, b): m.starc[i, j] for i, a in enumerate(m.rewards) for j, b in enumerate(m.rewards)}
    # An empty global count scores 1 / sqrt(1) = 1 on every step, so the product is the episodic bonus.
    assert d["episodic", "product"] <= 1e-12
    # The global bonus is then a constant 0.1 a step, which on an episodic task is not shaping (it pays
    # for staying out of the goal), and the episodic one pays first visits: they differ (0.262 measured).
    assert 0.1 < d["global", "episodic"] < 0.5
    assert "211 states x 8 actions" in " ".join(m.notes)


def test_envs_without_a_table_say_why(lake_config):
    lake_config["envs"] = [{"id": "FrozenLake-v1", "label": "wrapped", "wrappers": ["gymnasium.wrappers:TimeAwareObservation"]}]
    (m,) = distance_matrices(validate(lake_config))
    assert not m.available and "wrappers" in m.reason


def test_cli_prints_and_writes_json(lake_config, tmp_path, capsys):
    path = tmp_path / "lake.yaml"
    path.write_text(yaml.safe_dump(lake_config))
    parser = argparse.ArgumentParser()
    add_distance_parser(parser.add_subparsers())
    args = parser.parse_args(["distance", str(path), "--json", str(tmp_path / "d.json")])
    assert args.func(args) == 0
    out = capsys.readouterr().out
    assert "STARC" in out and "EPIC" in out and "pole: no distances" in out
    rows = json.loads((tmp_path / "d.json").read_text())
    assert [r["env"] for r in rows] == ["lake", "pole"]
    neg = rows[0]["rewards"].index("neg")
    assert rows[0]["starc"][0][neg] == pytest.approx(1.0, abs=1e-12)
    assert rows[1]["starc"] is None and rows[1]["reason"]


def test_report_shows_the_matrix_beside_the_table(lake_config, tmp_path):
    cfg = validate({**lake_config, "envs": [{"id": "FrozenLake-v1", "label": "lake"}]})
    root = tmp_path / "sweep"
    root.mkdir()
    (root / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False))
    store = RunStore(root)
    for spec in expand(cfg):
        final = 0.5 + 0.1 * spec["seed"]
        store.write({
            "key": spec["key"], "spec": spec, "seed": spec["seed"], "status": "completed", "steps": 100, "budget": 100,
            "versions": {"rewardlab": rewardlab.__version__}, "steps_per_s": 50.0, "train_steps_per_s": 80.0,
            "curve": [{"step": 0, "task_return": 0.0, "success": 0.0}, {"step": 100, "task_return": final, "success": final}],
            "final": {"task_return": final, "success": final}, "term_abs_totals": {"env": 1.0}, "learner_log": [],
        })  # fmt: skip
    page, _ = write_report(root, reps=50)
    text = Path(page).read_text()
    assert text.index("Final performance") < text.index("Reward distances") < text.index("Learning curves")
    section = text[text.index("Reward distances") : text.index("Learning curves")]
    assert "<th>STARC</th>" in section and "<th>EPIC</th>" in section and "<td>1.000</td>" in section
    assert section.count("<tr>") == 2 * (1 + len(REWARDS))  # header + one row per reward, for each matrix


def test_report_without_tabular_envs_has_no_section(tmp_path):
    from rewardlab.ablation.distances import matrices_html

    cfg = validate({"name": "pole", "seeds": 1, "budget": {"total_steps": 100}, "rewards": {"env": "EnvReward"},
                    "algorithms": ["PPO"], "envs": ["CartPole-v1"]})  # fmt: skip
    assert matrices_html(cfg) == ""
    assert math.isfinite(distance_matrices(cfg)[0].gamma)
