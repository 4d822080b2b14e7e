"""HttpTransport: every request Cairn sends to a tracking server goes through here.

One `httpx.Client` per transport keeps connections alive between calls and is safe to use
from several threads; a forked child builds its own instead of sharing its parent's sockets.
`shared_transport(url)` hands out one transport per server, so the REST store and the
artifact proxy of the same server share a connection pool.

Retries (see `retry.py`) happen only where repeating a request cannot change the outcome:
a request marked idempotent is retried on connection errors, 429 and 503; any request is
retried when the connection could not even be opened, since nothing was sent.
"""

from __future__ import annotations

import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import IO, Any, TypeVar
from urllib.parse import unquote, urlsplit, urlunsplit

import httpx

from cairn import settings
from cairn.exceptions import CairnException, EndpointNotFound, ServerUnreachable
from cairn.transport import codec
from cairn.transport.credentials import Credentials
from cairn.transport.errors import body_excerpt, error_from_response
from cairn.transport.retry import RETRY_STATUSES, RetryPolicy
from cairn.version import __version__

logger = logging.getLogger(__name__)

T = TypeVar("T")
Progress = Callable[[int], None]
QueryValue = str | int | float | bool | None | list[Any] | tuple[Any, ...]

CHUNK_SIZE = 1024 * 1024
USER_AGENT = f"cairn/{__version__}"
# Idle connections are dropped a little before uvicorn's 5 s keep-alive closes them, so a
# request is rarely written into a socket the server is closing at that very moment.
KEEPALIVE_EXPIRY = 4.0

# Failures where the request never left this machine: safe to repeat for any request.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
# Failures after (part of) the request may have been sent: repeat only idempotent requests.
# Read/write timeouts are not here: the server is slow, and asking again only waits again.
_MAYBE_SENT = (httpx.ReadError, httpx.WriteError, httpx.CloseError, httpx.RemoteProtocolError)


