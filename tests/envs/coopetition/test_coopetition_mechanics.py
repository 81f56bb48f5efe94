"""The coopetition mathematics against the spec's closed forms and verification checks (§8.1, 4-13)."""

from __future__ import annotations

import dataclasses
import itertools

import numpy as np
import pytest

from rewardlab.envs.coopetition import parallel_env
from rewardlab.envs.coopetition import mechanics as M
from rewardlab.envs.coopetition.core import CoopetitionCore
from rewardlab.envs.coopetition.equilibria import tr3_loyalty_effort, tr3_nash, tr3_social_optimum
from rewardlab.envs.coopetition.params import build_params


def _play(env, joint, steps):
    """Step a ParallelEnv with a constant joint action; returns (steps taken, summed rewards, last infos)."""
    total, infos = 0.0, None
    for t in range(steps):
        actions = {a: [joint[i]] for i, a in enumerate(env.possible_agents)}
        _, rewards, terms, truncs, infos = env.step(actions)
        total += sum(rewards.values())
        if terms["agent_0"] or truncs["agent_0"]:
            return t + 1, total, infos
    return steps, total, infos


# --- check 1: payoff identity ----------------------------------------------------------------

def test_payoff_identity():
    # spec §8.1: pi = [134.342, 153.015] at a = [60, 20] (theta 20, gamma .7, alpha .5, e 100)
    pi = M.tr1_payoff(np.array([60.0, 20.0]), np.full(2, 100.0), np.full(2, 0.5), 20.0, 0.7, np)
    np.testing.assert_allclose(pi, [134.342, 153.015], atol=5e-4)
    assert M.value(np.array(50.0), 20.0, np) == pytest.approx(78.637, abs=5e-4)  # 20 ln 51
    assert M.synergy(np.array([75.0, 25.0]), np) == pytest.approx(43.301, abs=5e-4)  # sqrt(1875)
    V = 2 * M.value(np.array(50.0), 20.0, np) + 0.65 * M.synergy(np.array([50.0, 50.0]), np)
    assert V == pytest.approx(189.773, abs=5e-4)
    assert M.synergy(np.array([0.0, 80.0, 30.0]), np) == 0.0


# --- checks 4-7: TR-2 trust dynamics ---------------------------------------------------------

def test_trust_one_step_trust_dilemma():
    # spec §8.4: T01 = .5 - .45*.5*1.36 = 0.194, T10 = .5 + .15*(1 - .5) = 0.575, R01 = .50, R10 = 0
    env = parallel_env("TrustDilemma")
    env.reset(seed=0)
    env.step({"agent_0": [60.0], "agent_1": [20.0]})
    T, R = env.core.T[0], env.core.R[0]
    assert T[0, 1] == pytest.approx(0.5 - 0.45 * 0.5 * 1.36)
    assert T[1, 0] == pytest.approx(0.575)
    assert (R[0, 1], R[1, 0]) == (pytest.approx(0.5), 0.0)


def _scalar_update(p, T, R, s, D):
    """One trust update of a single (i, j) pair through the batched function (2 agents, pair 0->1)."""
    Tm, Rm = np.array([[1.0, T], [1.0, 1.0]]), np.array([[0.0, R], [0.0, 0.0]])
    Dm = np.array([[0.0, D], [0.0, 0.0]])
    T2, R2 = M.trust_update(Tm, Rm, np.array([0.0, s]), M.trust_rates(Dm, p, np), p, np)
    return float(T2[0, 1]), float(R2[0, 1])


DEFAULTS = dataclasses.replace(build_params("ReciprocalDilemma"))  # TR-2 defaults .10/.30/.60/.03/.50


def test_negativity_bias_ratio():
    # spec §2.3 derived facts: at T=.5, R=0, D=.5, s=+-tanh(1): loss 0.1428, gain 0.0381, ratio 3*(1.25)*.5/.5 = 3.75
    s = np.tanh(1.0)
    gain = _scalar_update(DEFAULTS, 0.5, 0.0, s, 0.5)[0] - 0.5
    loss = 0.5 - _scalar_update(DEFAULTS, 0.5, 0.0, -s, 0.5)[0]
    assert (round(loss, 4), round(gain, 4)) == (0.1428, 0.0381)
    assert loss / gain == pytest.approx(3.75)


