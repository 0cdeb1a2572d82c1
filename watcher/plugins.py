"""apprise's plugins, readied once: imported on first use, their log lines kept out of ours.

The one place that imports apprise for the configuration, the redactor and the sender; the
sending itself is `watcher.deliver.sender`. Commands that never send never import apprise.
"""

from __future__ import annotations

import logging
import warnings
from typing import Any

__all__ = ["apprise_plugin", "load_apprise"]

_apprise_ready = False


def load_apprise() -> None:
    """Ready apprise for use, once: its log lines kept out of ours, its plugins imported.

    apprise must log at DEBUG for a send's result to hold the socket error ("connection
    refused", the SMTP reply), and its lines can carry tokens (Slack logs its webhook URL, a
    URL that fails to parse is logged whole): they stay inside each result, never in our
    handlers. urllib3, under apprise's requests, logs each request's path and query (tokens
    again). apprise loads every plugin module on first use; on Python 3.11 one of them
    imports the deprecated ``imghdr``, whose DeprecationWarning is an exception under
    ``-W error`` (pytest's ``filterwarnings = error``) and would leave apprise half loaded.
    """
    global _apprise_ready
    if _apprise_ready:
        return
    import apprise  # here, not at the top: commands that never send must not pay for it

    for name, level in (("apprise", logging.DEBUG), ("urllib3", logging.WARNING)):
        logger = logging.getLogger(name)
        logger.setLevel(level)
        logger.propagate = False
        if not any(isinstance(h, logging.NullHandler) for h in logger.handlers):
            # Without a handler, logging's last-resort handler would print warnings to stderr.
            logger.addHandler(logging.NullHandler())
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", r"'imghdr' is deprecated", DeprecationWarning)
        apprise.Apprise.instantiate("json://localhost")  # the first parse loads every plugin
    _apprise_ready = True


def apprise_plugin(url: str) -> Any | None:
    """The apprise plugin instance for ``url``, or None when apprise cannot use it. Never raises."""
    try:
        load_apprise()
        import apprise  # already imported by load_apprise: a dictionary lookup

        return apprise.Apprise.instantiate(url)
    except Exception:  # a plugin bug must not turn into a leak or a crash
        return None
