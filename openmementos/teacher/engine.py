"""The transport to OpenAI-compatible servers: endpoints, retries, limits, concurrency.

One :class:`Engine` serves every role. It spreads requests over the role's base URLs, takes an
endpoint that keeps failing out of rotation for a while, retries 5xx, timeouts and connection
errors with exponential backoff and jitter, honours Retry-After on 429, and keeps at most
``concurrency`` requests in flight. It knows nothing about prompts or answers.
"""

from __future__ import annotations

import asyncio
import json
import logging
import re
import time
from dataclasses import dataclass, field
from typing import Any

from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from ..errors import TeacherError
from .httpclient import AnswerTooLarge, ConnectFailed, RequestTimeout, TransportError, open_pool, public_url
from .limits import RateLimiter

log = logging.getLogger(__name__)


class TeacherHTTPError(Exception):
    """An HTTP-level failure: a status the server answered, or a timeout / connection error."""

    def __init__(self, message: str, status: int | None = None, retry_after: float | None = None,
                 unreachable: bool = False, final: bool = False) -> None:
        super().__init__(message)
        self.status = status
        self.retry_after = retry_after
        self.unreachable = unreachable   # no connection could be opened at all
        self.final = final               # asking again would bring the same answer (too large)

    @property
    def retryable(self) -> bool:
        # no status: timeout or connection error; 429: busy; 5xx: the server's trouble
        return not self.final and (self.status is None or self.status == 429 or self.status >= 500)


def _retryable(error: BaseException) -> bool:
    return isinstance(error, TeacherHTTPError) and error.retryable


