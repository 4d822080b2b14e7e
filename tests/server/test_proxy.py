"""The artifact proxy (`/api/2.0/mlflow-artifacts/artifacts`) against a real `cairn server`.

Requests whose exact bytes matter (traversal tricks, interrupted and chunked bodies) go over a
raw socket, because an HTTP library would normalise or complete them.
"""

from __future__ import annotations

import concurrent.futures
import contextlib
import hashlib
import os
import shutil
import socket
import struct
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from cairn.server.transfer import content_disposition, guess_content_type

PROXY = "/api/2.0/mlflow-artifacts/artifacts"
IN_CI = os.environ.get("CI", "").lower() == "true"
BIG_BYTES = int(os.environ.get("CAIRN_TEST_BIG_ARTIFACT_BYTES", str(2 * 1024**3)))
RSS_LIMIT_BYTES = 300 * 1024**2


@pytest.fixture
def server(live_server: Any) -> Any:
    return live_server


@pytest.fixture
def client(server: Any) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=60) as client:
        yield client


@pytest.fixture
def area() -> str:
    """A fresh directory name under the shared server's destination, for one test."""
    return f"t-{uuid.uuid4().hex[:12]}"


def raw_request(
    server: Any, method: str, target: str, body: bytes = b"", headers: str | None = None
) -> tuple[int, bytes]:
    """Send exactly `target` as the request target; return (status, body)."""
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    head = headers if headers is not None else f"Content-Length: {len(body)}\r\n"
    request = f"{method} {target} HTTP/1.1\r\nHost: {host}\r\n{head}Connection: close\r\n\r\n"
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(request.encode("latin-1") + body)
        data = b""
        while chunk := s.recv(65536):
            data += chunk
    status_line, _, rest = data.partition(b"\r\n")
    return int(status_line.split()[1]), rest.partition(b"\r\n\r\n")[2]


def error_code(response: httpx.Response) -> str:
    return str(response.json()["error_code"])


# -- round trips ------------------------------------------------------------------------------
def test_binary_round_trip(client: httpx.Client, area: str) -> None:
    payload = os.urandom(3 * 1024 * 1024 + 17)
    put = client.put(f"{PROXY}/{area}/model/weights.bin", content=payload)
    assert (put.status_code, put.json()) == (200, {})
    got = client.get(f"{PROXY}/{area}/model/weights.bin")
    assert got.status_code == 200
    assert got.content == payload
    assert got.headers["content-length"] == str(len(payload))


def test_empty_file_sent_chunked(server: Any, client: httpx.Client, area: str) -> None:
    status, body = raw_request(
        server,
        "PUT",
        f"{PROXY}/{area}/empty.txt",
        b"0\r\n\r\n",
        headers="Transfer-Encoding: chunked\r\n",
    )
    assert (status, body) == (200, b"{}")
    got = client.get(f"{PROXY}/{area}/empty.txt")
    assert (got.status_code, got.content, got.headers["content-length"]) == (200, b"", "0")
    # An HTTP library streaming an empty generator sends the same thing.
    assert client.put(f"{PROXY}/{area}/empty2.txt", content=iter([])).status_code == 200
    assert client.get(f"{PROXY}/{area}/empty2.txt").content == b""


def test_chunked_body_in_many_pieces(server: Any, client: httpx.Client, area: str) -> None:
    pieces = [os.urandom(n) for n in (1, 4096, 70000, 3, 1024 * 1024 + 5)]
    body = b"".join(f"{len(p):x}\r\n".encode() + p + b"\r\n" for p in pieces) + b"0\r\n\r\n"
    status, _ = raw_request(
        server, "PUT", f"{PROXY}/{area}/c.bin", body, headers="Transfer-Encoding: chunked\r\n"
    )
    assert status == 200
    assert client.get(f"{PROXY}/{area}/c.bin").content == b"".join(pieces)


