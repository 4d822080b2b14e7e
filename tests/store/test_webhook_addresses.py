"""Security corpus §7: webhook URLs that reach loopback, link-local or private addresses, in
every spelling, are refused when registered and again when a delivery is sent; redirects are
never followed."""

from __future__ import annotations

import ipaddress
import socket
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import urlsplit

import pytest

from cairn.exceptions import InvalidParameterValue
from cairn.store import webhooks as wh
from tests.webhook_receiver import webhook_receiver

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


def test_a_delivery_connects_to_the_address_its_check_approved(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """DNS rebinding: a name that resolves to an approved address when checked and to another
    when connecting must not steer the delivery there. Here the first answer is the local
    receiver (private addresses allowed) and every later one an unroutable address."""
    monkeypatch.setenv("CAIRN_WEBHOOK_ALLOW_PRIVATE", "true")
    real = socket.getaddrinfo
    asked: list[str] = []

    def rebinding(host: Any, *args: Any, **kwargs: Any) -> Any:
        if host != "hooks.example":
            return real(host, *args, **kwargs)
        asked.append(host)
        address = "127.0.0.1" if len(asked) == 1 else "10.255.255.1"
        return real(address, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", rebinding)
    with webhook_receiver() as receiver:
        port = receiver.url.split(":")[2].split("/")[0]
        outcome = wh.send(f"http://hooks.example:{port}/hook?x=1", "s", "ping", "id", b"{}")
        (got,) = receiver.wait_for(1)
    assert outcome.delivered, outcome.error
    assert asked == ["hooks.example"]  # resolved once, for the check
    assert got.path == "/hook?x=1" and got.headers["Host"] == f"hooks.example:{port}"


def test_the_pinned_request_keeps_the_name_for_host_and_tls() -> None:
    parts = urlsplit("https://Hooks.Example:8443/in?a=b")
    target, host, extensions = wh.pinned(parts, ipaddress.ip_address("2001:db8::5"))
    assert target == "https://[2001:db8::5]:8443/in?a=b"
    assert host == "Hooks.Example:8443"
    assert extensions == {"sni_hostname": "hooks.example"}  # certificates are checked for it
    target, host, extensions = wh.pinned(
        urlsplit("http://hooks.example"), ipaddress.ip_address("192.0.2.7")
    )
    assert (target, host, extensions) == ("http://192.0.2.7/", "hooks.example", {})


def test_a_name_that_does_not_resolve_is_an_undelivered_attempt() -> None:
    outcome = wh.send("http://no-such-host.invalid/", "s", "ping", "id", b"{}")
    assert not outcome.delivered and "does not resolve" in outcome.error