def test_build_and_erode_step_counts():
    # spec §8.5: building .5 -> .9 at s = tanh 2 takes 16 steps; eroding .9 -> .5 takes 2
    T, R, steps = 0.5, 0.0, 0
    while T < 0.9:
        T, R = _scalar_update(DEFAULTS, T, R, np.tanh(2.0), 0.5)
        steps += 1
    assert steps == 16
    T, R, steps = 0.9, 0.0, 0
    while T > 0.5:
        T, R = _scalar_update(DEFAULTS, T, R, -np.tanh(2.0), 0.5)
        steps += 1
    assert steps == 2


def _hysteresis(p, recovery_steps, use_max):
    # TR-2 suite protocol: T=.85, one violation at tanh(-3), then cooperation at tanh(2), D = .5
    T, R = _scalar_update(p, 0.85, 0.0, np.tanh(-3.0), 0.5)
    best = T
    for _ in range(recovery_steps):
        T, R = _scalar_update(p, T, R, np.tanh(2.0), 0.5)
        best = max(best, T)
    return (best if use_max else T) / 0.85


def _cumulative(p):
    # one violation at tanh(-4) vs four at tanh(-1), from T = .8
    T_a, _ = _scalar_update(p, 0.8, 0.0, np.tanh(-4.0), 0.5)
    T, R, damage = 0.8, 0.0, 0.0
    for _ in range(4):
        T_new, R = _scalar_update(p, T, R, np.tanh(-1.0), 0.5)
        damage, T = damage + T - T_new, T_new
    return damage / (0.8 - T_a)


def test_hysteresis_and_amplification():
    # spec §8.6, suite semantics (clip to [0, 1]): 0.6284 / 0.8415 / 1.1280, cumulative 1.9734
    assert round(_hysteresis(DEFAULTS, 10, False), 4) == 0.6284
    assert round(_hysteresis(DEFAULTS, 35, True), 4) == 0.8415
    assert round(_hysteresis(DEFAULTS, 100, True), 4) == 1.1280
    assert round(_cumulative(DEFAULTS), 4) == 1.9734
    # env semantics (clip to the ceiling 1 - R): 35-step recovery 0.8345, cumulative 2.1343
    ceiling = dataclasses.replace(DEFAULTS, trust_clip="ceiling")
    assert round(_hysteresis(ceiling, 35, True), 4) == 0.8345
    assert round(_cumulative(ceiling), 4) == 2.1343
    # dependency amplification: (1 + .5*.8) / (1 + .5*.2) = 1.2727
    high = 0.8 - _scalar_update(DEFAULTS, 0.8, 0.1, np.tanh(-2.0), 0.8)[0]
    low = 0.8 - _scalar_update(DEFAULTS, 0.8, 0.1, np.tanh(-2.0), 0.2)[0]
    assert round(high / low, 4) == 1.2727


def test_reputation_half_life_and_ceiling():
    # spec §8.7: damage decays by 0.97 per non-violation step: half-life ln .5 / ln .97 = 22.76 steps
    R, steps = 1.0, 0
    T = 0.0
    while R > 0.5:
        T, R = _scalar_update(DEFAULTS, T, R, np.tanh(2.0), 0.5)
        assert T <= 1.0 - R + 1e-12  # building never passes the ceiling
        steps += 1
    assert steps == 23 and np.log(0.5) / np.log(0.97) == pytest.approx(22.76, abs=5e-3)


# --- checks 8-9: RecoveryRace and the TrustDilemma cliff -------------------------------------

def test_recovery_race_target_reachable():
    # spec §8.8: under full cooperation R_t = 0.5*0.99^t, T_150 = 0.8735 (the anchor's horizon is
    # too short); rewardlab's horizon 200 lets the 0.90 target be reached, first at step 174.
    env = parallel_env("RecoveryRace")
    env.reset(seed=0)
    _play(env, [100.0, 100.0], 150)
    assert env.core.R[0, 0, 1] == pytest.approx(0.5 * 0.99**150)
    assert round(float(env.core.T[0, 0, 1]), 4) == 0.8735
    env.reset(seed=0)
    steps, _, infos = _play(env, [100.0, 100.0], 200)
    assert steps == 174 and infos["agent_0"]["is_success"] is True


