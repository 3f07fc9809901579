"""Publishing errors, and the one place that turns ``huggingface_hub`` exceptions into them.

Every message is one line a user can act on; none ever holds the token.
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from contextlib import contextmanager

from ..errors import ConfigError, OpenMementosError

TOKENS_URL = "https://huggingface.co/settings/tokens"
RESUME = "re-run the same command: files already on the Hub are not sent again"


class PublishError(OpenMementosError):
    """The dataset cannot be published: no token, no permission, the Hub refused or is unreachable."""


class ValidationRefused(PublishError):
    """The dataset fails ``validate`` or its manifest: nothing was sent. Exit 1, like ``validate``."""

    exit_code = 1


def _network_errors() -> tuple[type[BaseException], ...]:
    # huggingface_hub has used requests, httpx and httpx2 across versions: take whichever is here.
    kinds: list[type[BaseException]] = [ConnectionError, TimeoutError]
    for module, name in (("httpx2", "TransportError"), ("httpx", "TransportError"), ("requests", "ConnectionError"), ("requests", "Timeout")):
        try:
            kinds.append(getattr(importlib.import_module(module), name))
        except (ImportError, AttributeError):
            pass
    return tuple(kinds)


class _HubErrors:
    """``huggingface_hub``'s exception classes by name, wherever this version keeps them (absent: matches nothing)."""

    def __getattr__(self, name: str) -> type[BaseException] | tuple[()]:
        for module in ("huggingface_hub.errors", "huggingface_hub.utils"):
            try:
                found = getattr(importlib.import_module(module), name, None)
            except ImportError:
                continue
            if found is not None:
                return found
        return ()


def _chain(error: BaseException) -> Iterator[BaseException]:
    seen: set[int] = set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        current = current.__cause__ or current.__context__


def _first_line(error: BaseException) -> str:
    text = str(getattr(error, "server_message", None) or error).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return (lines[0] if lines else type(error).__name__)[:200]


def translate(error: BaseException, repo_id: str, endpoint: str) -> OpenMementosError | None:
    """The :class:`PublishError` for a ``huggingface_hub`` (or transport) exception, None if unknown."""
    hf = _HubErrors()
    where = f"datasets/{repo_id}"
    for cause in _chain(error):
        if isinstance(cause, hf.OfflineModeIsEnabled):
            return PublishError("HF_HUB_OFFLINE is set, and push-to-hub needs the network", "unset HF_HUB_OFFLINE, or use --dry-run to see the plan offline")
        if isinstance(cause, hf.LocalTokenNotFoundError):
            return no_token()
        if isinstance(cause, hf.HFValidationError):
            return ConfigError(f"{repo_id!r} is not a valid repo id: {_first_line(cause)}",
                               "write it NAMESPACE/NAME with letters, digits, '-', '_' and '.' (96 characters at most)")
        if isinstance(cause, hf.RevisionNotFoundError):
            return PublishError(f"{where} has no such branch or revision", "check --revision (a missing branch is created from main)")
        if isinstance(cause, hf.RepositoryNotFoundError):
            return PublishError(f"{where} does not exist or this token cannot see it", "check the repo id, and that the token may write to its namespace")
        if isinstance(cause, hf.HfHubHTTPError):
            status = getattr(getattr(cause, "response", None), "status_code", None)
            if status == 401:
                return PublishError("the Hub rejected the token (401 Unauthorized)",
                                    f"HF_TOKEN or the saved login is invalid or expired: make a new token at {TOKENS_URL}")
            if status == 403:
                return PublishError(f"no permission to write to {where} (403 Forbidden)",
                                    "use a write token for that namespace (fine-grained tokens need write access to it)")
            if status == 429:
                return PublishError("the Hub is rate-limiting this account (429 Too Many Requests)", f"wait a few minutes, then {RESUME}")
            return PublishError(f"the Hub answered {status}: {_first_line(cause)}", RESUME)
    for cause in _chain(error):
        if isinstance(cause, _network_errors()):
            return PublishError(f"cannot reach the Hub at {endpoint} ({type(cause).__name__})",
                                f"check the network connection (and HF_ENDPOINT), then {RESUME}")
        if isinstance(cause, ValueError) and "README.md" in str(cause):
            return PublishError(f"the Hub rejected the dataset card: {_first_line(cause)}", "this is a bug in the card: please report it")
    return None


def no_token() -> PublishError:
    return PublishError("no Hugging Face token: push-to-hub needs one with write access",
                        f"run `hf auth login`, or set HF_TOKEN (make a write token at {TOKENS_URL})")


@contextmanager
def hub_errors(repo_id: str, endpoint: str) -> Iterator[None]:
    """Turn what ``huggingface_hub`` raises inside the block into one-line publishing errors."""
    try:
        yield
    except OpenMementosError:
        raise
    except Exception as error:
        mapped = translate(error, repo_id, endpoint)
        if mapped is None:
            raise
        raise mapped from error
