"""Coopetition: 20 mixed-motive multi-agent games of interdependence, trust, loyalty and reciprocity.

Spec: ``specs/coopetition.md`` (the (S) mathematics; the anchor Coopetition-Gym's defects are fixed,
see "Differences from the anchor" below).

Description
    n agents each choose a contribution (effort, cooperation level) ``a_i`` in ``[0, e_i]`` every step.
    Payoffs come from one of three mechanism classes; all classes share the TR-2 trust dynamics.

    * TR-1/TR-2 (TrustDilemma, PartnerHoldUp, PlatformEcosystem, DynamicPartnerSelection, RecoveryRace,
      SynergySearch, SLCD, RenaultNissan, CooperativeNegotiation, ReputationMarket): payoff
      ``pi_i = (e_i - a_i) + theta*ln(1 + a_i) + alpha_i*gamma*g(a)``, g the geometric mean.
    * TR-3 (TeamProduction, LoyaltyTeam, CoalitionFormation, ApacheProject, PublicGoods): payoff
      ``pi_i = omega*(sum a)^beta/n - c*a_i`` (PublicGoods: ``e_i - a_i + m*sum(a)/n``) and the loyalty
      term ``psi_i = L_i = theta_i*[phi_B*pi_bar_{-i} + phi_C*c*a_i]`` with the post-step loyalty theta_i.
    * TR-4 (ReciprocalDilemma, GiftExchange, IndirectReciprocity, GraduatedSanction, AppleAppStore):
      the TR-1 payoff and the additive reciprocity term
      ``psi_i = lambda_R*sum_j T_ij*(1 + omega*D_ij)*rho0*D_ij^eta*tanh(kappa*(a_j - abar_j))``, abar_j
      the mean of j's previous min(k, t-1) actions (signal 0 on the first step).

    Env-specific mechanisms: DynamicPartnerSelection matches agents into pairs each step by public
    reputation (EMA 0.9/0.1 of a/e; highest two together, ...), synergy and interdependence are
    within pairs. SynergySearch draws gamma ~ U(0.2, 0.9) per episode from the reset seed
    (``reveal_gamma`` adds it to the observation). CooperativeNegotiation: the first step with
    ``|a_0 - a_1| <= 10`` fixes an agreement (the actions of that step); later deviations of more than
    10 pay ``3*|a_i - agreed_i|``. ReputationMarket: public reputation ``r += 0.1*(a/e - 0.5)``
    (clipped to [0, 1], start 0.5) sets a payoff multiplier 1.3/1.0/0.7/0.4 at r >= .8/.5/.25/below,
    read before the step's update. CoalitionFormation: members with loyalty < 0.15 are excluded (their
    effort produces nothing and they get no loyalty term); after 5 steps out, loyalty >= 0.4 readmits
    them. GraduatedSanction: a shortfall below the baseline raises the offender's sanction level by 1
    (max 3), meeting it lowers it by 1; each shortfall is fined 5 x level. IndirectReciprocity is
    "indirect" only in that every agent reciprocates every other agent's public contribution; it has no
    image score. AppleAppStore's phases are not scripted (constant parameters over 66 quarters).

Agents
    ``agent_0 .. agent_{n-1}`` (SLCD: Samsung, Sony; RenaultNissan: Nissan, Renault; AppleAppStore:
    Apple, major developer, small developer).

Action Space
    Per agent ``Box(0, e_i, (1,), float32)``; joint Gym view ``Box(0, e, (n,))`` with ``high[i] == e_i``.
    Actions outside the bounds are clipped; non-finite actions raise.

Observation Space
    Per agent (``Box(0, 1, (6n + 1 + x,))``): own one-hot id, trust row T[i, :], trust column T[:, i],
    damage row R[i, :], damage column R[:, i], then the shared block: all last actions / e,
    t / max_steps and the env's extras x: loyalty (TR-3), memory means / e (TR-4), public reputation and partner index / (n-1)
    (DynamicPartnerSelection), agreed actions / e and the agreement flag (CooperativeNegotiation),
    public reputation (ReputationMarket), membership (CoalitionFormation), sanction level / 3
    (GraduatedSanction), gamma (SynergySearch with ``reveal_gamma=True``). The global state
    (``ParallelEnv.state()``, joint Gym view) is last actions / e, T and R flattened, t / max_steps
    and the same extras. Identical in every reward mode.

Rewards
    ``reward_mode`` (constructor argument, validated): with u_i = pi_i + psi_i,

    * ``"private"``: ``u_i``;
    * ``"integrated"`` (default): ``u_i + sum_j D_ij*pi_j``; with ``trust_gated=True`` each D_ij is
      multiplied by the effective trust ``min(T_ij, 1 - R_ij)`` after the step's update;
    * ``"cooperative"``: every agent gets ``mean_j u_j`` (``cooperative_aggregate="sum"``: the sum).

    ``info["payoff"]`` is always pi (per agent), ``info["utility"]`` u. The Gym view pays the joint
    ``aggregate`` ("sum" | "mean") of the agents' rewards, or agent k's own reward.

Success
    ``info["is_success"]``: RecoveryRace reaching mean trust 0.90; False elsewhere.

Potentials
    ``trust_received``: mean trust the other agents place in the observer (per-agent obs), or mean
    off-diagonal trust (global state).

Starting State
    T = T0 and R = R0 off the diagonal (1 and 0 on it), last actions = baselines, loyalty = loyalty0,
    full coalition, empty memory, public reputations 0.5, no agreement, no sanctions. Nothing survives
    a reset.

Episode End
    Truncation at ``max_steps``. Termination: TrustDilemma mean trust < 0.05; PartnerHoldUp
    T[1, 0] < 0.10; PlatformEcosystem mean developer->platform trust < 0.15; RecoveryRace mean trust
    >= 0.90 (success); CoalitionFormation fewer than 3 members.

Arguments
    ``reward_mode``, ``trust_gated``, ``cooperative_aggregate``, ``max_steps``, ``trust_clip``
    ("unit": clip trust to [0, 1] as the TR-2 suite; "ceiling": to [0, 1 - R] as the anchor envs),
    plus ``phase`` (RenaultNissan: formation/mature/crisis/strained; ApacheProject:
    emergence/growth/maturity/evolution), ``reveal_gamma`` (SynergySearch), ``n_agents``
    (TeamProduction, LoyaltyTeam, PublicGoods), ``multiplier`` (PublicGoods). Gym ids also take
    ``control``, ``aggregate`` and ``policies``. Unknown arguments raise ``InvalidParameter``.

Vectorized environment
    ``gym.make_vec("rewardlab/<Name>-v0", num_envs=B, vectorization_mode="vector_entry_point")``
    steps all B games in one batched array program (``backend="numpy"`` or ``"torch"``, ``device=``).

Differences from the anchor
    Parallel, AEC and Gym views are one game; seeds and ``reward_mode`` take effect; TR-3 envs pay the
    TR-3 payoff and TR-4 envs the additive reciprocity term with the specified memory window; cooperative
    reward is the shared mean utility; per-agent action bounds; time normalised; RecoveryRace horizon 200
    (0.90 is first reached at step 174 under full cooperation); coalition termination reachable;
    heuristic multipliers (TR-3 free-rider/coordination, coalition x0.5/x1.1, TeamProduction x0.9)
    dropped; dead parameters (negotiation rounds, reputation weight, visibility noise) not offered.

Version History
    * v0: initial release.

Functions: :func:`parallel_env`, :func:`aec_env`, :func:`list_envs`, :func:`register_envs`.
"""

