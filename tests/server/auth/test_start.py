"""Starting with authentication on: the first admin from the environment, no default
password, short passwords refused, login attempts rate-limited, TLS."""

from __future__ import annotations

import datetime
import ipaddress
import os
import ssl
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.server.auth.conftest import ADMIN, API, AUTH_ENV, users_of
from tests.server_process import free_port, start_server


def test_without_users_or_admin_variables_the_server_refuses_to_start(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError) as failed:
        start_server(tmp_path, "--auth")
    assert "has no users" in str(failed.value)
    assert "cairn users create" in str(failed.value)


def test_the_environment_variable_turns_auth_on(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError, match="has no users"):
        start_server(tmp_path, env={"CAIRN_AUTH": "true"})


def test_a_short_admin_password_is_refused(tmp_path: Path) -> None:
    env = {"CAIRN_ADMIN_USERNAME": "root", "CAIRN_ADMIN_PASSWORD": "tooshort"}
    with pytest.raises(RuntimeError, match="at least 12 characters"):
        start_server(tmp_path, "--auth", env=env)


def test_the_first_admin_is_created_once_from_the_environment(tmp_path: Path) -> None:
    server = start_server(tmp_path, "--auth", env=AUTH_ENV)
    try:
        assert "Created the first admin" in server.log()
        users = users_of(server)
        assert [(u.username, u.is_admin) for u in users.list_users()] == [(ADMIN[0], True)]
    finally:
        server.stop()
    # The next start finds a user and creates none, whatever the environment says.
    env = {**AUTH_ENV, "CAIRN_ADMIN_USERNAME": "second"}
    again = start_server(tmp_path, "--auth", backend_uri=server.backend_uri, env=env)
    try:
        assert [u.username for u in users_of(again).list_users()] == [ADMIN[0]]
    finally:
        again.stop()


def test_failed_logins_are_rate_limited_per_user_and_address(tmp_path: Path) -> None:
    env = {**AUTH_ENV, "CAIRN_AUTH_MAX_FAILURES": "3"}
    server = start_server(tmp_path, "--auth", env=env)
    try:
        url = f"{server.url}{API}/experiments/search"
        for _ in range(3):
            wrong = httpx.get(url, auth=(ADMIN[0], "not the password!"))
            assert wrong.status_code == 401
        limited = httpx.get(url, auth=(ADMIN[0], "not the password!"))
        assert limited.status_code == 429
        assert limited.json()["error_code"] == "REQUEST_LIMIT_EXCEEDED"
        assert 1 <= int(limited.headers["retry-after"]) <= 60
        # Even the right password waits: guessing must not go on behind the limit.
        assert httpx.get(url, auth=ADMIN).status_code == 429
    finally:
        server.stop()


def _self_signed(directory: Path) -> tuple[Path, Path]:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = directory / "cert.pem", directory / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certfile, keyfile


def test_tls_with_a_certificate_and_key(tmp_path: Path) -> None:
    pytest.importorskip("cryptography")
    certfile, keyfile = _self_signed(tmp_path)
    port = free_port()
    log = (tmp_path / "server.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "cairn",
            "server",
            "--auth",
            "--port",
            str(port),
            "--backend-store-uri",
            f"sqlite:///{tmp_path / 'db.sqlite'}",
            "--artifacts-destination",
            str(tmp_path / "artifacts"),
            "--ssl-certfile",
            str(certfile),
            "--ssl-keyfile",
            str(keyfile),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        env={**os.environ, **AUTH_ENV},
    )
    url = f"https://127.0.0.1:{port}"
    trusted = ssl.create_default_context(cafile=str(certfile))
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(url + "/health", verify=trusted).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert process.poll() is None and time.monotonic() < deadline, (
                tmp_path / "server.log"
            ).read_text()
            time.sleep(0.05)
        with httpx.Client(base_url=url, verify=trusted, auth=ADMIN) as client:
            assert client.get(f"{API}/experiments/search?max_results=1").status_code == 200
        with pytest.raises(httpx.TransportError):  # plain HTTP is not spoken on that port
            httpx.get(f"http://127.0.0.1:{port}/health")
    finally:
        process.terminate()
        process.wait(30)
        log.close()
