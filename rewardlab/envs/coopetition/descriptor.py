"""Env descriptors of the coopetition Gym views: what LLM-written reward code sees of each observation.

Function: :func:`coopetition_descriptor` (joint control, the registered ``rewardlab/<Name>-v0``
default, or one agent's view with ``control=k``); :func:`descriptor_factory`.

Layouts (the package docstring of :mod:`rewardlab.envs.coopetition`, and
:meth:`~rewardlab.envs.coopetition.core.CoopetitionCore.state_obs` / ``agent_obs``):

* joint control (global state): last actions / e (n), T flattened (n^2), R flattened (n^2),
  t / max_steps, then the env's extras;
* agent k: one-hot id (n), T[k, :], T[:, k], R[k, :], R[:, k], last actions / e (n),
  t / max_steps, then the extras.

Extras, in order: loyalty (TR-3) or memory means / e (TR-4), then at most one special block:
public reputation and partner index / (n-1) (partner selection), gamma (SynergySearch with
``reveal_gamma=True``), agreed actions / e and the agreement flag (negotiation), public reputation
(market), membership (coalition), sanction level / 3 (sanction).

Info keys: ``payoff_<i>`` for each agent i, agent i's material payoff of the step (element i of
``info["payoff"]``; :func:`~rewardlab.shaping.llm.views.make_info` reads ``<name>_<i>`` keys from
arrays), and ``is_success``. ``utility`` and ``rewards`` are left out: they are the env's own
reward (of the chosen ``reward_mode``), which the generated function is meant to replace.

The layout depends on the game's arguments (``n_agents``, ``reveal_gamma``): the registered
descriptor is the default game's; pass ``coopetition_descriptor(name, **kwargs)`` as the
descriptor for another configuration.

Example:
    >>> desc = coopetition_descriptor("TrustDilemma")
    >>> [(f.name, f.index) for f in desc.fields[:3]]
    [('last_actions', (0, 1)), ('last_action_0', 0), ('last_action_1', 1)]
    >>> desc.info_keys
    ('payoff_0', 'payoff_1', 'is_success')
"""

from __future__ import annotations

from typing import Any

from rewardlab.envs.coopetition.core import obs_sizes
from rewardlab.envs.coopetition.parallel import env_id as coopetition_env_id
from rewardlab.envs.coopetition.params import GameParams, build_params, env_summary
from rewardlab.errors import InvalidParameter
from rewardlab.shaping.llm.views import EnvDescriptor, Field

__all__ = ["coopetition_descriptor", "descriptor_factory"]

# Per-agent scalar fields (last_action_<i>) only for small games; larger ones use the arrays.
_MAX_SCALAR_AGENTS = 6


def _ix(start: int, count: int) -> tuple[int, ...]:
    return tuple(range(start, start + count))


def _vec(name: str, doc: str, start: int, n: int, low: float = 0.0, high: float = 1.0) -> Field:
    return Field(name, f"{doc}, shape ({n},)", low=low, high=high, index=_ix(start, n), kind="array")


def _extras(p: GameParams, start: int) -> tuple[Field, ...]:
    """The extras block's fields, starting at flat index `start` (order of CoopetitionCore._extras)."""
    n, out, i = p.n, [], start
    if p.mechanism == "tr3":
        out.append(_vec("loyalty", "each agent's loyalty theta_i (raised by contributing at least half the endowment)",
                        i, n, high=p.loyalty_cap))
        i += n
    if p.mechanism == "tr4":
        out.append(_vec("memory_mean", f"each agent's mean contribution / e over its last {p.memory} steps "
                        "(what the others reciprocate)", i, n))
        i += n
    if p.special == "partner_selection":
        out.append(_vec("reputation", "each agent's public reputation (EMA of contribution / e)", i, n))
        out.append(_vec("partner", "each agent's current partner index / (n - 1)", i + n, n))
    elif p.special == "random_gamma" and p.reveal_gamma:
        out.append(Field("gamma", "this episode's synergy strength gamma", low=0.0, high=1.0, index=i))
    elif p.special == "negotiation":
        out.append(_vec("agreed", "the agreed actions / e (0 before an agreement)", i, n))
        out.append(Field("agreement", "1.0 once an agreement is fixed, else 0.0", low=0.0, high=1.0, index=i + n))
    elif p.special == "market":
        out.append(_vec("reputation", "each agent's public reputation (sets its payoff multiplier)", i, n))
    elif p.special == "coalition":
        out.append(_vec("member", "1.0 for each agent inside the coalition, 0.0 when excluded", i, n))
    elif p.special == "sanction":
        out.append(_vec("sanction", f"each agent's sanction level / {p.sanction_levels}", i, n))
    return tuple(out)


def _success_text(p: GameParams) -> str:
    if p.end_kind == "mean_trust_reaches":
        return f"the mean off-diagonal trust reaches {p.end_threshold:g} (the episode then ends)"
    return ("this game has no success criterion (is_success is always 0.0); it is judged by its task return, "
            "the env's own reward summed over agents")


