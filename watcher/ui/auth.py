"""HTTP basic auth for the status page: one user, a password read from `ui.password_file`.

Hand-written because the stdlib server has none and it is a dozen lines: parse the header,
compare with `hmac.compare_digest` (constant time, so a wrong guess says nothing about how
close it was), and answer 401 with a `WWW-Authenticate` challenge otherwise.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass

__all__ = ["CHALLENGE", "Credentials", "authorized"]

CHALLENGE = 'Basic realm="dataframer-watcher", charset="UTF-8"'


@dataclass(frozen=True, slots=True)
class Credentials:
    """Who may read the page."""

    username: str
    password: str

    def __repr__(self) -> str:
        return f"Credentials(username={self.username!r}, password='***')"


def authorized(header: str | None, expected: Credentials) -> bool:
    """Whether an `Authorization` header carries exactly the expected user and password."""
    if not header:
        return False
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic" or not token:
        return False
    try:
        decoded = base64.b64decode(token.strip(), validate=True)
    except (binascii.Error, ValueError):
        return False
    user, sep, password = decoded.partition(b":")
    if not sep:
        return False
    # Both compared, always: no early exit tells which half was wrong.
    user_ok = hmac.compare_digest(user, expected.username.encode())
    password_ok = hmac.compare_digest(password, expected.password.encode())
    return user_ok and password_ok