@pytest.mark.parametrize(
    ("url_name", "stored_name"),
    [
        ("my file.txt", "my file.txt"),
        ("dir with space/ünïcødé 日本.csv", "dir with space/ünïcødé 日本.csv"),
        ("100%25.txt", "100%.txt"),  # the URL is decoded once, and the name kept as sent
        ("a+b=c;d,e'f(g).txt", "a+b=c;d,e'f(g).txt"),
        ("%C3%A9t%C3%A9.json", "été.json"),
    ],
)
def test_odd_names_round_trip(
    server: Any, client: httpx.Client, area: str, url_name: str, stored_name: str
) -> None:
    payload = f"contents of {stored_name}".encode()
    assert client.put(f"{PROXY}/{area}/{url_name}", content=payload).status_code == 200
    assert (server.artifacts_destination / area / stored_name).read_bytes() == payload
    assert client.get(f"{PROXY}/{area}/{url_name}").content == payload
    parent, _, base = f"{area}/{stored_name}".rpartition("/")
    listed = client.get(PROXY, params={"path": parent}).json()
    assert listed == {"files": [{"path": base, "is_dir": False, "file_size": len(payload)}]}


def test_overwrite_replaces_the_file(client: httpx.Client, area: str) -> None:
    url = f"{PROXY}/{area}/notes.txt"
    assert client.put(url, content=b"a much longer first version").status_code == 200
    assert client.put(url, content=b"v2").status_code == 200
    got = client.get(url)
    assert (got.content, got.headers["content-length"]) == (b"v2", "2")


def test_concurrent_uploads_of_different_files(client: httpx.Client, area: str) -> None:
    payloads = {f"{area}/part-{i}.bin": os.urandom(512 * 1024 + i) for i in range(12)}

    def upload(item: tuple[str, bytes]) -> int:
        return client.put(f"{PROXY}/{item[0]}", content=item[1]).status_code

    with concurrent.futures.ThreadPoolExecutor(6) as pool:
        assert set(pool.map(upload, payloads.items())) == {200}
    for path, payload in payloads.items():
        assert client.get(f"{PROXY}/{path}").content == payload
    listed = client.get(PROXY, params={"path": area}).json()["files"]
    assert len(listed) == len(payloads)


def test_ajax_api_mirror(client: httpx.Client, area: str) -> None:
    ajax = PROXY.replace("/api/", "/ajax-api/", 1)
    assert client.put(f"{ajax}/{area}/x.txt", content=b"ui").status_code == 200
    assert client.get(f"{PROXY}/{area}/x.txt").content == b"ui"
    assert client.get(ajax, params={"path": area}).json()["files"][0]["path"] == "x.txt"
    assert client.delete(f"{ajax}/{area}/x.txt").json() == {}
    assert client.get(f"{ajax}/{area}/x.txt").status_code == 404


# -- download headers -------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("name", "content_type"),
    [
        ("metrics.json", "application/json"),
        ("log.txt", "text/plain"),
        ("plot.png", "image/png"),
        ("table.csv", "text/csv"),
        ("MLmodel", "application/octet-stream"),
        ("weights.weird-extension", "application/octet-stream"),
        ("archive.tar.gz", "application/octet-stream"),  # never a Content-Encoding
        ("data:text", "application/octet-stream"),  # not read as a data: URL
    ],
)
def test_download_headers(client: httpx.Client, area: str, name: str, content_type: str) -> None:
    payload = b"\x1f\x8b not really gzip"
    assert client.put(f"{PROXY}/{area}/{name}", content=payload).status_code == 200
    got = client.get(f"{PROXY}/{area}/{name}")
    assert got.status_code == 200
    assert got.headers["content-type"] == content_type
    assert got.headers["content-length"] == str(len(payload))
    assert got.headers["content-disposition"] == f'attachment; filename="{name}"'
    assert got.headers["x-content-type-options"] == "nosniff"
    assert "content-encoding" not in got.headers
    assert got.content == payload


def test_head_gives_headers_only(client: httpx.Client, area: str) -> None:
    client.put(f"{PROXY}/{area}/h.bin", content=b"12345")
    head = client.head(f"{PROXY}/{area}/h.bin")
    assert (head.status_code, head.headers["content-length"], head.content) == (200, "5", b"")


def test_content_disposition_quotes_odd_names(client: httpx.Client, area: str) -> None:
    client.put(f"{PROXY}/{area}/r%C3%A9sum%C3%A9%20%22final%22.pdf", content=b"%PDF")
    got = client.get(f"{PROXY}/{area}/r%C3%A9sum%C3%A9%20%22final%22.pdf")
    assert got.headers["content-disposition"] == (
        'attachment; filename="r_sum_ _final_.pdf"; '
        "filename*=UTF-8''r%C3%A9sum%C3%A9%20%22final%22.pdf"
    )
    assert got.headers["content-type"] == "application/pdf"


