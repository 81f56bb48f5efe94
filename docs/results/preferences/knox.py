"""Knox et al.'s regret vs partial-return study on tabular MDPs (rewardlab issue 18).

Claim tested (Knox et al., "Models of human preference for learning reward functions"): when
preferences come from a *regret* teacher, a reward learned with the regret preference model is
closer to the true reward (lower STARC distance) and its optimal policy earns more true return
than one learned with the partial-return model, from the same preferences; the reverse control
uses a partial-return teacher.

Setup (the domains follow Knox et al.'s delivery domain: the reward is a linear function of the cell
type entered, and the learner fits weights on those features): 20 random MDPs (12 states, 3 actions,
each action reaching 2 random successors with Dirichlet(1) probabilities; each state one of 4 cell
types, entering a type pays its N(0, 1) weight) and 10 random 5x5 gridworlds (step cost 1, four mud
cells cost 5 more to enter, an absorbing goal +10 and two absorbing traps -10, at random cells;
deterministic moves), gamma 0.9. Segments: 3 steps of uniformly random actions from uniformly random
start states (so segments start in good and bad states alike, where partial return misleads).
Teachers label pairs ``1[a > b]`` drawn from the Bradley-Terry probability of their model at
temperature 1 (Knox et al.'s stochastic synthetic preferences), or noiselessly. Learners fit
``r_hat[s, a, s']`` by the Bradley-Terry loss under their model (full-batch Adam, 300 steps, lr
0.05, L2 1e-3; regret through the exact A* of the fitted reward, see
:mod:`rewardlab.shaping.preferences.tabular`), in two reward classes: ``features``, linear in the
MDP's cell features (Knox et al.'s setting; the true reward is in the class), and ``table``, one free
entry per (s, a, s') (which can represent A* itself: a partial-return learner fed regret labels
learns a shaped copy of the truth, so this class shows why the effect needs a restricted reward).
The regret loss is not convex, so the regret learner is reported twice: from one small random start
(``regret``), and as the better, by its own training loss, of that fit and a second start at the
partial-return fit (``regret_best_of_2``); the share of MDPs where the second start won says how
often the first ended in a worse local optimum. Measures: STARC distance to the true reward (in
[0, 1]) and the normalized true return of the greedy policy of ``r_hat`` from uniform non-terminal
starts, ``(J - J_uniform) / (J* - J_uniform)`` (1 = optimal, 0 = random).

Run: ``python docs/results/preferences/knox.py [--prefs 30,100,300] [--mdps 20] [--grid-seeds 10]
[--classes features,table] [--noiseless] [--json out.json]``.
"""

from __future__ import annotations

import argparse
import json
import time
from functools import partial

import numpy as np

from rewardlab.shaping.metrics import greedy_policy, policy_return, starc_distance, value_iteration
from rewardlab.shaping.preferences.tabular import fit_reward_table, preference_nll, sample_segments, teacher_labels

MODELS = ("regret", "partial_return")
#: What the learners fit: a reward linear in the MDP's cell features (Knox et al.'s setting), or a free table.
CLASSES = ("features", "table")
#: Learners: the two models, and the regret model fitted from two starts keeping the lower training loss.
LEARNERS = ("regret", "regret_best_of_2", "partial_return")
GAMMA = 0.9
SEGMENT = 3


def random_mdp(rng: np.random.Generator, states: int = 12, actions: int = 3, successors: int = 2, types: int = 4):
    """Sparse stochastic transitions; each state has one of `types` cell types and entering it pays that type's N(0, 1) weight.

    Returns (transitions, reward, terminal, features): ``features[s, a, s']`` is the one-hot type of ``s'``.
    """
    t = np.zeros((states, actions, states))
    for s in range(states):
        for a in range(actions):
            t[s, a, rng.choice(states, size=successors, replace=False)] = rng.dirichlet(np.ones(successors))
    cell = rng.integers(types, size=states)
    features = np.broadcast_to(np.eye(types)[cell], (states, actions, states, types)).copy()
    return t, features @ rng.normal(size=types), np.zeros(states, bool), features


