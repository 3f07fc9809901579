"""The transport to OpenAI-compatible servers: endpoints, retries, limits, concurrency.

One :class:`Engine` serves every role. It spreads requests over the role's base URLs, takes an
endpoint that keeps failing out of rotation for a while, retries 5xx, timeouts and connection
errors with exponential backoff and jitter, honours Retry-After on 429, and keeps at most
``concurrency`` requests in flight. It knows nothing about prompts or answers.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from typing import Any

import openai
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from ..errors import TeacherError
from .limits import RateLimiter

RETRYABLE = (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError, openai.APIConnectionError)


def _retryable(error: BaseException) -> bool:
    if isinstance(error, RETRYABLE):
        return True
    return isinstance(error, openai.APIStatusError) and error.status_code >= 500


def retry_after_seconds(error: BaseException) -> float | None:
    response = getattr(error, "response", None)
    value = response.headers.get("retry-after") if response is not None else None
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


@dataclass(slots=True)
class Endpoint:
    base_url: str
    client: openai.AsyncOpenAI
    failures: int = 0                  # consecutive
    out_until: float = 0.0
    structured_output: bool = True     # cleared when the server refuses json_schema


@dataclass(slots=True)
class Completion:
    content: str
    finish_reason: str
    usage: dict[str, Any]
    model: str


@dataclass
class Engine:
    base_urls: list[str]
    api_key: str
    concurrency: int = 32
    timeout: float = 120.0
    max_attempts: int = 8
    limiter: RateLimiter = field(default_factory=RateLimiter)
    failure_threshold: int = 5         # consecutive failures that take an endpoint out
    cooldown: float = 30.0             # seconds out of rotation
    max_backoff: float = 30.0

    def __post_init__(self) -> None:
        if not self.base_urls:
            raise TeacherError("no base URL for the teacher", "pass --base-url or set OPENAI_BASE_URL")
        self.endpoints = [
            Endpoint(url, openai.AsyncOpenAI(base_url=url, api_key=self.api_key, timeout=self.timeout, max_retries=0))
            for url in self.base_urls
        ]
        self._next = 0
        self._semaphore: asyncio.Semaphore | None = None

    def _pick(self) -> Endpoint:
        now = time.monotonic()
        for _ in range(len(self.endpoints)):
            endpoint = self.endpoints[self._next % len(self.endpoints)]
            self._next += 1
            if endpoint.out_until <= now:
                return endpoint
        # every endpoint is out: try the one that comes back first rather than stall
        return min(self.endpoints, key=lambda e: e.out_until)

    def _wait(self, state) -> float:
        error = state.outcome.exception() if state.outcome else None
        after = retry_after_seconds(error) if isinstance(error, openai.RateLimitError) else None
        if after is not None:
            return 0.0  # the limiter already pauses every request until Retry-After has passed
        return wait_random_exponential(multiplier=0.5, max=self.max_backoff)(state)

    async def complete(self, model: str, messages: list[dict[str, str]], params: dict[str, Any],
                       schema_name: str | None = None, schema: dict[str, Any] | None = None,
                       estimated_tokens: int = 0) -> Completion:
        """One chat completion, retried as needed. Raises the last error when retries run out."""
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.concurrency)
        retrying = AsyncRetrying(
            retry=retry_if_exception(_retryable), stop=stop_after_attempt(self.max_attempts), wait=self._wait, reraise=True
        )
        async for attempt in retrying:
            with attempt:
                await self.limiter.acquire(estimated_tokens + int(params.get("max_tokens") or 0))
                async with self._semaphore:
                    return await self._once(model, messages, params, schema_name, schema)
        raise AssertionError("unreachable")

    async def _once(self, model, messages, params, schema_name, schema) -> Completion:
        endpoint = self._pick()
        kwargs = dict(params)
        if schema is not None and endpoint.structured_output:
            kwargs["response_format"] = {"type": "json_schema", "json_schema": {"name": schema_name, "schema": schema, "strict": False}}
        try:
            response = await endpoint.client.chat.completions.create(model=model, messages=messages, **kwargs)
        except openai.BadRequestError as error:
            if "response_format" in kwargs and "response_format" in str(error).lower():
                endpoint.structured_output = False  # this server cannot do it: ask in plain JSON from now on
                return await self._once(model, messages, params, schema_name, schema)
            raise
        except Exception as error:
            if _retryable(error):
                self._failed(endpoint, error)
            raise
        endpoint.failures = 0
        self.limiter.succeeded()
        choice = response.choices[0]
        usage = response.usage.model_dump() if response.usage is not None else {}
        return Completion(choice.message.content or "", choice.finish_reason or "stop", usage, response.model or model)

    def _failed(self, endpoint: Endpoint, error: BaseException) -> None:
        if isinstance(error, openai.RateLimitError):
            self.limiter.throttled(retry_after_seconds(error))
            return  # being busy is not being broken: the endpoint stays in rotation
        endpoint.failures += 1
        if endpoint.failures >= self.failure_threshold and len(self.endpoints) > 1:
            endpoint.out_until = time.monotonic() + self.cooldown
            endpoint.failures = 0

    async def aclose(self) -> None:
        for endpoint in self.endpoints:
            await endpoint.client.close()
