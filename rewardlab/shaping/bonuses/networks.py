"""Torch parts of the learned bonuses: E3B's inverse-dynamics encoder and RND's two networks.

Both follow one pattern (:class:`Learner`):

* inference (:meth:`~InverseDynamicsEncoder.embed`, :meth:`~RNDModel.novelty`) runs per step,
  batched, without gradients, on the device of the observations (numpy in: CPU, numpy out);
* the term records its training inputs as it scores steps (real steps only), at most the last
  ``capacity`` rows, and ``update()`` trains on them, or on a rollout passed in, with
  ``steps_per_update`` Adam minibatch steps; weights therefore change only between rollouts, and
  ``version`` counts the updates.

Networks are built lazily on the first observation (the input size is read from it), seeded by
``seed`` without touching the global torch RNG.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np

from rewardlab.errors import InvalidParameter, MissingExtraError
from rewardlab.shaping.bonuses._backend import RunningMoments, first_leaf, host_bool
from rewardlab.shaping.bonuses.features import flatten, resolve_feature

try:
    import torch
    from torch import nn
except ImportError as e:  # pragma: no cover - exercised only without the extra
    raise MissingExtraError("Learned bonus terms (E3B's encoder, RND)", "train", e) from e

__all__ = ["Learner", "InverseDynamicsEncoder", "RNDModel", "RolloutBuffer"]


def _mlp(sizes: list[int], layer_norm: bool = False) -> nn.Sequential:
    layers: list[nn.Module] = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2:
            layers.append(nn.ReLU())
    if layer_norm:
        layers.append(nn.LayerNorm(sizes[-1]))
    return nn.Sequential(*layers)


def _positive_int(value: Any, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InvalidParameter(f"`{what}` must be a positive integer. Received {value!r}")
    return value


class RolloutBuffer:
    """The most recent `capacity` rows of recorded training inputs (named columns of equal length)."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._chunks: list[dict[str, torch.Tensor]] = []
        self.size = 0

    def add(self, **columns: torch.Tensor) -> None:
        n = next(iter(columns.values())).shape[0]
        if n == 0:
            return
        self._chunks.append(columns)
        self.size += n
        while self.size - next(iter(self._chunks[0].values())).shape[0] >= self.capacity:
            self.size -= next(iter(self._chunks.pop(0).values())).shape[0]

    def take(self) -> dict[str, torch.Tensor] | None:
        """Everything recorded (the last `capacity` rows), and empty the buffer."""
        if not self._chunks:
            return None
        out = {k: torch.cat([c[k] for c in self._chunks])[-self.capacity :] for k in self._chunks[0]}
        self._chunks, self.size = [], 0
        return out