from __future__ import annotations

import inspect
from typing import Any

import gymnasium as gym
import numpy as np
from pettingzoo.utils.conversions import parallel_to_aec
from pettingzoo.utils.env import AECEnv

from rewardlab.envs.coopetition.core import CoopetitionCore, obs_sizes
from rewardlab.envs.coopetition.descriptor import descriptor_factory
from rewardlab.envs.coopetition.gym_env import CoopetitionEnv
from rewardlab.envs.coopetition.parallel import CoopetitionParallelEnv, env_id
from rewardlab.envs.coopetition.params import REWARD_MODES, build_params, env_names, env_summary
from rewardlab.envs.coopetition.vector_env import CoopetitionVectorEnv
from rewardlab.shaping.llm.views import register_descriptor
from rewardlab.shaping.potentials import register_potentials

__all__ = [
    "parallel_env",
    "aec_env",
    "list_envs",
    "register_envs",
    "CoopetitionCore",
    "CoopetitionParallelEnv",
    "CoopetitionEnv",
    "CoopetitionVectorEnv",
    "REWARD_MODES",
]

_CLASS = {"tr1": "interdependence-trust", "tr3": "collective-action-loyalty", "tr4": "reciprocity"}


def parallel_env(name: str, reward_mode: str = "integrated", **params: Any) -> CoopetitionParallelEnv:
    """The PettingZoo ParallelEnv of coopetition env `name`.

    Example:
        >>> env = parallel_env("SLCD", reward_mode="cooperative")
        >>> env.metadata["name"], env.possible_agents
        ('rewardlab/SLCD-v0', ['agent_0', 'agent_1'])
    """
    return CoopetitionParallelEnv(name, reward_mode=reward_mode, **params)


