"""Every setting Cairn reads, declared once: name, environment variable, default and help.

The CLI, the docs (docs/settings.md, checked by a test) and the code read these declarations.
Where a user is migrating, the MLflow variable is honoured when the Cairn one is unset.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Setting:
    name: str
    env: str
    default: str | None
    help: str
    mlflow_env: str | None = None

    def get(self) -> str | None:
        value = os.environ.get(self.env)
        if value is None and self.mlflow_env:
            value = os.environ.get(self.mlflow_env)
        return self.default if value in (None, "") else value

    def get_bool(self) -> bool:
        return (self.get() or "").strip().lower() in ("1", "true", "yes", "on")

    def get_int(self, minimum: int = 0) -> int:
        """The value as a whole number of at least `minimum`; a clear error naming the
        variable otherwise (the ASCII check: `"²".isdigit()` is true)."""
        raw = (self.get() or "").strip()
        if not (raw.isascii() and raw.isdigit()) or int(raw) < minimum:
            raise self._invalid(f"a whole number of at least {minimum}", raw)
        return int(raw)

    def get_float(self, minimum: float = 0.0, *, positive: bool = False) -> float:
        """The value as a finite number of at least `minimum` (above 0 with `positive`)."""
        raw = (self.get() or "").strip()
        try:
            value = float(raw)
        except ValueError:
            value = math.nan
        if not minimum <= value < math.inf or (positive and value <= 0):
            wanted = "a number above 0" if positive else f"a number of at least {minimum:g}"
            raise self._invalid(wanted, raw)
        return value

    def _invalid(self, wanted: str, raw: str) -> Exception:
        from cairn.exceptions import InvalidParameterValue

        return InvalidParameterValue(f"{self.env} must be {wanted}, not {raw!r}")


TRACKING_URI = Setting(
    "tracking_uri",
    "CAIRN_TRACKING_URI",
    "sqlite:///cairn-data/cairn.db",
    "Where runs are recorded: a database URI (sqlite:///, postgresql://, mysql://) or a "
    "tracking server (http://host:port).",
    "MLFLOW_TRACKING_URI",
)
ARTIFACT_ROOT = Setting(
    "artifact_root",
    "CAIRN_ARTIFACT_ROOT",
    "cairn-data/artifacts",
    "Default artifact root for new experiments when the tracking URI is a database.",
    "MLFLOW_DEFAULT_ARTIFACT_ROOT",
)
EXPERIMENT_NAME = Setting(
    "experiment_name",
    "CAIRN_EXPERIMENT_NAME",
    None,
    "Experiment the fluent API logs to when none was set.",
    "MLFLOW_EXPERIMENT_NAME",
)
EXPERIMENT_ID = Setting(
    "experiment_id",
    "CAIRN_EXPERIMENT_ID",
    None,
    "Experiment id the fluent API logs to when none was set (wins over the name).",
    "MLFLOW_EXPERIMENT_ID",
)
RUN_ID = Setting(
    "run_id",
    "CAIRN_RUN_ID",
    None,
    "start_run() resumes this run instead of creating one (set by `cairn run`).",
    "MLFLOW_RUN_ID",
)
TRUNCATE_LONG_VALUES = Setting(
    "truncate_long_values",
    "CAIRN_TRUNCATE_LONG_VALUES",
    "true",
    "Truncate param values over 6000 and tag values over 8000 characters instead of failing.",
    "MLFLOW_TRUNCATE_LONG_VALUES",
)
SECRET_GUARD = Setting(
    "secret_guard",
    "CAIRN_SECRET_GUARD",
    "refuse",
    "What stores do with a param or tag that looks like a credential (cloud key, token, "
    "private key, password in a URL): refuse it (400 naming the key and kind, never the "
    "value), redact it (stored as [REDACTED:<kind>]) or off. See docs/security.md.",
)
SQL_BUSY_TIMEOUT = Setting(
    "sql_busy_timeout",
    "CAIRN_SQL_BUSY_TIMEOUT",
    "60",
    "Seconds a SQLite writer waits (retrying) for the write lock before giving up.",
)
SQLITE_SYNCHRONOUS = Setting(
    "sqlite_synchronous",
    "CAIRN_SQLITE_SYNCHRONOUS",
    "NORMAL",
    "SQLite durability: NORMAL keeps every acknowledged write through a crash or kill of any "
    "process; FULL also through power loss or an OS crash, at one fsync per commit (about 4x "
    "slower run creation).",
)
SQL_POOL_SIZE = Setting(
    "sql_pool_size",
    "CAIRN_SQL_POOL_SIZE",
    "5",
    "Connections kept open per PostgreSQL/MySQL database.",
)
USER = Setting(
    "user",
    "CAIRN_USER",
    None,
    "User name recorded on new runs (defaults to the login name).",
    "MLFLOW_TRACKING_USERNAME",
)

PROJECT_ENTRY_POINT = Setting(
    "project_entry_point",
    "CAIRN_PROJECT_ENTRY_POINT",
    None,
    "Entry point of the project being run (set by `cairn run`); recorded on the run as the "
    "mlflow.project.entryPoint tag.",
    "MLFLOW_PROJECT_ENTRY_POINT",
)
ENV_CACHE_DIR = Setting(
    "env_cache_dir",
    "CAIRN_ENV_CACHE_DIR",
    None,
    "Where `cairn run` keeps the project environments it builds, one per environment digest "
    "(default: $XDG_CACHE_HOME/cairn/envs, else ~/.cache/cairn/envs).",
)
UV_EXECUTABLE = Setting(
    "uv_executable",
    "CAIRN_UV_EXECUTABLE",
    None,
    "The uv executable that builds project environments (default: uv on PATH, else beside "
    "the running Python). `none` makes `--env-manager virtualenv` use venv and pip instead.",
)
CONDA_HOME = Setting(
    "conda_home",
    "CAIRN_CONDA_HOME",
    None,
    "Conda installation whose bin/conda builds conda project environments (default: "
    "$CONDA_EXE, else conda on PATH).",
    "MLFLOW_CONDA_HOME",
)

# -- talking to a tracking server ------------------------------------------------------------
TRACKING_TOKEN = Setting(
    "tracking_token",
    "CAIRN_TRACKING_TOKEN",
    None,
    "Bearer token sent to an http(s) tracking server (wins over username/password).",
    "MLFLOW_TRACKING_TOKEN",
)
TRACKING_USERNAME = Setting(
    "tracking_username",
    "CAIRN_TRACKING_USERNAME",
    None,
    "User name for HTTP Basic authentication to an http(s) tracking server.",
    "MLFLOW_TRACKING_USERNAME",
)
TRACKING_PASSWORD = Setting(
    "tracking_password",
    "CAIRN_TRACKING_PASSWORD",
    None,
    "Password for HTTP Basic authentication to an http(s) tracking server.",
    "MLFLOW_TRACKING_PASSWORD",
)
HTTP_REQUEST_MAX_RETRIES = Setting(
    "http_request_max_retries",
    "CAIRN_HTTP_REQUEST_MAX_RETRIES",
    "5",
    "Retries of an idempotent request after a connection error, 429 or 503.",
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES",
)
HTTP_REQUEST_BACKOFF_FACTOR = Setting(
    "http_request_backoff_factor",
    "CAIRN_HTTP_REQUEST_BACKOFF_FACTOR",
    "0.5",
    "Seconds before the first retry; each later retry waits twice as long (with jitter).",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR",
)
HTTP_REQUEST_TIMEOUT = Setting(
    "http_request_timeout",
    "CAIRN_HTTP_REQUEST_TIMEOUT",
    "120",
    "Seconds to wait for a tracking server's answer before giving up on a request.",
    "MLFLOW_HTTP_REQUEST_TIMEOUT",
)
SYNCHRONOUS_LOGGING = Setting(
    "synchronous_logging",
    "CAIRN_SYNCHRONOUS_LOGGING",
    "false",
    "With a remote tracking server, send each log_metric/log_param/set_tag call at once "
    "instead of batching them in a background thread.",
)

# -- the tracking server ---------------------------------------------------------------------
SERVER_MAX_BODY_BYTES = Setting(
    "server_max_body_bytes",
    "CAIRN_SERVER_MAX_BODY_BYTES",
    "16777216",
    "Largest JSON request body the server accepts (413 beyond it); artifact uploads are "
    "streamed and not limited by this.",
)
SERVER_REQUEST_IDLE_SECONDS = Setting(
    "server_request_idle_seconds",
    "CAIRN_SERVER_REQUEST_IDLE_SECONDS",
    "60",
    "Seconds the server waits for a request, or the rest of one (headers, body), without "
    "receiving a byte before it closes the connection; 0 waits forever. Uploads that keep "
    "sending, however slowly, are not affected.",
)
SERVER_MAX_CONNECTIONS = Setting(
    "server_max_connections",
    "CAIRN_SERVER_MAX_CONNECTIONS",
    "1000",
    "Connections each server process keeps open at most; one beyond them is answered 503 "
    "(TEMPORARILY_UNAVAILABLE, Retry-After: 1) and closed at once, so that clients holding "
    "connections cannot use up the process's file descriptors. 0 sets no limit.",
)
UI_CSRF_SECRET = Setting(
    "ui_csrf_secret",
    "CAIRN_UI_CSRF_SECRET",
    None,
    "Key that signs the web UI's CSRF tokens. Unset, `cairn server` draws a random one at "
    "start (shared by its workers); set it to share tokens between servers behind one address.",
)

ALLOWED_HOSTS = Setting(
    "allowed_hosts",
    "CAIRN_ALLOWED_HOSTS",
    None,
    "Comma-separated host names the server answers to (the Host header; others get 403, a "
    "guard against DNS rebinding), as --allowed-hosts. IP addresses, localhost and names "
    "without a dot are always allowed; `.example.com` allows example.com and its subdomains; "
    "`*` allows any name.",
)
CORS_ALLOWED_ORIGINS = Setting(
    "cors_allowed_origins",
    "CAIRN_CORS_ALLOWED_ORIGINS",
    None,
    "Comma-separated origins (`https://dash.example.com`) whose web pages may call the API "
    "from a browser (CORS, without credentials), as --cors-allowed-origins. Unset: none; "
    "cross-origin writes from other origins are refused.",
)
TRUSTED_PROXIES = Setting(
    "trusted_proxies",
    "CAIRN_TRUSTED_PROXIES",
    None,
    "Comma-separated addresses or networks (`10.0.0.5`, `10.0.0.0/8`) of reverse proxies "
    "whose X-Forwarded-For/-Proto/-Host and user header are believed. Unset: none, those "
    "headers are ignored.",
)
AUTH_PROXY_HEADER = Setting(
    "auth_proxy_header",
    "CAIRN_AUTH_PROXY_HEADER",
    None,
    "With --auth: a request from a trusted proxy carrying this header (X-Forwarded-User, "
    "X-Auth-Request-User, ...) is authenticated as the user it names.",
)
AUTH_PROXY_CREATE_USERS = Setting(
    "auth_proxy_create_users",
    "CAIRN_AUTH_PROXY_CREATE_USERS",
    "false",
    "Create a user (non-admin, no usable password) the first time a trusted proxy names one "
    "the database does not have. Off: such requests get 403 until an admin creates the user.",
)

# -- authentication and audit (`cairn server --auth`) -------------------------------------------
AUTH = Setting(
    "auth",
    "CAIRN_AUTH",
    "false",
    "Turn authentication on for `cairn server` (as --auth does): every route but /health and "
    "/version needs HTTP Basic credentials or a bearer token; requests are audited.",
)
ADMIN_USERNAME = Setting(
    "admin_username",
    "CAIRN_ADMIN_USERNAME",
    None,
    "Name of the first admin, created by `cairn server --auth` when the database has no user.",
)
ADMIN_PASSWORD = Setting(
    "admin_password",
    "CAIRN_ADMIN_PASSWORD",
    None,
    "Password of that first admin (at least 12 characters; there is no default password).",
)
AUTH_CACHE_SECONDS = Setting(
    "auth_cache_seconds",
    "CAIRN_AUTH_CACHE_SECONDS",
    "30",
    "Seconds a server process remembers verified credentials (so the password hash is not "
    "recomputed per request); a revoked token or changed password may work this long. 0: off.",
)
AUTH_MAX_FAILURES = Setting(
    "auth_max_failures",
    "CAIRN_AUTH_MAX_FAILURES",
    "10",
    "Failed logins per user name and per client address within a minute before the server "
    "answers 429 with Retry-After (counted per server process).",
)
AUTH_DEFAULT_PERMISSION = Setting(
    "auth_default_permission",
    "CAIRN_AUTH_DEFAULT_PERMISSION",
    "READ",
    "Level every user has on an experiment without a permission of their own: READ (as "
    "MLflow's basic-auth app), EDIT, MANAGE or NO_PERMISSIONS. Creators get MANAGE; admins all.",
)

# -- the scoring server (`cairn models serve`) ------------------------------------------------
SCORING_WORKERS = Setting(
    "scoring_workers",
    "CAIRN_MODELS_WORKERS",
    "1",
    "Worker processes of `cairn models serve` when --workers is not given.",
    "MLFLOW_MODELS_WORKERS",
)
SCORING_REQUEST_TIMEOUT = Setting(
    "scoring_request_timeout",
    "CAIRN_SCORING_SERVER_REQUEST_TIMEOUT",
    "60",
    "Seconds `cairn models serve` waits for a prediction before answering 504 (0: no limit).",
    "MLFLOW_SCORING_SERVER_REQUEST_TIMEOUT",
)
SCORING_MAX_BODY_BYTES = Setting(
    "scoring_max_body_bytes",
    "CAIRN_SCORING_SERVER_MAX_BODY_BYTES",
    "10485760",
    "Largest /invocations body `cairn models serve` accepts (413 beyond it).",
)

# -- registry webhooks -----------------------------------------------------------------------
WEBHOOK_MAX_ATTEMPTS = Setting(
    "webhook_max_attempts",
    "CAIRN_WEBHOOK_MAX_ATTEMPTS",
    "6",
    "Attempts to deliver one webhook event before it is marked FAILED (redeliver to retry).",
)
WEBHOOK_BACKOFF = Setting(
    "webhook_backoff",
    "CAIRN_WEBHOOK_BACKOFF",
    "2",
    "Seconds before a webhook delivery's second attempt; each later attempt waits twice as "
    "long (capped at an hour).",
)
WEBHOOK_TIMEOUT = Setting(
    "webhook_timeout",
    "CAIRN_WEBHOOK_TIMEOUT",
    "10",
    "Seconds a webhook receiver has to answer one delivery.",
)
WEBHOOK_POLL_INTERVAL = Setting(
    "webhook_poll_interval",
    "CAIRN_WEBHOOK_POLL_INTERVAL",
    "1",
    "Seconds between the server's looks for due webhook deliveries (it also wakes at once "
    "when its own requests queue one).",
)
WEBHOOK_ALLOW_PRIVATE = Setting(
    "webhook_allow_private",
    "CAIRN_WEBHOOK_ALLOW_PRIVATE",
    "false",
    "Allow webhook URLs on loopback, private, link-local and other non-public addresses "
    "(refused by default: the server would be made to call into its own network).",
)
TRUSTED_MODEL_SOURCES = Setting(
    "trusted_model_sources",
    "CAIRN_TRUSTED_MODEL_SOURCES",
    None,
    "Comma-separated model sources whose pickle-based models load without `trust=True`: URI "
    "prefixes of model URIs (`models:/prod-`, `s3://models-bucket/`) or tracking/registry "
    "URIs (`http://registry.internal:5000`) whose `runs:/` and `models:/` models are trusted.",
)

ALL_SETTINGS: tuple[Setting, ...] = (
    TRACKING_URI,
    ARTIFACT_ROOT,
    EXPERIMENT_NAME,
    EXPERIMENT_ID,
    RUN_ID,
    TRUNCATE_LONG_VALUES,
    SECRET_GUARD,
    SQL_BUSY_TIMEOUT,
    SQLITE_SYNCHRONOUS,
    SQL_POOL_SIZE,
    USER,
    PROJECT_ENTRY_POINT,
    ENV_CACHE_DIR,
    UV_EXECUTABLE,
    CONDA_HOME,
    TRACKING_TOKEN,
    TRACKING_USERNAME,
    TRACKING_PASSWORD,
    HTTP_REQUEST_MAX_RETRIES,
    HTTP_REQUEST_BACKOFF_FACTOR,
    HTTP_REQUEST_TIMEOUT,
    SYNCHRONOUS_LOGGING,
    SERVER_MAX_BODY_BYTES,
    SERVER_REQUEST_IDLE_SECONDS,
    SERVER_MAX_CONNECTIONS,
    UI_CSRF_SECRET,
    ALLOWED_HOSTS,
    CORS_ALLOWED_ORIGINS,
    TRUSTED_PROXIES,
    AUTH,
    ADMIN_USERNAME,
    ADMIN_PASSWORD,
    AUTH_CACHE_SECONDS,
    AUTH_MAX_FAILURES,
    AUTH_DEFAULT_PERMISSION,
    AUTH_PROXY_HEADER,
    AUTH_PROXY_CREATE_USERS,
    SCORING_WORKERS,
    SCORING_REQUEST_TIMEOUT,
    SCORING_MAX_BODY_BYTES,
    WEBHOOK_MAX_ATTEMPTS,
    WEBHOOK_BACKOFF,
    WEBHOOK_TIMEOUT,
    WEBHOOK_POLL_INTERVAL,
    WEBHOOK_ALLOW_PRIVATE,
    TRUSTED_MODEL_SOURCES,
)


def settings_markdown() -> str:
    """The settings table of docs/settings.md, generated so the docs cannot drift."""
    lines = [
        "| environment variable | MLflow fallback | default | what it does |",
        "|---|---|---|---|",
    ]
    for s in ALL_SETTINGS:
        fallback = f"`{s.mlflow_env}`" if s.mlflow_env else ""
        default = f"`{s.default}`" if s.default is not None else "(unset)"
        lines.append(f"| `{s.env}` | {fallback} | {default} | {s.help} |")
    return "\n".join(lines) + "\n"