@pytest.mark.parametrize("level, end_step", [(0.0, 3), (23.24, 3), (30.0, 3), (39.9, 25), (40.0, 100), (45.0, 100)])
def test_trust_dilemma_cliff(level, end_step):
    # spec §8.9 [A]: constants below b = 40 end by trust collapse; 40 keeps T = .5, 45 drives T to 1
    env = parallel_env("TrustDilemma")
    env.reset(seed=0)
    steps, _, _ = _play(env, [level, level], 100)
    assert steps == end_step
    if level == 40.0:
        assert env.core.T[0, 0, 1] == 0.5
    if level == 45.0:
        assert round(float(env.core.T[0, 0, 1]), 6) == 1.0  # approaches 1 geometrically (the anchor's float32 rounds to 1)


def test_trust_dilemma_anchor_compatible_return():
    # spec §4 / §8.9 [A]: the anchor's best constant 42 scores team return 46,829.8 under its
    # trust-gated integrated reward with trust clipped to the ceiling
    env = parallel_env("TrustDilemma", trust_gated=True, trust_clip="ceiling")
    env.reset(seed=0)
    _, total, _ = _play(env, [42.0, 42.0], 100)
    assert round(total, 1) == 46829.8


# --- checks 10-12: TR-3 --------------------------------------------------------------------

def test_tr3_closed_forms():
    # spec §8.10: Nash 34.240 (n = 4) and 5.910 (n = 6) at omega 25, beta .7, c 1; SO per agent 3478.6
    assert round(tr3_nash(25, 0.7, 1, 4), 3) == 34.240
    assert round(tr3_nash(25, 0.7, 1, 6), 2) == 5.91
    assert round(tr3_social_optimum(25, 0.7, 1, 4), 1) == 3478.6
    assert tr3_loyalty_effort(0.0, 25, 0.7, 1, 4, 0.8, 0.3) == pytest.approx(tr3_nash(25, 0.7, 1, 4))


GRID = dict(omega=[10, 15, 20, 25, 30], beta=[.40, .45, .50, .55, .60], cost=[1.5, 2.0, 2.5, 3.0, 3.5], n=[3, 4, 5, 6, 8])
THETAS = [0.0, 0.3, 0.5, 0.7, 0.9]


def _a_star(theta, o, b, c, n, phi_b=0.8, phi_c=0.3):
    return float(np.clip(tr3_loyalty_effort(theta, o, b, c, n, phi_b, phi_c), 0.01, 50.0))


def test_tr3_effort_differentiation_grid():
    # spec §8.10: over the 625 (omega, beta, c, n) configs, a*(.9)/a*(.1) has median 4.478, min 2.036, max 6.515
    ratios = [_a_star(.9, *cfg) / _a_star(.1, *cfg) for cfg in itertools.product(*GRID.values())]
    assert len(ratios) == 625
    assert (round(np.median(ratios), 3), round(min(ratios), 3), round(max(ratios), 3)) == (4.478, 2.036, 6.515)


def test_tr3_behavioural_targets():
    # spec §8.11 on the 3,125-config grid: monotone in theta, non-increasing in n at theta < .3, bounded,
    # mechanism synergy (combined / (phi_B-only + phi_C-only) effect) > 1.1 in at least 99%
    synergy_ok = total = 0
    for o, b, c in itertools.product(GRID["omega"], GRID["beta"], GRID["cost"]):
        for n in GRID["n"]:
            efforts = [_a_star(t, o, b, c, n) for t in THETAS]
            assert all(x <= y for x, y in zip(efforts, efforts[1:])) and all(0 <= x <= 50 for x in efforts)
            base = _a_star(0.0, o, b, c, n)
            both = _a_star(0.7, o, b, c, n) - base
            only_b = _a_star(0.7, o, b, c, n, phi_c=0.0) - base
            only_c = _a_star(0.7, o, b, c, n, phi_b=0.0) - base
            synergy_ok += 5 * (only_b + only_c > 0 and both / (only_b + only_c) > 1.1)
            total += 5
        for t in (0.0,):
            by_n = [_a_star(t, o, b, c, n) for n in GRID["n"]]
            assert all(x >= y for x, y in zip(by_n, by_n[1:]))
    assert total == 3125 and synergy_ok / total >= 0.99


