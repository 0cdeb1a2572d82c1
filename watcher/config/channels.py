"""The ``channels:`` section: channel names, and apprise URLs with ``${VAR}`` substituted.

Each URL is expanded from the load's environment (``${VAR}``, ``${VAR:-default}``, ``$$``) and
must be one apprise knows; the values substituted into it are remembered as secrets. A query
parameter apprise would silently drop (`unsent_parameters`) is a warning of the load. A load for
a command that never sends (``load_settings(expand_channels=False)``) keeps the URLs as written,
neither substituted nor checked: only the names matter to it. Channel names are case-insensitive:
each source's are folded before the sources merge (`watcher.config.values.channel_key`).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Annotated, Any
from urllib.parse import unquote

from pydantic import AfterValidator, BeforeValidator
from pydantic_settings import NoDecode

from watcher.config.context import current_context
from watcher.config.values import HOSTNAME, ItemError, kind_of
from watcher.plugins import apprise_plugin
from watcher.redact import redact_text, redact_value

__all__ = ["ChannelName", "ChannelUrls", "unsent_parameters"]

_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9_.-]+$")
_VARIABLE = re.compile(
    r"\$(?:(?P<dollar>\$)|\{(?P<name>[A-Za-z_][A-Za-z0-9_]*)(?::-(?P<default>[^}]*))?\})"
)


def _substitute(url: str, environ: Mapping[str, str]) -> tuple[str, list[str]]:
    """``url`` with ``${VAR}``, ``${VAR:-default}`` and ``$$`` expanded; also the values used."""
    used: list[str] = []
    pieces: list[str] = []
    position = 0
    for match in _VARIABLE.finditer(url):
        pieces.append(_literal(url[position : match.start()]))
        position = match.end()
        if match.group("dollar"):
            pieces.append("$")
            continue
        name, default = match.group("name"), match.group("default")
        value = environ.get(name)
        if not value and default is not None:
            value = default
        if value is None:
            raise ValueError(f"environment variable {name} is not set (used as ${{{name}}})")
        used.append(value)
        pieces.append(value)
    return "".join(pieces) + _literal(url[position:]), used


def _literal(text: str) -> str:
    if "${" in text:
        raise ValueError("has a malformed ${...}: write ${NAME}, ${NAME:-default}, or $$ for a $")
    return text


def _channel_name(name: str) -> str:
    # ASCII only: a name is also an environment variable's (WATCHER_CHANNELS__<NAME>) and a
    # key in the state file and the logs, where "équipe" and "equipe" would be two channels.
    if not _CHANNEL_NAME.match(name):
        raise ValueError(
            f"channel name {name!r} may only use ASCII letters and digits, '_', '.' and '-'"
        )
    return name


def _url_list(value: Any) -> Any:
    if isinstance(value, str) and value.strip().startswith("["):
        try:
            value = json.loads(value)  # WATCHER_CHANNELS__TEAM='["json://a", "json://b"]'
        except ValueError:
            raise ValueError("is not a valid JSON list of apprise URLs") from None
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list | tuple):
        raise ValueError(f"must be an apprise URL or a list of them (got {kind_of(value)})")
    if not value:
        raise ValueError("must give at least one apprise URL")
    for index, item in enumerate(value):
        if not isinstance(item, str):
            raise _url_error(index, len(value), f"must be an apprise URL (got {kind_of(item)})")
    return list(value)


def _url_error(index: int, count: int, message: str) -> ValueError:
    """The error of URL ``index`` of ``count``: named by its position only in a list of
    several (``channels.team[1]``), the form pydantic gives every other list item."""
    return ItemError(index, message) if count > 1 else ValueError(message)


def _looks_public(value: str) -> bool:
    """A substituted value that is plainly not a secret: a number, a host name, an address."""
    if value.isdigit() or value == "localhost":
        return True
    if "." in value and HOSTNAME.match(value) and value.rpartition(".")[2].isalpha():
        return True  # hooks.example.com; not "opaquesecret", nor a token with dots
    return bool(re.fullmatch(r"[^@\s:/]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}", value))  # an address


def _expand_and_check(urls: list[str]) -> list[str]:
    context = current_context()
    checked: list[str] = []
    for index, raw in enumerate(urls):
        if not context.expand_channels:  # kept as written: the tokens may not be set here
            if not raw.strip():
                raise _url_error(index, len(urls), "an apprise URL must not be empty")
            if raw.strip() not in checked:
                checked.append(raw.strip())
            continue
        try:
            url, used = _substitute(raw.strip(), context.environ)
        except ValueError as exc:
            raise _url_error(index, len(urls), str(exc)) from None
        secrets = [v for v in used if not _looks_public(v)]
        context.substituted.update(secrets)
        if not url:
            raise _url_error(index, len(urls), "an apprise URL must not be empty")
        if apprise_plugin(url) is None:
            # The URL as typed, so that the fault can be seen; but what may be a secret (and
            # every value ${VAR} put in) masked.
            shown = redact_text(redact_value(url), secrets)
            raise _url_error(
                index,
                len(urls),
                f"apprise cannot use {shown!r} (an unknown service, or a malformed URL for it)",
            )
        if url not in checked:
            checked.append(url)
    return checked


ChannelName = Annotated[str, AfterValidator(_channel_name)]
ChannelUrls = Annotated[
    list[str], NoDecode, BeforeValidator(_url_list), AfterValidator(_expand_and_check)
]


# Keys apprise reads from any URL's query beside each plugin's declared ones: its shorthand
# ``pass=`` for the password (``apprise.url.URL_TOKEN_ALIASES``).
_RAW_RESULTS = frozenset({"qsd", "qsd+", "qsd-", "qsd:", "url"})


def unsent_parameters(url: str) -> list[str]:
    """The plain query parameters of ``url`` (their names) that apprise will not send.

    Only for the plugins that send query parameters at all, json://, xml://, form:// and the
    like: those that declare a ``-`` prefixed keyword (``template_kwargs``, "GET Params"),
    so that ``?-token=abc`` is sent as ``?token=abc``. Such a plugin reads a plain parameter
    only when it is one of its own arguments (``template_args``, ``template_tokens``) and drops
    any other: ``json://host/hook?token=abc`` posts to ``/hook``. A parameter whose value the
    plugin's parse took up somewhere is read, though undeclared (pagertree's ``?id=``).
    Empty when apprise cannot read the URL; never raises. Values are only compared, never
    returned: they may be secrets.
    """
    plugin = apprise_plugin(url)
    if plugin is None:
        return []
    cls = type(plugin)
    kwargs = getattr(cls, "template_kwargs", None)
    if not isinstance(kwargs, dict) or not any(
        isinstance(spec, dict) and spec.get("prefix") == "-" for spec in kwargs.values()
    ):
        return []
    try:
        results = cls.parse_url(url)
    except Exception:  # a plugin bug must not stop a load: no advice is better than a crash
        return []
    query = results.get("qsd") if isinstance(results, dict) else None
    if not isinstance(query, dict):
        return []
    known = {
        str(name).lower()
        for table in (getattr(cls, "template_args", {}), getattr(cls, "template_tokens", {}))
        if isinstance(table, dict)
        for name in table
    }
    known.update(_token_aliases())
    taken = set(_result_strings(results))
    # apprise lower-cases the keys it reads; the advice names each as the user wrote it.
    written = {
        unquote(part.partition("=")[0]).strip().lower(): unquote(part.partition("=")[0]).strip()
        for part in url.partition("?")[2].partition("#")[0].split("&")
    }
    return [
        written.get(key, key)
        for key, value in query.items()
        if isinstance(key, str)
        and key[:1] not in ("+", "-", ":")
        and key not in known
        and not (value and value in taken)
    ]


def _token_aliases() -> set[str]:
    from apprise import url as apprise_url  # the sending side: only loaded to check URLs

    aliases = getattr(apprise_url, "URL_TOKEN_ALIASES", {})
    return {str(alias).lower() for alias in aliases} if isinstance(aliases, dict) else set()


def _result_strings(results: dict[str, Any]) -> Iterator[str]:
    """The strings a plugin's ``parse_url`` put in its results, beside the raw query."""
    for key, value in results.items():
        if key in _RAW_RESULTS:
            continue
        items = value.values() if isinstance(value, dict) else value
        if isinstance(items, str):
            yield items
        elif isinstance(items, Iterable):
            yield from (item for item in items if isinstance(item, str))