class HttpTransport:
    """JSON calls and streamed file transfers to one server, with retries and credentials.

    `base_url` is a tracking URI such as `http://host:5000` or `https://host/prefix`; paths
    given to the methods are appended to it. `credentials` default to the settings, read at
    every request (or to the `user:password@` part of the URL when the settings have none).
    `transport` swaps httpx's network layer (tests pass `httpx.MockTransport`).
    """

    def __init__(
        self,
        base_url: str,
        *,
        credentials: Credentials | None = None,
        retry: RetryPolicy | None = None,
        timeout: float | None = None,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.base_url, url_credentials = _split_userinfo(base_url.rstrip("/"))
        self._credentials = credentials
        self._url_credentials = url_credentials
        self.retry = retry or RetryPolicy.from_settings()
        self.timeout = (
            settings.HTTP_REQUEST_TIMEOUT.get_float(positive=True) if timeout is None else timeout
        )
        self._transport = transport
        self._client: httpx.Client | None = None
        self._client_pid = 0
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.base_url!r})"

    # -- the public calls ---------------------------------------------------------------------
    def call(
        self,
        method: str,
        path: str,
        fields: Mapping[str, Any] | None = None,
        *,
        idempotent: bool = False,
    ) -> dict[str, Any]:
        """One JSON API call; returns the decoded response object (`{}` for an empty one).

        For GET the fields go into the query string (lists as repeated keys, booleans as
        `true`/`false`, None left out); for other methods they are the JSON body.
        """
        method = method.upper()
        params = None
        content: bytes | None = None
        headers = {}
        if method == "GET":
            params = query_params(fields or {})
        else:
            content = codec.encode(dict(fields or {}))
            headers["Content-Type"] = "application/json"
        return self._exchange(
            method,
            path,
            params=params,
            content=lambda: content,
            headers=headers,
            idempotent=idempotent,
            consume=self._json,
        )

    def upload(
        self,
        path: str,
        local_file: str | os.PathLike[str],
        *,
        content_type: str | None = None,
        progress: Progress | None = None,
    ) -> None:
        """PUT a local file's bytes to `path`, streamed in chunks (never read whole)."""
        source = Path(local_file)
        size = source.stat().st_size
        headers = {
            "Content-Type": content_type or "application/octet-stream",
            "Content-Length": str(size),
        }

        def body() -> Iterator[bytes]:
            with source.open("rb") as f:
                while chunk := f.read(CHUNK_SIZE):
                    yield chunk
                    if progress is not None:
                        progress(len(chunk))

        self._exchange(
            "PUT",
            path,
            content=body,
            headers=headers,
            idempotent=True,
            consume=lambda response: response.read(),
        )

    def download(
        self,
        path: str,
        destination: str | os.PathLike[str],
        *,
        progress: Progress | None = None,
    ) -> None:
        """GET `path` into the file `destination`, streamed through a temporary file beside
        it and renamed into place, so `destination` is never seen half written."""
        target = Path(destination)

        def save(response: httpx.Response) -> None:
            fd, temp = tempfile.mkstemp(prefix=".cairn-download-", dir=target.parent)
            try:
                with os.fdopen(fd, "wb") as out:
                    _copy_body(response, out, progress)
                os.replace(temp, target)
            except BaseException:
                Path(temp).unlink(missing_ok=True)
                raise

        self._exchange(
            "GET",
            path,
            idempotent=True,
            consume=save,
        )

    def read(self, path: str, *, spool_bytes: int = 8 * CHUNK_SIZE) -> IO[bytes]:
        """GET `path` into a temporary file (in memory while small) opened for reading.

        The caller closes it. The whole body is fetched first, so a retry after a broken
        connection starts cleanly and the caller never reads a truncated stream.
        """

        def spool(response: httpx.Response) -> IO[bytes]:
            out = tempfile.SpooledTemporaryFile(max_size=spool_bytes)  # noqa: SIM115
            try:
                _copy_body(response, out, None)
                out.seek(0)
            except BaseException:
                out.close()
                raise
            return out

        return self._exchange("GET", path, idempotent=True, consume=spool)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        idempotent: bool = False,
    ) -> dict[str, Any]:
        """A bodiless request answered with JSON (e.g. the artifact proxy's DELETE)."""
        return self._exchange(
            method.upper(),
            path,
            params=query_params(params or {}),
            idempotent=idempotent,
            consume=self._json,
        )

    def close(self) -> None:
        """Close pooled connections. The transport stays usable: the next call reconnects."""
        with self._lock:
            client, self._client = self._client, None
        if client is not None and self._client_pid == os.getpid():
            client.close()

    # -- the machinery ------------------------------------------------------------------------
    def _http(self) -> httpx.Client:
        client = self._client
        if client is not None and self._client_pid == os.getpid():
            return client
        with self._lock:
            if self._client is None or self._client_pid != os.getpid():
                # After a fork the parent's client is dropped, not closed: its sockets are
                # the parent's to close.
                self._client = httpx.Client(
                    transport=self._transport,
                    timeout=httpx.Timeout(self.timeout),
                    limits=httpx.Limits(keepalive_expiry=KEEPALIVE_EXPIRY),
                    headers={"User-Agent": USER_AGENT},
                    follow_redirects=False,
                )
                self._client_pid = os.getpid()
            return self._client

    def _auth_headers(self) -> dict[str, str]:
        credentials = self._credentials or Credentials.from_settings()
        header = credentials.authorization()
        if header is None and self._url_credentials is not None:
            header = self._url_credentials.authorization()
        return {"Authorization": header} if header else {}

    def _exchange(
        self,
        method: str,
        path: str,
        *,
        params: tuple[tuple[str, str], ...] | None = None,
        content: Callable[[], bytes | Iterator[bytes] | None] | None = None,
        headers: Mapping[str, str] | None = None,
        idempotent: bool,
        consume: Callable[[httpx.Response], T],
    ) -> T:
        """Send, retrying as the policy allows, and hand a 2xx response to `consume`.

        `content` is a factory so that a retry sends the body again from its start.
        `consume` runs inside the retry loop: a connection broken while a download streams
        is retried like one broken before the answer.
        """
        url = self.base_url + path
        attempt = 0
        while True:
            try:
                client = self._http()
                request = client.build_request(
                    method,
                    url,
                    params=params or None,
                    content=content() if content is not None else None,
                    headers={**(headers or {}), **self._auth_headers()},
                )
                response = client.send(request, stream=True)
                try:
                    status = response.status_code
                    if status in RETRY_STATUSES and idempotent and attempt < self.retry.max_retries:
                        response.read()  # drained, the connection goes back to the pool
                        response.close()
                        self._pause(attempt, method, url, f"HTTP {status}", response)
                        attempt += 1
                        continue
                    if not 200 <= status < 300:
                        raise self._error(method, request, response)
                    return consume(response)
                finally:
                    response.close()
            except httpx.TransportError as exc:
                retryable = isinstance(exc, _NOT_SENT) or (
                    idempotent and isinstance(exc, _MAYBE_SENT)
                )
                if retryable and attempt < self.retry.max_retries:
                    self._pause(attempt, method, url, _describe(exc), None)
                    attempt += 1
                    continue
                tries = f" after {attempt} retries" if attempt else ""
                raise ServerUnreachable(
                    f"{method} {url} failed{tries}: {_describe(exc)} (is the tracking server "
                    f"at {self.base_url} running and reachable?)"
                ) from None

    def _pause(
        self, attempt: int, method: str, url: str, why: str, response: httpx.Response | None
    ) -> None:
        retry_after = response.headers.get("Retry-After") if response is not None else None
        wait = self.retry.wait(attempt, retry_after)
        logger.info(
            "%s %s: %s; retry %d of %d in %.1f s",
            method,
            url,
            why,
            attempt + 1,
            self.retry.max_retries,
            wait,
        )
        self.retry.sleep(wait)

    def _error(
        self, method: str, request: httpx.Request, response: httpx.Response
    ) -> CairnException:
        content = response.read()
        try:
            parsed = codec.decode(content)
        except ValueError:
            parsed = None
        error = error_from_response(method, str(request.url), response.status_code, content, parsed)
        location = response.headers.get("Location")
        if 300 <= response.status_code < 400 and location:
            error.message += f" (redirected to {location}: use that URL as the tracking URI)"
            error.args = (error.message,)
        return error

    def _json(self, response: httpx.Response) -> dict[str, Any]:
        content = response.read()
        try:
            parsed = codec.decode(content)
        except ValueError:
            parsed = None
        if not isinstance(parsed, dict):
            raise EndpointNotFound(
                f"{response.request.method} {response.request.url} answered "
                f"HTTP {response.status_code} without a JSON object: {body_excerpt(content)!r} "
                "(is this the URL of a Cairn or MLflow tracking server?)"
            )
        return parsed


