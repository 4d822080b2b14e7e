"""Security corpus §7: webhook URLs that reach loopback, link-local or private addresses, in
every spelling, are refused when registered and again when a delivery is sent; redirects are
never followed."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from cairn.exceptions import InvalidParameterValue
from cairn.store import webhooks as wh

SPELLINGS = [
    "http://0x7f000001/",
    "http://2130706433/",
    "http://127.1/",
    "http://0177.0.0.1/",
    "http://127.0.0.1./",
    "http://localhost./",
    "http://LOCALHOST/",
    "http://api.localhost/",
    "http://169.254.169.254./latest/meta-data",
    "http://0xa9fea9fe/",  # 169.254.169.254
    "http://[::ffff:127.0.0.1]/",
    "http://[::ffff:a9fe:a9fe]/",
    "http://[fe80::1]/",
    "http://[fd00::1]/",
    "http://100.64.0.1/",  # carrier-grade NAT
    "http://0/",
]


@pytest.fixture(autouse=True)
def _private_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_WEBHOOK_ALLOW_PRIVATE", "false")
    monkeypatch.setenv("CAIRN_WEBHOOK_TIMEOUT", "5")


@pytest.mark.parametrize("url", SPELLINGS)
def test_private_addresses_are_refused_in_every_spelling(url: str) -> None:
    with pytest.raises(InvalidParameterValue, match="non-public"):
        wh.check_url(url, resolve=False)  # as at registration: no DNS lookup
    outcome = wh.send(url, "secret", "ping", "id", b"{}")  # as at delivery
    assert not outcome.delivered and outcome.status_code == 0
    assert outcome.error.startswith("Webhook URL"), outcome.error


def test_a_name_resolving_to_a_private_address_is_refused_at_delivery() -> None:
    name = socket.gethostname()
    try:
        addresses = {info[4][0] for info in socket.getaddrinfo(name, None)}
    except OSError:
        pytest.skip(f"{name} does not resolve here")
    if any(ipaddress.ip_address(a.split("%")[0]).is_global for a in addresses):
        pytest.skip(f"{name} resolves to a public address here")
    wh.check_url(f"http://{name}/", resolve=False)  # registration does no DNS lookup
    outcome = wh.send(f"http://{name}:1/", "secret", "ping", "id", b"{}")
    assert not outcome.delivered and "non-public" in outcome.error


class _Redirect(BaseHTTPRequestHandler):
    target = ""
    hits: list[str] = []

    def do_POST(self) -> None:
        self.hits.append(self.path)
        self.send_response(307)
        self.send_header("Location", self.target)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def redirecting() -> Iterator[tuple[str, list[str]]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Redirect)
    _Redirect.hits = []
    _Redirect.target = f"http://127.0.0.1:{server.server_port}/internal"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", _Redirect.hits
    finally:
        server.shutdown()
        server.server_close()


def test_redirects_are_not_followed(
    redirecting: tuple[str, list[str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Even where an operator allows private addresses (the receiver is on loopback), a
    redirect is an undelivered attempt, never a second request."""
    monkeypatch.setenv("CAIRN_WEBHOOK_ALLOW_PRIVATE", "true")
    url, hits = redirecting
    outcome = wh.send(url, "secret", "ping", "id", b"{}")
    assert (outcome.delivered, outcome.status_code) == (False, 307)
    assert hits == ["/hook"]
