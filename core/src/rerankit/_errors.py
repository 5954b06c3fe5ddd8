"""The typed errors rerankit raises: one base class, one subclass per thing that went wrong.

Every message names the argument, column or option at fault and says how to fix it, so a caller
can catch by type and a reader can act on the text::

    RerankitError
    ├── ConfigError (ValueError)            an option is unknown, of the wrong type or out of range
    ├── UnknownRerankerError (LookupError)  no installed plugin registers that name
    ├── InputError (ValueError)             the data cannot be reranked as given
    │   └── MissingColumnError              a column the reranker needs is absent
    ├── ScoringError                        a scorer returned the wrong number of scores, or NaN
    └── ProviderError                       a hosted provider failed (status_code, provider)
        ├── AuthenticationError             the key was rejected (401/403) or none was configured
        ├── RateLimitError                  still 429 after every allowed retry
        ├── ProviderResponseError           the answer was malformed (JSON, indices, scores)
        ├── ProviderTimeoutError            no connection or no answer in time, after retries
        └── ProviderConnectionError         the connection failed or dropped, after retries

Errors pickle with every attribute (they cross process boundaries under Ray and multiprocessing).
A message never carries the credentials of a URL (``http://user:PASSWORD@host``): they are masked
when the error is made, whoever made it.
"""

from __future__ import annotations

from typing import Any

from ._redact import mask_urls


class RerankitError(Exception):
    """Base class of every error rerankit raises on purpose.

    Keyword attributes given to ``__init__`` survive pickling: an error raised in a worker
    process arrives whole in the driver.
    """

    def __init__(self, message: str, **attributes: Any) -> None:
        super().__init__(mask_urls(str(message)))
        self._attributes = attributes
        for name, value in attributes.items():
            setattr(self, name, value)

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_error, (type(self), self.args, self._attributes), self.__dict__)


def _rebuild_error(cls: type[RerankitError], args: tuple[Any, ...], attributes: dict[str, Any]) -> RerankitError:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error._attributes = attributes
    return error


class ConfigError(RerankitError, ValueError):
    """A reranker's configuration is invalid (unknown option, wrong type, out of range)."""


class UnknownRerankerError(RerankitError, LookupError):
    """No installed plugin registers a reranker under the requested name."""

    def __init__(self, message: str, *, name: str, available: list[str]) -> None:
        super().__init__(message, name=name, available=available)


class InputError(RerankitError, ValueError):
    """The data handed to a reranker cannot be reranked as given (nulls, duplicates, bad types)."""


class MissingColumnError(InputError):
    """A column the reranker needs is not in the input table."""

    def __init__(self, message: str, *, column: str, argument: str) -> None:
        super().__init__(message, column=column, argument=argument)


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
        super().__init__(message, provider=provider, status_code=status_code)


class AuthenticationError(ProviderError):
    """The provider rejected the API key (HTTP 401/403), or no key was configured."""


class RateLimitError(ProviderError):
    """The provider kept answering 429 after every allowed retry."""


class ProviderResponseError(ProviderError):
    """The provider's answer was malformed: bad JSON, missing or repeated indices, bad scores."""


class ProviderTimeoutError(ProviderError):
    """No connection, or no answer, within ``timeout`` / ``connect_timeout`` (after every retry)."""


class ProviderConnectionError(ProviderError):
    """The connection could not be made or was dropped (after every retry); there is no status."""
