"""The typed errors rerankit raises: one base class, one subclass per thing that went wrong.

Every message names the argument, column or option at fault and says how to fix it, so a
caller can catch by type and a reader can act on the text.
"""

from __future__ import annotations


class RerankitError(Exception):
    """Base class of every error rerankit raises on purpose."""


class ConfigError(RerankitError, ValueError):
    """A reranker's configuration is invalid (unknown option, wrong type, out of range)."""


class UnknownRerankerError(RerankitError, LookupError):
    """No installed plugin registers a reranker under the requested name."""

    def __init__(self, message: str, *, name: str, available: list[str]) -> None:
        super().__init__(message)
        self.name = name
        self.available = available


class InputError(RerankitError, ValueError):
    """The data handed to a reranker cannot be reranked as given (nulls, duplicates, bad types)."""


class MissingColumnError(InputError):
    """A column the reranker needs is not in the input table."""

    def __init__(self, message: str, *, column: str, argument: str) -> None:
        super().__init__(message)
        self.column = column
        self.argument = argument


class ScoringError(RerankitError):
    """A scorer returned something unusable (wrong length, NaN or infinite scores)."""


class ProviderError(RerankitError):
    """A hosted provider answered with an error, or could not be reached.

    ``status_code`` is the HTTP status when there was one; ``provider`` names the plugin.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str | None = None,
        status_code: int | None = None,
    ) -> None:
        super().__init__(message)
        self.provider = provider
        self.status_code = status_code


class AuthenticationError(ProviderError):
    """The provider rejected the API key (HTTP 401/403), or no key was configured."""


class RateLimitError(ProviderError):
    """The provider kept answering 429 after every allowed retry."""


class ProviderResponseError(ProviderError):
    """The provider's answer was malformed: bad JSON, missing or repeated indices, bad scores."""