class Learner:
    """Shared machinery of the learned parts: inputs, lazy build, device, recording, minibatches."""

    def __init__(self, key: Any, lr: float, batch_size: int, steps_per_update: int, capacity: int, seed: int):
        if isinstance(lr, bool) or not isinstance(lr, (int, float)) or not math.isfinite(lr) or lr <= 0:
            raise InvalidParameter(f"`lr` must be a positive number. Received {lr!r}")
        self.batch_size = _positive_int(batch_size, "batch_size")
        self.steps_per_update = _positive_int(steps_per_update, "steps_per_update")
        self.buffer = RolloutBuffer(_positive_int(capacity, "capacity"))
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise InvalidParameter(f"`seed` must be an integer. Received {seed!r}")
        self.lr, self.seed = float(lr), seed
        self._feature = resolve_feature(key)
        self._generator = torch.Generator().manual_seed(seed)
        self.version = 0
        self.device: torch.device | None = None
        self.in_dim: int | None = None
        self.optimizer: torch.optim.Optimizer | None = None

    # --- subclasses ---------------------------------------------------------------------------
    def _build(self, in_dim: int) -> None:
        """Create the networks (on the CPU; the caller moves them) and ``self.optimizer``."""
        raise NotImplementedError

    def modules(self) -> dict[str, nn.Module]:
        raise NotImplementedError

    # --- shared -------------------------------------------------------------------------------
    def inputs(self, obs: Any) -> torch.Tensor:
        """Flat features of a batch of observations as a tensor on the learner's device (dtype kept)."""
        x = flatten(self._feature(obs))
        x = torch.as_tensor(np.ascontiguousarray(x)) if isinstance(x, np.ndarray) else x
        if self.device is None:
            self._create(x.shape[1], x.device)
        elif x.device != self.device:
            self.to(x.device)
        if x.shape[1] != self.in_dim:
            raise InvalidParameter(f"{type(self).__name__} was built for {self.in_dim} input features and got {x.shape[1]}")
        return x

    def _create(self, in_dim: int, device: torch.device) -> None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(self.seed)
            self.in_dim = in_dim
            self._build(in_dim)
        self.device = torch.device("cpu")
        self.to(device)

    def to(self, device: torch.device | str) -> None:
        """Move the networks, statistics and optimizer state to `device`."""
        device = torch.device(device)
        for module in self.modules().values():
            module.to(device)
        if self.optimizer is not None:
            for state in self.optimizer.state.values():
                for k, v in state.items():
                    if torch.is_tensor(v) and v.dim() > 0:
                        state[k] = v.to(device)
        self.device = device

    @staticmethod
    def output(values: torch.Tensor, obs: Any) -> Any:
        """Per-row values (float64) in the backend of `obs`: numpy for numpy observations."""
        values = values.detach().to(torch.float64)
        return values.cpu().numpy() if isinstance(first_leaf(obs), np.ndarray) else values

    def _rows(self, valid: Any) -> torch.Tensor:
        if isinstance(valid, torch.Tensor):  # already a tensor: stays on its device (no host round trip)
            return valid.to(device=self.device, dtype=torch.bool)
        return torch.as_tensor(host_bool(valid), device=self.device)

    def _minibatches(self, n: int) -> list[torch.Tensor]:
        size = min(self.batch_size, n)
        return [torch.randint(n, (size,), generator=self._generator).to(self.device) for _ in range(self.steps_per_update)]

    def _data(self, rollout: Mapping[str, Any] | None, obs_keys: dict[str, str], other_keys: dict[str, str] | None = None) -> dict[str, torch.Tensor] | None:
        """Training columns: from `rollout` (rows where its ``valid`` is False dropped), or the recording when None."""
        if rollout is None:
            return self.buffer.take()
        other_keys = other_keys or {}
        missing = sorted(k for k in [*obs_keys.values(), *other_keys.values()] if k not in rollout)
        if missing:
            raise InvalidParameter(f"`rollout` is missing the keys {missing} (one leading batch dimension per array)")
        data = {name: self.inputs(rollout[key]) for name, key in obs_keys.items()}
        data.update({name: torch.as_tensor(rollout[key], device=self.device) for name, key in other_keys.items()})
        if "valid" in rollout:
            keep = self._rows(rollout["valid"])
            data = {k: v[keep] for k, v in data.items()}
        return data

    def base_state(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "in_dim": self.in_dim,
            "modules": {k: m.state_dict() for k, m in self.modules().items()} if self.in_dim is not None else None,
            "optimizer": self.optimizer.state_dict() if self.optimizer is not None else None,
            "generator": self._generator.get_state(),
        }

    def load_base_state(self, state: Mapping[str, Any]) -> None:
        self.version = state["version"]
        self._generator.set_state(state["generator"])
        if state["in_dim"] is None:
            return
        if self.device is None:
            self._create(state["in_dim"], torch.device("cpu"))
        for k, m in self.modules().items():
            m.load_state_dict(state["modules"][k])
        self.optimizer.load_state_dict(state["optimizer"])


