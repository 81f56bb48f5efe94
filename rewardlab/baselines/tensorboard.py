"""TensorBoard scalars, written the same way by every trainer (TorchPPO, IPPO/MAPPO, SB3).

:class:`ScalarLog` is a thin front over ``torch.utils.tensorboard.SummaryWriter`` that does nothing
when no folder is given, so a trainer calls it unconditionally. Tags, every trainer alike:
``eval/task_return``, ``eval/success``, ``train/episode_task_return``, ``train/episode_success``,
``terms/<term name>`` (episode sum, mean over the episodes that ended in a rollout),
``losses/<name>``, ``bonus/<term>/<metric>``, ``blend/<term>/<metric>``, ``charts/sps``.

Classes: :class:`ScalarLog`.
"""

from __future__ import annotations

import math
import numbers
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rewardlab.errors import MissingExtraError

__all__ = ["ScalarLog", "episode_scalars"]


class ScalarLog:
    """Scalars to a TensorBoard event file under `folder`; a no-op when `folder` is None.

    Values that are not real numbers (strings, None, tensors) or not finite (NaN success of an env without a
    success criterion, inf) are skipped, so they never draw as gaps or spikes.

    Args:
        folder: the run's TensorBoard folder (created), or None for no log.
        purge_step: a run resumed from a checkpoint taken at this step passes it, so that TensorBoard
            drops the events the killed run wrote at or after it (they are written again).

    Raises:
        MissingExtraError: `folder` is given and the ``tensorboard`` package is not installed.

    Example:
        >>> import tempfile
        >>> from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
        >>> folder = tempfile.mkdtemp()
        >>> log = ScalarLog(folder)
        >>> log.add("charts/sps", 1200.0, step=64)
        >>> log.add_many({"eval/task_return": 9.5, "eval/success": float("nan"), "note": "text"}, step=64)
        >>> log.close()
        >>> events = EventAccumulator(folder); _ = events.Reload()
        >>> sorted(events.Tags()["scalars"]), [(e.step, e.value) for e in events.Scalars("eval/task_return")]
        (['charts/sps', 'eval/task_return'], [(64, 9.5)])
        >>> ScalarLog(None).add("charts/sps", 1.0, step=0)  # no folder: nothing is written
    """

    def __init__(self, folder: str | Path | None, purge_step: int | None = None):
        self.folder = None if folder is None else str(folder)
        self._writer: Any = None
        if self.folder is not None:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError as e:  # torch's module imports the `tensorboard` package
                raise MissingExtraError("`tensorboard_dir` (TensorBoard logs)", "train", e) from e
            Path(self.folder).mkdir(parents=True, exist_ok=True)
            self._writer = SummaryWriter(log_dir=self.folder, purge_step=purge_step)

    def add(self, tag: str, value: Any, step: int) -> None:
        """One scalar at env step `step` (skipped when not a finite real number)."""
        if self._writer is None or not isinstance(value, numbers.Real):  # bools count as 0/1
            return
        value = float(value)
        if math.isfinite(value):
            self._writer.add_scalar(tag, value, global_step=int(step))

    def add_many(self, values: Mapping[str, Any], step: int) -> None:
        """Each ``tag: value`` of `values` at step `step` (non-numeric and non-finite ones skipped)."""
        if self._writer is None:
            return
        for tag, value in values.items():
            self.add(tag, value, step)

    def flush(self) -> None:
        """Write pending events to disk (before a checkpoint, so the log and the checkpoint agree)."""
        if self._writer is not None:
            self._writer.flush()

    def close(self) -> None:
        """Flush and close the event file; later calls are no-ops."""
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def episode_scalars(episodes: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """The ``train/...`` and ``terms/...`` tags of the training episodes that ended in one rollout: their means.

    Every trainer writes these (one formula for TorchPPO, IPPO/MAPPO and SB3). Episodes without a
    success criterion (NaN) are left out of ``train/episode_success``; a term missing from an
    episode counts 0 there.

    Example:
        >>> episode_scalars([{"task_return": 1.0, "success": 1.0, "terms": {"env": 1.0}},
        ...                  {"task_return": 3.0, "success": float("nan"), "terms": {"env": 2.0, "rnd": 0.5}}])
        {'train/episode_task_return': 2.0, 'train/episode_success': 1.0, 'terms/env': 1.5, 'terms/rnd': 0.25}
    """
    if not episodes:
        return {}
    out = {"train/episode_task_return": sum(e["task_return"] for e in episodes) / len(episodes)}
    success = [e["success"] for e in episodes if not math.isnan(e["success"])]
    if success:
        out["train/episode_success"] = sum(success) / len(success)
    for name in dict.fromkeys(n for e in episodes for n in e["terms"]):
        out[f"terms/{name}"] = sum(e["terms"].get(name, 0.0) for e in episodes) / len(episodes)
    return out
