"""How different are an ablation's reward specs? STARC and EPIC distances between them, before training.

For each env of a config whose env has an exact table (:func:`rewardlab.envs.tabular.tabular_mdp`:
FrozenLake, CliffWalking, Taxi, small MiniGrid levels and gridhack levels without monsters or kicks,
each the level that ``reset(seed=0)`` draws), every reward spec is evaluated into an
``(S, A, S')`` table (:func:`rewardlab.shaping.metrics.reward_table`) and the pairwise distances are
computed at the learner's discount (the first algorithm's gamma). Envs without a table get the
reason instead. Learned and stateful terms are scored as they are when a run starts (untrained,
empty counts), so the matrix says how the specs differ as written, not after learning.

Functions: :func:`distance_matrices`, :func:`format_matrix`, :func:`matrices_html` (the report's
section); class :class:`DistanceMatrix`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardlab.errors import RewardlabError

__all__ = ["DistanceMatrix", "distance_matrices", "format_matrix", "matrices_html", "EPIC_MAX_ENTRIES"]

#: EPIC reads every (s, a, s'); past this many table entries it is left out (Taxi: 1.5 million).
EPIC_MAX_ENTRIES = 200_000


@dataclass
class DistanceMatrix:
    """The distances between the reward specs run on one env, or why there are none.

    ``starc[i, j]`` and ``epic[i, j]`` (in [0, 1]; ``epic`` may be None) are between
    ``rewards[i]`` and ``rewards[j]``. When ``available`` is False, ``reason`` says why.
    """

    env: str
    env_id: str | None
    rewards: list[str]
    gamma: float | None = None
    starc: np.ndarray | None = None
    epic: np.ndarray | None = None
    reason: str = ""
    notes: list[str] = field(default_factory=list)

    @property
    def available(self) -> bool:
        return self.starc is not None


def _learner_gamma(cfg: dict[str, Any]) -> tuple[float, list[str]]:
    from rewardlab.baselines.registry import get_trainer

    gammas = [(a["name"], float(get_trainer(a["algo"]).gamma(a["hyperparams"]))) for a in cfg["algorithms"]]
    notes = []
    if len({g for _, g in gammas}) > 1:
        notes.append(f"algorithms use different discounts ({', '.join(f'{n}: {g}' for n, g in gammas)}); distances use {gammas[0][1]}")
    return gammas[0][1], notes


def distance_matrices(cfg: dict[str, Any], *, max_states: int = 1000) -> list[DistanceMatrix]:
    """One :class:`DistanceMatrix` per env of a validated config (``load_config`` / ``config.yaml``).

    ``max_states`` bounds the MiniGrid enumerations (a larger level gets the reason instead).

    Example:
        >>> cfg = {"algorithms": [{"name": "PPO", "algo": "PPO", "hyperparams": {"gamma": 0.9}}],
        ...        "rewards": {"env": {"type": "EnvReward"}, "neg": {"type": "Scale", "term": {"type": "EnvReward"}, "scale": -1.0}},
        ...        "envs": [{"id": "FrozenLake-v1", "label": "lake", "kwargs": {}, "wrappers": [], "max_episode_steps": None,
        ...                  "parallel_env": None, "rewards": ["env", "neg"]}]}
        >>> m = distance_matrices(cfg)[0]
        >>> m.rewards, m.gamma, m.starc.round(9).tolist()
        (['env', 'neg'], 0.9, [[0.0, 1.0], [1.0, 0.0]])
    """
    from rewardlab.envs.tabular import tabular_mdp
    from rewardlab.shaping.metrics import epic_distance, reward_table, starc_distance
    from rewardlab.shaping.terms import from_config

    gamma, gamma_notes = _learner_gamma(cfg)
    out = []
    for env in cfg["envs"]:
        names = list(env["rewards"])
        m = DistanceMatrix(env["label"], env.get("id"), names, gamma, notes=list(gamma_notes))
        out.append(m)
        if env.get("parallel_env"):
            m.reason = "a multi-agent env (parallel_env) has no single-agent table"
            continue
        if env.get("wrappers"):
            m.reason = "the env has wrappers, which may change what the reward terms see; the table is of the bare env"
            continue
        if gamma >= 1.0:
            m.reason = f"STARC needs a discount below 1; the learner's is {gamma}"
            continue
        try:
            mdp = tabular_mdp(env["id"], gamma=gamma, max_states=max_states, **env.get("kwargs", {}))
        except RewardlabError as e:
            m.reason = str(e)
            continue
        if env.get("max_episode_steps"):
            m.notes.append("the time limit is not part of the table (rewards are compared without truncation)")
        epic_ok = mdp.transitions.size <= EPIC_MAX_ENTRIES
        if not epic_ok:
            m.notes.append(f"EPIC left out: {mdp.transitions.size} table entries (more than {EPIC_MAX_ENTRIES})")
        elif mdp.terminal.any():
            m.notes.append("EPIC reads every (s, a, s') and is blind to shaping only by potentials that vanish on "
                           "terminal states (their rows cannot be shaped); STARC is, for every potential")
        try:
            terms = [from_config(cfg["rewards"][n]) for n in names]
            possible = [reward_table(t, mdp) for t in terms]
            everywhere = [reward_table(t, mdp, support="all") for t in terms] if epic_ok else None
        except RewardlabError as e:
            m.reason = f"a reward spec could not be evaluated on the table: {e}"
            continue
        k = len(names)
        m.starc = np.zeros((k, k))
        m.epic = np.zeros((k, k)) if epic_ok else None
        for i in range(k):
            for j in range(i + 1, k):
                m.starc[i, j] = m.starc[j, i] = starc_distance(possible[i], possible[j], mdp.transitions, gamma)
                if everywhere is not None:
                    m.epic[i, j] = m.epic[j, i] = epic_distance(everywhere[i], everywhere[j], gamma)
        m.notes.append(f"{mdp.num_states} states x {mdp.num_actions} actions, exact; gamma = {gamma}")
    return out


def format_matrix(m: DistanceMatrix, digits: int = 3) -> str:
    """A plain-text block: the STARC matrix (and EPIC's), or the reason there is none.

    Example:
        >>> print(format_matrix(DistanceMatrix("cartpole", "CartPole-v1", ["a", "b"], reason="no table")))
        cartpole: no distances (no table)
    """
    if not m.available:
        return f"{m.env}: no distances ({m.reason})"
    width = max(len(n) for n in m.rewards + ["STARC"])
    cell = max(digits + 2, *(len(n) for n in m.rewards))
    lines = [f"{m.env} ({m.env_id}): " + "; ".join(m.notes)]
    for label, mat in (("STARC", m.starc), ("EPIC", m.epic)):
        if mat is None:
            continue
        lines.append(f"{label:<{width}}  " + "  ".join(f"{n:>{cell}}" for n in m.rewards))
        for n, row in zip(m.rewards, mat):
            lines.append(f"{n:<{width}}  " + "  ".join(f"{v:>{cell}.{digits}f}" for v in row))
    return "\n".join(lines)


_SECTION = """<h2>Reward distances</h2>
<p class="note">How different the reward specs are before any training, on the envs with an exact table:
STARC (VAL canonicalization under the uniform policy, L2; 0 = the same policy ordering, e.g. a reward and
the same reward plus potential shaping; 1 = the opposite ordering) and EPIC (Pearson distance of the
canonically shaped rewards, uniform distributions), both in [0, 1]. Learned and stateful terms are scored as a
run starts (untrained, empty counts). Computed by <code>rewardlab distance CONFIG</code>.</p>
{blocks}"""


def matrices_html(cfg: dict[str, Any]) -> str:
    """The report's "Reward distances" section, or "" when no env of the config has a table."""
    import html

    try:
        matrices = distance_matrices(cfg)
    except (RewardlabError, ImportError, TypeError, ValueError, KeyError) as e:
        # The section is an extra: a config it cannot read (an algorithm this install lacks) must not
        # cost the performance report; say why instead.
        return f"<h2>Reward distances</h2><p class=\"note\">Not computed: {html.escape(f'{type(e).__name__}: {e}')}</p>"
    shown = [m for m in matrices if m.available]
    if not shown:
        return ""
    blocks = []
    for m in shown:
        rows = []
        for label, mat in (("STARC", m.starc), ("EPIC", m.epic)):
            if mat is None:
                continue
            head = "".join(f"<th>{html.escape(n)}</th>" for n in m.rewards)
            body = "".join(
                f"<tr><th>{html.escape(n)}</th>" + "".join(f"<td>{v:.3f}</td>" for v in row) + "</tr>"
                for n, row in zip(m.rewards, mat)
            )
            rows.append(f"<table><tr><th>{label}</th>{head}</tr>{body}</table>")
        blocks.append(f"<h3>{html.escape(m.env)}</h3><p class=\"note\">{html.escape('; '.join(m.notes))}</p>" + "<br>".join(rows))
    skipped = [m for m in matrices if not m.available]
    if skipped:
        blocks.append("<p class=\"note\">No table: " + "; ".join(f"{html.escape(m.env)} ({html.escape(m.reason)})" for m in skipped) + "</p>")
    return _SECTION.format(blocks="\n".join(blocks))
