"""The security corpus (security-corpus.md) against a real `cairn server`, table-driven.

Each bad input must be answered with a 4xx and MLflow's error code (never a 5xx, which MLflow
clients retry), with no stack trace and no server-side path in the body, and must leave
everything as it was: the same experiments, runs, models and versions, and not one file
more or less under the server's directory — which holds, beside the artifact store, a canary
directory every escape below aims at.

Variants already covered elsewhere are not repeated here: the artifact proxy's URL path and
listing query (test_proxy.py), a first set of model-version sources (test_registry_api.py),
malformed JSON, wrong types, limits and hostile searches (test_hardening.py).
"""

from __future__ import annotations

import socket
import stat
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.server_process import ServerProcess, start_server

API = "/api/2.0/mlflow"
PROXY = "/api/2.0/mlflow-artifacts/artifacts"
SECRET = "canary-secret-7f3a"

# Client-chosen paths (corpus §1), each aimed at the canary directory beside the store.
ESCAPES = [
    "../{t}",
    "a/../../{t}",
    "..\\{t}",
    "/./../{t}",
    "/etc/passwd",
    "C:\\{t}",
    "//host/{t}",
    "%2e%2e%2f{t}",
    "..%2f{t}",
    "%252e%252e%252f{t}",
    "{t}%00",
    "#/../{t}",
    "%23/../{t}",
]
TARGET = "canary/pwned"
ABSOLUTE = {"/etc/passwd", "C:\\{t}", "//host/{t}"}
"""Escapes only where the variant starts the value: after a prefix naming a directory in the
store (`<destination>/C:\\x`) they are odd but harmless names inside it."""


@dataclass
class World:
    server: ServerProcess
    http: httpx.Client
    experiment_id: str
    run_id: str
    run_root: str  # the run's artifact directory, relative to the destination
    model: str
    logged_model_id: str

    @property
    def workdir(self) -> Path:
        return self.server.artifacts_destination.parent

    @property
    def canary(self) -> Path:
        return self.workdir / "canary"


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, (response.request.url, response.text[:500])
    return response.json()  # type: ignore[no-any-return]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    server = start_server(tmp_path_factory.mktemp("corpus"))
    http = httpx.Client(base_url=server.url, timeout=60)
    try:
        canary = server.artifacts_destination.parent / "canary"
        canary.mkdir()
        (canary / "MLmodel").write_text(SECRET)
        (canary / "secret.txt").write_text(SECRET)
        experiment_id = ok(http.post(f"{API}/experiments/create", json={"name": "corpus"}))[
            "experiment_id"
        ]
        run = ok(http.post(f"{API}/runs/create", json={"experiment_id": experiment_id}))["run"]
        run_root = run["info"]["artifact_uri"].split(":", 1)[1].lstrip("/")
        ok(http.put(f"{PROXY}/{run_root}/model/MLmodel", content=b"flavors: {}\n"))
        ok(http.post(f"{API}/registered-models/create", json={"name": "corpus-model"}))
        source = f"runs:/{run['info']['run_id']}/model"
        ok(
            http.post(
                f"{API}/model-versions/create", json={"name": "corpus-model", "source": source}
            )
        )
        logged = ok(
            http.post(f"{API}/logged-models", json={"experiment_id": experiment_id, "name": "lm"})
        )
        yield World(
            server,
            http,
            experiment_id,
            run["info"]["run_id"],
            run_root,
            "corpus-model",
            logged["model"]["info"]["model_id"],
        )
    finally:
        http.close()
        server.stop()


def state(world: World) -> dict[str, Any]:
    """Everything a refused request must leave as it was."""
    http = world.http
    experiments = ok(
        http.post(f"{API}/experiments/search", json={"max_results": 1000, "view_type": "ALL"})
    )["experiments"]
    runs = ok(
        http.post(
            f"{API}/runs/search",
            json={"experiment_ids": [world.experiment_id], "run_view_type": "ALL"},
        )
    ).get("runs", [])
    models = ok(http.get(f"{API}/registered-models/search", params={"max_results": 1000}))
    versions = ok(http.get(f"{API}/model-versions/search", params={"max_results": 1000}))
    files = sorted(
        str(p.relative_to(world.workdir))
        for p in world.workdir.rglob("*")
        if not p.name.startswith("server")  # the database, its journal and the log
    )
    return {
        "experiments": sorted((e["experiment_id"], e["name"]) for e in experiments),
        "runs": [(r["info"]["run_id"], r["data"]) for r in runs],
        "models": [m["name"] for m in models.get("registered_models", [])],
        "versions": [(v["name"], v["version"]) for v in versions.get("model_versions", [])],
        "files": files,
        "canary": sorted((p.name, p.read_text()) for p in world.canary.iterdir()),
    }


