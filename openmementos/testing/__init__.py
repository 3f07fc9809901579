"""Test servers for the teacher: a fake OpenAI-compatible API and a real llama.cpp one.

Stdlib only at import time, so the test suite can use them without optional packages.
"""

from .canned import CannedServer
from .llama_server import LlamaServer, find_smollm2_gguf
from .openai_server import FakeOpenAI, FaultPlan, ServerStats, count_tokens
from .responders import DEFAULT_TASKS, ResponderError, TaskResponder, detect_task

__all__ = [
    "CannedServer",
    "DEFAULT_TASKS",
    "FakeOpenAI",
    "FaultPlan",
    "LlamaServer",
    "ResponderError",
    "ServerStats",
    "TaskResponder",
    "count_tokens",
    "detect_task",
    "find_smollm2_gguf",
]