def _retry_after(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


UNREACHABLE_ATTEMPTS = 3   # tries before giving up on servers that have never answered
SCRUBBED = "***"
MIN_SECRET = 8             # shorter keys ("EMPTY" for a local server) are too likely to be real text


def scrub(text: str, secret: str) -> str:
    """``text`` without ``secret``: a server may echo the key (in a 401, or inside an answer), and
    nothing derived from an answer may carry it into a cache, a quarantine file or a message."""
    return text.replace(secret, SCRUBBED) if len(secret) >= MIN_SECRET and secret in text else text


_SURROGATE = re.compile("[\ud800-\udfff]")


def whole_text(text: str) -> str:
    """``text`` with each unpaired surrogate (a JSON escape can carry one; no UTF-8 file or
    Parquet column can hold it) replaced by U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def answer_text(text: str, secret: str) -> str:
    """An answer's text as it may be stored: whole (see :func:`whole_text`) and without the key."""
    return scrub(whole_text(text), secret)


@dataclass(slots=True)
class Endpoint:
    base_url: str
    pool: Any                          # http_direct.DirectPool, or http_proxied.ProxiedPool behind a proxy
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
        # Plain HTTP with JSON on aiohttp, not the SDK over httpx: the SDK's typed models and
        # httpx's layers cost several times the CPU per request of everything else in the
        # pipeline (benchmarks/bench_teacher.py).
        if any(c in self.api_key for c in "\r\n\0") or not self.api_key.isascii():
            raise TeacherError("the API key holds a line break or a non-ASCII character", "check OPENAI_API_KEY or --api-key")
        headers = {"Authorization": f"Bearer {self.api_key}", "Content-Type": "application/json"}
        self.endpoints = []
        for url in self.base_urls:
            try:
                pool = open_pool(url, headers, self.timeout, self.concurrency)
            except ValueError as error:
                raise TeacherError(f"bad base URL {url!r}: {error}", "give an http:// or https:// URL, e.g. http://127.0.0.1:8000/v1") from None
            self.endpoints.append(Endpoint(url, pool))
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

    @property
    def reached(self) -> bool:
        """Whether a connection to any of the endpoints was ever opened."""
        return any(endpoint.pool.ever_connected for endpoint in self.endpoints)

    def _never_reached(self, state) -> bool:
        """Give up early when no connection to any endpoint has ever opened: a wrong --base-url
        or a server not started yet should fail in seconds, not after every backoff."""
        error = state.outcome.exception() if state.outcome else None
        return (isinstance(error, TeacherHTTPError) and error.unreachable and not self.reached
                and state.attempt_number >= UNREACHABLE_ATTEMPTS)

    def _log_retry(self, state, model: str) -> None:
        error = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.info("%s request failed (%s); attempt %d of %d in %.1f s", model, " ".join(str(error).split())[:200],
                 state.attempt_number + 1, self.max_attempts, wait)

    def _wait(self, state) -> float:
        error = state.outcome.exception() if state.outcome else None
        if isinstance(error, TeacherHTTPError) and error.status == 429 and error.retry_after is not None:
            return 0.0  # the limiter already pauses every request until Retry-After has passed
        return wait_random_exponential(multiplier=0.5, max=self.max_backoff)(state)

    async def complete(self, model: str, messages: list[dict[str, str]], params: dict[str, Any],
                       schema_name: str | None = None, schema: dict[str, Any] | None = None,
                       estimated_tokens: int = 0) -> Completion:
        """One chat completion, retried as needed. Raises the last error when retries run out."""
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.concurrency)
        retrying = AsyncRetrying(
            retry=retry_if_exception(_retryable), stop=stop_after_attempt(self.max_attempts) | self._never_reached,
            wait=self._wait, reraise=True, before_sleep=lambda state: self._log_retry(state, model),
        )
        async for attempt in retrying:
            with attempt:
                await self.limiter.acquire(estimated_tokens + int(params.get("max_tokens") or 0))
                async with self._semaphore:
                    return await self._once(model, messages, params, schema_name, schema)
        raise AssertionError("unreachable")

    async def _once(self, model, messages, params, schema_name, schema) -> Completion:
        endpoint = self._pick()
        body = {"model": model, "messages": messages, **params}
        if schema is not None and endpoint.structured_output:
            body["response_format"] = {"type": "json_schema", "json_schema": {"name": schema_name, "schema": schema, "strict": False}}
        try:
            response = await endpoint.pool.request("POST", "chat/completions", json.dumps(body).encode())
        except ConnectFailed as error:
            self._failed(endpoint, None)
            raise TeacherHTTPError(str(error), unreachable=True) from None
        except RequestTimeout as error:
            self._failed(endpoint, None)
            raise TeacherHTTPError(str(error)) from None
        except AnswerTooLarge as error:
            raise TeacherHTTPError(str(error), final=True) from None
        except TransportError as error:
            self._failed(endpoint, None)
            raise TeacherHTTPError(f"connection failed: {error}") from None
        body = response.body
        key = self.api_key.encode()
        if len(key) >= MIN_SECRET and key in body:
            body = body.replace(key, SCRUBBED.encode())
        if response.status != 200:
            text = scrub(body[:2000].decode("utf-8", "replace"), self.api_key)[:500]
            if response.status == 400 and "response_format" in body and "response_format" in text.lower():
                endpoint.structured_output = False  # this server cannot do it: ask in plain JSON from now on
                return await self._once(model, messages, params, schema_name, schema)
            error = TeacherHTTPError(f"HTTP {response.status}: {text}", response.status,
                                     _retry_after(response.headers.get("retry-after")))
            if error.retryable:
                self._failed(endpoint, error)
            raise error
        try:
            data = json.loads(body)
            choice = data["choices"][0]
            content = answer_text(choice["message"].get("content") or "", self.api_key)   # e.g. a JSON-escaped echo
        except (ValueError, KeyError, IndexError, TypeError, AttributeError):
            self._failed(endpoint, None)
            text = scrub(body[:1000].decode("utf-8", "replace"), self.api_key)[:200]
            raise TeacherHTTPError(f"not a chat completion: {text}", 502) from None
        endpoint.failures = 0
        self.limiter.succeeded()
        return Completion(content, choice.get("finish_reason") or "stop", data.get("usage") or {},
                          scrub(str(data.get("model") or model), self.api_key))

    def _failed(self, endpoint: Endpoint, error: TeacherHTTPError | None) -> None:
        if error is not None and error.status == 429:
            self.limiter.throttled(error.retry_after)
            log.info("%s is rate limiting (429): every request pauses %.1f s and the rate drops",
                        public_url(endpoint.base_url), error.retry_after if error.retry_after is not None else 1.0)
            return  # being busy is not being broken: the endpoint stays in rotation
        endpoint.failures += 1
        if endpoint.failures >= self.failure_threshold and len(self.endpoints) > 1:
            endpoint.out_until = time.monotonic() + self.cooldown
            endpoint.failures = 0
            log.warning("%s failed %d times in a row: out of rotation for %.0f s", public_url(endpoint.base_url),
                        self.failure_threshold, self.cooldown)

    async def aclose(self) -> None:
        for endpoint in self.endpoints:
            await endpoint.pool.aclose()