def refused(world: World, response: httpx.Response, status: int, code: str, sent: str) -> None:
    assert response.status_code == status, (sent, response.status_code, response.text[:500])
    assert response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["error_code"] == code, (sent, body)
    text = response.text
    for leak in ("Traceback", 'File "', "site-packages", SECRET):
        assert leak not in text, (sent, text)
    if str(world.workdir) not in sent:  # the message may quote the client's own input
        assert str(world.workdir) not in text, (sent, text)


# -- §1 client-chosen paths and URIs ------------------------------------------------------------

Request = Callable[[World, str], httpx.Response]


def _run_listing(w: World, value: str) -> httpx.Response:
    return w.http.get(f"{API}/artifacts/list", params={"run_id": w.run_id, "path": value})


def _logged_model_listing(w: World, value: str) -> httpx.Response:
    return w.http.get(
        f"{API}/logged-models/{w.logged_model_id}/artifacts/directories",
        params={"artifact_directory_path": value},
    )


def _experiment_location(w: World, value: str) -> httpx.Response:
    body = {"name": f"loc-{uuid.uuid4().hex[:8]}", "artifact_location": value}
    return w.http.post(f"{API}/experiments/create", json=body)


def _version_source(w: World, value: str) -> httpx.Response:
    return w.http.post(f"{API}/model-versions/create", json={"name": w.model, "source": value})


# (what, request, how a variant is spelled in that field); a prefix that names a place inside
# the store is followed by the relative variants only (see ABSOLUTE).
PATH_FIELDS: dict[str, tuple[Request, Callable[[World, str], str]]] = {
    "run artifact listing": (_run_listing, lambda w, v: v),
    "logged model listing": (_logged_model_listing, lambda w, v: v),
    "experiment location": (_experiment_location, lambda w, v: v),
    "experiment location, proxy URI": (
        _experiment_location,
        lambda w, v: f"mlflow-artifacts:/{w.experiment_id}/{v}",
    ),
    "experiment location, file URI": (
        _experiment_location,
        lambda w, v: f"file://{w.server.artifacts_destination}/{v}",
    ),
    "experiment location, local path": (
        _experiment_location,
        lambda w, v: f"{w.server.artifacts_destination}/{v}",
    ),
    "version source": (_version_source, lambda w, v: v),
    "version source, runs URI": (_version_source, lambda w, v: f"runs:/{w.run_id}/{v}"),
    "version source, proxy URI": (_version_source, lambda w, v: f"mlflow-artifacts:/{v}"),
    "version source, models URI": (_version_source, lambda w, v: f"models:/{w.model}/{v}"),
    "version source, local path": (
        _version_source,
        lambda w, v: f"{w.server.artifacts_destination}/{v}",
    ),
}


PREFIXED_INSIDE = {
    "experiment location, proxy URI",
    "experiment location, file URI",
    "experiment location, local path",
    "version source, proxy URI",
    "version source, local path",
}


@pytest.mark.parametrize(
    ("field", "escape"),
    [
        (field, escape)
        for field in sorted(PATH_FIELDS)
        for escape in ESCAPES
        if not (field in PREFIXED_INSIDE and escape in ABSOLUTE)
    ],
)
def test_client_chosen_paths_cannot_leave_the_store(world: World, field: str, escape: str) -> None:
    request, spell = PATH_FIELDS[field]
    value = spell(world, escape.format(t=TARGET))
    before = state(world)
    refused(world, request(world, value), 400, "INVALID_PARAMETER_VALUE", value)
    assert state(world) == before


SCHEME_CONFUSION = [
    "file:///etc/",
    "file:/etc",
    "file://localhost/etc",
    "file://evil.example/x",
    "file:{canary}",
    "{canary}",
    "http://169.254.169.254/latest/meta-data",
    "http://127.0.0.1:1/api/2.0/mlflow-artifacts/artifacts/x",
    "https://evil.example/api/2.0/mlflow-artifacts/artifacts/x",
    "mlflow-artifacts://evil.example/x",
    "s3x://bucket/x",
]


