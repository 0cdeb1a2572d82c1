"""The watcher's one error hierarchy; lower-level exceptions are translated at each boundary.

WatcherError
├── ConfigError              (watcher.config) bad configuration: exit 2
├── StateError               the state file is unusable: exit 1
│   ├── StateLocked          another daemon holds the state file
│   └── StateReplaced        the open state file was deleted or replaced
├── StateConflict            a `track`/`untrack` landed mid-tick: the tick is redone
└── ApiError                 anything the Dataframer API did wrong
    ├── Unauthorized         401/403: the key is wrong
    ├── NotFound             404: the run is gone
    ├── RateLimited          429, carries retry_after
    ├── TransientApiError    timeouts, connection errors, 408/409/5xx
    └── BadResponse          a 2xx body we cannot parse, or an unexpected status
"""

from __future__ import annotations


class WatcherError(Exception):
    """Base of every error the watcher raises on purpose; its str() is one clear line."""


class StateError(WatcherError):
    """The state file cannot be opened, read or written."""


class StateLocked(StateError):
    """Another watcher process holds the exclusive lock on the state file."""


class StateReplaced(StateError):
    """The state file the daemon opened was deleted or replaced under it: writing on would
    go into a file nobody else can open."""


class StateConflict(WatcherError):
    """`track`/`untrack` changed a run while a tick was deciding about it: redo the tick.

    Not a StateError: the file took the write it was asked for, and the user's change won.
    """


class ApiError(WatcherError):
    """The Dataframer API did not answer usefully."""

    def __init__(self, message: str, *, status_code: int | None = None) -> None:
        super().__init__(message)
        self.status_code = status_code


class Unauthorized(ApiError):
    """The API rejected the key (401/403)."""


class NotFound(ApiError):
    """The run does not exist (404)."""


class RateLimited(ApiError):
    """The API asked us to slow down (429); retry_after is in seconds when it said."""

    def __init__(self, message: str, *, retry_after: float | None, status_code: int = 429) -> None:
        super().__init__(message, status_code=status_code)
        self.retry_after = retry_after


class TransientApiError(ApiError):
    """A timeout, a dropped connection or a 408/409/5xx: try again later."""


class BadResponse(ApiError):
    """A body that is not what the API promises (HTML, truncated JSON, wrong types)."""


class UsageError(WatcherError):
    """The command line asked for something that cannot be (exit 2)."""


# What a socket error's text says, in a few words a person reads; most specific first. One
# table for the API client and the sender, so both name a failure the same way.
_SOCKET_PHRASES = (
    ("connection refused", "connection refused"),
    ("connect call failed", "connection refused"),
    ("name or service not known", "name or service not known"),
    ("nodename nor servname", "name or service not known"),
    ("failed to resolve", "name or service not known"),
    ("temporary failure in name resolution", "temporary failure in name resolution"),
    ("certificate_verify_failed", "TLS certificate verification failed"),
    ("certificate verify failed", "TLS certificate verification failed"),
    ("connection reset", "connection reset"),
    ("connection unexpectedly closed", "connection closed by server"),
    ("server disconnected", "server closed the connection without answering"),
    ("timed out", "timed out"),
    ("sslerror", "TLS error"),
)


def socket_phrase(text: str) -> str | None:
    """The few words for a socket error's text ("connection refused"), or None if unknown."""
    lowered = text.lower()
    return next((phrase for needle, phrase in _SOCKET_PHRASES if needle in lowered), None)
