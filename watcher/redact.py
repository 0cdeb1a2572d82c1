"""Keep secrets out of logs, CLI output and exceptions.

- `redact_url` masks the passwords and tokens of an apprise URL, using apprise's own knowledge
  of each service (``url(privacy=True)``), plus the custom ``+Header=`` and ``-param=`` values
  apprise leaves in clear; a URL apprise cannot read is masked conservatively instead.
- `url_secrets` lists the secret substrings of a URL (what `redact_url` hides), so that
  `redact_text` can scrub them from any string, a log line or an error message.
- `redact_value` is for a value the user typed that an error (or check-config) quotes back: a
  URL, or what should have been one (``base_url: 127.0.0.1:18765``, a channel ``notaurl``).
  It masks what may be a secret (a password, the value of a key such as ``token``, a piece
  that looks like a token or a key) and shows the rest as typed: the value at fault must be
  readable. `value_secrets` lists what it masked.

Nothing here raises on bad input: a redactor that fails would leak the text it was given.
apprise is imported on first use only (`watcher.plugins`): the configuration and the log
scrubber import this module, and commands that never send (status, history, track...) must
start without apprise's import cost; `redact_value`, `redact_text` and `mask` never need it.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Iterable, Iterator
from urllib.parse import quote, unquote, urlsplit

from watcher.plugins import apprise_plugin, load_apprise

__all__ = [
    "MASK",
    "MIN_SECRET_LENGTH",
    "mask",
    "redact_text",
    "redact_url",
    "redact_value",
    "scrubbable",
    "url_secrets",
    "value_secrets",
]

MASK = "***"
"""What a hidden value is replaced by."""

MIN_SECRET_LENGTH = 4
"""Shorter values are not scrubbed from text: replacing every "ab" would mangle it."""


def scrubbable(secrets: Iterable[object]) -> list[str]:
    """The distinct strings of ``secrets`` long enough to scrub (`MIN_SECRET_LENGTH`), longest
    first, so that a secret holding another is hidden whole. Anything not a string is skipped."""
    found = {s for s in secrets if isinstance(s, str) and len(s) >= MIN_SECRET_LENGTH}
    return sorted(found, key=lambda s: (-len(s), s))


# A value longer than this keeps its first two characters in front of the mask.
_SHOW_PREFIX_ABOVE = 6
# In a URL apprise cannot read, a piece this long or longer may be a token: masked.
_GENERIC_MASK_FROM = 6
# Query keys whose value is a secret whatever its length.
_SECRET_KEY = re.compile(r"pass|secret|token|key|auth|sig|cred|session|bearer", re.IGNORECASE)
_SPLIT_COMPONENTS = re.compile(r"[/:@?&=#,;+\s]+")
_HOSTNAME_LIKE = re.compile(r"^(localhost|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+|\[[0-9A-Fa-f:.]+\])$")


def mask(value: str) -> str:
    """``value`` hidden: its first two characters and "***" when long, just "***" otherwise."""
    if len(value) > _SHOW_PREFIX_ABOVE:
        return value[:2] + MASK
    return MASK


# --- redact_url --------------------------------------------------------------------------------


def redact_url(url: str) -> str:
    """``url`` with its passwords, tokens, custom headers and custom parameters masked.

    An apprise URL is rewritten by apprise itself in privacy mode ("slack://T...A/T...B/..."),
    keeping only the query parameters the user wrote; anything else is masked generically.
    """
    return _redact(url)[0]


@functools.lru_cache(maxsize=512)
def _redact(url: str) -> tuple[str, tuple[str, ...]]:
    """The redacted URL and the values it hides beyond those apprise knows to be private."""
    hidden: list[str] = []
    plugin = apprise_plugin(url)
    if plugin is not None:
        try:
            private = plugin.url(privacy=True)
        except Exception:
            private = None
        if isinstance(private, str) and private:
            return _tidy_apprise_url(private, original=url, hidden=hidden), tuple(hidden)
    return _generic_redact(url, hidden), tuple(hidden)


def _original_query_keys(url: str) -> set[str]:
    query = url.partition("?")[2].partition("#")[0]
    return {
        unquote(key).strip().lower() for key, _, _ in (p.partition("=") for p in query.split("&"))
    }


def _tidy_apprise_url(private: str, *, original: str, hidden: list[str] | None = None) -> str:
    """Mask what apprise leaves in clear, and drop the defaults it adds that the user did not write.

    Every value masked is appended to ``hidden`` when it is given.
    """
    hidden = [] if hidden is None else hidden
    base, _, query = private.partition("?")
    base = _mask_path_tokens(base, hidden)
    wanted = _original_query_keys(original)
    kept: list[str] = []
    for raw_key, raw_value in (p.partition("=")[::2] for p in query.split("&") if p):
        key = unquote(raw_key)
        if key.lower() not in wanted:
            continue
        value = unquote(raw_value)
        if value and (key[:1] in "+-" or _SECRET_KEY.search(key) or _looks_like_token(value)):
            hidden.extend((value, raw_value))
            raw_value = mask(value)
        kept.append(f"{raw_key}={raw_value}")
    return f"{base}?{'&'.join(kept)}" if kept else base


def _looks_like_token(segment: str) -> bool:
    """A random-looking piece of a URL: long, letters and digits mixed, no dots or @."""
    if len(segment) < 8 or "..." in segment or MASK in segment:
        return False
    if any(c in segment for c in ".@ ") or "%40" in segment:
        return False
    has_digit = any(c.isdigit() for c in segment)
    has_alpha = any(c.isalpha() for c in segment)
    mixed_case = any(c.isupper() for c in segment) and any(c.islower() for c in segment)
    return (has_digit and has_alpha) or (mixed_case and len(segment) >= 16)


def _mask_path_tokens(base: str, hidden: list[str]) -> str:
    """Mask token-like path segments apprise keeps (json:// and friends do not know them)."""
    scheme, sep, rest = base.partition("://")
    if not sep:
        return base
    netloc, slash, path = rest.partition("/")
    if not slash:
        return base
    segments = []
    for segment in path.split("/"):
        if _looks_like_token(unquote(segment)):
            hidden.extend((segment, unquote(segment)))
            segment = mask(segment)
        segments.append(segment)
    return f"{scheme}://{netloc}/{'/'.join(segments)}"


def _long_piece(piece: str) -> bool:
    return len(piece) >= _GENERIC_MASK_FROM


def _generic_redact(
    url: str, hidden: list[str] | None = None, *, secret: Callable[[str], bool] = _long_piece
) -> str:
    """Masking for a URL apprise cannot read, conservative by default.

    The userinfo password becomes "***", as do values of keys such as "token" or "+Header"
    whatever their length; a user name, a host that is not a host name, and every path
    segment, query value and fragment for which ``secret`` is true are masked (the longer
    ones keep their first two characters). By default ``secret`` is true from six characters
    on, and text that is not a URL is masked whole. Every value masked is appended to
    ``hidden``.
    """
    hidden = [] if hidden is None else hidden

    def hide(value: str, how: str = "prefix") -> str:
        hidden.append(value)
        return MASK if how == "all" else mask(value)

    scheme, sep, rest = url.strip().partition("://")
    if not sep:
        if secret is _long_piece:
            return hide(url.strip()) if url.strip() else url
        # Not a URL, read as one without its scheme ("127.0.0.1:18765", "host/path?k=v").
        return _generic_redact(f"x://{url.strip()}", hidden, secret=secret)[len("x://") :]
    rest, hashmark, fragment = rest.partition("#")
    rest, question, query = rest.partition("?")
    netloc, slash, path = rest.partition("/")

    userinfo, at, hostport = netloc.rpartition("@")
    if at:
        user, colon, password = userinfo.partition(":")
        if secret(user):
            user = hide(user)
        userinfo = user + (":" + hide(password, "all") if colon else "")
    host, colon, port = _split_port(hostport)
    if secret(host) and not _HOSTNAME_LIKE.match(host):
        host = hide(host)
    redacted = f"{scheme}://{userinfo}{at}{host}{colon}{port}"

    if slash:
        segments = [hide(s) if secret(s) else s for s in path.split("/")]
        redacted += "/" + "/".join(segments)
    if question:
        kept = []
        for part in query.split("&"):
            key, eq, value = part.partition("=")
            secret_key = key[:1] in "+-" or bool(_SECRET_KEY.search(unquote(key)))
            if eq and value and (secret_key or secret(value)):
                value = hide(value, "all" if secret_key else "prefix")
            elif not eq and secret(key):
                key = hide(key)
            kept.append(f"{key}{eq}{value}")
        redacted += "?" + "&".join(kept)
    if hashmark:
        redacted += "#" + (hide(fragment) if secret(fragment) else fragment)
    return redacted


def _split_port(hostport: str) -> tuple[str, str, str]:
    if hostport.startswith("["):  # [::1]:8080
        close = hostport.find("]")
        if close != -1 and hostport[close + 1 : close + 2] == ":":
            return hostport[: close + 1], ":", hostport[close + 2 :]
        return hostport, "", ""
    host, colon, port = hostport.rpartition(":")
    if colon and port.isdigit():
        return host, colon, port
    return hostport, "", ""


# --- redact_value ------------------------------------------------------------------------------


def _token_piece(piece: str) -> bool:
    return _looks_like_token(unquote(piece))


@functools.lru_cache(maxsize=256)
def _redact_value(text: str) -> tuple[str, tuple[str, ...]]:
    hidden: list[str] = []
    return _generic_redact(text, hidden, secret=_token_piece), tuple(hidden)


def redact_value(text: str) -> str:
    """``text``, a value the user typed, as an error or check-config may show it.

    Read as a URL (with or without its scheme): the userinfo password and the values of keys
    such as ``token`` (or ``+Header``, ``-param``) are masked, and so is any piece that looks
    like a token or a key (letters and digits mixed, 8 characters or more); the rest is shown
    as typed, so that ``127.0.0.1:18765`` or ``notaurl`` stays readable while a key pasted
    into the wrong variable (``sk-live-0123...``) does not.
    """
    return _redact_value(text)[0]


def value_secrets(text: str) -> list[str]:
    """What `redact_value` masks in ``text``, for the logger to scrub (`scrubbable`)."""
    return scrubbable(_redact_value(text)[1])


# --- url_secrets -------------------------------------------------------------------------------


def url_secrets(url: str) -> list[str]:
    """The secret substrings of ``url``: every value `redact_url` hides, raw and decoded.

    Gathered from apprise's parse of the URL (password, the plugin's private tokens, custom
    headers and parameters), from what the redaction masked itself, and from the URL's
    token-like pieces that the redacted form no longer shows. Only values of at least
    `MIN_SECRET_LENGTH` characters, longest first.
    """
    visible, hidden = _redact(url)
    found: set[str] = set(hidden)
    with contextlib.suppress(Exception):
        found.update(_apprise_private_values(url))
    with contextlib.suppress(ValueError):
        password = urlsplit(url).password
        if password:
            found.add(password)
    for piece in _SPLIT_COMPONENTS.split(url):
        if (
            _looks_like_token(unquote(piece))
            and unquote(piece).lower() not in unquote(visible).lower()
        ):
            found.add(piece)
    expanded = set()
    for value in found:
        expanded.update({value, unquote(value), quote(value, safe="")})
        # "Bearer abc123..." in a header: the token alone may be logged too.
        expanded.update(word for word in unquote(value).split() if _looks_like_token(word))
    # A value the redacted form shows anyway ("+Accept=json" next to "json://") is no secret,
    # and scrubbing it would mangle every log line that mentions it.
    return scrubbable(s for s in expanded if s not in visible)


def _apprise_private_values(url: str) -> Iterator[str]:
    from apprise.plugins import url_to_dict  # not re-exported at apprise's top level

    load_apprise()
    results = url_to_dict(url)  # type: ignore[no-untyped-call]
    plugin = apprise_plugin(url)
    if not results:
        return
    yield from _strings(results.get("password"))
    for key in ("headers", "params", "qsd+", "qsd-"):
        section = results.get(key)
        if isinstance(section, dict):
            yield from _strings(list(section.values()))
    if plugin is None:
        return
    private_keys: set[str] = set()
    for table_name in ("template_tokens", "template_args"):
        table = getattr(plugin, table_name, None)
        if not isinstance(table, dict):
            continue
        for name, spec in table.items():
            if isinstance(spec, dict) and spec.get("private"):
                private_keys.add(name)
                if isinstance(spec.get("map_to"), str):
                    private_keys.add(spec["map_to"])
    for key in private_keys:
        yield from _strings(results.get(key))
        yield from _strings(getattr(plugin, key, None))


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        if value:
            yield value
    elif isinstance(value, list | tuple | set | frozenset):
        for item in value:
            if isinstance(item, str) and item:
                yield item


# --- redact_text -------------------------------------------------------------------------------


def redact_text(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every occurrence of each secret (and its URL-encoded form) replaced by "***".

    Secrets shorter than `MIN_SECRET_LENGTH` are ignored; longer ones are replaced first, so a
    secret containing another is hidden whole.
    """
    key = tuple(scrubbable(secrets))
    if not key or not text:
        return text
    return _pattern(key).sub(MASK, text)


@functools.lru_cache(maxsize=64)
def _pattern(secrets: tuple[str, ...]) -> re.Pattern[str]:
    variants = set(secrets)
    variants.update(quote(s, safe="") for s in secrets)
    ordered = sorted(variants, key=lambda s: (-len(s), s))
    return re.compile("|".join(re.escape(s) for s in ordered))
