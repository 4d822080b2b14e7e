"""The web UI: server-rendered pages (Jinja2 + htmx, ECharts for charts) over the server's
own stores. Reached only from `cairn.server`, which mounts `ui_routes` after the API.

Pages (see docs/ui.md): `/` experiments, `/experiments/<id>` its runs, `/runs/<id>` a run
with its charts and artifacts, `/compare?runs=…` runs side by side, `/models`,
`/models/<name>` and `/models/<name>/versions/<n>` the model registry with its stage and
alias forms; `/static/…` the packaged assets (see static/VENDORED.md). With `cairn server
--auth` the pages apply the API's permissions (`access`), and experiment and model pages
carry a permissions panel for their managers (`permissions`).
"""

from cairn.ui.routes import ui_routes

__all__ = ["ui_routes"]
