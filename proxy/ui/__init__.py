"""The web viewer: review and curate recordings in a browser, live while recording.

Server-rendered pages (Starlette, Jinja2 with autoescape) over the recorder's read API, writing
only through the curation log. Static files are vendored: htmx 2.0.11 (0BSD, from the npm
registry) and one stylesheet; nothing loads from a CDN and nothing is built with Node.

    app.py       the app: routes under /ui, templates, security headers, Server-Timing
    guard.py     Origin + per-process token on every change, Host check, optional login token
    reads.py     the read API per worker thread; refresh when new; cached conversations
    pages.py     episodes (live rows), one episode, its lazy folds, its raw exchanges
    records.py   exchanges, MCP servers and calls, the overview's charts
    actions.py   curation steps from forms
    exports.py   the export page; jobs.py runs export/push in a thread with progress
    conversation.py  an episode as turns with folds; charts.py inline SVG
"""

from proxy.ui.app import build

__all__ = ["build"]
