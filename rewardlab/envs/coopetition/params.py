"""The 20 coopetition environments as parameter sets (spec `coopetition.md` §1.2), and their validation.

Each environment is a :class:`GameParams`: the TR-1 payoff and TR-2 trust parameters every env shares,
plus the layer of its mechanism class (``"tr1"``: interdependence and trust, ``"tr3"``: collective
action and loyalty, ``"tr4"``: reciprocity) and at most one env-specific mechanism. :func:`build_params`
turns an env name and user keyword arguments into one, rejecting unknown or invalid arguments.

Functions: :func:`build_params`, :func:`env_names`, :func:`env_summary`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rewardlab.errors import InvalidParameter, did_you_mean

__all__ = ["GameParams", "REWARD_MODES", "MAX_AGENTS", "build_params", "env_names", "env_summary"]

REWARD_MODES = ("private", "integrated", "cooperative")
_AGGREGATES = ("mean", "sum")
_TRUST_CLIPS = ("unit", "ceiling")


@dataclass(frozen=True)
class GameParams:
    """Every number one coopetition environment runs on. Arrays are float64, indexed by agent."""

    name: str
    mechanism: str  # "tr1" | "tr3" | "tr4": which payoff layer (spec §2.1, §2.4, §2.5)
    endowment: np.ndarray  # e_i, also each agent's action bound
    alpha: np.ndarray  # synergy shares, sum 1 (TR-1)
    D: np.ndarray  # interdependence, zero diagonal
    baseline: np.ndarray  # b_j of the trust signal
    max_steps: int
    # TR-1 value: f(a) = value_theta*ln(1+a); synergy gamma*geometric mean
    value_theta: float = 20.0
    gamma: float = 0.65
    # TR-2 trust (lambda+, lambda-, mu_R, delta_R, xi, kappa, T0, R0)
    lam_plus: float = 0.10
    lam_minus: float = 0.30
    mu_r: float = 0.60
    delta_r: float = 0.03
    xi: float = 0.50
    kappa: float = 1.0
    trust0: float = 0.5
    rep0: float = 0.0
    trust_clip: str = "unit"  # "unit": clip T to [0,1] (TR-2 suite); "ceiling": to [0, 1-R] (anchor envs)
    # reward layer
    reward_mode: str = "integrated"
    trust_gated: bool = False
    cooperative_aggregate: str = "mean"
    # termination: kind in {"none", "mean_trust_below", "pair_trust_below", "spoke_trust_below",
    # "mean_trust_reaches", "coalition_below"}
    end_kind: str = "none"
    end_threshold: float = 0.0
    end_pair: tuple[int, int] = (0, 0)
    # TR-3 collective action (spec §2.4)
    omega: float = 25.0
    beta: float = 0.7
    cost: float = 1.0
    phi_b: float = 0.8
    phi_c: float = 0.3
    loyalty0: float = 0.5
    loyalty_cap: float = 1.0
    loyalty_gain: float = 0.02  # theta += gain*r when contribution rate r = a/e >= 0.5
    loyalty_loss: float = 0.05  # theta -= loss*(0.5 - r) otherwise
    keeps_endowment: bool = False  # PublicGoods: payoff adds the kept endowment e_i
    # TR-4 reciprocity (spec §2.5)
    rho0: float = 1.0
    eta: float = 1.0
    recip_kappa: float = 1.0
    memory: int = 5
    lambda_r: float = 1.0
    omega_r: float = 0.6
    # env-specific mechanisms (one at most; "" when none)
    special: str = ""
    gamma_range: tuple[float, float] = (0.0, 0.0)  # SynergySearch: gamma ~ U(lo, hi) per episode
    reveal_gamma: bool = False
    agreement_tolerance: float = 10.0  # CooperativeNegotiation
    breach_penalty: float = 3.0
    reputation_step: float = 0.1  # ReputationMarket
    ema_rate: float = 0.1  # DynamicPartnerSelection reputation EMA
    exclusion_loyalty: float = 0.15  # CoalitionFormation
    reentry_loyalty: float = 0.4
    reentry_wait: int = 5
    min_coalition: int = 3
    sanction_fine: float = 5.0  # GraduatedSanction
    sanction_levels: int = 3
    extra: dict[str, Any] = field(default_factory=dict, compare=False)  # recorded user kwargs

    @property
    def n(self) -> int:
        return int(self.endowment.shape[0])


def _sym(n: int, x: float) -> np.ndarray:
    return x * (1.0 - np.eye(n))


def _vec(n: int, x: float | list[float]) -> np.ndarray:
    return np.broadcast_to(np.asarray(x, dtype=np.float64), (n,)).copy()


def _trust(lp, lm, mu, dr, xi, kap, t0, r0) -> dict[str, float]:
    return dict(lam_plus=lp, lam_minus=lm, mu_r=mu, delta_r=dr, xi=xi, kappa=kap, trust0=t0, rep0=r0)


def _tr1(name, n, e, alpha, D, theta_gamma, b, trust, max_steps, **kw) -> GameParams:
    e = _vec(n, e)
    return GameParams(
        name=name, mechanism="tr1", endowment=e, alpha=_vec(n, alpha), D=np.asarray(D, dtype=np.float64),
        baseline=_vec(n, b), max_steps=max_steps, value_theta=theta_gamma[0], gamma=theta_gamma[1], **trust, **kw,
    )


# --- TR-1 / TR-2: interdependence, trust and reputation (spec §1.2, first table) -------------------

def _trust_dilemma() -> GameParams:
    return _tr1("TrustDilemma", 2, 100, 0.5, _sym(2, 0.6), (20, 0.7), 40,
                _trust(.15, .45, .50, .02, .60, 1.5, .5, 0), 100, end_kind="mean_trust_below", end_threshold=0.05)


def _partner_hold_up() -> GameParams:
    return _tr1("PartnerHoldUp", 2, [120, 80], [0.6, 0.4], [[0, .35], [.85, 0]], (20, 0.6), [42, 28],
                _trust(.10, .35, .55, .025, .70, 1.2, .55, 0), 100,
                end_kind="pair_trust_below", end_threshold=0.10, end_pair=(1, 0))


def _platform_ecosystem() -> GameParams:
    D = np.zeros((5, 5))
    D[0, 1:], D[1:, 0] = 0.25, 0.75
    return _tr1("PlatformEcosystem", 5, [150, 80, 80, 80, 80], [.30, .175, .175, .175, .175], D, (25, 0.75),
                [45, 24, 24, 24, 24], _trust(.08, .25, .45, .02, .40, 1.0, .60, 0), 100,
                end_kind="spoke_trust_below", end_threshold=0.15)


def _dynamic_partner_selection() -> GameParams:
    return _tr1("DynamicPartnerSelection", 6, 100, 1 / 6, _sym(6, 0.40), (18, 0.55), 35,
                _trust(.12, .35, .60, .015, .45, 1.2, .5, 0), 50, special="partner_selection")


def _recovery_race() -> GameParams:
    # Horizon 200 (not the anchor's 150): under full cooperation the 0.90 target is first reached at
    # step 174 (tests/envs/coopetition/test_coopetition_mechanics.py), so 150 made success unreachable (spec §8.8).
    return _tr1("RecoveryRace", 2, 100, 0.5, _sym(2, 0.55), (20, 0.6), 35,
                _trust(.08, .35, .70, .01, .40, 1.0, .25, .50), 200,
                end_kind="mean_trust_reaches", end_threshold=0.90)


def _synergy_search(reveal_gamma: bool = False) -> GameParams:
    return _tr1("SynergySearch", 2, 100, 0.5, _sym(2, 0.5), (20, 0.5), 40,
                _trust(.10, .30, .60, .03, .50, 1.0, .55, 0), 100,
                special="random_gamma", gamma_range=(0.2, 0.9), reveal_gamma=bool(reveal_gamma))


def _slcd() -> GameParams:
    return _tr1("SLCD", 2, 100, [.55, .45], [[0, .64], [.86, 0]], (20, 0.65), 30,
                _trust(.08, .28, .50, .02, .45, 1.0, .65, 0), 100)


_RN_PHASES = {  # phase: (D[Nissan->Renault], D[Renault->Nissan], T0, R0)
    "formation": (.78, .66, .45, .05),
    "mature": (.51, .66, .70, .02),
    "crisis": (.35, .72, .30, .45),
    "strained": (.28, .65, .40, .35),
}


def _renault_nissan(phase: str = "mature") -> GameParams:
    _check_choice("phase", phase, _RN_PHASES)
    d01, d10, t0, r0 = _RN_PHASES[phase]
    return _tr1("RenaultNissan", 2, [90, 100], [.48, .52], [[0, d01], [d10, 0]], (22, 0.58), [27, 30],
                _trust(.08, .25, .55, .02, .50, 1.0, t0, r0), 100)


def _cooperative_negotiation() -> GameParams:
    return _tr1("CooperativeNegotiation", 2, 100, 0.5, _sym(2, 0.55), (20, 0.6), 35,
                _trust(.12, .40, .65, .02, .55, 1.2, .5, 0), 100, special="negotiation")


def _reputation_market() -> GameParams:
    return _tr1("ReputationMarket", 5, 100, 0.2, _sym(5, 0.35), (18, 0.5), 35,
                _trust(.10, .30, .55, .015, .45, 1.0, .5, 0), 100, special="market")


# --- TR-3: collective action and loyalty (spec §1.2, second table) ---------------------------------

#: The most agents a game takes (``n_agents``). Trust, reputation and the interdependence matrix are
#: n x n per sub-env (float64): 1024 agents are 8 MiB each, 10**6 would be 8 TB before the first step.
MAX_AGENTS = 1024


def _tr3(name, n, max_steps=100, e=50.0, b=20.0, **kw) -> GameParams:
    if isinstance(n, (int, np.integer)) and not isinstance(n, bool) and n > MAX_AGENTS:
        raise InvalidParameter(f"`n_agents` must be an integer in [2, {MAX_AGENTS}]. Received {n!r} "
                               f"(the n x n trust matrices would need {8 * int(n) ** 2 / 2**30:,.0f} GiB per env)")
    n = _check_int("n_agents", n, 2)
    return GameParams(
        name=name, mechanism="tr3", endowment=_vec(n, e), alpha=_vec(n, 1.0 / n), D=_sym(n, 0.55),
        baseline=_vec(n, b), max_steps=max_steps, **_trust(.10, .25, .40, .02, .50, 1.0, .5, 0), **kw,
    )


def _team_production(n_agents: int = 4) -> GameParams:
    return _tr3("TeamProduction", n_agents, phi_b=0.0, phi_c=0.0)


def _loyalty_team(n_agents: int = 4) -> GameParams:
    return _tr3("LoyaltyTeam", n_agents, phi_b=0.8, phi_c=0.3)


def _coalition_formation() -> GameParams:
    return _tr3("CoalitionFormation", 6, 150, phi_b=0.7, phi_c=0.3, special="coalition",
                end_kind="coalition_below")


_APACHE_PHASES = {  # phase: (n, omega, loyalty cap, expected effort)
    "emergence": (8, 20.0, 1.00, 35.0),
    "growth": (15, 25.0, 0.85, 30.0),
    "maturity": (40, 30.0, 0.70, 22.0),
    "evolution": (35, 28.0, 0.60, 18.0),
}


def _apache_project(phase: str = "maturity") -> GameParams:
    _check_choice("phase", phase, _APACHE_PHASES)
    n, omega, cap, expected = _APACHE_PHASES[phase]
    # The phase's expected effort is the trust baseline: contributors judge each other against it.
    return _tr3("ApacheProject", n, 60, b=expected, omega=omega, phi_b=0.75, phi_c=0.25,
                loyalty_cap=cap, loyalty0=0.5 * cap)


def _public_goods(n_agents: int = 5, multiplier: float = 2.0) -> GameParams:
    m = _check_float("multiplier", multiplier, 0.0)
    # Linear public good: Q = m*sum(a), i.e. TR-3 with omega = m, beta = 1, c = 1, plus the kept endowment.
    return _tr3("PublicGoods", n_agents, omega=m, beta=1.0, phi_b=0.6, phi_c=0.2, keeps_endowment=True)


# --- TR-4: reciprocity (spec §1.2, third table) ----------------------------------------------------

def _tr4(name, n, e, D, b, recip, max_steps, trust0=0.5, **kw) -> GameParams:
    rho0, eta, kap, k, lam, om = recip
    return GameParams(
        name=name, mechanism="tr4", endowment=_vec(n, e), alpha=_vec(n, 1.0 / n), D=np.asarray(D, dtype=np.float64),
        baseline=_vec(n, b), max_steps=max_steps, value_theta=20.0, gamma=0.65,
        **_trust(.10, .30, .60, .03, .50, 1.0, trust0, 0), rho0=rho0, eta=eta, recip_kappa=kap, memory=k,
        lambda_r=lam, omega_r=om, **kw,
    )


def _reciprocal_dilemma() -> GameParams:
    return _tr4("ReciprocalDilemma", 2, 100, _sym(2, 0.5), 30, (1.0, 1.0, 1.0, 5, 1.0, .6), 100)


def _gift_exchange() -> GameParams:
    return _tr4("GiftExchange", 2, [100, 80], [[0, .4], [.7, 0]], [30, 24], (1.2, 1.5, 1.0, 3, 1.2, .8), 100)


def _indirect_reciprocity() -> GameParams:
    return _tr4("IndirectReciprocity", 4, 100, _sym(4, 0.4), 30, (.8, 1.0, 1.0, 7, 1.5, .5), 150)


def _graduated_sanction() -> GameParams:
    return _tr4("GraduatedSanction", 6, 100, _sym(6, 0.35), 40, (.6, 1.5, .8, 10, 1.8, 1.0), 200,
                special="sanction")


def _apple_app_store() -> GameParams:
    D = [[0, .3, .2], [.8, 0, .15], [.85, .1, 0]]
    return _tr4("AppleAppStore", 3, [100, 80, 60], D, [30, 24, 18], (1.0, 1.2, .8, 4, 1.0, .8), 66, trust0=0.6)


_BUILDERS: dict[str, Callable[..., GameParams]] = {
    "TrustDilemma": _trust_dilemma,
    "PartnerHoldUp": _partner_hold_up,
    "PlatformEcosystem": _platform_ecosystem,
    "DynamicPartnerSelection": _dynamic_partner_selection,
    "RecoveryRace": _recovery_race,
    "SynergySearch": _synergy_search,
    "SLCD": _slcd,
    "RenaultNissan": _renault_nissan,
    "CooperativeNegotiation": _cooperative_negotiation,
    "ReputationMarket": _reputation_market,
    "TeamProduction": _team_production,
    "LoyaltyTeam": _loyalty_team,
    "CoalitionFormation": _coalition_formation,
    "ApacheProject": _apache_project,
    "PublicGoods": _public_goods,
    "ReciprocalDilemma": _reciprocal_dilemma,
    "GiftExchange": _gift_exchange,
    "IndirectReciprocity": _indirect_reciprocity,
    "GraduatedSanction": _graduated_sanction,
    "AppleAppStore": _apple_app_store,
}

_SUMMARIES = {
    "TrustDilemma": "2 symmetric partners; trust collapses below the baseline 40, which lies above the stage optima.",
    "PartnerHoldUp": "2 partners with asymmetric endowments and dependence; ends when the weak partner's trust fails.",
    "PlatformEcosystem": "1 platform and 4 developers on a hub-spoke dependence; ends when developers stop trusting.",
    "DynamicPartnerSelection": "6 agents matched each step into pairs by public reputation (assortative matching).",
    "RecoveryRace": "2 partners start with damaged reputation; success when mean trust reaches 0.90.",
    "SynergySearch": "2 partners with a hidden synergy gamma ~ U(0.2, 0.9) drawn per episode from the seed.",
    "SLCD": "Samsung-Sony S-LCD joint venture (TR-1 calibration).",
    "RenaultNissan": "Renault-Nissan alliance by phase (TR-2 calibration).",
    "CooperativeNegotiation": "2 partners; close offers form a binding agreement, breaches pay a penalty.",
    "ReputationMarket": "5 traders; public reputation sets a payoff tier.",
    "TeamProduction": "TR-3 team production without loyalty: pure free-riding game.",
    "LoyaltyTeam": "TR-3 team production with the loyalty term.",
    "CoalitionFormation": "TR-3 coalition: disloyal members are excluded from the team output; ends below 3 members.",
    "ApacheProject": "Apache HTTP Server contributors by phase (TR-3 calibration).",
    "PublicGoods": "Linear public-goods game (multiplier m) with the TR-3 loyalty term.",
    "ReciprocalDilemma": "2 partners with the additive TR-4 reciprocity term.",
    "GiftExchange": "2 asymmetric partners (employer/worker) with TR-4 reciprocity.",
    "IndirectReciprocity": "4 agents reciprocating each other's public contributions (no image score).",
    "GraduatedSanction": "6 agents; repeated shortfalls escalate a sanction level that fines the offender.",
    "AppleAppStore": "Apple, a major and a small developer over 66 quarters with TR-4 reciprocity.",
}

_COMMON = {"reward_mode", "trust_gated", "cooperative_aggregate", "max_steps", "trust_clip"}


def env_names() -> list[str]:
    """The 20 environment names, in spec order."""
    return list(_BUILDERS)


def env_summary(name: str) -> str:
    """A one-line description of environment `name`."""
    return _SUMMARIES[name]


def _builder_args(name: str) -> set[str]:
    import inspect

    return set(inspect.signature(_BUILDERS[name]).parameters)


def build_params(name: str, **kwargs: Any) -> GameParams:
    """The parameters of environment `name` with user keyword arguments applied and validated.

    Common arguments: ``reward_mode`` ("private" | "integrated" | "cooperative"), ``trust_gated`` (bool),
    ``cooperative_aggregate`` ("mean" | "sum"), ``max_steps`` (int >= 1), ``trust_clip`` ("unit" |
    "ceiling"). Env-specific ones are the keyword arguments of the env's builder (``phase``,
    ``reveal_gamma``, ``n_agents`` (2 to :data:`MAX_AGENTS`), ``multiplier``).

    Raises:
        InvalidParameter: unknown env name, unknown argument or invalid value.

    Example:
        >>> p = build_params("TrustDilemma", reward_mode="private")
        >>> p.n, p.reward_mode, float(p.baseline[0])
        (2, 'private', 40.0)
    """
    if name not in _BUILDERS:
        raise InvalidParameter(f"Unknown coopetition env `{name}`.{did_you_mean(name, _BUILDERS)}")
    own = _builder_args(name)
    allowed = own | _COMMON
    for key in kwargs:
        if key not in allowed:
            raise InvalidParameter(
                f"`{key}` is not an argument of coopetition env `{name}` (it takes {sorted(allowed)})."
                f"{did_you_mean(key, allowed)}"
            )
    params = _BUILDERS[name](**{k: v for k, v in kwargs.items() if k in own})
    updates: dict[str, Any] = {}
    if "reward_mode" in kwargs:
        updates["reward_mode"] = _check_choice("reward_mode", kwargs["reward_mode"], REWARD_MODES)
    if "cooperative_aggregate" in kwargs:
        updates["cooperative_aggregate"] = _check_choice("cooperative_aggregate", kwargs["cooperative_aggregate"], _AGGREGATES)
    if "trust_clip" in kwargs:
        updates["trust_clip"] = _check_choice("trust_clip", kwargs["trust_clip"], _TRUST_CLIPS)
    if "trust_gated" in kwargs:
        if not isinstance(kwargs["trust_gated"], (bool, np.bool_)):
            raise InvalidParameter(f"`trust_gated` must be a bool. Received {kwargs['trust_gated']!r}")
        updates["trust_gated"] = bool(kwargs["trust_gated"])
    if "max_steps" in kwargs:
        updates["max_steps"] = _check_int("max_steps", kwargs["max_steps"], 1)
    params = dataclasses.replace(params, extra=dict(kwargs), **updates)
    # trust_update relies on erosion never overshooting zero (see mechanics.trust_update)
    if params.lam_minus * (1 + params.xi * params.D.max()) >= 1 or params.mu_r > 1 or params.lam_plus > 1:
        raise AssertionError(f"{name}: trust rates out of range")  # internal invariant of the env table
    return params


def _check_choice(key: str, value: Any, choices: Any) -> str:
    # A typo here would otherwise silently select a default mechanism.
    if not isinstance(value, str) or value not in choices:
        hint = did_you_mean(value, choices) if isinstance(value, str) else ""
        raise InvalidParameter(f"`{key}` must be one of {sorted(choices)}. Received {value!r}.{hint}")
    return value


def _check_int(key: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < low:
        raise InvalidParameter(f"`{key}` must be an integer >= {low}. Received {value!r}")
    return int(value)


def _check_float(key: str, value: Any, low: float) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.floating)) or not np.isfinite(value) or value < low:
        raise InvalidParameter(f"`{key}` must be a finite number >= {low}. Received {value!r}")
    return float(value)