def test_tr3_free_riding_is_best_response():
    # spec §8.10: at theta = 0 the closed form is a best response (grid argmax of U_i within 5%) in >= 95%
    hits = total = 0
    grid = np.linspace(0.01, 50.0, 5000)
    for o, b, c, n in itertools.product(*GRID.values()):
        a = _a_star(0.0, o, b, c, n)
        U = o * (grid + (n - 1) * a) ** b / n - c * grid
        hits += abs(grid[np.argmax(U)] - a) <= 0.05 * a + 0.01
        total += 1
    assert hits / total >= 0.95


def test_team_production_pays_tr3_payoff():
    # spec §8.12: TeamProduction at [40]*4 pays pi_team = 25*160^.7/4 - 40 = 178.154 (not the anchor's 173.147)
    env = parallel_env("TeamProduction", reward_mode="private")
    env.reset(seed=0)
    _, rewards, _, _, _ = env.step({a: [40.0] for a in env.possible_agents})
    assert all(round(r, 3) == 178.154 for r in rewards.values())


def test_public_goods_payoff_and_loyalty():
    # spec §8.12: at 25*5 (m = 2, e = 50) the public-goods payoff is 50 - 25 + 2*125/5 = 75; the loyalty
    # term with the post-step loyalty .5 + .02*.5 = .51 is .51*(.6*(50 - 25) + .2*25) = 10.2, so 85.2 is paid
    env = parallel_env("PublicGoods", reward_mode="private")
    env.reset(seed=0)
    _, rewards, _, _, infos = env.step({a: [25.0] for a in env.possible_agents})
    assert infos["agent_0"]["payoff"] == pytest.approx(75.0)
    assert rewards["agent_0"] == pytest.approx(85.2)


# --- check 13: TR-4 memory and reciprocity -------------------------------------------------

def _core(name, **changes):
    p = dataclasses.replace(build_params(name, reward_mode="private"), **changes)
    core = CoopetitionCore(p)
    core.reset(seeds=[0])
    return core


def test_tr4_memory_window_signal():
    # spec §8.13: k = 5, j plays 60 five times then 20: the signal is 20 - 60 = -40 (anchor: -32).
    # A small recip_kappa keeps tanh unsaturated so the term reveals the signal exactly.
    kappa = 0.01
    core = _core("ReciprocalDilemma", recip_kappa=kappa)
    p = core.params
    for _ in range(5):
        core.step(np.array([[60.0, 60.0]]))
    out = core.step(np.array([[60.0, 20.0]]))
    weight = (1 + p.omega_r * 0.5) * p.rho0 * 0.5**p.eta
    expected = p.lambda_r * core.T[0, 0, 1] * weight * np.tanh(kappa * -40.0)
    assert out.utility[0, 0] - out.payoff[0, 0] == pytest.approx(expected, rel=1e-12)


def test_tr4_first_and_second_step_signal():
    # spec §2.5: signal 0 at t = 1; at t = 2 it is a_j^2 - a_j^1 (the anchor's is always 0 there)
    core = _core("ReciprocalDilemma", recip_kappa=0.01)
    p = core.params
    out1 = core.step(np.array([[50.0, 70.0]]))
    assert np.all(out1.utility == out1.payoff)
    out2 = core.step(np.array([[50.0, 40.0]]))
    weight = (1 + p.omega_r * 0.5) * p.rho0 * 0.5**p.eta
    expected = p.lambda_r * core.T[0, 0, 1] * weight * np.tanh(0.01 * (40.0 - 70.0))
    assert out2.utility[0, 0] - out2.payoff[0, 0] == pytest.approx(expected, rel=1e-12)


def test_tr4_rho_values_and_bound():
    # spec §2.5: rho_ij = rho0*D_ij^eta; GiftExchange .7028 / .3036, AppleAppStore as listed
    ge = build_params("GiftExchange")
    rho = ge.rho0 * ge.D**ge.eta
    assert (round(rho[1, 0], 4), round(rho[0, 1], 4)) == (0.7028, 0.3036)
    ap = build_params("AppleAppStore")
    rho = ap.rho0 * ap.D**ap.eta
    assert [round(rho[i, j], 4) for i, j in [(1, 0), (2, 0), (0, 1), (0, 2), (1, 2), (2, 1)]] == [
        0.7651, 0.8228, 0.2358, 0.1450, 0.1026, 0.0631]
    # |U_recip,i| <= lambda_R * sum_j T_ij (1 + omega D_ij) rho_ij under random play
    core = _core("AppleAppStore")
    rng = np.random.default_rng(0)
    for _ in range(30):
        out = core.step(rng.uniform(0, 1, (1, 3)) * ap.endowment)
        bound = ap.lambda_r * np.sum(core.T[0] * (1 + ap.omega_r * ap.D) * rho, axis=-1)
        assert np.all(np.abs(out.utility[0] - out.payoff[0]) <= bound + 1e-12)


