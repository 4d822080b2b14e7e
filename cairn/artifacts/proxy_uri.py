"""`mlflow-artifacts:` URIs and the artifact proxy URLs they stand for.

A server that proxies artifacts gives runs locations such as
`mlflow-artifacts:/<experiment_id>/<run_id>/artifacts`: a path under the server's artifact
destination, with no host. A client reaches it at
`<tracking server>/api/2.0/mlflow-artifacts/artifacts/<path>`, taking scheme, host and path
prefix from its tracking URI; a URI that names its own host (`mlflow-artifacts://host:port/p`)
keeps that host.
"""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from cairn.exceptions import InvalidParameterValue

PROXY_SCHEME = "mlflow-artifacts"
PROXY_ROUTE = "/api/2.0/mlflow-artifacts/artifacts"


def is_proxy_uri(uri: str) -> bool:
    return uri.partition(":")[0].lower() == PROXY_SCHEME


def proxy_url(uri: str, tracking_uri: str) -> str:
    """The http(s) URL of the artifact proxy location an `mlflow-artifacts:` URI names.

    >>> proxy_url("mlflow-artifacts:/1/abc/artifacts", "http://host:5000/prefix")
    'http://host:5000/prefix/api/2.0/mlflow-artifacts/artifacts/1/abc/artifacts'
    """
    parts = urlsplit(uri)
    if parts.scheme.lower() != PROXY_SCHEME:
        raise InvalidParameterValue(f"Not an {PROXY_SCHEME}: URI: {uri!r}")
    server = urlsplit(tracking_uri)
    if server.scheme.lower() not in ("http", "https") or not server.netloc:
        raise InvalidParameterValue(
            f"Artifacts at {uri!r} are kept by a tracking server and are reached through it, "
            f"but the tracking URI {_without_userinfo(tracking_uri)!r} is not a server URL. "
            "Set the tracking URI to the server's address, e.g. "
            "cairn.set_tracking_uri('http://host:5000')."
        )
    path = parts.path.strip("/")
    route = server.path.rstrip("/") + PROXY_ROUTE + (f"/{path}" if path else "")
    return urlunsplit((server.scheme, parts.netloc or server.netloc, route, "", ""))


def _without_userinfo(uri: str) -> str:
    scheme, sep, rest = uri.partition("://")
    host, slash, tail = rest.partition("/")
    if "@" in host:
        host = "***@" + host.rpartition("@")[2]
    return scheme + sep + host + slash + tail
