"""The LLM teacher: the teacher protocol over any OpenAI-compatible chat completions server.

Each call renders its prompt (``prompting``), looks in the cache, asks the server through the
:class:`Engine`, and validates the answer with the same checks the stages use. An invalid
answer is sent back with the validation error in the conversation, a bounded number of times;
an answer cut by the token limit is asked again with a larger budget. What still fails raises
:class:`TeacherAnswerError` carrying every raw response, and the trace is quarantined.
"""

from __future__ import annotations

import asyncio
import json
import re
from dataclasses import asdict, dataclass
from typing import Any, Callable, Protocol


from ..answers import parse_boundary_scores, parse_memento, parse_verdict
from ..errors import TeacherAnswerError, TeacherError
from .base import BoundaryRequest, CompressRequest, JudgeRequest, RefineRequest
from .cache import AnswerCache, cache_key
from .engine import Engine, TeacherHTTPError, answer_text, whole_text
from .httpclient import public_url
from .ledger import Ledger
from .limits import LoopThread
from .prompting import Call, boundary_call, compress_call, judge_call, refine_call

ROLES = ("scorer", "compressor", "judge", "refiner")
_FENCE = "```"


@dataclass(frozen=True, slots=True)
class RoleConfig:
    model: str
    temperature: float = 0.0
    max_tokens: int = 2048
    reasoning_effort: str | None = None   # sent only when set (reasoning models)

    def params(self, max_tokens: int | None = None) -> dict[str, Any]:
        params: dict[str, Any] = {"temperature": self.temperature, "max_tokens": max_tokens or self.max_tokens}
        if self.reasoning_effort:
            params["reasoning_effort"] = self.reasoning_effort
        return params


class Deferred(BaseException):
    """A cache miss in deferred mode: the request was recorded for the Batch API, the trace stops.

    A BaseException, not an Exception, so the stages and the pipeline's per-trace error handling
    (which count any Exception as a failed trace) let it through to the batch driver.
    """

    def __init__(self, custom_id: str) -> None:
        super().__init__(custom_id)
        self.custom_id = custom_id


class Defer(Protocol):
    """What ``OpenAITeacher.defer`` holds (``openmementos.teacher.batch.Collector``)."""

    def miss(self, custom_id: str, role: str, body: dict[str, Any]) -> None:
        """Record ``body`` and raise :class:`Deferred`, raise :class:`TeacherAnswerError`, or
        return to have the request sent now."""


def _narrow(request: BoundaryRequest, boundaries: tuple[int, ...], context: int = 1) -> BoundaryRequest:
    """The same request for fewer boundaries, showing only the sentences around them."""
    first = max(0, boundaries[0] - context)
    last = min(len(request.sentences), boundaries[-1] + 2 + context)
    return BoundaryRequest(
        problem=request.problem,
        sentences=request.sentences[first:last],
        boundaries=tuple(b - first for b in boundaries),
        first_index=request.first_index + first,
        paragraph_breaks=request.paragraph_breaks[first:last],
    )


def _unfence(content: str) -> str:
    """The answer without a Markdown code fence around it (```json ... ```).

    String operations, not a regex: a pattern anchored at the end is tried at every position of
    a long run of whitespace, which made a 60 KB answer take seconds (quadratic time).
    """
    text = content.strip()
    if text.startswith(_FENCE):
        text = text[len(_FENCE):]
        text = text[4:] if text.startswith("json") else text
    if text.endswith(_FENCE):
        text = text[: -len(_FENCE)]
    return text.strip()


def _decode(content: str) -> Any:
    text = _unfence(content)
    value = json.loads(text)
    # a lone surrogate can only come from a \\uD8xx-\\uDFxx escape: most answers hold none
    return _whole_text(value) if _SURROGATE_ESCAPE.search(text) else value


_SURROGATE_ESCAPE = re.compile(r"\\u[dD][89a-fA-F]")


def _whole_text(value: Any) -> Any:
    """``value`` with every unpaired surrogate (a ``\\ud800`` escape in the answer's JSON) replaced
    by U+FFFD: a memento holding one could not be written to a shard."""
    if isinstance(value, str):
        return whole_text(value)
    if isinstance(value, list):
        return [_whole_text(item) for item in value]
    if isinstance(value, dict):
        return {key: _whole_text(item) for key, item in value.items()}
    return value


