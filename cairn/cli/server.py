"""`cairn server` (and its alias `cairn ui`): run the tracking server."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from cairn import settings
from cairn.cli.output import print_note, stdout

DEFAULT_BACKEND = "sqlite:///cairn-data/cairn.db"
DEFAULT_DESTINATION = "cairn-data/artifacts"


def server(
    host: Annotated[
        str, typer.Option("--host", "-h", help="Interface to listen on (0.0.0.0 for all).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on.")] = 5000,
    backend_store_uri: Annotated[
        str,
        typer.Option(
            "--backend-store-uri",
            envvar="CAIRN_BACKEND_STORE_URI",
            help="Database for experiments and runs (sqlite:///, postgresql://, mysql://).",
        ),
    ] = DEFAULT_BACKEND,
    artifacts_destination: Annotated[
        str,
        typer.Option(
            "--artifacts-destination",
            envvar="CAIRN_ARTIFACTS_DESTINATION",
            help="Where proxied artifacts are stored (mlflow-artifacts:/ URIs point here).",
        ),
    ] = DEFAULT_DESTINATION,
    serve_artifacts: Annotated[
        bool,
        typer.Option(
            "--serve-artifacts/--no-serve-artifacts",
            help="Proxy artifact uploads and downloads through this server.",
        ),
    ] = True,
    default_artifact_root: Annotated[
        str | None,
        typer.Option(
            "--default-artifact-root",
            help="Artifact root for new experiments (default: mlflow-artifacts:/ when serving "
            "artifacts, else the artifacts destination).",
        ),
    ] = None,
    workers: Annotated[int, typer.Option("--workers", "-w", min=1, help="Worker processes.")] = 1,
    read_helper: Annotated[
        bool,
        typer.Option(
            "--read-helper/--no-read-helper",
            help="With one worker on SQLite, a second process reads half of each big metric "
            "history on another core; see docs/server.md.",
        ),
    ] = True,
    auth: Annotated[
        bool,
        typer.Option(
            "--auth/--no-auth",
            envvar="CAIRN_AUTH",
            help="Require credentials (HTTP Basic or a bearer token) on every route but /health "
            "and /version, and keep an audit log; see docs/security.md.",
        ),
    ] = False,
    ssl_certfile: Annotated[
        str | None,
        typer.Option("--ssl-certfile", help="Serve HTTPS with this PEM certificate (chain)."),
    ] = None,
    ssl_keyfile: Annotated[
        str | None,
        typer.Option("--ssl-keyfile", help="Private key of --ssl-certfile, PEM."),
    ] = None,
    allowed_hosts: Annotated[
        str | None,
        typer.Option(
            "--allowed-hosts",
            envvar=settings.ALLOWED_HOSTS.env,
            help="Comma-separated host names the server answers to (Host header; others get "
            "403, against DNS rebinding). IP addresses, localhost and names without a dot "
            "always work; `.example.com` covers subdomains; `*` allows any.",
        ),
    ] = None,
    cors_allowed_origins: Annotated[
        str | None,
        typer.Option(
            "--cors-allowed-origins",
            envvar=settings.CORS_ALLOWED_ORIGINS.env,
            help="Comma-separated origins (https://dash.example.com) whose pages may call the "
            "API from a browser. Default: none.",
        ),
    ] = None,
    trusted_proxies: Annotated[
        str | None,
        typer.Option(
            "--trusted-proxies",
            envvar=settings.TRUSTED_PROXIES.env,
            help="Comma-separated addresses or networks of reverse proxies whose X-Forwarded-* "
            "headers (and --auth-proxy-header) are believed. Default: none.",
        ),
    ] = None,
    auth_proxy_header: Annotated[
        str | None,
        typer.Option(
            "--auth-proxy-header",
            envvar=settings.AUTH_PROXY_HEADER.env,
            help="With --auth, a request from a trusted proxy is authenticated as the user this "
            "header names (e.g. X-Forwarded-User); see docs/security.md.",
        ),
    ] = None,
) -> None:
    """Run the tracking server: MLflow's REST API, the artifact proxy, /health and /version."""
    from cairn.server.config import ServerConfig
    from cairn.server.headers import split_list
    from cairn.server.runner import serve

    config = ServerConfig(
        backend_store_uri=backend_store_uri,
        artifacts_destination=artifacts_destination,
        serve_artifacts=serve_artifacts,
        default_artifact_root=default_artifact_root,
        host=host,
        port=port,
        workers=workers,
        read_helper=read_helper,
        auth=auth,
        ssl_certfile=str(Path(ssl_certfile).resolve()) if ssl_certfile else None,
        ssl_keyfile=str(Path(ssl_keyfile).resolve()) if ssl_keyfile else None,
        allowed_hosts=split_list(allowed_hosts),
        cors_allowed_origins=split_list(cors_allowed_origins),
        trusted_proxies=split_list(trusted_proxies),
        auth_proxy_header=auth_proxy_header or None,
    ).resolved()  # refuse a bad configuration before announcing a URL
    if bool(ssl_certfile) != bool(ssl_keyfile):
        from cairn.exceptions import InvalidParameterValue

        raise InvalidParameterValue("--ssl-certfile and --ssl-keyfile go together")
    if auth and not ssl_certfile and host not in ("127.0.0.1", "localhost", "::1"):
        print_note(
            "Authentication is on without TLS: passwords and tokens cross the network in the "
            "clear unless a TLS proxy sits in front (see --ssl-certfile)."
        )
    if auth_proxy_header and not auth:
        print_note("--auth-proxy-header has no effect without --auth.")
    stdout().print(f"Cairn tracking server at {config.url}", soft_wrap=True)
    serve(config)
