"""Exact check of PBRS policy invariance (Ng, Harada & Russell 1999) by value iteration (issue 21, study 1, exact part).

For each tabular MDP (FrozenLake slippery and not, CliffWalking, Taxi, random MDPs) and each random
potential phi, the reward tables come from real rewardlab terms through ``reward_table``:

* ``EnvReward()`` (the task), ``EnvReward() + PBRS(phi, gamma, truncation=...)`` (shaped), and
  ``EnvReward() + FromFunction(bonus)`` with ``bonus = c * (phi(s') - min phi)``, a non-potential
  "being in a good state" bonus scaled so its largest value equals the largest |shaping| term.
* **bootstrap** mode (a learner that bootstraps at time limits, i.e. optimizes the discounted
  infinite-horizon return): optimal advantages by value/policy iteration.
* **terminal** mode (a learner that treats the time limit H as the end): optimal advantages of the
  finite-horizon MDP by backward induction, the last step's table scored with ``truncated=True``.
  Also the mismatch, bootstrap-mode PBRS under that learner, which PBRS's docs warn against.

It reports, per MDP: the largest change of the optimal advantage ``A*`` (exactly 0 up to rounding
under potential shaping: ``Q'(s, a) = Q(s, a) - phi(s)``), how often the set of optimal actions in
some reachable state changed, the STARC distance to the task reward, and for the bonus the true
return its optimal policy loses from the start distribution.

Run: ``python docs/results/pbrs_invariance/check.py [--potentials N] [--random-mdps M] [--json PATH]``.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np

from rewardlab.envs.tabular import tabular_mdp
from rewardlab.shaping import PBRS, EnvReward, FromFunction
from rewardlab.shaping.metrics import (
    TabularMDP,
    greedy_policy,
    optimal_advantage,
    policy_return,
    reward_table,
    starc_distance,
)

#: (label, env id, kwargs, gamma, horizon H of the finite-horizon check)
ENVS = [
    ("FrozenLake (slippery)", "FrozenLake-v1", {}, 0.99, 40),
    ("FrozenLake (deterministic)", "FrozenLake-v1", {"is_slippery": False}, 0.99, 20),
    ("CliffWalking", "CliffWalking-v1", {}, 0.99, 40),
    ("Taxi", "Taxi-v3", {}, 0.99, 40),
]
TOL = 1e-9  # optimal-action ties, relative to the scale of Q


@dataclass
class Row:
    mdp: str
    states: int
    potentials: int
    boot_max_dA: float  # largest |A*_shaped - A*| over all (s, a), bootstrap mode, infinite horizon
    boot_changed: int  # potentials for which some reachable state's optimal-action set changed
    boot_starc: float  # largest STARC distance between the task and shaped tables
    term_max_dA: float  # the same for terminal mode, finite horizon H, every step t
    term_changed: int
    mismatch_changed: int  # bootstrap-mode PBRS under the finite-horizon learner: policies changed
    bonus_changed: int  # non-potential bonus of the same size: policies changed
    bonus_regret: float  # mean true return lost from the start by the bonus-optimal policy
    bonus_starc: float  # mean STARC distance between the task and bonus tables


class TablePotential:
    """phi(obs) for integer observations (the state index), as a batched callable."""

    def __init__(self, values: np.ndarray):
        self.values = values

    def __call__(self, obs: Any) -> np.ndarray:
        return self.values[np.asarray(obs).reshape(-1)]


class ArrivalBonus:
    """A non-potential bonus c * (phi(s') - min phi): pays for being in a state, every step."""

    def __init__(self, values: np.ndarray, scale: float):
        self.values, self.scale = values - values.min(), scale

    def __call__(self, t: Any) -> np.ndarray:
        return self.scale * self.values[np.asarray(t.next_obs).reshape(-1)]



def finite_horizon_advantages(mdp: TabularMDP, table: np.ndarray, last: np.ndarray, horizon: int) -> np.ndarray:
    """A*_t(s, a) for t = 0..H-1 by backward induction (V_H = 0; step H-1 pays `last`); terminal states 0."""
    t, g, term = mdp.transitions, mdp.gamma, mdp.terminal
    v = np.zeros(mdp.num_states)
    out = np.zeros((horizon, mdp.num_states, mdp.num_actions))
    expected, expected_last = np.einsum("sat,sat->sa", t, table), np.einsum("sat,sat->sa", t, last)
    for step in range(horizon - 1, -1, -1):
        q = (expected_last if step == horizon - 1 else expected) + g * (t @ np.where(term, 0.0, v))
        q[term] = 0.0
        v = q.max(axis=1)
        out[step] = q - v[:, None]
    return out


def changed(a: np.ndarray, b: np.ndarray, live: np.ndarray, scale: float) -> bool:
    """Whether the optimal-action sets differ in some live (reachable, non-terminal) state."""
    tol = TOL * (1.0 + scale)
    return bool(((a[..., live, :] >= -tol) != (b[..., live, :] >= -tol)).any())


def check(label: str, mdp: TabularMDP, horizon: int, n_potentials: int, rng: np.random.Generator) -> Row:
    g = mdp.gamma
    live = mdp.reachable() & ~mdp.terminal
    base = reward_table(EnvReward(), mdp)
    base_last = reward_table(EnvReward(), mdp, truncated=True)
    a0 = optimal_advantage(mdp.transitions, base, g, terminal=mdp.terminal)
    f0 = finite_horizon_advantages(mdp, base, base_last, horizon)
    v_opt = policy_return(greedy_policy(a0), mdp, reward=base)
    r_scale = float(np.abs(base).max())
    row = Row(label, mdp.num_states, n_potentials, 0.0, 0, 0.0, 0.0, 0, 0, 0, 0.0, 0.0)
    for _ in range(n_potentials):
        phi = TablePotential(rng.normal(size=mdp.num_states) * r_scale)
        scale = r_scale + float(np.abs(phi.values).max()) / (1 - g)
        boot = EnvReward() + PBRS(phi, gamma=g, truncation="bootstrap")
        terminal_mode = EnvReward() + PBRS(phi, gamma=g, truncation="terminal")
        shaped = reward_table(boot, mdp)
        a1 = optimal_advantage(mdp.transitions, shaped, g, terminal=mdp.terminal)
        row.boot_max_dA = max(row.boot_max_dA, float(np.abs(a1 - a0).max()))
        row.boot_changed += changed(a1, a0, live, scale)
        row.boot_starc = max(row.boot_starc, starc_distance(base, shaped, mdp.transitions, g))
        # Finite horizon H, truncation as the end: terminal-mode PBRS (Phi(s_H) = 0) is shaping there.
        f1 = finite_horizon_advantages(mdp, reward_table(terminal_mode, mdp), reward_table(terminal_mode, mdp, truncated=True), horizon)
        row.term_max_dA = max(row.term_max_dA, float(np.abs(f1 - f0).max()))
        row.term_changed += changed(f1, f0, live, scale)
        fm = finite_horizon_advantages(mdp, shaped, reward_table(boot, mdp, truncated=True), horizon)
        row.mismatch_changed += changed(fm, f0, live, scale)
        # The trap: a bonus for being in good states, as large as the shaping term.
        shaping_size = float(np.abs(shaped - base).max())
        bonus_values = phi.values - phi.values.min()
        c = shaping_size / max(float(bonus_values.max()), 1e-12)
        bonus = reward_table(EnvReward() + FromFunction(ArrivalBonus(phi.values, c)), mdp)
        ab = optimal_advantage(mdp.transitions, bonus, g, terminal=mdp.terminal)
        row.bonus_changed += changed(ab, a0, live, scale)
        row.bonus_regret += (v_opt - policy_return(greedy_policy(ab), mdp, reward=base)) / n_potentials
        row.bonus_starc += starc_distance(base, bonus, mdp.transitions, g) / n_potentials
    return row


def random_mdp(rng: np.random.Generator, s: int = 16, a: int = 4, gamma: float = 0.9) -> TabularMDP:
    """A random dense MDP (Dirichlet rows over 16 states, 4 actions), Gaussian reward, uniform start."""
    t = rng.dirichlet(np.ones(s), size=(s, a))
    return TabularMDP(t, rng.normal(size=(s, a, s)), np.full(s, 1.0 / s), np.zeros(s, dtype=bool), np.arange(s), gamma, "random")


def run(n_potentials: int = 20, n_random: int = 20, seed: int = 0) -> list[Row]:
    rng = np.random.default_rng(seed)
    rows = [check(label, tabular_mdp(env_id, gamma=g, **kw), h, n_potentials, rng) for label, env_id, kw, g, h in ENVS]
    randoms = [check(f"random {i}", random_mdp(rng), 20, n_potentials, rng) for i in range(n_random)]
    if randoms:
        merged = Row(f"random MDPs (x{n_random})", 16, n_potentials * n_random,
                     max(r.boot_max_dA for r in randoms), sum(r.boot_changed for r in randoms), max(r.boot_starc for r in randoms),
                     max(r.term_max_dA for r in randoms), sum(r.term_changed for r in randoms), sum(r.mismatch_changed for r in randoms),
                     sum(r.bonus_changed for r in randoms), float(np.mean([r.bonus_regret for r in randoms])),
                     float(np.mean([r.bonus_starc for r in randoms])))  # fmt: skip
        rows.append(merged)
    return rows


def markdown(rows: list[Row]) -> str:
    head = ("| MDP | S | potentials | PBRS bootstrap: max abs dA* | changed | max STARC | PBRS terminal (H): max abs dA* | changed "
            "| bootstrap PBRS, no-bootstrap learner: changed | bonus: changed | bonus: regret | bonus: STARC |")
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        lines.append(f"| {r.mdp} | {r.states} | {r.potentials} | {r.boot_max_dA:.1e} | {r.boot_changed} | {r.boot_starc:.1e} | "
                     f"{r.term_max_dA:.1e} | {r.term_changed} | {r.mismatch_changed} | {r.bonus_changed} | {r.bonus_regret:.3f} | {r.bonus_starc:.3f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--potentials", type=int, default=20, help="random potentials per MDP")
    p.add_argument("--random-mdps", type=int, default=20, help="random 16x4 MDPs")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", default=None, help="write the rows as JSON here")
    args = p.parse_args(argv)
    rows = run(args.potentials, args.random_mdps, args.seed)
    print(markdown(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump([asdict(r) for r in rows], f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