@pytest.mark.parametrize("value", SCHEME_CONFUSION)
@pytest.mark.parametrize("field", ["experiment location", "version source"])
def test_scheme_confusion_is_refused(world: World, field: str, value: str) -> None:
    """Local files outside the store, other hosts (SSRF, or a location that would send
    clients' uploads to another host) and unknown schemes."""
    request, _ = PATH_FIELDS[field]
    value = value.format(canary=world.canary)
    before = state(world)
    refused(world, request(world, value), 400, "INVALID_PARAMETER_VALUE", value)
    assert state(world) == before


def test_a_version_source_behind_a_symlink_stays_inside(world: World) -> None:
    area = world.server.artifacts_destination / f"links-{uuid.uuid4().hex[:8]}"
    area.mkdir()
    (area / "dir-link").symlink_to(world.canary, target_is_directory=True)
    (area / "model").mkdir()
    (area / "model" / "MLmodel").write_text("flavors: {}\n")
    (area / "model" / "stolen.txt").symlink_to(world.canary / "secret.txt")
    (area / "only-link").mkdir()
    (area / "only-link" / "MLmodel").symlink_to(world.canary / "MLmodel")
    before = state(world)
    for source in (f"{area}/dir-link", f"mlflow-artifacts:/{area.name}/dir-link"):
        refused(world, _version_source(world, source), 400, "INVALID_PARAMETER_VALUE", source)
    # A link leading out is never followed: a directory holding only one holds no files.
    source = f"mlflow-artifacts:/{area.name}/only-link"
    refused(world, _version_source(world, source), 400, "INVALID_PARAMETER_VALUE", source)
    assert state(world) == before
    # Real files are copied; the link beside them is not.
    version = ok(_version_source(world, f"mlflow-artifacts:/{area.name}/model"))
    uri = version["model_version"]["source"]
    assert uri.endswith("/model")
    number = version["model_version"]["version"]
    download = ok(
        world.http.get(
            f"{API}/model-versions/get-download-uri",
            params={"name": world.model, "version": number},
        )
    )["artifact_uri"]
    copy = world.server.artifacts_destination / download.split(":/", 1)[1]
    assert sorted(p.name for p in copy.iterdir()) == ["MLmodel"]
    ok(
        world.http.request(
            "DELETE",
            f"{API}/model-versions/delete",
            json={"name": world.model, "version": number},
        )
    )


@pytest.mark.parametrize(
    ("params", "status", "code"),
    [
        ({"version": "../1"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"version": "1/../../x"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"version": "%2e%2e"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"version": "1%00"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"version": "1\x00"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"version": "-1"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"version": "99999999999999999999"}, 400, "INVALID_PARAMETER_VALUE"),
        ({"name": "../corpus-model"}, 404, "RESOURCE_DOES_NOT_EXIST"),
        ({"name": "corpus-model/../x"}, 404, "RESOURCE_DOES_NOT_EXIST"),
        ({"name": "/etc/passwd"}, 404, "RESOURCE_DOES_NOT_EXIST"),
    ],
)
def test_download_uris_name_only_registry_storage(
    world: World, params: dict[str, str], status: int, code: str
) -> None:
    """get-download-uri takes a name and a version, never a path: the URI it answers is
    the registry's own copy."""
    query = {"name": world.model, "version": "1", **params}
    refused(
        world,
        world.http.get(f"{API}/model-versions/get-download-uri", params=query),
        status,
        code,
        str(query),
    )
    good = ok(
        world.http.get(
            f"{API}/model-versions/get-download-uri", params={"name": world.model, "version": "1"}
        )
    )
    assert good["artifact_uri"].startswith("mlflow-artifacts:/models/")