class InverseDynamicsEncoder(Learner):
    """E3B's feature encoder ``phi``, trained only through an inverse-dynamics head.

    The head predicts ``a_t`` from ``[phi(s_t), phi(s_{t+1})]`` with cross-entropy, so ``phi``
    keeps what the agent controls and drops noise. An MLP on the flat feature ``key``, with a
    LayerNorm on its output (as in E3B's Sample-Factory port) unless ``layer_norm=False``.

    Args:
        num_actions: size of the discrete action space.
        key: the observation feature the encoder reads (default: the whole observation).
        latent_dim: the size ``d`` of ``phi``.
        hidden: hidden width of the encoder and of the head.
        layer_norm: LayerNorm on ``phi``.
        lr, batch_size, steps_per_update: Adam learning rate, minibatch size, minibatch steps per update.
        capacity: how many recorded transitions are kept for the next update.
        seed: seeds the initial weights and minibatch sampling.

    Example:
        >>> import numpy as np, torch
        >>> enc = InverseDynamicsEncoder(num_actions=2, latent_dim=4, seed=0)
        >>> enc.embed(np.zeros((3, 5))).shape
        (3, 4)
    """

    def __init__(
        self,
        num_actions: int,
        key: Any = "obs",
        latent_dim: int = 32,
        hidden: int = 64,
        layer_norm: bool = True,
        lr: float = 1e-3,
        batch_size: int = 256,
        steps_per_update: int = 16,
        capacity: int = 16384,
        seed: int = 0,
    ):
        if isinstance(num_actions, bool) or not isinstance(num_actions, int) or num_actions < 2:
            raise InvalidParameter(f"`num_actions` must be an integer >= 2 (a discrete action space). Received {num_actions!r}")
        self.config = {k: v for k, v in locals().items() if k not in ("self", "__class__")}
        super().__init__(key, lr, batch_size, steps_per_update, capacity, seed)
        self.num_actions = num_actions
        self.latent_dim = _positive_int(latent_dim, "latent_dim")
        self.hidden = _positive_int(hidden, "hidden")
        self.layer_norm = bool(layer_norm)

    def _build(self, in_dim: int) -> None:
        self.encoder = _mlp([in_dim, self.hidden, self.latent_dim], self.layer_norm)
        self.head = _mlp([2 * self.latent_dim, self.hidden, self.num_actions])
        self.optimizer = torch.optim.Adam([*self.encoder.parameters(), *self.head.parameters()], lr=self.lr)

    def modules(self) -> dict[str, nn.Module]:
        return {"encoder": self.encoder, "head": self.head}

    def embed(self, obs: Any) -> Any:
        """``phi`` of a batch of observations, ``(N, latent_dim)`` float64, in the observations' backend."""
        x = self.inputs(obs)
        with torch.no_grad():
            return self.output(self.encoder(x.float()), obs)

    def record(self, obs: Any, action: Any, next_obs: Any, valid: Any) -> None:
        """Keep the real transitions of a step for the next :meth:`update`."""
        keep = self._rows(valid)
        action = torch.as_tensor(action, device=self.device)
        self.buffer.add(obs=self.inputs(obs)[keep], action=action.reshape(-1)[keep], next_obs=self.inputs(next_obs)[keep])

    def update(self, rollout: Mapping[str, Any] | None = None) -> dict[str, float]:
        """Train on `rollout` (``obs``, ``actions``, ``next_obs``, optional ``valid``) or on the recording."""
        data = self._data(rollout, {"obs": "obs", "next_obs": "next_obs"}, {"action": "actions"})
        if data is None or data["action"].shape[0] == 0:
            return {}
        action = data["action"].reshape(-1).long()
        if int(action.min()) < 0 or int(action.max()) >= self.num_actions:
            raise InvalidParameter(f"Actions must be integers in [0, {self.num_actions}); got values in [{int(action.min())}, {int(action.max())}]")
        x0, x1 = data["obs"].float(), data["next_obs"].float()
        for idx in self._minibatches(x0.shape[0]):
            logits = self.head(torch.cat([self.encoder(x0[idx]), self.encoder(x1[idx])], dim=1))
            loss = nn.functional.cross_entropy(logits, action[idx])
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        self.version += 1
        return {"inverse_dynamics_loss": loss.item(), "samples": float(x0.shape[0])}

    def state_dict(self) -> dict[str, Any]:
        return self.base_state()

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.load_base_state(state)