def aec_env(name: str, reward_mode: str = "integrated", **params: Any) -> AECEnv:
    """The PettingZoo AEC view of :func:`parallel_env` (PettingZoo's own conversion; rewards after the last move).

    Example:
        >>> env = aec_env("TrustDilemma")
        >>> env.reset(seed=0)
        >>> env.agent_selection
        'agent_0'
    """
    return parallel_to_aec(parallel_env(name, reward_mode=reward_mode, **params))


def list_envs() -> list[dict[str, Any]]:
    """One dict per env: id, name, mechanism class, number of agents, horizon, summary and arguments.

    Example:
        >>> envs = list_envs()
        >>> len(envs), envs[0]["id"], envs[0]["n_agents"]
        (20, 'rewardlab/TrustDilemma-v0', 2)
    """
    out = []
    for name in env_names():
        p = build_params(name)
        builder_args = sorted(inspect.signature(_builder(name)).parameters)
        out.append({
            "id": env_id(name), "name": name, "class": _CLASS[p.mechanism], "n_agents": p.n,
            "max_steps": p.max_steps, "summary": env_summary(name),
            "arguments": ["reward_mode", "trust_gated", "cooperative_aggregate", "max_steps", "trust_clip", *builder_args],
        })
    return out


def _builder(name: str) -> Any:
    from rewardlab.envs.coopetition.params import _BUILDERS

    return _BUILDERS[name]


def _trust_received(name: str) -> Any:
    p = build_params(name)
    n = p.n
    agent_size, state_size = obs_sizes(p)

    def phi(obs: Any) -> Any:
        obs = np.asarray(obs, dtype=np.float64)
        if obs.shape[-1] == agent_size:  # trust column T[:, i] includes T[i, i] = 1
            return (obs[:, 2 * n : 3 * n].sum(-1) - 1.0) / (n - 1)
        if obs.shape[-1] == state_size:
            return (obs[:, n : n + n * n].sum(-1) - n) / (n * (n - 1))
        raise ValueError(f"{name} observations have {agent_size} (agent) or {state_size} (state) entries, not {obs.shape[-1]}")

    phi.__doc__ = f"Mean trust received in {name} (per-agent obs) or mean off-diagonal trust (global state)."
    return phi


def register_envs() -> None:
    """Register the 20 Gymnasium ids ``rewardlab/<Name>-v0`` (entry and vector entry points) and their potentials."""
    for name in env_names():
        gid = env_id(name)
        if gid not in gym.registry:
            gym.register(
                id=gid,
                entry_point="rewardlab.envs.coopetition.gym_env:CoopetitionEnv",
                vector_entry_point="rewardlab.envs.coopetition.vector_env:CoopetitionVectorEnv",
                kwargs={"name": name},
            )
        register_potentials(gid, {"trust_received": _trust_received(name)})
        register_descriptor(gid, descriptor_factory(name))