def gridworld(rng: np.random.Generator, n: int = 5, mud: int = 4, traps: int = 2):
    """A deterministic n x n grid with a random layout (Knox et al.'s delivery domain, smaller).

    Every step costs 1; entering mud costs 5 more; the goal (+10) and the traps (-10) are absorbing.
    Features of a step from a non-terminal cell: (1, entered mud, entered the goal, entered a trap),
    true weights (-1, -5, 10, -10). A segment that starts beside a trap and walks away from it
    has a poor partial return and no regret; one that starts by the goal and enters it has a high
    partial return whatever the start state's value.
    """
    moves = [(0, 1), (1, 0), (0, -1), (-1, 0)]
    cells = rng.permutation(n * n)
    goal, trap, mud_cells = cells[0], set(cells[1 : 1 + traps]), set(cells[1 + traps : 1 + traps + mud])
    terminal = np.zeros(n * n, bool)
    terminal[[goal, *trap]] = True
    t, features = np.zeros((n * n, 4, n * n)), np.zeros((n * n, 4, n * n, 4))
    for s in range(n * n):
        x, y = divmod(s, n)
        for a, (dx, dy) in enumerate(moves):
            if terminal[s]:
                t[s, a, s] = 1.0
                continue
            s2 = min(max(x + dx, 0), n - 1) * n + min(max(y + dy, 0), n - 1)
            t[s, a, s2] = 1.0
            features[s, a, s2] = (1.0, s2 in mud_cells, s2 == goal, s2 in trap)
    return t, features @ np.array([-1.0, -5.0, 10.0, -10.0]), terminal, features


def evaluate(r_hat: np.ndarray, t: np.ndarray, r: np.ndarray, terminal: np.ndarray) -> tuple[float, float]:
    """(STARC distance to the true reward, normalized true return of r_hat's greedy policy)."""
    _, q = value_iteration(t, r_hat, GAMMA, terminal=terminal)
    start = np.where(terminal, 0.0, 1.0)
    start /= start.sum()
    score = partial(policy_return, transitions=t, reward=r, initial=start, gamma=GAMMA, terminal=terminal)
    j, j_unif = score(greedy_policy(q)), score(np.full(q.shape, 1.0 / q.shape[1]))
    j_star = float(start @ value_iteration(t, r, GAMMA, terminal=terminal)[0])
    return starc_distance(r_hat, r, t, GAMMA), (j - j_unif) / (j_star - j_unif)


def run_instance(t, r, terminal, features, prefs: int, seed: int, temperature: float,
                 classes: tuple[str, ...] = CLASSES) -> dict[tuple, tuple[float, float]]:
    """Both teachers x every learner x both reward classes on one MDP, the same segment pairs for all."""
    rng = np.random.default_rng(seed)
    a, b = sample_segments(t, prefs, SEGMENT, rng), sample_segments(t, prefs, SEGMENT, rng)
    out = {}
    for teacher in MODELS:
        labels = teacher_labels(teacher, r, t, GAMMA, a, b, rng, terminal=terminal, temperature=temperature)
        nll = lambda x: preference_nll("regret", x, t, GAMMA, a, b, labels, terminal=terminal)  # noqa: E731
        for cls in classes:
            fit = partial(fit_reward_table, transitions=t, gamma=GAMMA, seg_a=a, seg_b=b, prefer=labels, terminal=terminal,
                          seed=seed, features=features if cls == "features" else None)
            fits = {learner: fit(learner) for learner in MODELS}
            # The regret loss is not convex: a second start, at the partial-return fit, and the fit with the
            # lower regret-model training loss is kept (chosen on the labels, never on the truth).
            second = fit("regret", init=fits["partial_return"])
            fits["regret_best_of_2"] = min((fits["regret"], second), key=nll)
            out["_second_start_better", cls, teacher] = nll(second) < nll(fits["regret"])
            for learner in LEARNERS:
                out[cls, teacher, learner] = evaluate(fits[learner], t, r, terminal)
    return out


