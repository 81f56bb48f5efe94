"""Small helpers so bonus terms accept numpy arrays and torch tensors alike."""

from __future__ import annotations

from typing import Any

import numpy as np

from rewardlab._array import first_leaf, namespace

__all__ = ["host_bool", "like", "copy", "first_leaf", "RunningMoments"]


def host_bool(x: Any) -> np.ndarray:
    """A boolean mask (numpy or torch, any device) as a numpy array on the host."""
    if isinstance(x, np.ndarray):
        return x.astype(bool, copy=False)
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy().astype(bool)
    return np.asarray(x, dtype=bool)


def like(values: Any, ref: Any, dtype: Any = None) -> Any:
    """`values` as an array in the backend and on the device of `ref`, with `dtype` (default: `ref`'s)."""
    if isinstance(ref, np.ndarray):
        return np.asarray(values, dtype=ref.dtype if dtype is None else dtype)
    xp = namespace(ref)
    if dtype is bool:
        dtype = xp.bool
    if hasattr(values, "detach") and values.device == ref.device:
        return values.to(ref.dtype if dtype is None else dtype)
    if hasattr(values, "detach") or isinstance(values, np.ndarray):
        values = values.tolist()
    return xp.asarray(values, dtype=ref.dtype if dtype is None else dtype, device=ref.device)


def copy(x: Any) -> Any:
    """An independent copy of an array or tensor (None stays None)."""
    if x is None:
        return None
    return x.copy() if isinstance(x, np.ndarray) else x.clone()


class RunningMoments:
    """Running mean and variance over axis 0 of batches (Chan et al.'s merge), numpy or torch.

    Starts from mean 0, variance 1 with a tiny prior count (1e-4), as RND's reference code does,
    so a first batch of one sample does not give a zero variance.
    """

    def __init__(self, mean: Any = 0.0, var: Any = 1.0, count: float = 1e-4):
        self.mean, self.var, self.count = mean, var, count

    def update(self, batch: Any, mask: Any = None) -> None:
        """Merge the rows of `batch` (where `mask`, shape ``(n,)``, is True; all rows when None).

        On the host the masked rows are selected; on a device they are weighted by the mask, so the
        statistics stay there (0-d and per-feature tensors) and nothing is copied to the host.
        """
        if mask is not None and isinstance(batch, np.ndarray):
            batch, mask = batch[np.asarray(mask, dtype=bool)], None
        if mask is None:
            n: Any = batch.shape[0]
            if n == 0:
                return
            b_mean = batch.mean(0)
            b_var = ((batch - b_mean) ** 2).mean(0)
        else:
            xp = namespace(batch)
            w = xp.reshape(xp.astype(mask, batch.dtype), (-1,) + (1,) * (batch.ndim - 1))
            n = xp.sum(w)
            b_mean = xp.sum(batch * w, axis=0) / xp.clip(n, 1.0, None)
            b_var = xp.sum((batch - b_mean) ** 2 * w, axis=0) / xp.clip(n, 1.0, None)
        # The prior count (> 0) keeps `total` positive, so an empty masked batch leaves the moments as they are.
        total = self.count + n
        delta = b_mean - self.mean
        self.var = (self.var * self.count + b_var * n + delta**2 * self.count * n / total) / total
        self.mean = self.mean + delta * n / total
        self.count = total

    def state_dict(self) -> dict[str, Any]:
        def snapshot(x: Any) -> Any:
            return copy(x) if hasattr(x, "shape") else x

        return {"mean": snapshot(self.mean), "var": snapshot(self.var), "count": self.count}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.mean, self.var, self.count = state["mean"], state["var"], state["count"]
