"""A tiny text classifier for ONI's classification variant: hashed n-grams and logistic regression in numpy.

Classes: :class:`HashedNgramClassifier`.

ONI distils its LLM labels into a character-level CNN; rewardlab uses the smallest model that
generalises across event texts the way that CNN must: word 1-2-grams and character 3-5-grams of
the lower-cased text, hashed with CRC-32 (stable across processes, unlike Python's salted
``hash``) into ``n_features`` buckets, L2-normalised, and an L2-regularised logistic regression
trained full-batch with Adam. It needs no download and trains on thousands of texts in
milliseconds. Written by hand because scikit-learn's ``HashingVectorizer`` + ``LogisticRegression``
(the library choice) would add scikit-learn and scipy to the core install for some 80 lines.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rewardlab.errors import InvalidParameter

__all__ = ["HashedNgramClassifier"]

_WORD = re.compile(r"[a-z0-9']+|[^\sa-z0-9']")


class HashedNgramClassifier:
    """p(label 1 | text) by logistic regression on hashed word and character n-grams.

    Args:
        n_features: hash buckets (the weight vector's length).
        l2: weight of the L2 penalty ``l2/2 * |w|^2`` added to the mean cross-entropy.
        lr: Adam step size.
        steps: full-batch Adam steps per :meth:`fit` (training continues from the current weights).

    Example:
        >>> clf = HashedNgramClassifier()
        >>> clf.fit(["f - a key.", "g - a potion.", "Never mind.", "You see no door there."], [1, 1, 0, 0])["accuracy"]
        1.0
        >>> [round(float(p)) for p in clf.predict_proba(["h - a pair of boots.", "Never mind!"])]
        [1, 0]
    """

    def __init__(self, n_features: int = 4096, l2: float = 1e-4, lr: float = 0.1, steps: int = 200):
        if isinstance(n_features, bool) or not isinstance(n_features, int) or not 16 <= n_features <= 2**22:
            raise InvalidParameter(f"`n_features` must be an int in [16, 4194304]; received {n_features!r}")
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
            raise InvalidParameter(f"`steps` must be a positive int; received {steps!r}")
        for name, value in (("l2", l2), ("lr", lr)):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not value >= 0:
                raise InvalidParameter(f"`{name}` must be a non-negative number; received {value!r}")
        self.n_features, self.l2, self.lr, self.steps = n_features, float(l2), float(lr), steps
        self.w = np.zeros(n_features)
        self.b = 0.0
        self.fits = 0
        self._adam = {"m": np.zeros(n_features + 1), "v": np.zeros(n_features + 1), "t": 0}
        self._features: dict[str, np.ndarray] = {}  # text -> sorted unique bucket ids

    def features(self, text: str) -> np.ndarray:
        """Sorted bucket ids of `text`'s n-grams (never empty: a start token is always there)."""
        ids = self._features.get(text)
        if ids is None:
            low = text.lower()
            words = _WORD.findall(low)
            grams = ["<s>", *("w:" + w for w in words), *("w2:" + a + " " + b for a, b in zip(words, words[1:]))]
            padded = f" {low} "
            grams += ["c:" + padded[i : i + n] for n in (3, 4, 5) for i in range(len(padded) - n + 1)]
            ids = np.unique(np.fromiter((zlib.crc32(g.encode("utf-8")) % self.n_features for g in grams), np.int64))
            if len(self._features) < 200_000:  # a bound on memory for endless distinct texts
                self._features[text] = ids
        return ids

    def _design(self, texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(bucket ids, their row, their value) of every text, rows L2-normalised."""
        rows = [self.features(t) for t in texts]
        lengths = np.array([len(r) for r in rows])
        ids = np.concatenate(rows) if rows else np.zeros(0, np.int64)
        row_of = np.repeat(np.arange(len(rows)), lengths)
        values = np.repeat(1.0 / np.sqrt(np.maximum(lengths, 1)), lengths)
        return ids, row_of, values

    def _logits(self, ids: np.ndarray, row_of: np.ndarray, values: np.ndarray, n: int) -> np.ndarray:
        return self.b + np.bincount(row_of, weights=self.w[ids] * values, minlength=n)

    def predict_proba(self, texts: Sequence[str]) -> np.ndarray:
        """p(label 1) of each text, shape ``(len(texts),)``; 0.5 everywhere before the first fit."""
        if not texts:
            return np.zeros(0)
        z = self._logits(*self._design(texts), len(texts))
        return 1.0 / (1.0 + np.exp(-np.clip(z, -50, 50)))

    def fit(self, texts: Sequence[str], labels: Sequence[int]) -> dict[str, float]:
        """``steps`` Adam steps on the mean cross-entropy of `texts` (plus the L2 penalty); returns loss and accuracy.

        Raises:
            InvalidParameter: texts and labels of different lengths, or labels other than 0/1.
        """
        y = np.asarray(labels, dtype=np.float64)
        if len(texts) != len(y) or not np.isin(y, (0.0, 1.0)).all():
            raise InvalidParameter(f"fit needs one 0/1 label per text; received {len(texts)} texts and labels {sorted(set(y.tolist()))}")
        if not texts:
            return {"loss": float("nan"), "accuracy": float("nan"), "samples": 0.0}
        n = len(texts)
        ids, row_of, values = self._design(texts)
        adam = self._adam
        beta1, beta2, eps = 0.9, 0.999, 1e-8
        for _ in range(self.steps):
            p = 1.0 / (1.0 + np.exp(-np.clip(self._logits(ids, row_of, values, n), -50, 50)))
            err = (p - y) / n  # d(mean cross-entropy)/d(logit)
            grad = np.empty(self.n_features + 1)
            grad[:-1] = np.bincount(ids, weights=values * err[row_of], minlength=self.n_features) + self.l2 * self.w
            grad[-1] = err.sum()
            adam["t"] += 1
            adam["m"] = beta1 * adam["m"] + (1 - beta1) * grad
            adam["v"] = beta2 * adam["v"] + (1 - beta2) * grad**2
            step = self.lr * (adam["m"] / (1 - beta1 ** adam["t"])) / (np.sqrt(adam["v"] / (1 - beta2 ** adam["t"])) + eps)
            self.w -= step[:-1]
            self.b -= float(step[-1])
        self.fits += 1
        p = self.predict_proba(texts)
        loss = float(-np.mean(y * np.log(np.clip(p, 1e-12, 1)) + (1 - y) * np.log(np.clip(1 - p, 1e-12, 1))))
        return {"loss": loss, "accuracy": float(np.mean((p > 0.5) == (y > 0.5))), "samples": float(n)}

    def state_dict(self) -> dict[str, Any]:
        return {"w": self.w.copy(), "b": self.b, "fits": self.fits,
                "adam": {"m": self._adam["m"].copy(), "v": self._adam["v"].copy(), "t": self._adam["t"]}}

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        w = np.asarray(state["w"], dtype=np.float64)
        if w.shape != (self.n_features,):
            raise InvalidParameter(f"the classifier state has {w.shape[0]} features; this classifier has {self.n_features}")
        self.w, self.b, self.fits = w.copy(), float(state["b"]), int(state["fits"])
        adam = state["adam"]
        self._adam = {"m": np.asarray(adam["m"], dtype=np.float64).copy(), "v": np.asarray(adam["v"], dtype=np.float64).copy(),
                      "t": int(adam["t"])}
