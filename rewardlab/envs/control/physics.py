"""Named potentials from the physics of Gymnasium's classic-control envs (MountainCar, CartPole).

They live with the control envs, not in :mod:`rewardlab.shaping`, because they know these envs'
observations and constants; shaping imports no env family. :func:`register_envs` of
:mod:`rewardlab.envs.control` publishes them for Gymnasium's own ids (``MountainCar-v0``,
``MountainCarContinuous-v0``, ``CartPole-v1``) and for the sparse MountainCar tasks.

Functions: :func:`mountain_car_energy`, :func:`mountain_car_height`, :func:`cartpole_upright`,
:func:`register_gymnasium_potentials`.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardlab.shaping.potentials import register_potentials

__all__ = [
    "mountain_car_energy",
    "mountain_car_height",
    "cartpole_upright",
    "MOUNTAIN_CAR_POTENTIALS",
    "CARTPOLE_POTENTIALS",
    "register_gymnasium_potentials",
]

# MountainCar's gravity term is -0.0025*cos(3x) per step, i.e. a potential energy U(x) = 0.0025/3*sin(3x);
# dividing by the valley-to-peak range 2*0.0025/3 puts a car at rest at the bottom at -0.5, at x=pi/6 at +0.5.
_MC_ENERGY_SCALE = 3.0 / (2 * 0.0025)


def mountain_car_energy(obs: Any) -> Any:
    """Mechanical energy of MountainCar, 0.5*v^2 + 0.0025/3*sin(3x), scaled so the valley floor at rest is -0.5.

    Example:
        >>> mountain_car_energy(np.array([[-np.pi / 6, 0.0], [np.pi / 6, 0.0]])).round(3)
        array([-0.5,  0.5])
    """
    x, v = obs[:, 0], obs[:, 1]
    return _MC_ENERGY_SCALE * (0.5 * v * v + 0.0025 / 3.0 * np.sin(3.0 * x))


def mountain_car_height(obs: Any) -> Any:
    """Height of MountainCar's track, sin(3x), in [-1, 1].

    Example:
        >>> mountain_car_height(np.array([[np.pi / 6, 0.0]])).round(3)
        array([1.])
    """
    return np.sin(3.0 * obs[:, 0])


def cartpole_upright(obs: Any) -> Any:
    """Minus the pole angle over CartPole's failure angle (0.2095 rad): 0 upright, -1 at failure.

    Example:
        >>> cartpole_upright(np.array([[0.0, 0.0, 0.2095, 0.0]])).round(3)
        array([-1.])
    """
    return np.abs(obs[:, 2]) * (-1.0 / 0.2095)  # one ufunc fewer than -abs(x) / 0.2095: this runs every step


#: Named potentials of the MountainCar tasks (observations are the base env's ``[x, v]``).
MOUNTAIN_CAR_POTENTIALS = {"energy": mountain_car_energy, "height": mountain_car_height}
#: Named potentials of CartPole.
CARTPOLE_POTENTIALS = {"upright": cartpole_upright}


def register_gymnasium_potentials() -> None:
    """Publish these potentials for Gymnasium's own MountainCar and CartPole ids."""
    for env_id in ("MountainCar-v0", "MountainCarContinuous-v0"):
        register_potentials(env_id, MOUNTAIN_CAR_POTENTIALS)
    register_potentials("CartPole-v1", CARTPOLE_POTENTIALS)
