"""rewardlab: Gymnasium/PettingZoo environments and composable reward shaping for reward-design research.

Importing the package registers every environment under the ``rewardlab/`` namespace.
"""

from rewardlab import envs as _envs  # noqa: F401  (registers the envs)

__version__ = "0.1.0"
