"""The search's output folder: where every candidate, the messages and the choice are written.

Class: :class:`SearchFolder`.

Layout (``DIR`` is ``--out``)::

    DIR/search.json            settings, per-round attempts (seeds, fitness, execute_rate), best so far, status
    DIR/messages.json          per round: the messages sent, and the memory after it ([system, user, best, feedback])
    DIR/round_<R>/cand_<K>/    response.txt (the LLM's answer), reward.py (the extracted code, when there is one),
                               gate.json (passed, or gate/rule/line/hint), fitness.json (fitness, metric, run key)
    DIR/runs/<key>.json        the ablation run record of each trained candidate (rewardlab.ablation.RunStore)
    DIR/llm_cache/             the LLM request cache (one JSON file per request)
    DIR/best_reward.py         the chosen code
    DIR/best_reward.yaml       a ``rewards:`` entry with that code inline, ready for an ablation config

Rounds count from 1, candidates from 0; a repeated round (every candidate failed) numbers its new
candidates on from K. Every file is written atomically (temporary file, fsync, ``os.replace``), so
a search killed at any point leaves whole files only.
"""

from __future__ import annotations

import fcntl
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rewardlab._io import jsonable, write_atomic
from rewardlab.errors import ConfigError, StoreError

__all__ = ["SearchFolder"]


class SearchFolder:
    """Paths and atomic writes under a search's ``DIR``.

    Example:
        >>> import tempfile
        >>> folder = SearchFolder(tempfile.mkdtemp())
        >>> folder.write_json(folder.candidate(1, 2) / "fitness.json", {"fitness": 0.5})
        >>> folder.read_json(folder.root / "round_1" / "cand_2" / "fitness.json")
        {'fitness': 0.5}
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._lock: Any = None

    @property
    def search_json(self) -> Path:
        return self.root / "search.json"

    @property
    def messages_json(self) -> Path:
        return self.root / "messages.json"

    @property
    def cache_dir(self) -> Path:
        return self.root / "llm_cache"

    def candidate(self, round_: int, index: int) -> Path:
        return self.root / f"round_{round_}" / f"cand_{index}"

    def lock(self) -> None:
        """Hold an exclusive lock on ``DIR/.search.lock`` for this process's life (the OS drops it on SIGKILL)."""
        self.root.mkdir(parents=True, exist_ok=True)
        self._lock = open(self.root / ".search.lock", "w")  # noqa: SIM115 - held until the process ends
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as e:
            raise ConfigError(f"Another search is writing to `{self.root}`; wait for it or use another --out") from e

    def unlock(self) -> None:
        if self._lock is not None:
            self._lock.close()
            self._lock = None

    def write_text(self, path: Path, text: str) -> None:
        """Write ``text`` to ``path`` atomically (a temporary file in the same folder, fsync, rename)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomic(path, text)

    def write_json(self, path: Path, data: Any) -> None:
        self.write_text(path, json.dumps(data, indent=2, default=jsonable) + "\n")

    def read_json(self, path: Path) -> Any:
        try:
            return json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return None
        except (OSError, json.JSONDecodeError) as e:
            raise StoreError(f"cannot read `{path}` ({e}); it is not a file this search wrote whole") from e

    def check_settings(self, settings: Mapping[str, Any]) -> bool:
        """True when ``DIR`` holds a search with these settings (a resume), False when it holds none.

        Raises:
            ConfigError: ``DIR`` holds a search with other settings (resuming it would mix two searches).
        """
        previous = self.read_json(self.search_json)
        if previous is None:
            return False
        old = previous.get("settings", {})
        settings = json.loads(json.dumps(settings, default=jsonable))  # compare as stored (tuples become lists)
        diff = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
        if diff:
            shown = ", ".join(f"`{k}`: {old.get(k)!r} -> {settings.get(k)!r}" for k in diff)
            raise ConfigError(f"`{self.root}` holds a search with other settings ({shown}); resume it with the same ones or use another --out")
        return True