@pytest.mark.parametrize(
    ("name", "header"),
    [
        ("plain.txt", 'attachment; filename="plain.txt"'),
        (
            "a\r\nSet-Cookie: x",
            "attachment; filename=\"a__Set-Cookie: x\"; filename*=UTF-8''a%0D%0ASet-Cookie%3A%20x",
        ),
        ('q"\\', "attachment; filename=\"q__\"; filename*=UTF-8''q%22%5C"),
        ("100%.txt", "attachment; filename=\"100_.txt\"; filename*=UTF-8''100%25.txt"),
    ],
)
def test_content_disposition_never_breaks_the_header(name: str, header: str) -> None:
    assert content_disposition(name) == header


def test_guess_content_type_without_extension() -> None:
    assert guess_content_type("README") == "application/octet-stream"
    assert guess_content_type("page.html") == "text/html"  # attachment + nosniff: not rendered


# -- listing ----------------------------------------------------------------------------------
def test_listing_gives_direct_children_with_base_names(client: httpx.Client, area: str) -> None:
    for path, payload in {"a.txt": b"1", "sub/b.txt": b"22", "sub/deeper/c.txt": b"333"}.items():
        client.put(f"{PROXY}/{area}/{path}", content=payload)
    top = client.get(PROXY, params={"path": area}).json()
    assert top == {
        "files": [
            {"path": "a.txt", "is_dir": False, "file_size": 1},
            {"path": "sub", "is_dir": True},
        ]
    }
    sub = client.get(PROXY, params={"path": f"{area}/sub"}).json()
    assert sub == {
        "files": [
            {"path": "b.txt", "is_dir": False, "file_size": 2},
            {"path": "deeper", "is_dir": True},
        ]
    }
    root = client.get(PROXY).json()["files"]
    assert {"path": area, "is_dir": True} in root


def test_listing_a_missing_path_or_a_file_is_empty(client: httpx.Client, area: str) -> None:
    client.put(f"{PROXY}/{area}/f.txt", content=b"x")
    assert client.get(PROXY, params={"path": f"{area}/nothing-here"}).json() == {}
    assert client.get(PROXY, params={"path": f"{area}/f.txt"}).json() == {}
    assert client.get(PROXY, params={"path": f"{area}/f.txt/below"}).json() == {}


# -- delete and refusals ----------------------------------------------------------------------
def test_delete_file_and_tree(server: Any, client: httpx.Client, area: str) -> None:
    for path in ("keep.txt", "gone.txt", "tree/a.txt", "tree/sub/b.txt"):
        client.put(f"{PROXY}/{area}/{path}", content=b"x")
    assert client.delete(f"{PROXY}/{area}/gone.txt").json() == {}
    assert client.delete(f"{PROXY}/{area}/tree").json() == {}
    assert client.get(PROXY, params={"path": area}).json() == {
        "files": [{"path": "keep.txt", "is_dir": False, "file_size": 1}]
    }
    assert not (server.artifacts_destination / area / "tree").exists()
    missing = client.delete(f"{PROXY}/{area}/never-existed")
    assert (missing.status_code, missing.json()) == (200, {})


def test_missing_file_is_404(client: httpx.Client, area: str) -> None:
    got = client.get(f"{PROXY}/{area}/nope.bin")
    assert got.status_code == 404
    assert error_code(got) == "RESOURCE_DOES_NOT_EXIST"


def test_directories_are_not_files(client: httpx.Client, area: str) -> None:
    client.put(f"{PROXY}/{area}/d/f.txt", content=b"x")
    for response in (
        client.get(f"{PROXY}/{area}/d"),  # download a directory
        client.put(f"{PROXY}/{area}/d", content=b"y"),  # replace a directory by a file
        client.put(f"{PROXY}/{area}/d/f.txt/g.txt", content=b"y"),  # a file as a parent
        client.get(f"{PROXY}/"),  # the root
        client.put(f"{PROXY}/", content=b"y"),
        client.delete(f"{PROXY}/"),  # wiping the whole destination is not a proxy operation
    ):
        assert response.status_code == 400, response.text
        assert error_code(response) == "INVALID_PARAMETER_VALUE"
    assert "directory" in client.get(f"{PROXY}/{area}/d").json()["message"]
    assert client.get(f"{PROXY}/{area}/d/f.txt").content == b"x"


