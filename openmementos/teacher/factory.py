"""Build a teacher from its command-line description."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError
from .base import Teacher

DEFAULT_TEACHER = "heuristic"
ROLES = ("scorer", "compressor", "judge", "refiner")


@dataclass(frozen=True)
class TeacherOptions:
    """What the CLI (or a Python user) says about an LLM teacher. Secrets stay out of __repr__."""

    spec: str = DEFAULT_TEACHER                          # heuristic | openai:MODEL
    role_models: dict[str, str] = field(default_factory=dict)
    base_urls: tuple[str, ...] = ()                       # for every role
    role_base_urls: dict[str, tuple[str, ...]] = field(default_factory=dict)
    api_key: str | None = field(default=None, repr=False)
    temperature: float = 0.0
    max_output_tokens: int = 2048
    reasoning_effort: str | None = None
    role_params: dict[str, dict[str, str]] = field(default_factory=dict)   # role -> {temperature|max_tokens|reasoning_effort: value}
    concurrency: int = 32
    requests_per_minute: float | None = None
    tokens_per_minute: float | None = None
    request_timeout: float = 120.0
    max_attempts: int = 8
    answer_retries: int = 2
    cache: bool = True
    cache_path: Path | None = None
    prices: Path | None = None
    endpoint_class: str | None = None
    context_window: int | None = None                    # the teacher model's context, in tokens


def max_block_tokens_for(options: TeacherOptions) -> int | None:
    """The largest block whose memento prompts (block, draft, previous mementos, instructions)
    still fit the teacher's context window; None when the window is unknown."""
    if options.context_window is None:
        return None
    # a judge or refine prompt holds the block and a draft memento (up to half a block), plus
    # about 1,500 tokens of instructions and earlier mementos, plus the answer budget
    room = options.context_window - options.max_output_tokens - 1_500
    return max(200, int(room / 1.6))


def make_teacher(spec: str | None, options: TeacherOptions | None = None) -> Teacher:
    """``heuristic`` (offline, the default) or ``openai:MODEL``."""
    name = spec or DEFAULT_TEACHER
    if name == "heuristic":
        from .heuristic import HeuristicTeacher

        return HeuristicTeacher()
    if name.startswith("openai:") and name[len("openai:"):]:
        return _openai_teacher(name[len("openai:"):], options or TeacherOptions(spec=name))
    raise ConfigError(f"unknown teacher {name!r}", "use --teacher heuristic or --teacher openai:MODEL")


def _role_config(model: str, role: str, options: TeacherOptions):
    from .openai_teacher import RoleConfig

    params = options.role_params.get(role, {})
    try:
        return RoleConfig(
            model=options.role_models.get(role, model),
            temperature=float(params.get("temperature", options.temperature)),
            max_tokens=int(params.get("max_tokens", options.max_output_tokens)),
            reasoning_effort=params.get("reasoning_effort", options.reasoning_effort),
        )
    except ValueError as error:
        raise ConfigError(f"bad sampling parameter for the {role}: {error}") from None


def _openai_teacher(model: str, options: TeacherOptions) -> Teacher:
    from .cache import AnswerCache, default_cache_path
    from .engine import Engine
    from .ledger import Ledger, load_prices
    from .limits import RateLimiter
    from .openai_teacher import OpenAITeacher

    base_urls = options.base_urls or tuple(filter(None, [os.environ.get("OPENAI_BASE_URL")])) or ("https://api.openai.com/v1",)
    api_key = options.api_key or os.environ.get("OPENAI_API_KEY")
    if not api_key:
        raise ConfigError("no API key for the teacher", "set OPENAI_API_KEY (or pass --api-key; local servers accept any value)")
    unknown = set(options.role_models) | set(options.role_base_urls) | set(options.role_params)
    unknown -= set(ROLES)
    if unknown:
        raise ConfigError(f"unknown teacher role(s): {', '.join(sorted(unknown))}", f"roles are {', '.join(ROLES)}")
    # Roles that share their base URLs share one engine, so --concurrency bounds them together.
    engines: dict[tuple[str, ...], Engine] = {}
    limiter = RateLimiter(options.requests_per_minute, options.tokens_per_minute)
    for role in ROLES:
        urls = options.role_base_urls.get(role, base_urls)
        if urls not in engines:
            engines[urls] = Engine(list(urls), api_key, options.concurrency, options.request_timeout, options.max_attempts, limiter)
    endpoint_class = options.endpoint_class or ("openai" if all("api.openai.com" in u for u in base_urls) else "openai-compatible")
    return OpenAITeacher(
        roles={role: _role_config(model, role, options) for role in ROLES},
        engines={role: engines[options.role_base_urls.get(role, base_urls)] for role in ROLES},
        ledger=Ledger(load_prices(options.prices)),
        cache=AnswerCache(options.cache_path or default_cache_path()) if options.cache else None,
        answer_retries=options.answer_retries,
        endpoint_class=endpoint_class,
        context_window=options.context_window,
    )
