"""Errors raised by the Callbell provider.

Every error derives from :class:`CallbellError` (an ``AirflowException``). Errors that a later
attempt may cure derive from :class:`CallbellTransientError` too, so a task's retry policy can
retry exactly those and fail fast on the rest.
"""

from __future__ import annotations

from airflow.providers.common.compat.sdk import AirflowException


class CallbellError(AirflowException):
    """Base class of every error raised by the Callbell provider."""

    def __init__(self, message: str, *, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class CallbellConfigurationError(CallbellError, ValueError):
    """The connection or a setting cannot work as given (bad URL, scheme, TLS to a plain port...).

    Never retried: the same request would fail the same way. A ``ValueError`` too, so code
    checking arguments catches it like any other bad value.
    """


class CallbellTransientError(CallbellError):
    """An error that retrying the same request later may cure."""


class CallbellAuthError(CallbellError):
    """Callbell rejected the API token (HTTP 401 or 403)."""


class CallbellNotFoundError(CallbellError):
    """The requested resource does not exist (HTTP 404)."""


class CallbellClientError(CallbellError):
    """Callbell rejected the request (any other HTTP 4xx)."""


class CallbellMessageWindowError(CallbellClientError):
    """Callbell refused a free-form message: the customer has not written in the last 24 hours.

    On WhatsApp only an approved template can open a conversation again.
    """


class CallbellWriteUncertainError(CallbellError):
    """A write's answer was lost and Callbell cannot tell whether it was applied.

    Not retried: sending it again could apply it twice (a second message to a customer).
    """


class CallbellPaginationLimitError(CallbellClientError):
    """Callbell refuses page numbers this deep; only its cursor can go further."""


class CallbellRateLimitError(CallbellTransientError):
    """Callbell answered 429 Too Many Requests.

    :param retry_after: seconds Callbell asked to wait, when it said.
    """

    def __init__(self, message: str, *, retry_after: float | None = None) -> None:
        super().__init__(message, status=429)
        self.retry_after = retry_after


class CallbellServerError(CallbellTransientError):
    """Callbell answered with an HTTP 5xx."""


class CallbellTransportError(CallbellTransientError):
    """The request did not complete: connection refused or reset, timeout, truncated body."""


class CallbellInvalidResponseError(CallbellTransientError):
    """Callbell answered 2xx with a body that is not the JSON the API documents."""


class CallbellContactValueError(CallbellError):
    """A contact holds a value its typed export column cannot hold as it is.

    For example a ``blockedAt`` that is not an ISO 8601 time, for a Parquet timestamp column.

    :param uuid: the contact's uuid, when it has one.
    :param field: the contact key holding the value.
    """

    def __init__(self, message: str, *, uuid: str | None, field: str) -> None:
        super().__init__(message)
        self.uuid = uuid
        self.field = field