# --- env-specific mechanisms ---------------------------------------------------------------

def test_partner_selection_pairs_by_reputation():
    # DynamicPartnerSelection: all reputations start at .5, pairs (0,1), (2,3), (4,5). After one step at
    # [90, 10, 90, 10, 50, 50] the ranking is 0, 2 (tie kept in index order), 4, 5, 1, 3, so the pairs
    # become (0,2), (4,5), (1,3): partners [2, 3, 0, 1, 5, 4] (observed as partner index / 5)
    env = parallel_env("DynamicPartnerSelection")
    env.reset(seed=0)
    assert np.rint(env.state()[-6:] * 5).astype(int).tolist() == [1, 0, 3, 2, 5, 4]
    env.step({a: [[90, 10, 90, 10, 50, 50][i]] for i, a in enumerate(env.possible_agents)})
    assert np.rint(env.state()[-6:] * 5).astype(int).tolist() == [2, 3, 0, 1, 5, 4]
    # and the synergy is now within the new pairs: agent 0's payoff uses sqrt(a_0*a_2)
    _, _, _, _, infos = env.step({a: [[64, 10, 36, 10, 50, 50][i]] for i, a in enumerate(env.possible_agents)})
    expected = (100 - 64) + 18 * np.log1p(64) + 0.5 * 0.55 * np.sqrt(64 * 36)
    assert infos["agent_0"]["payoff"] == pytest.approx(expected)


def test_negotiation_agreement_and_breach():
    # CooperativeNegotiation: |60 - 55| <= 10 forms an agreement; agent 1 then deviating to 20 breaches
    # (|20 - 55| = 35 > 10) and pays 3*35 = 105 on top of its TR-1 payoff
    env = parallel_env("CooperativeNegotiation", reward_mode="private")
    env.reset(seed=0)
    env.step({"agent_0": [60.0], "agent_1": [55.0]})
    _, _, _, _, infos = env.step({"agent_0": [60.0], "agent_1": [20.0]})
    pi = M.tr1_payoff(np.array([60.0, 20.0]), np.full(2, 100.0), np.full(2, 0.5), 20.0, 0.6, np)
    assert infos["agent_1"]["payoff"] == pytest.approx(pi[1] - 105.0)
    assert infos["agent_0"]["payoff"] == pytest.approx(pi[0])


def test_coalition_termination_reachable():
    # CoalitionFormation: playing 5 of 50 (rate .1) lowers loyalty by .05*(.5 - .1) = .02 per step from .5:
    # below .15 first after 18 steps, when every member is excluded and the episode terminates (the
    # anchor's size rule could never fire)
    env = parallel_env("CoalitionFormation")
    env.reset(seed=0)
    steps, _, _ = _play(env, [5.0] * 6, 150)
    assert steps == 18


def test_graduated_sanction_escalates():
    # GraduatedSanction: three shortfalls (b = 40) fine 5*1, 5*2, 5*3; a fourth stays at the cap 3
    core = _core("GraduatedSanction")
    p = core.params
    fines = []
    for _ in range(4):
        out = core.step(np.full((1, 6), 30.0))
        pi = M.tr1_payoff(np.full(6, 30.0), p.endowment, p.alpha, p.value_theta, p.gamma, np)
        fines.append(round(float(pi[0] - out.payoff[0, 0]), 9))
    assert fines == [5.0, 10.0, 15.0, 15.0]


def test_reputation_market_tiers():
    # ReputationMarket: reputation .5 -> multiplier 1.0; after 3 steps at a = 100 it is .5 + 3*.05 = .65
    # (still 1.0), after 6 it is .8 -> 1.3 applies from the 7th step
    core = _core("ReputationMarket")
    p = core.params
    a = np.full((1, 5), 100.0)
    base = M.tr1_payoff(a[0], p.endowment, p.alpha, p.value_theta, p.gamma, np)
    payoffs = [core.step(a).payoff[0, 0] for _ in range(7)]
    assert payoffs[0] == pytest.approx(base[0]) and payoffs[6] == pytest.approx(1.3 * base[0])