def test_upload_names_reserved_for_in_flight_files_are_refused(
    client: httpx.Client, area: str
) -> None:
    response = client.put(f"{PROXY}/{area}/.cairn-tmp-0123", content=b"x")
    assert response.status_code == 400
    assert "reserved" in response.json()["message"]


def test_overlong_names_are_client_errors(client: httpx.Client, area: str) -> None:
    too_long_segment = f"{area}/{'x' * 300}.txt"
    too_long_path = f"{area}/" + "/".join(["d" * 200] * 25) + "/f.txt"
    for path in (too_long_segment, too_long_path):
        for response in (
            client.put(f"{PROXY}/{path}", content=b"x"),
            client.get(f"{PROXY}/{path}"),
            client.delete(f"{PROXY}/{path}"),
            client.get(PROXY, params={"path": path}),
        ):
            assert response.status_code == 400, response.text
            assert error_code(response) == "INVALID_PARAMETER_VALUE"


def test_wrong_method_lists_the_allowed_ones(client: httpx.Client, area: str) -> None:
    response = client.post(f"{PROXY}/{area}/x.txt", content=b"x")
    assert response.status_code == 405
    assert set(response.headers["allow"].split(", ")) == {"GET", "HEAD", "PUT", "DELETE"}


# -- traversal (security corpus §1) -----------------------------------------------------------
def escapes(name: str, absolute: str) -> list[str]:
    """Request-target suffixes (as sent, already URL-encoded) that would leave the destination."""
    rootless = absolute.lstrip("/")
    return [
        f"../{name}",
        f"../../../../../../../../../../{rootless}",
        f"sub/../../{name}",
        f"./../{name}",
        f"/./../{name}",
        f"..\\{name}",
        f"..%5C{name}",
        f"sub%5C..%5C..%5C{name}",
        f"%2e%2e%2f{name}",
        f"%2E%2E/{name}",
        f"..%2f{name}",
        f"%252e%252e%252f{name}",
        f"%25252e%25252e%25252f{name}",
        f"..%252f{name}",
        f"%23/../{name}",
        f"sub%23/../../{name}",
        f"{name}%00",
        f"{name}%2500",
        f"{name}%00.txt",
        f"/{rootless}",
        f"%2F{rootless}",
        f"%252F{rootless}",
        f"C:%5C{name}",
        f"C:/{name}",
        f"c:{name}",
        f"//host/{name}",
        f"%5C%5Chost%5Cshare%5C{name}",
    ]


@pytest.fixture
def outside(server: Any) -> Iterator[tuple[str, Path]]:
    """A secret file just outside the destination, and a unique name to look for afterwards."""
    token = f"pwned-{uuid.uuid4().hex[:10]}"
    secret = server.artifacts_destination.parent / token
    secret.write_text("secret")
    yield token, secret
    secret.unlink(missing_ok=True)


def _assert_nothing_written(server: Any, token: str, secret: Path) -> None:
    assert secret.read_text() == "secret"
    # Every escape above aims at `secret` (intact) or at a new file named after the token.
    found = server.artifacts_destination.parent.parent.rglob(f"*{token}*")
    assert [p for p in found if p != secret] == []


@pytest.mark.parametrize("method", ["PUT", "GET", "DELETE"])
def test_traversal_in_the_url_path_is_refused(
    server: Any, method: str, outside: tuple[str, Path]
) -> None:
    token, secret = outside
    for prefix in (PROXY, PROXY.replace("/api/", "/ajax-api/", 1)):
        for suffix in escapes(token, str(secret)):
            status, body = raw_request(server, method, f"{prefix}/{suffix}", b"owned")
            assert status == 400, (suffix, body)
            assert b'"INVALID_PARAMETER_VALUE"' in body
            assert b"secret" not in body
    _assert_nothing_written(server, token, secret)


def test_traversal_in_the_listing_query_is_refused(server: Any, outside: tuple[str, Path]) -> None:
    token, secret = outside
    for suffix in [*escapes(token, str(secret)), "..", "%2e%2e", "%252e%252e", "/"]:
        status, body = raw_request(server, "GET", f"{PROXY}?path={suffix}")
        assert status == 400, (suffix, body)
        assert b"files" not in body


