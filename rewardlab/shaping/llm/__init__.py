"""LLM-written reward code: what a reward term needs to use it safely.

* :mod:`~rewardlab.shaping.llm.views` — env descriptors and the read-only views the code sees;
* :mod:`~rewardlab.shaping.llm.gates` — gate 1, the static AST allow-list;
* :mod:`~rewardlab.shaping.llm.check` — gates 1 and 2 (:func:`check_reward_code`, a sandboxed dry run);
* :mod:`~rewardlab.shaping.llm.sandbox` / :mod:`~rewardlab.shaping.llm.worker` — the rlimited, seccomp-filtered worker process;
* :mod:`~rewardlab.shaping.llm.reward` — :class:`LLMReward`, the term (gate 3: the runtime guard);
* :mod:`~rewardlab.shaping.llm.client`, :mod:`~rewardlab.shaping.llm.cache`, :mod:`~rewardlab.shaping.llm.server` —
  the OpenAI-compatible client, its request cache, and the scripted server for offline runs;
* :mod:`~rewardlab.shaping.llm.prompts` — prompts, reflection and rejection feedback;
* :mod:`~rewardlab.shaping.llm.annotation` / :mod:`~rewardlab.shaping.llm.feedback` — ONI: LLM labels of event
  texts, gathered off the env loop, and :class:`LLMFeedbackReward`, the learned term distilled from them.

The client, cache, server and prompts load on first use (the client needs the `llm` extra's httpx), so
``import rewardlab`` registers :class:`LLMReward` without them. The search that generates and selects
candidates is a job, :mod:`rewardlab.search`; nothing here imports it.
"""

from __future__ import annotations

import importlib
from typing import Any

from rewardlab.shaping.llm.check import GateReport, check_reward_code
from rewardlab.shaping.llm.feedback import LLMFeedbackReward
from rewardlab.shaping.llm.gates import extract_code, static_check
from rewardlab.shaping.llm.reward import LLMReward
from rewardlab.shaping.llm.views import EnvDescriptor, Field, descriptor_for, make_view, register_descriptor

__all__ = [
    "LLMClient",
    "ChatResult",
    "RequestCache",
    "ScriptedServer",
    "check_reward_code",
    "GateReport",
    "extract_code",
    "static_check",
    "LLMReward",
    "LLMFeedbackReward",
    "Annotator",
    "EnvDescriptor",
    "Field",
    "descriptor_for",
    "register_descriptor",
    "make_view",
    "render_prompt",
]

_LAZY = {
    "LLMClient": "client",
    "ChatResult": "client",
    "RequestCache": "cache",
    "ScriptedServer": "server",
    "render_prompt": "prompts",
    "Annotator": "annotation",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(importlib.import_module(f"rewardlab.shaping.llm.{_LAZY[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
