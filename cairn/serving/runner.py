"""Loading a model and serving it on uvicorn (`cairn models serve`).

The model is loaded, and its integrity and trust checked, before the port opens: a model
that cannot be served fails the command with its message and a non-zero exit, and the first
request that reaches the server is answered by a ready model (no 503 window to poll
through). With one worker the app runs in this process. With several, each uvicorn worker
process loads the model again from the local copy this process made (so a `models:/` URI is
resolved and downloaded once) and the workers share a Prometheus multiprocess directory.

Connections get TCP_NODELAY and each response leaves in one send, exactly as the tracking
server's (`cairn.server.runner`): for a 1-row prediction on loopback a second segment or a
delayed ACK would cost more than the prediction.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import tempfile
from dataclasses import asdict, dataclass, replace
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from cairn.server.runner import GRACEFUL_SHUTDOWN_SECONDS, CoalescingTransport, set_nodelay

CONFIG_ENV = "CAIRN_SERVING_CONFIG"


@dataclass(frozen=True, slots=True)
class ServeOptions:
    """Everything a serving process needs; workers rebuild it from `CAIRN_SERVING_CONFIG`."""

    model_uri: str
    host: str = "127.0.0.1"
    port: int = 5000
    workers: int = 1
    trust: bool = False
    max_body_bytes: int = 10 * 1024 * 1024
    timeout: float | None = 60.0
    threads: int = 1
    capture_file: str | None = None
    capture_sample_rate: float = 1.0
    log_requests: bool = True
    fast_path: bool = True
    local_model_dir: str | None = None  # set for workers: the copy the parent loaded
    registered: dict[str, str] | None = None

    def to_env(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_env(cls) -> ServeOptions:
        return cls(**json.loads(os.environ[CONFIG_ENV]))


class ScoringProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with TCP_NODELAY and one send per response."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        set_nodelay(transport)
        super().connection_made(CoalescingTransport(transport, self.loop))  # type: ignore[arg-type]


def load(options: ServeOptions) -> Any:
    """The model `options` names (the parent's local copy in a worker)."""
    import cairn.pyfunc

    uri = options.local_model_dir or options.model_uri
    # Loading imports whole libraries and builds the model's objects, all kept for the
    # process's life: the cyclic collector would walk them again and again, during the load
    # and after it. Freeze them instead (what little garbage the load left is kept).
    gc.disable()
    try:
        return cairn.pyfunc.load_model(uri, trust=options.trust)
    finally:
        gc.freeze()
        gc.enable()


def registered_version(model_uri: str) -> dict[str, str] | None:
    """`{"name", "version"}` of the registered version a `models:/` URI names: the version
    itself, or the one an alias, stage or `latest` points to as the server starts (looked
    up in the registry after loading, so it reflects the registry at that moment). None for
    other URIs, MLflow 3 logged models (`models:/m-…`) and registries that cannot say."""
    if not model_uri.lower().startswith("models:"):
        return None
    from cairn.exceptions import CairnException
    from cairn.registry import parse_model_uri, resolve_model_version

    try:
        ref = parse_model_uri(model_uri)
    except CairnException:
        return None  # models:/m-<id>: a logged model, no registry version
    if ref.version is not None:
        return {"name": ref.name, "version": ref.version}
    try:
        from cairn.tracking.client import CairnClient

        found = resolve_model_version(CairnClient().registry_store, ref)
    except CairnException:
        return None
    return {"name": found.name, "version": str(found.version)}


def build_app(options: ServeOptions, model: Any) -> Any:
    """The ASGI app serving `model` with the options' limits, capture and logs."""
    from cairn.serving.app import ScoringApp
    from cairn.serving.capture import Capture
    from cairn.serving.logs import RequestLog

    capture = None
    if options.capture_file and options.capture_sample_rate > 0:
        capture = Capture(options.capture_file, options.capture_sample_rate)
    return ScoringApp(
        model,
        model_uri=options.model_uri,
        registered=options.registered,
        max_body_bytes=options.max_body_bytes,
        timeout=options.timeout,
        threads=options.threads,
        capture=capture,
        request_log=RequestLog(requests=options.log_requests),
        fast_path=options.fast_path,
    )


def app_from_env() -> Any:
    """uvicorn's factory in each worker process."""
    options = ServeOptions.from_env()
    return build_app(options, load(options))


def serve(options: ServeOptions) -> None:
    """Load the model, then serve until SIGTERM/SIGINT (in-flight requests finish first)."""
    import uvicorn

    from cairn.serving.logs import RequestLog

    model = load(options)
    options = replace(options, registered=registered_version(options.model_uri))
    common: dict[str, Any] = {
        "host": options.host,
        "port": options.port,
        "http": ScoringProtocol,
        "loop": "uvloop",
        "access_log": False,
        "log_level": "warning",
        "timeout_graceful_shutdown": GRACEFUL_SHUTDOWN_SECONDS,
        "server_header": False,
        "date_header": False,
    }
    log = RequestLog(requests=options.log_requests)
    log.event("serving", model_uri=options.model_uri, host=options.host, port=options.port)
    if options.workers <= 1:
        uvicorn.run(build_app(options, model), **common)
        return
    worker_options = _for_workers(options, model)
    with tempfile.TemporaryDirectory(prefix="cairn-serving-metrics-") as metrics_dir:
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
        os.environ[CONFIG_ENV] = worker_options.to_env()
        uvicorn.run(
            "cairn.serving.runner:app_from_env",
            factory=True,
            workers=options.workers,
            **common,
        )


def _for_workers(options: ServeOptions, model: Any) -> ServeOptions:
    """The options each worker loads with: the local copy this process loaded.

    A remote model was downloaded into a new private directory and loaded here under the
    caller's trust rules (`--trust`, or a trusted source, which a worker could not check
    against a local path): the workers load that same, checksum-verified copy with trust.
    A local model is loaded from the same path, so the same rules decide again."""
    from cairn.tracking.model_download import local_model_path

    model_dir = getattr(model, "model_dir", None)
    if model_dir is None:
        return options
    remote = local_model_path(options.model_uri) is None
    return replace(options, local_model_dir=str(model_dir), trust=options.trust or remote)
