"""Knox et al.'s regret vs partial-return study on tabular MDPs (rewardlab issue 18).

Claim tested (Knox et al., "Models of human preference for learning reward functions"): when
preferences come from a *regret* teacher, a reward learned with the regret preference model is
closer to the true reward (lower STARC distance) and its optimal policy earns more true return
than one learned with the partial-return model, from the same preferences; the reverse control
uses a partial-return teacher.

Setup: 20 random MDPs (12 states, 3 actions, each action reaching 2 random successors with
Dirichlet(1) probabilities, reward N(0, 1) per (s, a)) and a 5x5 gridworld (step cost 1, four mud
cells cost 5 more to enter, entering the absorbing goal pays 10; deterministic moves), gamma 0.9.
Segments: 3 steps of uniformly random actions from uniformly random start states (so segments
start in good and bad states alike, where partial return misleads). Teachers label pairs
``1[a > b]`` drawn from the Bradley-Terry probability of their model at temperature 1 (Knox et
al.'s stochastic synthetic preferences), or noiselessly (``--noiseless``). Learners fit a table
``r_hat[s, a, s']`` by the Bradley-Terry loss under their model (full-batch Adam, 300 steps,
lr 0.05, L2 1e-3; regret through exact A* of the table, see
:mod:`rewardlab.shaping.preferences.tabular`). The regret loss is not convex in the table, so the
regret learner is reported twice: from one small random start (``regret``), and as the better, by
its own training loss, of that fit and a second start at the partial-return fit
(``regret_best_of_2``); the share of MDPs where the second start won says how often the first
ended in a worse local optimum. Measures: STARC distance to the true reward (in
[0, 1]) and the normalized true return of the greedy policy of ``r_hat`` from uniform
non-terminal starts, ``(J - J_uniform) / (J* - J_uniform)`` (1 = optimal, 0 = random).

Run: ``python docs/results/preferences/knox.py [--prefs 300] [--mdps 20] [--grid-seeds 5] [--json out.json]``
(about 2 minutes on one core for both teacher noise settings).
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np

from rewardlab.shaping.metrics import greedy_policy, policy_return, starc_distance, value_iteration
from rewardlab.shaping.preferences.tabular import fit_reward_table, preference_nll, sample_segments, teacher_labels

MODELS = ("regret", "partial_return")
#: Learners: the two models, and the regret model fitted from two starts keeping the lower training loss.
LEARNERS = ("regret", "regret_best_of_2", "partial_return")
GAMMA = 0.9
SEGMENT = 3


def random_mdp(rng: np.random.Generator, states: int = 12, actions: int = 3, successors: int = 2):
    """Sparse stochastic transitions, a Gaussian reward per (s, a); no terminal states."""
    t = np.zeros((states, actions, states))
    for s in range(states):
        for a in range(actions):
            t[s, a, rng.choice(states, size=successors, replace=False)] = rng.dirichlet(np.ones(successors))
    r = np.repeat(rng.normal(size=(states, actions))[:, :, None], states, axis=2)
    return t, r, np.zeros(states, bool)


def gridworld(n: int = 5):
    """Deterministic n x n grid: step -1, entering mud -5 more, entering the goal (absorbing, bottom right) +10."""
    moves = [(0, 1), (1, 0), (0, -1), (-1, 0)]
    goal, mud = n * n - 1, {7, 11, 12, 17}
    t, r = np.zeros((n * n, 4, n * n)), np.zeros((n * n, 4, n * n))
    for s in range(n * n):
        x, y = divmod(s, n)
        for a, (dx, dy) in enumerate(moves):
            if s == goal:
                t[s, a, s] = 1.0
                continue
            s2 = min(max(x + dx, 0), n - 1) * n + min(max(y + dy, 0), n - 1)
            t[s, a, s2] = 1.0
            r[s, a, s2] = -1.0 + 10.0 * (s2 == goal) - 5.0 * (s2 in mud)
    terminal = np.zeros(n * n, bool)
    terminal[goal] = True
    return t, r, terminal


def evaluate(r_hat: np.ndarray, t: np.ndarray, r: np.ndarray, terminal: np.ndarray) -> tuple[float, float]:
    """(STARC distance to the true reward, normalized true return of r_hat's greedy policy)."""
    _, q = value_iteration(t, r_hat, GAMMA)
    start = np.where(terminal, 0.0, 1.0)
    start /= start.sum()
    j = policy_return(greedy_policy(q), transitions=t, reward=r, initial=start, gamma=GAMMA)
    j_star = float(start @ value_iteration(t, r, GAMMA)[0])
    j_unif = policy_return(np.full(q.shape, 1.0 / q.shape[1]), transitions=t, reward=r, initial=start, gamma=GAMMA)
    return starc_distance(r_hat, r, t, GAMMA), (j - j_unif) / (j_star - j_unif)


def run_instance(t, r, terminal, prefs: int, seed: int, temperature: float) -> dict[tuple[str, str], tuple[float, float]]:
    """Both teachers x both learners on one MDP, the same segment pairs for all four."""
    rng = np.random.default_rng(seed)
    a, b = sample_segments(t, prefs, SEGMENT, rng), sample_segments(t, prefs, SEGMENT, rng)
    out = {}
    for teacher in MODELS:
        labels = teacher_labels(teacher, r, t, GAMMA, a, b, rng, terminal=terminal, temperature=temperature)
        fits = {learner: fit_reward_table(learner, t, GAMMA, a, b, labels, seed=seed) for learner in MODELS}
        # The regret loss is not convex in the table: a second start, at the partial-return fit, and the
        # fit with the lower regret-model training loss is kept (chosen on the labels, never on the truth).
        second = fit_reward_table("regret", t, GAMMA, a, b, labels, seed=seed, init=fits["partial_return"])
        nll = lambda x: preference_nll("regret", x, t, GAMMA, a, b, labels, terminal=terminal)  # noqa: E731
        fits["regret_best_of_2"] = min((fits["regret"], second), key=nll)
        out["_second_start_better", teacher] = nll(second) < nll(fits["regret"])
        for learner in LEARNERS:
            out[teacher, learner] = evaluate(fits[learner], t, r, terminal)
    return out


def study(prefs: int = 300, mdps: int = 20, grid_seeds: int = 5, temperature: float = 1.0) -> dict[str, dict]:
    results: dict[str, dict] = {}
    for domain, instances in (("random", [(random_mdp(np.random.default_rng(i)), 1000 + i) for i in range(mdps)]),
                              ("grid", [(gridworld(), 2000 + k) for k in range(grid_seeds)])):
        rows = [run_instance(*mdp, prefs, seed, temperature) for mdp, seed in instances]
        table = {}
        for teacher in MODELS:
            for learner in LEARNERS:
                v = np.array([row[teacher, learner] for row in rows])
                table[f"{teacher}->{learner}"] = {"starc": v[:, 0].tolist(), "return": v[:, 1].tolist()}
            pr = np.array([row[teacher, "partial_return"] for row in rows])
            for learner in ("regret", "regret_best_of_2"):
                reg = np.array([row[teacher, learner] for row in rows])
                table[f"{teacher}: {learner} wins"] = {
                    "starc": float(np.mean(reg[:, 0] < pr[:, 0])), "return": float(np.mean(reg[:, 1] > pr[:, 1] + 1e-9)),
                    "return_ties": float(np.mean(np.abs(reg[:, 1] - pr[:, 1]) <= 1e-9))}
            # how often the second start reached a lower training loss: the one-start fit was in a worse local optimum
            table[f"{teacher}: second start better"] = float(np.mean([row["_second_start_better", teacher] for row in rows]))
        results[domain] = table
    return results


def report(results: dict[str, dict], title: str) -> str:
    lines = [f"### {title}", "", "| domain | teacher | learner | STARC to true (mean +- se) | normalized return (mean +- se) |", "|---|---|---|---|---|"]
    for domain, table in results.items():
        for teacher in MODELS:
            for learner in LEARNERS:
                cell = table[f"{teacher}->{learner}"]
                s, g = np.array(cell["starc"]), np.array(cell["return"])
                se = lambda x: x.std(ddof=1) / np.sqrt(len(x)) if len(x) > 1 else 0.0  # noqa: E731
                lines.append(f"| {domain} (n={len(s)}) | {teacher} | {learner} | {s.mean():.3f} +- {se(s):.3f} | {g.mean():.3f} +- {se(g):.3f} |")
    lines += ["", "Paired, per MDP, against the partial-return learner on the same labels:", "",
              "| domain | teacher | learner | lower STARC | higher return (ties) | second start had the lower loss |", "|---|---|---|---|---|---|"]
    for domain, table in results.items():
        for teacher in MODELS:
            for learner in ("regret", "regret_best_of_2"):
                w = table[f"{teacher}: {learner} wins"]
                stuck = f"{table[f'{teacher}: second start better']:.2f}" if learner == "regret_best_of_2" else ""
                lines.append(f"| {domain} | {teacher} | {learner} | {w['starc']:.2f} | {w['return']:.2f} ({w['return_ties']:.2f}) | {stuck} |")
    return "\n".join(lines)


def main() -> None:
    import torch

    torch.set_num_threads(1)
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--prefs", type=int, default=300)
    parser.add_argument("--mdps", type=int, default=20)
    parser.add_argument("--grid-seeds", type=int, default=5)
    parser.add_argument("--noiseless", action="store_true", help="only the noiseless teachers")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    t0 = time.perf_counter()
    settings = [("noiseless teachers", 0.0)] if args.noiseless else [("stochastic teachers (temperature 1)", 1.0), ("noiseless teachers", 0.0)]
    everything = {}
    for title, temperature in settings:
        res = study(args.prefs, args.mdps, args.grid_seeds, temperature)
        everything[title] = res
        print(report(res, f"{title}, {args.prefs} preferences"), "\n", flush=True)
    print(f"({time.perf_counter() - t0:.0f} s)")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(everything, f)


if __name__ == "__main__":
    main()
