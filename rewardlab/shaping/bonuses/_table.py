"""Visit counts keyed by int64 hashes, held as sorted arrays where the keys live (a torch device).

The host path of the count bonuses keeps a Python dict (the fastest table there); on a device a
dict would need every key on the host each step, so :class:`SortedCounts` keeps the table as two
sorted arrays on the keys' device and counts a whole batch with sorts and binary searches. Both
give the same numbers (``tests/shaping/test_device.py`` pins them): within one batch, rows are
counted in index order, invalid rows count nothing.
"""

from __future__ import annotations

from typing import Any

from rewardlab._array import namespace

__all__ = ["SortedCounts"]


class SortedCounts:
    """``key -> visits`` as sorted ``keys`` and matching ``counts`` (int64 arrays, any array-API backend).

    Example:
        >>> import numpy as np
        >>> table = SortedCounts()
        >>> table.visit(np.array([5, 7, 5]), np.array([True, True, True])).tolist()  # 5 twice in one batch
        [1, 1, 2]
        >>> table.visit(np.array([5, 9]), np.array([True, False])).tolist(), table.as_dict()
        ([3, 0], {5: 3, 7: 1})
    """

    def __init__(self) -> None:
        self.keys: Any = None
        self.counts: Any = None
        self.payload: Any = None  # optional per-entry int64 values kept beside the keys (set by `visit`)

    def _ensure(self, q: Any) -> Any:
        xp = namespace(q)
        if self.keys is None:
            self.keys = xp.zeros((0,), dtype=xp.int64, device=q.device)
            self.counts = xp.zeros((0,), dtype=xp.int64, device=q.device)
            self.payload = xp.zeros((0,), dtype=xp.int64, device=q.device)
        return xp

    def lookup(self, q: Any) -> tuple[Any, Any, Any]:
        """``(count, index, found)`` of each key in `q` (count 0 and index M where absent)."""
        # Integer-array indexing rather than xp.take: the same in numpy and torch, and without
        # array-api-compat's per-call wrapper (several microseconds each, on every step).
        xp = self._ensure(q)
        m = self.keys.shape[0]
        if not m:
            return xp.zeros_like(q), xp.full_like(q, 0), xp.zeros(q.shape, dtype=xp.bool, device=q.device)
        idx = xp.searchsorted(self.keys, q)
        safe = xp.clip(idx, 0, m - 1)
        found = (idx < m) & (self.keys[safe] == q)
        return xp.where(found, self.counts[safe], 0), xp.where(found, idx, m), found

    def visit(self, q: Any, valid: Any, payload: Any = None) -> Any:
        """Count one visit of ``q[i]`` for each valid row ``i``, in row order; returns each row's count after its visit (0 if invalid).

        ``payload[i]`` (int64, optional) is stored with a key when the key is inserted.
        """
        xp = self._ensure(q)
        v = xp.astype(valid, xp.int64)
        # Rank of each row among the valid rows with the same key, in row order (a stable sort keeps it).
        order = xp.argsort(q, stable=True)
        inverse = xp.argsort(order)  # sorted position of each row
        sq, sv = q[order], v[order]
        cs = xp.cumulative_sum(sv)
        first = xp.searchsorted(sq, sq, side="left")
        last = xp.searchsorted(sq, sq, side="right") - 1
        before = cs[first] - sv[first]  # valid rows of this key sorted before its first row
        group = cs[last] - before  # valid rows of each sorted row's key in the whole batch
        prior, idx, found = self.lookup(q)
        visits = (prior + (cs - before)[inverse]) * v
        # Write back: keys already in the table get their new totals (every row of a key writes the same
        # value; absent keys write 0 into a spare slot), new keys are inserted, once each, in sorted order.
        m = self.keys.shape[0]
        counts = xp.concat([self.counts, xp.zeros((1,), dtype=xp.int64, device=q.device)])
        counts[idx] = xp.where(found, prior + group[inverse], 0)
        self.counts = counts[:m]
        fresh = (xp.arange(sq.shape[0], device=q.device) == first) & ~found[order] & (group > 0)
        new_keys, new_counts = sq[fresh], group[fresh]
        if new_keys.shape[0]:
            new_payload = xp.zeros_like(new_keys) if payload is None else payload[order][fresh]
            keys = xp.concat([self.keys, new_keys])
            by_key = xp.argsort(keys)
            self.keys = keys[by_key]
            self.counts = xp.concat([self.counts, new_counts])[by_key]
            self.payload = xp.concat([self.payload, new_payload])[by_key]
        return visits

    def remove(self, drop: Any) -> None:
        """Forget the entries where `drop` (shape ``(M,)``) is True."""
        keep = ~drop
        self.keys, self.counts, self.payload = self.keys[keep], self.counts[keep], self.payload[keep]

    def as_dict(self, by: str = "keys") -> dict[int, int]:
        """The table as ``{key: count}`` (or ``{payload: count}``) on the host, for state dicts and inspection, not per step."""
        if self.keys is None:
            return {}
        return dict(zip(_host_list(getattr(self, by)), _host_list(self.counts), strict=True))

    @classmethod
    def from_items(cls, keys: list[int], counts: list[int], like: Any, payload: list[int] | None = None) -> SortedCounts:
        """A table from host lists, on `like`'s backend and device."""
        table = cls()
        xp = namespace(like)
        as_array = lambda v: xp.asarray(v, dtype=xp.int64, device=like.device)  # noqa: E731
        table.keys, table.counts = as_array(keys), as_array(counts)
        table.payload = as_array(payload if payload is not None else [0] * len(keys))
        order = xp.argsort(table.keys)
        table.keys, table.counts, table.payload = (xp.take(a, order) for a in (table.keys, table.counts, table.payload))
        return table


def _host_list(x: Any) -> list[int]:
    return x.cpu().tolist() if hasattr(x, "cpu") else x.tolist()