def test_a_raw_fragment_cannot_escape(
    server: Any, client: httpx.Client, area: str, outside: tuple[str, Path]
) -> None:
    """An HTTP parser drops `#...` before the app sees it; what remains stays inside."""
    token, secret = outside
    status, _ = raw_request(server, "PUT", f"{PROXY}/{area}/a#/../../../{token}", b"x")
    assert status in (200, 400)
    _assert_nothing_written(server, token, secret)


def test_symlinks_inside_the_destination_cannot_lead_out(
    server: Any, client: httpx.Client, area: str, tmp_path: Path
) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "secret.txt").write_text("secret")
    base = server.artifacts_destination / area
    base.mkdir(parents=True)
    (base / "dir-link").symlink_to(elsewhere, target_is_directory=True)
    (base / "file-link").symlink_to(elsewhere / "secret.txt")
    for response in (
        client.get(f"{PROXY}/{area}/dir-link/secret.txt"),
        client.get(f"{PROXY}/{area}/file-link"),
        client.put(f"{PROXY}/{area}/dir-link/new.txt", content=b"x"),
        client.put(f"{PROXY}/{area}/file-link", content=b"x"),
        client.get(PROXY, params={"path": f"{area}/dir-link"}),
        client.delete(f"{PROXY}/{area}/dir-link/secret.txt"),
    ):
        assert response.status_code == 400, response.text
        assert b"secret" not in response.content.replace(b"secret.txt", b"")
    assert sorted(p.name for p in elsewhere.iterdir()) == ["secret.txt"]
    assert (elsewhere / "secret.txt").read_text() == "secret"
    # Listings of the directory holding the links do not show them.
    assert client.get(PROXY, params={"path": area}).json() == {}


# -- proxy switched off -----------------------------------------------------------------------
def test_no_serve_artifacts_answers_503_in_plain_text(server_factory: Any) -> None:
    server = server_factory("--no-serve-artifacts")
    with httpx.Client(base_url=server.url, timeout=30) as client:
        for prefix in (PROXY, PROXY.replace("/api/", "/ajax-api/", 1)):
            for response in (
                client.put(f"{prefix}/a/b.txt", content=b"x"),
                client.get(f"{prefix}/a/b.txt"),
                client.delete(f"{prefix}/a/b.txt"),
                client.get(prefix, params={"path": "a"}),
            ):
                assert response.status_code == 503
                assert response.headers["content-type"].startswith("text/plain")
                assert "--no-serve-artifacts" in response.text
    assert not (server.artifacts_destination / "a").exists()


# -- interrupted uploads ----------------------------------------------------------------------
def _send_and_drop(server: Any, target: str, headers: str, body: bytes) -> None:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=30) as s:
        s.sendall(f"PUT {target} HTTP/1.1\r\nHost: {host}\r\n{headers}\r\n".encode() + body)
        time.sleep(0.3)  # let the server start writing
        # Linger 0: close with a reset, as a crashed client or a dropped network would.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))


def _wait_for_cleanup(directory: Path) -> list[str]:
    """The names left in `directory` once no upload is in flight there (or after 15 s)."""
    deadline = time.monotonic() + 15
    while True:
        left = sorted(p.name for p in directory.iterdir()) if directory.exists() else []
        if not any(n.startswith(".cairn-tmp-") for n in left) or time.monotonic() > deadline:
            return left
        time.sleep(0.05)


@pytest.mark.parametrize("framing", ["content-length", "chunked"])
def test_interrupted_upload_leaves_no_file(
    server: Any, client: httpx.Client, area: str, framing: str
) -> None:
    part = os.urandom(3 * 1024 * 1024)
    if framing == "chunked":
        headers, body = "Transfer-Encoding: chunked\r\n", f"{len(part):x}\r\n".encode() + part
    else:
        headers, body = f"Content-Length: {10 * len(part)}\r\n", part
    _send_and_drop(server, f"{PROXY}/{area}/cut/big.bin", headers, body)
    assert _wait_for_cleanup(server.artifacts_destination / area / "cut") == []
    assert client.get(f"{PROXY}/{area}/cut/big.bin").status_code == 404
    # The server is fine afterwards, and an interrupted overwrite keeps the old file.
    assert client.put(f"{PROXY}/{area}/cut/big.bin", content=b"old").status_code == 200
    _send_and_drop(server, f"{PROXY}/{area}/cut/big.bin", headers, body)
    assert _wait_for_cleanup(server.artifacts_destination / area / "cut") == ["big.bin"]
    assert client.get(f"{PROXY}/{area}/cut/big.bin").content == b"old"


