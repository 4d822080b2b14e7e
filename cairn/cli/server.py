"""`cairn server` (and its alias `cairn ui`): run the tracking server."""

from __future__ import annotations

from typing import Annotated

import typer

from cairn.cli.output import stdout

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
) -> None:
    """Run the tracking server: MLflow's REST API, the artifact proxy, /health and /version."""
    from cairn.server.config import ServerConfig
    from cairn.server.runner import serve

    config = ServerConfig(
        backend_store_uri=backend_store_uri,
        artifacts_destination=artifacts_destination,
        serve_artifacts=serve_artifacts,
        default_artifact_root=default_artifact_root,
        host=host,
        port=port,
        workers=workers,
    ).resolved()  # refuse a bad configuration before announcing a URL
    stdout().print(f"Cairn tracking server at {config.url}", soft_wrap=True)
    serve(config)