def coopetition_descriptor(name: str, control: Any = "joint", **kwargs: Any) -> EnvDescriptor:
    """The descriptor of coopetition game ``name`` seen through its Gym view.

    Args:
        name: the game (``"TrustDilemma"``, ...).
        control: ``"joint"`` (the registered ids' default: the global state) or an agent index k.
        **kwargs: the game's arguments (``n_agents``, ``reveal_gamma``, ...), as given to ``gym.make``.

    Raises:
        InvalidParameter: an unknown game, argument or agent index.
    """
    p = build_params(name, **kwargs)
    n = p.n
    e = [float(x) for x in p.endowment]
    agent_size, state_size = obs_sizes(p)
    endow = ", ".join(f"{x:g}" for x in e)
    if control == "joint":
        fields: list[Field] = [_vec("last_actions", "every agent's last contribution as a fraction of its endowment", 0, n)]
        if n <= _MAX_SCALAR_AGENTS:
            fields += [Field(f"last_action_{i}", f"agent {i}'s last contribution / e_{i}", low=0.0, high=1.0, index=i)
                       for i in range(n)]
        fields += [
            Field("trust", f"trust matrix T, shape ({n}, {n}): T[i, j] is how much agent i trusts agent j (1 on the "
                  "diagonal)", low=0.0, high=1.0, index=_ix(n, n * n), kind="array", shape=(n, n)),
            Field("damage", f"reputation damage matrix R, shape ({n}, {n}): R[i, j] is the damage j did to i's trust",
                  low=0.0, high=1.0, index=_ix(n + n * n, n * n), kind="array", shape=(n, n)),
            Field("time", "t / max_steps, the fraction of the episode elapsed", low=0.0, high=1.0,
                  index=n + 2 * n * n),
        ]
        fields += _extras(p, n + 2 * n * n + 1)
        action = (f"a read-only float ndarray of shape ({n},): agent i's contribution a_i in [0, e_i], "
                  f"endowments e = [{endow}]")
        who = "You control every agent at once"
        size = state_size
    else:
        if isinstance(control, bool) or not isinstance(control, int) or not 0 <= control < n:
            raise InvalidParameter(f"`control` must be 'joint' or an agent index in [0, {n}). Received {control!r}")
        k = control
        fields = [
            _vec("agent_id", f"one-hot id of the observing agent (agent {k})", 0, n),
            _vec("trust_given", f"T[{k}, :], how much agent {k} trusts each agent", n, n),
            _vec("trust_received", f"T[:, {k}], how much each agent trusts agent {k}", 2 * n, n),
            _vec("damage_given", f"R[{k}, :], damage each agent did to agent {k}'s trust", 3 * n, n),
            _vec("damage_received", f"R[:, {k}], damage agent {k} did to each agent's trust", 4 * n, n),
            _vec("last_actions", "every agent's last contribution as a fraction of its endowment", 5 * n, n),
            Field("own_last_action", f"agent {k}'s own last contribution / e_{k}", low=0.0, high=1.0, index=5 * n + k),
            Field("time", "t / max_steps, the fraction of the episode elapsed", low=0.0, high=1.0, index=6 * n),
        ]
        fields += _extras(p, 6 * n + 1)
        action = f"a read-only float ndarray of shape (1,): agent {k}'s contribution in [0, {e[k]:g}]"
        who = f"You control agent {k}; the others play their stage-game Nash levels"
        size = agent_size
    last = max((max(f.index) if isinstance(f.index, tuple) else f.index) for f in fields)
    if last != size - 1:  # internal: the fields must tile the whole observation
        raise AssertionError(f"coopetition descriptor of {name} covers {last + 1} of {size} entries")
    info = tuple((f"payoff_{i}", f"agent {i}'s material payoff of this step (info['payoff'][{i}])") for i in range(n))
    info += (("is_success", "1.0 on a step that meets the game's success criterion (see success), else 0.0"),)
    example = '''def compute_reward(obs, action, next_obs, info):
    # The agents' total material payoff of the step, scaled, plus the growth of mean trust.
    payoff = 0.0
    for key in info:
        if key.startswith("payoff_"):
            payoff += info[key]
    payoff = 0.01 * payoff
    trust_gain = 10.0 * float(np.mean(next_obs.%s) - np.mean(obs.%s))
    return payoff + trust_gain, {"payoff": payoff, "trust_gain": trust_gain}
''' % (("trust", "trust") if control == "joint" else ("trust_received", "trust_received"))
    return EnvDescriptor(
        env_id=coopetition_env_id(name),
        summary=(f"A mixed-motive game of {n} agents over {p.max_steps} steps: {env_summary(name)} "
                 f"Each step every agent contributes a_i in [0, e_i]; contributing builds trust and joint payoff "
                 f"but costs the contributor. {who}."),
        fields=tuple(fields),
        action=action,
        action_kind="box",
        info=info,
        success=_success_text(p),
        example=example,
    )


def descriptor_factory(name: str):
    """A zero-argument factory building the joint-control :func:`coopetition_descriptor` of ``name``."""
    return lambda: coopetition_descriptor(name)