def study(prefs: int = 300, mdps: int = 20, grid_seeds: int = 5, temperature: float = 1.0,
          classes: tuple[str, ...] = CLASSES) -> dict[str, dict]:
    results: dict[str, dict] = {}
    for domain, instances in (("random", [(random_mdp(np.random.default_rng(i)), 1000 + i) for i in range(mdps)]),
                              ("grid", [(gridworld(np.random.default_rng(100 + k)), 2000 + k) for k in range(grid_seeds)])):
        rows = [run_instance(*mdp, prefs, seed, temperature, classes) for mdp, seed in instances]
        for cls in classes:
            table = {}
            for teacher in MODELS:
                for learner in LEARNERS:
                    v = np.array([row[cls, teacher, learner] for row in rows])
                    table[f"{teacher}->{learner}"] = {"starc": v[:, 0].tolist(), "return": v[:, 1].tolist()}
                pr = np.array([row[cls, teacher, "partial_return"] for row in rows])
                for learner in ("regret", "regret_best_of_2"):
                    reg = np.array([row[cls, teacher, learner] for row in rows])
                    table[f"{teacher}: {learner} wins"] = {
                        "starc": float(np.mean(reg[:, 0] < pr[:, 0])), "return": float(np.mean(reg[:, 1] > pr[:, 1] + 1e-9)),
                        "return_ties": float(np.mean(np.abs(reg[:, 1] - pr[:, 1]) <= 1e-9))}
                # how often the second start reached a lower training loss: the one-start fit was in a worse local optimum
                table[f"{teacher}: second start better"] = float(np.mean([row["_second_start_better", cls, teacher] for row in rows]))
            results[f"{domain}, {cls}"] = table
    return results


def report(results: dict[str, dict], title: str) -> str:
    lines = [f"### {title}", "", "| domain, reward class | teacher | learner | STARC to true (mean +- se) | normalized return (mean +- se) |", "|---|---|---|---|---|"]
    for domain, table in results.items():
        for teacher in MODELS:
            for learner in LEARNERS:
                cell = table[f"{teacher}->{learner}"]
                s, g = np.array(cell["starc"]), np.array(cell["return"])
                se = lambda x: x.std(ddof=1) / np.sqrt(len(x)) if len(x) > 1 else 0.0  # noqa: E731
                lines.append(f"| {domain} (n={len(s)}) | {teacher} | {learner} | {s.mean():.3f} +- {se(s):.3f} | {g.mean():.3f} +- {se(g):.3f} |")
    lines += ["", "Paired, per MDP, against the partial-return learner on the same labels:", "",
              "| domain, reward class | teacher | learner | lower STARC | higher return (ties) | second start had the lower loss |", "|---|---|---|---|---|---|"]
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
    parser.add_argument("--prefs", default="30,100,300", help="comma-separated numbers of preferences")
    parser.add_argument("--mdps", type=int, default=20)
    parser.add_argument("--grid-seeds", type=int, default=10)
    parser.add_argument("--classes", default=",".join(CLASSES), help=f"comma-separated reward classes of {CLASSES}")
    parser.add_argument("--noiseless", action="store_true", help="only the noiseless teachers")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    classes = tuple(args.classes.split(","))
    t0 = time.perf_counter()
    settings = [("noiseless teachers", 0.0)] if args.noiseless else [("stochastic teachers (temperature 1)", 1.0), ("noiseless teachers", 0.0)]
    everything = {}
    for prefs in map(int, args.prefs.split(",")):
        for title, temperature in settings:
            res = study(prefs, args.mdps, args.grid_seeds, temperature, classes)
            everything[f"{title}, {prefs} preferences"] = res
            print(report(res, f"{title}, {prefs} preferences"), "\n", f"({time.perf_counter() - t0:.0f} s)\n", flush=True)
    if args.json:
        with open(args.json, "w") as f:
            json.dump(everything, f)


if __name__ == "__main__":
    main()
