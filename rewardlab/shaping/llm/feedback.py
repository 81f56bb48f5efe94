"""ONI's intrinsic reward from LLM feedback on event texts (Zheng et al. 2024; spec llm_and_bilevel.md §C).

Classes: :class:`LLMFeedbackReward` (registered: ``{"type": "LLMFeedbackReward", ...}``).

The reward of a step whose event text is ``m`` (gridhack's ``message``) is ONI's final form

    r = coef * r_llm(m) / N(m) ** beta

where ``N(m)`` counts the occurrences of ``m`` (this one included) in the sub-env's episode (ONI's
``MessageWrapper`` resets its counts with the episode; ``count="global"`` counts over the whole
run), ``beta = 3`` as ONI's ``beta_count_exponent``, and ``r_llm`` is

- ``variant="retrieval"`` (ONI-Retrieval): the annotator's cached label of ``m``, 0 until it has one;
- ``variant="classification"`` (ONI-Classification): ``1[p(m) > threshold]`` of a small classifier
  (:class:`~rewardlab.shaping.llm.text_classifier.HashedNgramClassifier`) trained on the labels
  gathered so far, so texts the LLM was never asked about are paid too.

An empty text pays 0 and is never sent. ``__call__`` never waits for the LLM: it reads labels and
hands unseen texts to the annotator's background thread. The classifier trains only in
:meth:`LLMFeedbackReward.update`, the learned-term hook that TorchPPO (and SB3, through
``BonusTrainingCallback``) calls once per rollout. ``sync=True`` trades ONI's asynchrony for
reproducible runs: unseen texts wait for the next :meth:`~LLMFeedbackReward.update`, which asks
about them and waits for the answers (the env loop still never waits; the trainer waits once per rollout).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from rewardlab._array import host
from rewardlab.errors import InvalidParameter
from rewardlab.shaping.terms import SingleTransition, Term, Transition, ref_to_callable, register_term

__all__ = ["LLMFeedbackReward", "VARIANTS", "COUNTS"]

VARIANTS = ("retrieval", "classification")
COUNTS = ("episode", "global")
_ANNOTATOR_KEYS = ("task", "backend", "script", "cache_dir", "base_url", "model", "batch_size")


_UINT8 = np.dtype(np.uint8)



@register_term
class LLMFeedbackReward(Term):
    """ONI's LLM-feedback intrinsic reward on event texts: retrieval of cached labels, or a classifier distilled from them.

    Args:
        task: what the agent must do, in words; the annotator asks "is this event progress towards <task>?".
        variant: ``"retrieval"`` or ``"classification"`` (see the module docstring).
        coef: ONI's ``c_int``.
        beta: the count-decay exponent (ONI: 3); 0 turns the decay off.
        count: ``"episode"`` (ONI) or ``"global"`` occurrence counts ``N(m)``.
        key: where the texts come from: a field of ``next_obs`` holding bytes rows (``(N, L)`` uint8,
            NUL-padded, as gridhack's ``message``), or a function ``fn(transition) -> N texts``
            (str, or None for no text) or its ``'module:name'`` string.
        annotator: an :class:`~rewardlab.shaping.llm.annotation.Annotator`, or a dict of its
            keyword arguments; None builds one from `task` and the keys below.
        backend, script, cache_dir, base_url, model, batch_size: the annotator's (and its client's)
            settings: ``backend`` is the LLM client's mode (``offline`` starts a scripted server in
            the run's process, on first use).
        sync: ask about unseen texts in :meth:`update` and wait for their labels (reproducible),
            instead of asynchronously from ``__call__`` (ONI).
        threshold: classification pays where ``p(m) > threshold`` (ONI: 0.5).
        n_features, train_steps, lr, l2: the classifier (hash buckets, Adam steps per update, step size, L2 weight).

    Raises:
        InvalidParameter: an unknown variant or count, a bad number, no task, or both `annotator` and its keys.

    Example:
        >>> import numpy as np
        >>> from rewardlab.shaping import Transition
        >>> term = LLMFeedbackReward("pick up the key", variant="retrieval", sync=True)   # scripted labels, offline
        >>> rows = np.zeros((3, 16), np.uint8)            # NUL-padded message bytes, as gridhack's `message`
        >>> for i, text in enumerate([b"f - a key.", b"Never mind."]):   # the third row is no message
        ...     rows[i, :len(text)] = list(text)
        >>> step = Transition(None, None, {"message": rows}, np.zeros(3), np.zeros(3, bool), np.zeros(3, bool), np.ones(3, bool))
        >>> term(step)                                   # no labels yet: 0, and the texts wait for update()
        array([0., 0., 0.])
        >>> term.update()["labels"]                      # asks the annotator and waits (sync=True)
        2.0
        >>> term(step)                                   # "f - a key." is progress: 1 / N^3 with N = 2 now
        array([0.125, 0.   , 0.   ])
        >>> term.close()
    """

    callable_params = ("key",)

    def __init__(
        self,
        task: str | None = None,
        variant: str = "retrieval",
        coef: float = 1.0,
        beta: float = 3.0,
        count: str = "episode",
        key: str | Callable[[Transition], Sequence[str | None]] = "message",
        annotator: Any = None,
        backend: str | None = None,
        script: Any = None,
        cache_dir: str | None = None,
        base_url: str | None = None,
        model: str | None = None,
        batch_size: int | None = None,
        sync: bool = False,
        threshold: float = 0.5,
        n_features: int = 4096,
        train_steps: int = 200,
        lr: float = 0.1,
        l2: float = 1e-4,
        name: str | None = None,
    ):
        from rewardlab.shaping.llm.annotation import Annotator
        from rewardlab.shaping.llm.text_classifier import HashedNgramClassifier

        if variant not in VARIANTS:
            raise InvalidParameter(f"`variant` must be one of {list(VARIANTS)}; received {variant!r}")
        if count not in COUNTS:
            raise InvalidParameter(f"`count` must be one of {list(COUNTS)}; received {count!r}")
        for pname, value in (("coef", coef), ("beta", beta), ("threshold", threshold)):
            # A non-finite weight or exponent would turn every reward into NaN.
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
                raise InvalidParameter(f"`{pname}` must be a finite number; received {value!r}")
        if beta < 0:
            raise InvalidParameter(f"`beta` must be >= 0 (a negative exponent would grow the reward of a repeated text); received {beta!r}")
        if not 0.0 <= threshold < 1.0:
            raise InvalidParameter(f"`threshold` must be in [0, 1); received {threshold!r}")
        if not isinstance(sync, bool):
            raise InvalidParameter(f"`sync` must be true or false; received {sync!r}")
        keys = {"task": task, "backend": backend, "script": script, "cache_dir": cache_dir, "base_url": base_url,
                "model": model, "batch_size": batch_size}
        given = {k: v for k, v in keys.items() if v is not None}
        if isinstance(annotator, Annotator):
            if given:
                raise InvalidParameter(f"give either `annotator` or its keys ({sorted(given)}), not both")
            self.annotator = annotator
        else:
            if annotator is not None and not isinstance(annotator, Mapping):
                raise InvalidParameter(f"`annotator` must be an Annotator or a dict of its arguments; received {annotator!r}")
            both = sorted(set(given) & set(annotator or {}))
            if both:
                raise InvalidParameter(f"`{both[0]}` is given both in `annotator` and as a key of the term; give it once")
            kwargs = {**dict(annotator or {}), **given}
            if "task" not in kwargs:
                raise InvalidParameter("LLMFeedbackReward needs `task`: the task the LLM judges progress towards, in words")
            self.annotator = Annotator(**kwargs)
        if isinstance(key, str) and ":" in key:
            self._text_fn: Callable[[Transition], Sequence[str | None]] | None = ref_to_callable(key, "LLMFeedbackReward.key")
        elif callable(key):
            self._text_fn = key
        elif isinstance(key, str) and key:
            self._text_fn = None
        else:
            raise InvalidParameter(f"`key` must be an observation field name, a function or a 'module:name' string; received {key!r}")
        self.classifier = HashedNgramClassifier(n_features, l2, lr, train_steps) if variant == "classification" else None
        super().__init__(
            name, task=task, variant=variant, coef=float(coef), beta=float(beta), count=count, key=key,
            annotator=annotator,
            backend=backend, script=script, cache_dir=cache_dir, base_url=base_url, model=model, batch_size=batch_size,
            sync=sync, threshold=float(threshold), n_features=n_features, train_steps=train_steps, lr=float(lr), l2=float(l2),
        )  # fmt: skip
        self.variant, self.coef, self.beta, self.count, self.key = variant, float(coef), float(beta), count, key
        self.sync, self.threshold = sync, float(threshold)
        self._version = 0
        self._texts: dict[bytes, str] = {}  # raw bytes row -> decoded text
        self._predicted: dict[str, int] = {}  # classification: text -> 1[p > threshold] under the current weights
        self._unseen: dict[str, None] = {}  # sync: texts to ask about at the next update (ordered set)
        self._asked: set[str] = set()  # unlabelled texts already handed over since the last update
        self._episode: list[dict[str, int]] = []  # per sub-env: text -> count this episode
        self._global: dict[str, int] = {}
        self._fitted_on = 0

    def default_name(self) -> str:
        return "llm_feedback"

    def to_config(self) -> dict[str, Any]:
        cfg = super().to_config()
        if hasattr(cfg.get("annotator"), "to_config"):  # an Annotator object: written as its keys (ConfigError if it cannot be)
            cfg["annotator"] = cfg["annotator"].to_config()
        return cfg

    @property
    def version(self) -> int:
        """How many updates changed the reward function (new labels, or a classifier refit)."""
        return self._version

    # -- the reward --------------------------------------------------------------------------------------
    def texts(self, t: Transition) -> list[str | None]:
        """The event text of each sub-env's step (None where there is none)."""
        n, pairs = self._texts_of(t)
        out: list[str | None] = [None] * n
        for i, text in pairs:
            out[i] = text
        return out

    def _texts_of(self, t: Transition) -> tuple[int, list[tuple[int, str]]]:
        """The batch size and ``(row, text)`` of the rows that carry a text."""
        if self._text_fn is not None:
            texts = list(self._text_fn(t))
            if len(texts) != t.num_envs:
                raise InvalidParameter(f"LLMFeedbackReward `key` function returned {len(texts)} texts; expected {t.num_envs}")
            return len(texts), [(i, x) for i, x in enumerate(texts) if x]
        rows = self._rows(t.next_obs)
        n, width = rows.shape
        present = rows[:, 0].nonzero()[0].tolist()  # a row starting with NUL is an empty text
        if not present:
            return n, []
        # One copy of the whole batch and a bytes slice per row: cheaper than rows[i].tobytes() per row.
        flat, cache, decode = rows.tobytes(), self._texts, self._decode
        return n, [(i, cache.get(raw) or decode(raw)) for i in present for raw in (flat[i * width : (i + 1) * width],)]

    def _rows(self, next_obs: Any) -> np.ndarray:
        if not isinstance(next_obs, Mapping) or self.key not in next_obs:
            keys = sorted(next_obs) if isinstance(next_obs, Mapping) else type(next_obs).__name__
            raise InvalidParameter(f"LLMFeedbackReward reads the text field `{self.key}` of next_obs, but the observation has "
                                   f"{keys}; add it to the env's observation keys (gridhack: observation_keys=[..., 'message'])")
        rows = host(next_obs[self.key])
        if rows.ndim != 2 or rows.dtype != np.uint8:
            raise InvalidParameter(f"the text field `{self.key}` must be (N, L) uint8 bytes rows; received {rows.dtype} {rows.shape}")
        return rows

    def _decode(self, raw: bytes) -> str:
        text = raw.split(b"\0", 1)[0].decode("utf-8", errors="replace")
        if len(self._texts) < 100_000:  # a bound on memory for endless distinct texts
            self._texts[raw] = text
        return text

    def _value(self, text: str) -> int:
        if self.classifier is None:
            return self.annotator.label_view.get(text, 0)
        value = self._predicted.get(text)
        if value is None:
            value = int(self.classifier.predict_proba([text])[0] > self.threshold) if self.classifier.fits else 0
            self._predicted[text] = value
        return value

    def __call__(self, t: Transition) -> Any:
        # The env loop runs this every step: one pass over the rows that carry a text, dict lookups only.
        n, pairs = self._texts_of(t)
        out = np.zeros(n)
        if pairs:
            if len(self._episode) != n:
                self._episode = [{} for _ in range(n)]
            valid = host(t.valid).tolist()
            episodes = self._episode if self.count == "episode" else None
            pay, unseen = self._pay, []
            for i, text in pairs:
                if valid[i]:  # dummy autoreset steps pay 0 and count nothing
                    out[i] = pay(episodes[i] if episodes is not None else self._global, text, unseen)
            if unseen:
                self._hand_over(unseen)
        if isinstance(t.reward, np.ndarray):
            return out if t.reward.dtype == out.dtype else out.astype(t.reward.dtype)
        from rewardlab.shaping.bonuses._backend import like

        return like(out, t.reward)

    def single(self, s: SingleTransition) -> float:
        """The same reward for one unbatched step (the single-env wrapper's path): Python scalars, no arrays built."""
        try:
            row = s.next_obs[self.key] if self._text_fn is None else None
        except (KeyError, IndexError, TypeError):
            row = None
        if type(row) is not np.ndarray or row.ndim != 1 or row.dtype is not _UINT8:
            return float(self(s.batched())[0])  # a text function, or the batched path says what is wrong
        if not row[0]:
            return 0.0
        raw = row.tobytes()
        if not self._episode:
            self._episode = [{}]
        unseen: list[str] = []
        value = self._pay(self._episode[0] if self.count == "episode" else self._global, self._texts.get(raw) or self._decode(raw), unseen)
        if unseen:
            self._hand_over(unseen)
        return value

    def _pay(self, counts: dict[str, int], text: str, unseen: list[str]) -> float:
        """ONI's ``coef * r_llm(m) / N(m) ** beta`` for one real step with text `m`, counted in `counts`.

        The one copy of the formula, for the batched and the single-env path; a text with no label
        that was not handed over yet is appended to `unseen`.
        """
        c = counts.get(text, 0) + 1
        counts[text] = c
        label = self.annotator.label_view.get(text)
        if label is None and text not in self._asked:
            unseen.append(text)
            self._asked.add(text)
        value = label if self.classifier is None else self._value(text)
        return self.coef / c**self.beta if value else 0.0

    def _hand_over(self, unseen: list[str]) -> None:
        # Once per rollout: update() clears `_asked`, so a failed request is retried.
        if self.sync:
            self._unseen.update(dict.fromkeys(unseen))
        else:
            self.annotator.submit(unseen)

    def reset(self, mask: Any, obs: Any) -> None:
        for i in np.flatnonzero(host(mask)):
            if i < len(self._episode):
                self._episode[i].clear()

    # -- learning ----------------------------------------------------------------------------------------
    def predict(self, texts: Sequence[str]) -> np.ndarray:
        """What the term pays each text before count decay and `coef`: its label (retrieval) or ``1[p > threshold]``."""
        return np.array([self._value(t) for t in texts], dtype=np.float64)

    def update(self, rollout: Mapping[str, Any] | None = None) -> dict[str, float]:
        """Take in the labels that arrived (``sync``: ask and wait for them first); classification refits on all labels.

        Args:
            rollout: optional dict with ``next_obs`` (a dict holding the text field, leading batch
                dimension): its texts are handed to the annotator too.

        Raises:
            LLMBackendError: the annotator cannot reach its LLM at all (a broken client config).
        """
        if rollout is not None and self._text_fn is None and isinstance(rollout.get("next_obs"), Mapping):
            rows = host(rollout["next_obs"][self.key])
            fake = Transition(None, None, {self.key: rows.reshape(-1, rows.shape[-1])}, np.zeros(1), None, None, None)
            new = [x for x in dict.fromkeys(self.texts(fake)) if x is not None and self.annotator.label(x) is None]
            if self.sync:
                self._unseen.update(dict.fromkeys(new))
            else:
                self.annotator.submit(new)
        if self.sync and self._unseen:
            self.annotator.annotate(list(self._unseen))
            self._unseen.clear()
        self._asked.clear()
        self.annotator.raise_if_failed()
        labels = self.annotator.labels
        metrics = {"labels": float(len(labels)), "positive": float(sum(labels.values())),
                   "in_flight": float(len(self.annotator.in_flight)), "requests": float(self.annotator.requests),
                   "unparsed": float(self.annotator.unparsed), "failures": float(self.annotator.failures)}
        if len(labels) != self._fitted_on:
            if self.classifier is not None:
                texts = list(labels)
                fit = self.classifier.fit(texts, [labels[t] for t in texts])
                metrics.update({"train_accuracy": fit["accuracy"], "train_loss": fit["loss"]})
                self._predicted.clear()
            self._fitted_on = len(labels)
            self._version += 1
        return metrics

    def close(self) -> None:
        """Stop the annotator's thread and its scripted server, if it started them."""
        self.annotator.close()

    # -- state -------------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        return {
            "annotator": self.annotator.state_dict(),
            "classifier": None if self.classifier is None else self.classifier.state_dict(),
            "episode_counts": [dict(c) for c in self._episode],
            "global_counts": dict(self._global),
            "unseen": list(self._unseen),
            "version": self._version,
            "fitted_on": self._fitted_on,
        }

    def load_state_dict(self, state: Mapping[str, Any]) -> None:
        self.annotator.load_state_dict(state["annotator"])
        if self.classifier is not None:
            self.classifier.load_state_dict(state["classifier"])
        self._episode = [dict(c) for c in state["episode_counts"]]
        self._global = dict(state["global_counts"])
        self._unseen = dict.fromkeys(state["unseen"])
        self._asked = set(self._unseen)
        self._version, self._fitted_on = int(state["version"]), int(state["fitted_on"])
        self._predicted.clear()