def test_abandoned_download_releases_the_file(server: Any, client: httpx.Client, area: str) -> None:
    stored = server.artifacts_destination / area / "long.bin"
    client.put(f"{PROXY}/{area}/long.bin", content=os.urandom(64 * 1024 * 1024))
    with httpx.stream("GET", f"{server.url}{PROXY}/{area}/long.bin", timeout=30) as got:
        next(got.iter_raw(1024 * 1024))
    fds = Path(f"/proc/{server.pid}/fd")
    if not fds.exists():
        return
    deadline = time.monotonic() + 10
    while any(_points_at(fd, stored) for fd in fds.iterdir()) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not any(_points_at(fd, stored) for fd in fds.iterdir())
    assert client.get(f"{PROXY}/{area}/long.bin").headers["content-length"] == str(64 * 2**20)


def _points_at(fd: Path, target: Path) -> bool:
    try:
        return os.readlink(fd) == str(target)
    except OSError:  # closed meanwhile
        return False


# -- run-level listing and experiment locations -----------------------------------------------
def test_run_artifact_listing_after_proxy_upload(client: httpx.Client, area: str) -> None:
    experiment_id = client.post(
        "/api/2.0/mlflow/experiments/create", json={"name": f"proxy-{area}"}
    ).json()["experiment_id"]
    run = client.post("/api/2.0/mlflow/runs/create", json={"experiment_id": experiment_id})
    info = run.json()["run"]["info"]
    artifact_uri = info["artifact_uri"]
    assert artifact_uri == f"mlflow-artifacts:/{experiment_id}/{info['run_id']}/artifacts"
    stored = artifact_uri.removeprefix("mlflow-artifacts:/")
    client.put(f"{PROXY}/{stored}/a.txt", content=b"abc")
    client.put(f"{PROXY}/{stored}/model/MLmodel", content=b"flavors: {}\n")

    listing = client.get("/api/2.0/mlflow/artifacts/list", params={"run_id": info["run_id"]})
    assert listing.json() == {
        "root_uri": artifact_uri,
        "files": [
            {"path": "a.txt", "is_dir": False, "file_size": 3},
            {"path": "model", "is_dir": True},
        ],
    }
    nested = client.get(
        "/api/2.0/mlflow/artifacts/list", params={"run_id": info["run_id"], "path": "model"}
    )
    assert nested.json()["files"] == [{"path": "model/MLmodel", "is_dir": False, "file_size": 12}]
    escape = client.get(
        "/api/2.0/mlflow/artifacts/list", params={"run_id": info["run_id"], "path": "../.."}
    )
    assert escape.status_code == 400


@pytest.mark.parametrize(
    "location",
    [
        "/etc",
        "file:///etc",
        "file:/etc",
        "file://localhost/etc/passwd",
        "mlflow-artifacts:/../../etc",
        "mlflow-artifacts:/%2e%2e/%2e%2e/etc",
        "mlflow-artifacts:/%252e%252e/x",
        "mlflow-artifacts:////etc",
        "http://169.254.169.254/latest/meta-data",
    ],
)
def test_experiment_locations_outside_the_server_are_refused(
    client: httpx.Client, area: str, location: str
) -> None:
    response = client.post(
        "/api/2.0/mlflow/experiments/create",
        json={"name": f"bad-{area}", "artifact_location": location},
    )
    assert response.status_code == 400, response.text
    assert error_code(response) == "INVALID_PARAMETER_VALUE"
    found = client.get(
        "/api/2.0/mlflow/experiments/get-by-name", params={"experiment_name": f"bad-{area}"}
    )
    assert found.status_code == 404


