"""`cairn models serve`: serve one model over MLflow's scoring protocol. Registered on the
`models` app by `cairn.cli.models`; the work is in `cairn.serving`."""

from __future__ import annotations

from typing import Annotated

import typer

from cairn import settings
from cairn.cli.options import ModelUri
from cairn.exceptions import InvalidParameterValue


def serve(
    model_uri: ModelUri,
    host: Annotated[
        str, typer.Option("--host", "-h", help="Interface to listen on (0.0.0.0 for all).")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", "-p", help="Port to listen on.")] = 5000,
    workers: Annotated[
        int | None,
        typer.Option(
            "--workers",
            "-w",
            min=1,
            show_default=False,
            help="Worker processes, each with its own copy of the model "
            f"(default: ${settings.SCORING_WORKERS.env}, else 1).",
        ),
    ] = None,
    threads: Annotated[
        int,
        typer.Option(
            "--threads",
            min=1,
            help="Predictions one worker runs at once (more only helps models that release "
            "the GIL, and needs a thread-safe model).",
        ),
    ] = 1,
    trust: Annotated[
        bool,
        typer.Option(
            "--trust",
            help="Load a pickle-based model (MLflow's scikit-learn and pyfunc models): "
            "unpickling runs code from the model's files.",
        ),
    ] = False,
    max_body_size: Annotated[
        int | None,
        typer.Option(
            "--max-body-size",
            min=1,
            metavar="BYTES",
            show_default=False,
            help="Largest /invocations body, answered 413 beyond it "
            f"(default: ${settings.SCORING_MAX_BODY_BYTES.env}, else 10 MiB).",
        ),
    ] = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            "-t",
            min=0,
            metavar="SECONDS",
            show_default=False,
            help="Answer 504 when a prediction takes longer; 0 for no limit "
            f"(default: ${settings.SCORING_REQUEST_TIMEOUT.env}, else 60).",
        ),
    ] = None,
    capture_file: Annotated[
        str | None,
        typer.Option(
            "--capture-file",
            metavar="PATH",
            help="Append sampled requests and their predictions to this JSON Lines file.",
        ),
    ] = None,
    capture_sample_rate: Annotated[
        float,
        typer.Option(
            "--capture-sample-rate",
            min=0.0,
            max=1.0,
            metavar="RATE",
            help="Fraction of successful requests written to --capture-file.",
        ),
    ] = 1.0,
    log_requests: Annotated[
        bool,
        typer.Option(
            "--log-requests/--no-log-requests",
            help="Write one JSON line per request to stderr (errors are always written).",
        ),
    ] = True,
    fast_path: Annotated[
        bool,
        typer.Option(
            "--fast-path/--no-fast-path",
            help="Score scikit-learn forests fed plain numbers without pandas and joblib (the "
            "same answers, bit for bit; see docs/serving.md).",
        ),
    ] = True,
    env_manager: Annotated[
        str,
        typer.Option(
            "--env-manager",
            metavar="local",
            help="Accepted for scripts written for `mlflow models serve`; only `local` (serve "
            "in this environment) is supported.",
        ),
    ] = "local",
) -> None:
    """Serve a model: POST /invocations (JSON, CSV, Parquet), /ping, /health, /version,
    /metadata and Prometheus /metrics."""
    from cairn.serving.runner import ServeOptions, serve

    if env_manager != "local":
        raise InvalidParameterValue(
            f"--env-manager {env_manager} is not supported: Cairn serves the model in its own "
            "environment (--env-manager local). Install the model's requirements.txt there, "
            "or build an image with its environment."
        )
    if workers is None:
        workers = settings.SCORING_WORKERS.get_int(minimum=1)
    if max_body_size is None:
        max_body_size = settings.SCORING_MAX_BODY_BYTES.get_int(minimum=1)
    if timeout is None:
        timeout = settings.SCORING_REQUEST_TIMEOUT.get_float()
    options = ServeOptions(
        model_uri=model_uri,
        host=host,
        port=port,
        workers=workers,
        trust=trust,
        max_body_bytes=max_body_size,
        timeout=timeout or None,
        threads=threads,
        capture_file=capture_file,
        capture_sample_rate=capture_sample_rate,
        log_requests=log_requests,
        fast_path=fast_path,
    )
    serve(options)
