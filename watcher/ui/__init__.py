"""The status page (`ui.enabled`): the tracked runs, their progress curves, ETAs and alerts,
served beside /healthz on the health listener.

`app` (the routes and the page's own read-only connection), `data` (what the page shows,
as JSON-ready dicts), `shown` (its words and numbers), `auth` (HTTP basic auth); the HTML
is in `pages/` (Jinja2), the script, styles and the vendored uPlot chart in `static/`.
"""

from watcher.ui.app import Reply, StatusPage
from watcher.ui.auth import Credentials
from watcher.ui.data import Health

__all__ = ["Credentials", "Health", "Reply", "StatusPage"]