class RNDModel(Learner):
    """RND's fixed random target network and trained predictor, with observation normalisation.

    ``novelty(s) = |f(x) - f_target(x)|^2`` (``squared=True``, Burda et al.) or its square root
    (``squared=False``, as E3B's code uses), where ``x`` is the feature normalised by running
    mean and std and clipped to [-5, 5] (``normalize_obs``). The statistics update with each
    training batch, before the gradient steps.

    Example:
        >>> import numpy as np
        >>> model = RNDModel(embed_dim=8, seed=0)
        >>> model.novelty(np.zeros((2, 3))).shape
        (2,)
    """

    def __init__(
        self,
        key: Any = "obs",
        embed_dim: int = 64,
        hidden: int = 128,
        squared: bool = True,
        normalize_obs: bool = True,
        lr: float = 1e-3,
        batch_size: int = 256,
        steps_per_update: int = 16,
        capacity: int = 16384,
        seed: int = 0,
    ):
        super().__init__(key, lr, batch_size, steps_per_update, capacity, seed)
        self.embed_dim = _positive_int(embed_dim, "embed_dim")
        self.hidden = _positive_int(hidden, "hidden")
        self.squared, self.normalize_obs = bool(squared), bool(normalize_obs)
        self.obs_stats: RunningMoments | None = None

    def _build(self, in_dim: int) -> None:
        self.target = _mlp([in_dim, self.hidden, self.hidden, self.embed_dim])
        self.predictor = _mlp([in_dim, self.hidden, self.hidden, self.embed_dim])
        self.target.requires_grad_(False)
        self.optimizer = torch.optim.Adam(self.predictor.parameters(), lr=self.lr)
        self.obs_stats = RunningMoments(torch.zeros(in_dim), torch.ones(in_dim))

    def modules(self) -> dict[str, nn.Module]:
        return {"target": self.target, "predictor": self.predictor}

    def to(self, device: torch.device | str) -> None:
        super().to(device)
        s = self.obs_stats
        s.mean, s.var = s.mean.to(self.device), s.var.to(self.device)

    def _normalize(self, x: torch.Tensor) -> torch.Tensor:
        x = x.float()
        if not self.normalize_obs:
            return x
        s = self.obs_stats
        return ((x - s.mean) / torch.sqrt(s.var + 1e-8)).clamp(-5.0, 5.0)

    def _squared_error(self, x: torch.Tensor) -> torch.Tensor:
        x = self._normalize(x)
        return ((self.predictor(x) - self.target(x)) ** 2).sum(dim=1)

    def novelty(self, obs: Any) -> Any:
        """Prediction error of each observation, ``(N,)`` float64, in the observations' backend."""
        with torch.no_grad():
            err = self._squared_error(self.inputs(obs))
        return self.output(err if self.squared else err.sqrt(), obs)

    def record(self, obs: Any, valid: Any) -> None:
        """Keep the real states of a step for the next :meth:`update`."""
        self.buffer.add(obs=self.inputs(obs)[self._rows(valid)])

    def update(self, rollout: Mapping[str, Any] | None = None, key: str = "next_obs") -> dict[str, float]:
        """Train the predictor on `rollout[key]` (optional ``valid``) or on the recording."""
        data = self._data(rollout, {"obs": key})
        if data is None or data["obs"].shape[0] == 0:
            return {}
        x = data["obs"]
        if self.normalize_obs:
            self.obs_stats.update(x.float())
        for idx in self._minibatches(x.shape[0]):
            loss = self._squared_error(x[idx]).mean()
            self.optimizer.zero_grad()
            loss.backward()
            self.optimizer.step()
        self.version += 1
        return {"rnd_loss": loss.item(), "samples": float(x.shape[0])}

    def state_dict(self) -> dict[str, Any]:
        state = self.base_state()
        state["obs_stats"] = None if self.obs_stats is None else self.obs_stats.state_dict()
        return state

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.load_base_state(state)
        if state["obs_stats"] is not None:
            self.obs_stats.load_state_dict(state["obs_stats"])
            self.to(self.device)