class Listener:
    """A TCP port that records whether anything connected (the server must not fetch)."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except TimeoutError:
                continue
            except OSError:
                return
            self.connections += 1
            conn.close()

    def close(self) -> None:
        self._stop.set()
        self._thread.join(5)
        self.sock.close()


def test_dataset_sources_are_metadata_never_fetched(world: World) -> None:
    """MLflow stores a dataset's source as a description of where the data came from; the
    server never reads or fetches it, so any text is kept verbatim and nothing is touched."""
    listener = Listener()
    try:
        sources = [
            f"http://127.0.0.1:{listener.port}/data.csv",
            f'{{"url": "http://127.0.0.1:{listener.port}/x"}}',
            f"file://{world.canary}/secret.txt",
            f"{world.canary}/secret.txt",
            "../../../etc/passwd",
            "%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        ]
        run = ok(
            world.http.post(f"{API}/runs/create", json={"experiment_id": world.experiment_id})
        )["run"]["info"]["run_id"]
        files_before = state(world)["files"]
        datasets = [
            {"dataset": {"name": f"d{i}", "digest": f"x{i}", "source_type": "http", "source": s}}
            for i, s in enumerate(sources)
        ]
        ok(world.http.post(f"{API}/runs/log-inputs", json={"run_id": run, "datasets": datasets}))
        stored = ok(world.http.get(f"{API}/runs/get", params={"run_id": run}))["run"]
        kept = [d["dataset"]["source"] for d in stored["inputs"]["dataset_inputs"]]
        assert sorted(kept) == sorted(sources)
        assert SECRET not in str(stored)
        time.sleep(0.5)
        assert listener.connections == 0
        assert state(world)["files"] == files_before
    finally:
        listener.close()


# -- §4 names ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "body", "code"),
    [
        ("/experiments/create", {"name": "Default "}, "INVALID_PARAMETER_VALUE"),
        ("/experiments/create", {"name": " corpus"}, "INVALID_PARAMETER_VALUE"),
        ("/experiments/create", {"name": "cor\u200bpus"}, "INVALID_PARAMETER_VALUE"),
        ("/experiments/create", {"name": "x" * 501}, "INVALID_PARAMETER_VALUE"),
        ("/experiments/create", {"name": "default"}, "RESOURCE_ALREADY_EXISTS"),
        ("/experiments/create", {"name": "\uff24efault"}, "RESOURCE_ALREADY_EXISTS"),
        ("/experiments/create", {"name": "CORPUS"}, "RESOURCE_ALREADY_EXISTS"),
        ("/experiments/create", {"name": "c\u043erpus"}, "RESOURCE_ALREADY_EXISTS"),
        ("/experiments/update", {"new_name": "DEFAULT"}, "RESOURCE_ALREADY_EXISTS"),
        ("/experiments/update", {"new_name": "corpus\t"}, "INVALID_PARAMETER_VALUE"),
        ("/registered-models/create", {"name": "corpus-model "}, "INVALID_PARAMETER_VALUE"),
        ("/registered-models/create", {"name": "a%2Fb"}, "INVALID_PARAMETER_VALUE"),
        ("/registered-models/create", {"name": "a%00b"}, "INVALID_PARAMETER_VALUE"),
        ("/registered-models/create", {"name": "m" * 257}, "INVALID_PARAMETER_VALUE"),
        ("/registered-models/create", {"name": "CORPUS-model"}, "RESOURCE_ALREADY_EXISTS"),
        ("/registered-models/alias", {"alias": "latest"}, "INVALID_PARAMETER_VALUE"),
        ("/registered-models/alias", {"alias": "v1"}, "INVALID_PARAMETER_VALUE"),
        ("/registered-models/alias", {"alias": "V7"}, "INVALID_PARAMETER_VALUE"),
        ("/registered-models/alias", {"alias": "a/b"}, "INVALID_PARAMETER_VALUE"),
    ],
)
def test_names(world: World, path: str, body: dict[str, str], code: str) -> None:
    if path == "/experiments/update":
        body = {"experiment_id": world.experiment_id, **body}
    if path == "/registered-models/alias":
        body = {"name": world.model, "version": "1", **body}
    before = state(world)
    status = 400
    refused(world, world.http.post(API + path, json=body), status, code, str(body))
    assert state(world) == before


# -- §8 size and shape ------------------------------------------------------------------------


def _metric(value: Any = 1.0, timestamp: Any = 1, step: Any = 0) -> dict[str, Any]:
    return {"key": "m", "value": value, "timestamp": timestamp, "step": step}


SHAPES: dict[str, tuple[str, dict[str, Any]]] = {
    "1001 metrics": ("/runs/log-batch", {"metrics": [_metric(step=i) for i in range(1001)]}),
    "101 params": (
        "/runs/log-batch",
        {"params": [{"key": f"p{i}", "value": "v"} for i in range(101)]},
    ),
    "101 tags": ("/runs/log-batch", {"tags": [{"key": f"t{i}", "value": "v"} for i in range(101)]}),
    "1001 entries in all": (
        "/runs/log-batch",
        {
            "metrics": [_metric(step=i) for i in range(901)],
            "params": [{"key": f"q{i}", "value": "v"} for i in range(100)],
        },
    ),
    "a good batch with one NaN timestamp": (
        "/runs/log-batch",
        {"metrics": [_metric(), _metric(timestamp="NaN")], "params": [{"key": "a", "value": "b"}]},
    ),
    "infinite step": ("/runs/log-batch", {"metrics": [_metric(step="Infinity")]}),
    "boolean step": ("/runs/log-batch", {"metrics": [_metric(step=True)]}),
    "boolean timestamp": ("/runs/log-metric", _metric(timestamp=False)),
    "string metric value": ("/runs/log-metric", _metric(value="1.0e")),
    "over-long param key": ("/runs/log-parameter", {"key": "k" * 251, "value": "v"}),
    "over-long run name": ("/runs/update", {"run_name": "r" * 251}),
    "boolean param value": ("/runs/log-parameter", {"key": "flag", "value": True}),
}


@pytest.mark.parametrize("case", sorted(SHAPES))
def test_size_and_shape_write_nothing(world: World, case: str) -> None:
    path, body = SHAPES[case]
    before = state(world)
    response = world.http.post(API + path, json={"run_id": world.run_id, **body})
    refused(world, response, 400, "INVALID_PARAMETER_VALUE", case)
    assert state(world) == before


def test_a_trickled_body_blocks_nobody(world: World) -> None:
    """A client that sends its body a byte at a time holds one connection, not the server."""
    host, port = world.server.url.removeprefix("http://").rsplit(":", 1)
    body = b'{"experiment_ids": ["0"]}'
    with socket.create_connection((host, int(port)), timeout=30) as slow:
        slow.sendall(
            b"POST /api/2.0/mlflow/runs/search HTTP/1.1\r\nHost: x\r\n"
            b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
        )
        for byte in body[:-1]:
            slow.sendall(bytes([byte]))
            started = time.monotonic()
            assert world.http.get("/health").status_code == 200
            assert time.monotonic() - started < 2
        slow.sendall(body[-1:])
        assert slow.recv(100).startswith(b"HTTP/1.1 200")


def _closed_within(sock: socket.socket, seconds: float) -> float | None:
    """Seconds until the server closed `sock` (None if still open after `seconds`)."""
    sock.settimeout(seconds)
    started = time.monotonic()
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return None
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def test_stalled_requests_are_closed_and_slow_ones_finish(server_factory: Any) -> None:
    """CAIRN_SERVER_REQUEST_IDLE_SECONDS: a client that stops sending mid-request (or never
    sends one) loses its connection; one that keeps sending, however slowly, is answered."""
    server = server_factory(env={"CAIRN_SERVER_REQUEST_IDLE_SECONDS": "1"})
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    body = b'{"experiment_ids": ["0"]}'
    head = (
        b"POST /api/2.0/mlflow/runs/search HTTP/1.1\r\nHost: x\r\n"
        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(body)
    )
    stalls = {
        "nothing sent": b"",
        "half the headers": head[:40],
        "headers, no body": head,
        "part of the body": head + body[:5],
    }
    for what, sent in stalls.items():
        with socket.create_connection((host, int(port))) as sock:
            sock.sendall(sent)
            took = _closed_within(sock, 10)
            assert took is not None and took < 5, what
    with socket.create_connection((host, int(port)), timeout=30) as slow:
        slow.sendall(head)
        for byte in body:  # 2.5 s in all, longer than the idle limit, but never idle
            time.sleep(0.1)
            slow.sendall(bytes([byte]))
        assert slow.recv(100).startswith(b"HTTP/1.1 200")
    # A long proxy upload that keeps sending is not cut off either.
    with httpx.Client(base_url=server.url, timeout=30) as client:

        def trickle() -> Iterator[bytes]:
            for _ in range(25):
                time.sleep(0.1)
                yield b"x" * 1000

        assert client.put(f"{PROXY}/slow/file.bin", content=trickle()).status_code == 200
        assert len(client.get(f"{PROXY}/slow/file.bin").content) == 25_000


def test_a_bad_idle_setting_stops_the_start(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="CAIRN_SERVER_REQUEST_IDLE_SECONDS"):
        start_server(tmp_path, env={"CAIRN_SERVER_REQUEST_IDLE_SECONDS": "soon"})


# -- §9 local files ---------------------------------------------------------------------------


def test_nothing_the_server_wrote_is_world_writable(world: World) -> None:
    for path in world.workdir.rglob("*"):
        if path.is_symlink():
            continue
        mode = stat.S_IMODE(path.lstat().st_mode)
        assert not mode & stat.S_IWOTH, (path, oct(mode))