def query_params(fields: Mapping[str, QueryValue]) -> tuple[tuple[str, str], ...]:
    """Request fields as query parameters, spelled as the protocol expects."""
    pairs: list[tuple[str, str]] = []
    for key, value in fields.items():
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if item is None:
                continue
            if isinstance(item, bool):
                pairs.append((key, "true" if item else "false"))
            else:
                pairs.append((key, str(item)))
    return tuple(pairs)


def _copy_body(response: httpx.Response, out: IO[bytes], progress: Progress | None) -> None:
    for chunk in response.iter_bytes(CHUNK_SIZE):
        out.write(chunk)
        if progress is not None:
            progress(len(chunk))


def _split_userinfo(url: str) -> tuple[str, Credentials | None]:
    """The URL without `user:password@`, and those credentials (never shown again)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        from cairn.exceptions import InvalidParameterValue

        raise InvalidParameterValue(
            f"Not an http(s) server URL: {_redact(url)!r} (expected e.g. http://host:5000)"
        )
    if "@" not in parts.netloc:
        return url, None
    userinfo, _, hostport = parts.netloc.rpartition("@")
    user, _, password = userinfo.partition(":")
    clean = urlunsplit(parts._replace(netloc=hostport))
    return clean, Credentials(username=unquote(user), password=unquote(password) or None)


def _redact(url: str) -> str:
    scheme, sep, rest = url.partition("://")
    if "@" in rest.split("/", 1)[0]:
        rest = "***@" + rest.split("@", 1)[1]
    return scheme + sep + rest


def _describe(exc: httpx.TransportError) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


_shared: dict[tuple[int, str], HttpTransport] = {}
_shared_lock = threading.Lock()


def shared_transport(base_url: str) -> HttpTransport:
    """The process-wide transport for a server URL, so its connections are reused by every
    store and artifact repository that talks to it."""
    key = (os.getpid(), base_url.rstrip("/"))
    with _shared_lock:
        found = _shared.get(key)
        if found is None:
            found = _shared[key] = HttpTransport(base_url)
        return found
