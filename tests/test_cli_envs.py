"""`rewardlab envs --potentials` lists each env's named potentials (issue 16, item 9).

The expected names are those the families register (rewardlab/envs/control/__init__.py TASKS,
gridhack's subgoal_distance, coopetition's trust_received), read back through the public
`potentials_for`; the command prints them, sorted, after the id.
"""

from __future__ import annotations

import rewardlab  # noqa: F401
from rewardlab.cli import main
from rewardlab.envs import list_ids
from rewardlab.shaping.potentials import potentials_for


def test_envs_potentials_lists_every_env_with_its_potentials(capsys):
    assert main(["envs", "--potentials"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == len(list_ids())
    by_id = {line.split()[0]: line for line in lines}
    assert by_id["rewardlab/Sparse-MountainCar-v0"].split(None, 1)[1].startswith("energy (Mechanical energy")
    assert "; height (" in by_id["rewardlab/Sparse-MountainCar-v0"]
    assert by_id["rewardlab/Sparse-Pusher-v0"].split(None, 1)[1].startswith("neg_distance (")
    assert by_id["rewardlab/Gridhack-KeyRoom-S10-v0"].split(None, 1)[1] == "subgoal_distance"
    for env_id in list_ids():
        for name in potentials_for(env_id):
            assert name in by_id[env_id], (env_id, name)


def test_envs_potentials_with_filter(capsys):
    assert main(["envs", "--potentials", "trustdilemma"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("rewardlab/TrustDilemma-v0") and "trust_received (" in out[0]