class OpenAITeacher:
    """Thread-safe: stage code in many threads may call it at once (``concurrent = True``)."""

    name = "openai"
    concurrent = True

    def __init__(self, roles: dict[str, RoleConfig], engines: dict[str, Engine], ledger: Ledger | None = None,
                 cache: AnswerCache | None = None, answer_retries: int = 2, endpoint_class: str = "openai-compatible",
                 max_tokens_cap: int = 16_384, context_window: int | None = None) -> None:
        missing = [r for r in ROLES if r not in roles or r not in engines]
        if missing:
            raise ValueError(f"no model for roles {missing}")
        self.roles = roles
        self.engines = engines
        self.ledger = ledger or Ledger()
        self.cache = cache
        self.answer_retries = answer_retries
        self.endpoint_class = endpoint_class
        self.max_tokens_cap = max_tokens_cap
        self.context_window = context_window   # the teacher model's, in tokens; None: unlimited
        self.defer: Defer | None = None   # set: cache misses go to the Batch API instead (batchrun)
        self._loop = LoopThread()

    def describe(self) -> dict[str, Any]:
        # Provenance: models and sampling per role. Never the key, never the URLs.
        return {
            "name": self.name,
            "endpoint_class": self.endpoint_class,
            "roles": {role: asdict(config) for role, config in self.roles.items()},
            "answer_retries": self.answer_retries,
        }

    # -- the protocol ---------------------------------------------------------------------

    def score_boundaries(self, request: BoundaryRequest) -> dict[str, Any]:
        return self._loop.run(self._scores(request))

    def score_many(self, requests: list[BoundaryRequest]) -> list[dict[str, Any]]:
        async def gather() -> list[dict[str, Any]]:
            if self.defer is None:
                return list(await asyncio.gather(*(self._scores(r) for r in requests)))
            # Deferred: every window's miss is recorded before the trace stops, so one batch
            # round answers all of them (not one round per window).
            answers = await asyncio.gather(*(self._scores(r) for r in requests), return_exceptions=True)
            failures = [a for a in answers if isinstance(a, BaseException)]
            if failures:
                raise next((f for f in failures if isinstance(f, Deferred)), failures[0])
            return list(answers)

        return self._loop.run(gather())

    def compress(self, request: CompressRequest) -> dict[str, Any]:
        return self._loop.run(self._ask(compress_call(request), parse_memento, lambda m: {"memento": m}))

    def judge(self, request: JudgeRequest) -> dict[str, Any]:
        return self._loop.run(self._ask(judge_call(request), parse_verdict, None))

    def refine(self, request: RefineRequest) -> dict[str, Any]:
        return self._loop.run(self._ask(refine_call(request), parse_memento, lambda m: {"memento": m}))

    def close(self) -> None:
        self._loop.cancel_pending()  # first: no request may outlive the clients closed next
        for engine in {id(e): e for e in self.engines.values()}.values():
            self._loop.run(engine.aclose())
        self._loop.close()
        if self.cache is not None:
            self.cache.close()

    # -- asking ---------------------------------------------------------------------------

    async def _scores(self, request: BoundaryRequest) -> dict[str, Any]:
        call = boundary_call(request)
        if len(request.boundaries) > 1 and not self._fits(call):
            # Too long for the teacher's context (long code or math in the window): score the
            # two halves of the window separately, each with its own shorter context.
            half = len(request.boundaries) // 2
            first, second = await asyncio.gather(
                self._scores(_narrow(request, request.boundaries[:half])),
                self._scores(_narrow(request, request.boundaries[half:])),
            )
            return {"scores": first["scores"] + second["scores"]}
        return await self._ask(call, lambda raw: parse_boundary_scores(raw, call.expected), lambda s: {"scores": s})

    def _fits(self, call: Call) -> bool:
        if self.context_window is None:
            return True
        # ~3 characters per token is a safe overestimate for English, code and LaTeX
        prompt_tokens = sum(len(m["content"]) for m in call.messages) // 3
        return prompt_tokens + self.roles[call.role].max_tokens <= self.context_window

    async def _ask(self, call: Call, validate: Callable[[Any], Any], answer: Callable[[Any], dict] | None) -> dict[str, Any]:
        config = self.roles[call.role]
        messages = list(call.messages)
        max_tokens = config.max_tokens
        raws: list[str] = []
        problem = "no answer"
        attempts = 0
        fresh = False
        while attempts <= self.answer_retries:
            key, completion, cached = await self._complete(call, config, messages, max_tokens, fresh)
            fresh = False
            if cached and self.defer is None and not self._valid(completion, validate):
                # An answer kept by an older version or a batch run that does not hold up: drop
                # it and ask the server once more, or a retry would only re-read the bad answer.
                self.cache.discard(key)
                fresh = True
                continue
            raws.append(completion["content"])
            if completion["finish_reason"] == "length":
                if max_tokens >= self.max_tokens_cap:
                    problem = f"answer cut at the {max_tokens}-token limit"
                    break
                max_tokens = min(self.max_tokens_cap, max_tokens * 2)  # not the model's fault: more room
                continue
            attempts += 1
            try:
                value = validate(_decode(completion["content"]))
            except (ValueError, TeacherAnswerError) as error:
                problem = f"invalid JSON: {error}" if isinstance(error, json.JSONDecodeError) else str(error)
                messages += [
                    {"role": "assistant", "content": completion["content"]},
                    {"role": "user", "content": f"That answer is not valid: {problem}. Answer again, JSON only, following the format exactly."},
                ]
                continue
            if self.cache is not None and not cached:
                self.cache.put(key, completion)   # only an answer that passed validation is kept
            return answer(value) if answer else _decode(completion["content"])
        reason = "teacher_truncated" if problem.startswith("answer cut") else "invalid_teacher_answer"
        raise TeacherAnswerError(f"{call.role}: {problem} (after {len(raws)} responses)", raws, reason)

    @staticmethod
    def _valid(completion: dict[str, Any], validate: Callable[[Any], Any]) -> bool:
        if completion["finish_reason"] == "length":
            return False
        try:
            validate(_decode(completion["content"]))
        except (ValueError, TeacherAnswerError):
            return False
        return True

    async def _complete(self, call: Call, config: RoleConfig, messages: list[dict[str, str]], max_tokens: int,
                        fresh: bool = False) -> tuple[str, dict[str, Any], bool]:
        """``(cache key, answer, whether it came from the cache)``; ``fresh`` skips the cache.

        The answer is not cached here: :meth:`_ask` keeps it only once it passed validation."""
        params = config.params(max_tokens)
        # the key (JSON of the whole request, hashed) only where something reads it
        key = "" if self.cache is None and self.defer is None else cache_key({
            "model": config.model,
            "endpoint_class": self.endpoint_class,
            "messages": messages,
            "prompt_version": call.prompt_version,
            "params": params,
            "schema": call.schema,
        })
        if self.cache is not None and not fresh and (hit := self.cache.get(key)) is not None:
            self.ledger.hit(call.role)
            return key, hit, True
        if self.defer is not None:
            # the body Engine._once sends for this call
            body: dict[str, Any] = {"model": config.model, "messages": [dict(m) for m in messages], **params}
            if call.schema is not None:
                body["response_format"] = {"type": "json_schema", "json_schema": {"name": call.schema_name, "schema": call.schema, "strict": False}}
            self.defer.miss(key, call.role, body)
        engine = self.engines[call.role]
        try:
            completion = await engine.complete(
                config.model, messages, params, call.schema_name, call.schema,
                estimated_tokens=sum(len(m["content"]) for m in messages) // 4,
            )
        except TeacherHTTPError as error:
            if error.status in (401, 403):
                # No trace can succeed with a refused key: stop the run, do not quarantine everything.
                raise TeacherError(
                    f"the teacher server refused the API key ({error.status})",
                    "check OPENAI_API_KEY (or --api-key) for this base URL",
                ) from None
            if error.unreachable and not engine.reached:
                # Nothing listens at any base URL: every trace would fail the same way.
                raise TeacherError(
                    f"cannot reach the teacher at {', '.join(map(public_url, engine.base_urls))}: {_scrub(str(error), engine.api_key)}",
                    "start the server or check --base-url / OPENAI_BASE_URL",
                ) from None
            if error.status == 404:
                raise TeacherError(
                    f"the teacher server does not know the model {config.model!r} (404)",
                    "check --teacher openai:MODEL against the server's /v1/models",
                ) from None
            self.ledger.failure(call.role)
            raise TeacherAnswerError(f"{call.role}: request failed after retries: {_scrub(str(error), engine.api_key)}", [], "teacher_request_failed") from None
        self.ledger.record(call.role, config.model, completion.usage)
        return key, {"content": completion.content, "finish_reason": completion.finish_reason, "usage": completion.usage, "model": completion.model}, False

    def store_batch_answer(self, custom_id: str, role: str, body: dict[str, Any], ledger: Ledger | None = None) -> None:
        """Cache a Batch API answer (a ``chat.completion`` body) under its ``custom_id`` (the cache
        key its request was deferred under) exactly as :meth:`_complete` caches a synchronous
        one, and record its usage at the batch price in ``ledger`` (default: the teacher's)."""
        if self.cache is None:
            raise TeacherError("the Batch API needs the answer cache", "drop --no-cache")
        model = self.roles[role].model
        choice = body["choices"][0]   # read as Engine._once reads a synchronous answer
        content = answer_text(choice["message"].get("content") or "", self.engines[role].api_key)
        value = {"content": content, "finish_reason": choice.get("finish_reason") or "stop",
                 "usage": body.get("usage") or {}, "model": body.get("model") or model}
        (ledger or self.ledger).record(role, model, value["usage"], batch=True)
        self.cache.put(custom_id, value)


def _scrub(text: str, secret: str) -> str:
    """Error texts may echo the key (401s do): never let it reach logs or rejects files."""
    if secret and len(secret) >= 4:
        text = text.replace(secret, "***")
    return re.sub(r"sk-[A-Za-z0-9_\-]{8,}", "sk-***", text)
