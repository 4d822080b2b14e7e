"""`HeaderRules` on its own: configuration checks and the forwarded-client rules.

The behaviour end to end is in test_headers.py and auth/test_trusted_proxy.py (real servers);
these are the corners that are quicker to state directly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from cairn.exceptions import InvalidParameterValue
from cairn.server.config import ServerConfig
from cairn.server.headers import HeaderRules


def headers(**values: str) -> list[tuple[bytes, bytes]]:
    return [(k.replace("_", "-").encode(), v.encode()) for k, v in values.items()]


@pytest.mark.parametrize(
    ("field", "value", "mention"),
    [
        ("cors_allowed_origins", ("dash.example.com",), "scheme://host"),
        ("cors_allowed_origins", ("https://dash.example.com/app",), "scheme://host"),
        ("cors_allowed_origins", ("*",), "one by one"),
        ("trusted_proxies", ("proxy.internal",), "IP address or network"),
        ("auth_proxy_header", "Authorization", "X-Forwarded-User"),
        ("auth_proxy_header", "X User", "X-Forwarded-User"),
        ("auth_proxy_header", "X-User", "--trusted-proxies"),  # believed from nobody
    ],
)
def test_a_malformed_setting_is_refused_at_start(field: str, value: object, mention: str) -> None:
    config = ServerConfig(**{field: value})  # type: ignore[arg-type]
    with pytest.raises(InvalidParameterValue, match=mention):
        config.resolved()


def test_the_configuration_reaches_workers_unchanged(monkeypatch: pytest.MonkeyPatch) -> None:
    from cairn.server.config import CONFIG_ENV

    config = ServerConfig(
        allowed_hosts=("cairn.example.com",),
        cors_allowed_origins=("https://dash.example.com:443",),
        trusted_proxies=("10.0.0.0/8",),
        auth_proxy_header="X-Auth-Request-User",
    )
    monkeypatch.setenv(CONFIG_ENV, config.to_env())
    assert ServerConfig.from_env() == config


def test_forwarded_for_takes_the_last_address_no_trusted_proxy_added() -> None:
    rules = HeaderRules(trusted_proxies=["10.0.0.0/8", "::1"])

    def client(forwarded_for: str, peer: str = "10.1.1.1") -> str:
        return rules.inspect(b"GET", headers(x_forwarded_for=forwarded_for), peer).client

    assert client("203.0.113.7") == "203.0.113.7"
    assert client("1.1.1.1, 203.0.113.7, 10.2.2.2") == "203.0.113.7"  # a chain of our proxies
    assert client("10.3.3.3, 10.2.2.2") == "10.3.3.3"  # all trusted: the first
    assert client("203.0.113.7:4711") == "203.0.113.7"
    assert client("[2001:db8::1]:443") == "2001:db8::1"
    assert client("not-an-address") == "10.1.1.1"  # malformed: the peer's own
    assert client("203.0.113.7", peer="::1") == "203.0.113.7"
    assert client("203.0.113.7", peer="::ffff:10.0.0.9") == "203.0.113.7"  # IPv4-mapped
    assert client("203.0.113.7", peer="192.0.2.1") == "192.0.2.1"  # not a trusted peer


def test_forwarded_host_and_user_only_from_a_trusted_peer() -> None:
    rules = HeaderRules(
        allowed_hosts=["cairn.example.com"],
        trusted_proxies=["10.0.0.1"],
        proxy_user_header="X-User",
    )
    sent = headers(host="127.0.0.1:5000", x_forwarded_host="evil.example", x_user="alice")
    from_proxy = rules.inspect(b"GET", sent, "10.0.0.1")
    assert from_proxy.refusal is not None and "evil.example" in from_proxy.refusal
    sent = headers(host="127.0.0.1:5000", x_forwarded_host="cairn.example.com", x_user="alice")
    from_proxy = rules.inspect(b"GET", sent, "10.0.0.1")
    assert from_proxy.refusal is None and from_proxy.proxy_user == "alice"
    from_elsewhere = rules.inspect(b"GET", sent, "10.0.0.2")
    assert from_elsewhere.refusal is None and from_elsewhere.proxy_user is None
    sent = headers(host="127.0.0.1:5000", x_forwarded_host="evil.example", x_user="alice")
    assert rules.inspect(b"GET", sent, "10.0.0.2").refusal is None  # Host itself is fine


def test_the_verdict_tables_stay_bounded() -> None:
    rules = HeaderRules()
    for i in range(5000):
        rules.inspect(b"GET", headers(host=f"name{i}.example"), f"192.0.2.{i % 250}")
    assert len(rules._host_verdicts) <= 1024


def test_the_fast_path_keeps_plain_requests_and_hands_over_the_rest(tmp_path: Path) -> None:
    """Behind the guard, plain small writes are still answered by the protocol itself (the
    app sees none); a foreign Host or any Origin goes to the app's path, where the guard
    refuses it or adds CORS headers."""
    from cairn.server.app import ExactRoutes, create_app
    from cairn.server.headers import HeaderGuard
    from tests.server.test_runner import uvicorn_in_thread

    class CountingRoutes(ExactRoutes):
        calls = 0

        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] == "http":
                CountingRoutes.calls += 1
            await super().__call__(scope, receive, send)

    config = ServerConfig(
        backend_store_uri=f"sqlite:///{tmp_path / 'c.db'}",
        artifacts_destination=str(tmp_path / "artifacts"),
        cors_allowed_origins=("https://dash.example.com",),
    ).resolved()
    app = HeaderGuard(CountingRoutes(create_app(config)), HeaderRules.from_config(config))
    api = "/api/2.0/mlflow"
    with uvicorn_in_thread(app) as url, httpx.Client(base_url=url + api) as client:
        run = client.post("/runs/create", json={"experiment_id": "0"}).json()["run"]
        calls = CountingRoutes.calls
        metric = {"run_id": run["info"]["run_id"], "key": "m", "value": 1, "timestamp": 1}
        assert client.post("/runs/log-metric", json=metric).status_code == 200
        assert CountingRoutes.calls == calls  # the fast path
        refused = client.post("/runs/log-metric", json=metric, headers={"Host": "evil.example"})
        assert refused.status_code == 403
        assert CountingRoutes.calls == calls  # refused by the guard, before the app
        allowed = client.post(
            "/runs/log-metric", json=metric, headers={"Origin": "https://dash.example.com"}
        )
        assert allowed.headers["access-control-allow-origin"] == "https://dash.example.com"
        assert CountingRoutes.calls == calls + 1  # the app's path, through the guard