# -- the MLflow client ------------------------------------------------------------------------
def test_mlflow_client_logs_lists_and_downloads_through_the_proxy(
    server: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    pytest.importorskip("mlflow")
    from mlflow import MlflowClient

    from tests.server.mlflow_compat.support import connect, unique

    with contextlib.contextmanager(connect)(server, monkeypatch):
        client = MlflowClient(tracking_uri=server.url)
        experiment_id = client.create_experiment(unique("proxy"))
        run_id = client.create_run(experiment_id).info.run_id
        source = tmp_path / "up"
        (source / "sub dir").mkdir(parents=True)
        (source / "sub dir" / "notes 100%.txt").write_text("hello")
        (source / "weights.bin").write_bytes(os.urandom(100_000))
        client.log_artifacts(run_id, str(source), artifact_path="bundle")
        listed = {(f.path, f.is_dir) for f in client.list_artifacts(run_id, "bundle")}
        assert listed == {("bundle/sub dir", True), ("bundle/weights.bin", False)}
        local = Path(client.download_artifacts(run_id, "bundle", str(tmp_path / "down")))
        assert (local / "sub dir" / "notes 100%.txt").read_text() == "hello"
        assert (local / "weights.bin").read_bytes() == (source / "weights.bin").read_bytes()


# -- OpenAPI ----------------------------------------------------------------------------------
def test_openapi_documents_the_proxy_routes(client: httpx.Client) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    item = paths[f"{PROXY}/{{path}}"]
    assert set(item) == {"parameters", "get", "put", "delete"}
    assert item["parameters"][0]["in"] == "path"
    assert "application/octet-stream" in item["put"]["requestBody"]["content"]
    assert paths[PROXY]["get"]["parameters"][0]["name"] == "path"


# -- big files --------------------------------------------------------------------------------
class RssSampler:
    """Peak resident memory of a process, read from /proc while a transfer runs."""

    def __init__(self, pid: int) -> None:
        self.status = Path(f"/proc/{pid}/status")
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            for line in self.status.read_text().splitlines():
                if line.startswith("VmRSS:"):
                    self.peak = max(self.peak, int(line.split()[1]) * 1024)
            self._stop.wait(0.05)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def _generated(size: int, digest: Any) -> Iterator[bytes]:
    """`size` bytes in 1 MiB pieces, hashed as they go; nothing is kept."""
    block = os.urandom(1024 * 1024)
    sent = 0
    counter = 0
    while sent < size:
        piece = (counter.to_bytes(8, "little") + block[8:])[: size - sent]
        digest.update(piece)
        sent += len(piece)
        counter += 1
        yield piece


@pytest.mark.slow
def test_multi_gigabyte_file_streams_with_bounded_memory(server_factory: Any) -> None:
    server = server_factory()
    free = shutil.disk_usage(server.artifacts_destination).free
    if free < BIG_BYTES * 1.2:
        message = (
            f"needs {BIG_BYTES * 1.2 / 1e9:.1f} GB free next to the server, has {free / 1e9:.1f}"
        )
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    if not Path(f"/proc/{server.pid}/status").exists():
        pytest.skip("needs /proc to watch the server's memory")
    url = f"{server.url}{PROXY}/big/blob.bin"
    health: list[int] = []
    uploading = threading.Event()

    def poll_health() -> None:
        with httpx.Client(timeout=30) as probe:
            while uploading.is_set():
                health.append(probe.get(f"{server.url}/health").status_code)
                time.sleep(0.2)

    sent = hashlib.sha256()
    received = hashlib.sha256()
    size = 0
    with RssSampler(server.pid) as rss, httpx.Client(timeout=300) as client:
        started = time.monotonic()
        uploading.set()
        prober = threading.Thread(target=poll_health)
        prober.start()
        try:
            put = client.put(url, content=_generated(BIG_BYTES, sent))
        finally:
            uploading.clear()
            prober.join()
        uploaded = time.monotonic()
        assert (put.status_code, put.json()) == (200, {})
        with client.stream("GET", url) as got:
            assert got.headers["content-length"] == str(BIG_BYTES)
            for piece in got.iter_raw(1024 * 1024):
                received.update(piece)
                size += len(piece)
        downloaded = time.monotonic()
    try:
        assert size == BIG_BYTES
        assert received.hexdigest() == sent.hexdigest()
        assert health and set(health) == {200}  # the server kept answering meanwhile
        assert rss.peak < RSS_LIMIT_BYTES, f"server RSS peaked at {rss.peak / 2**20:.0f} MiB"
        print(
            f"\n{BIG_BYTES / 2**30:.2f} GiB: upload {BIG_BYTES / (uploaded - started) / 1e6:.0f}"
            f" MB/s, download {BIG_BYTES / (downloaded - uploaded) / 1e6:.0f} MB/s,"
            f" server peak RSS {rss.peak / 2**20:.0f} MiB, {len(health)} health checks answered"
        )
    finally:
        httpx.delete(url, timeout=60)
