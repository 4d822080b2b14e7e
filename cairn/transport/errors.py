"""Turning an unsuccessful HTTP answer into one of Cairn's exceptions.

A JSON body with `error_code` is the server speaking the protocol: the code picks the class
(`cairn.exceptions.from_error_code`). Anything else (an HTML 404 from a proxy, a plain-text
503, FastAPI's `{"detail": ...}`) is classified by HTTP status, and the message names the URL
and quotes the start of the body, which is usually what tells a wrong URL from a down server.
"""

from __future__ import annotations

from typing import Any

from cairn.exceptions import CairnException, from_error_code

BODY_EXCERPT_CHARS = 200

_CODE_BY_STATUS = {
    400: "BAD_REQUEST",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    # A route the server does not have. Not RESOURCE_DOES_NOT_EXIST: a wrong base URL must
    # not look like "no such experiment" (get_experiment_by_name would answer None).
    404: "ENDPOINT_NOT_FOUND",
    405: "ENDPOINT_NOT_FOUND",
    409: "RESOURCE_CONFLICT",
    429: "REQUEST_LIMIT_EXCEEDED",
    499: "CANCELLED",
    501: "NOT_IMPLEMENTED",
    503: "TEMPORARILY_UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}


def code_for_status(status: int) -> str:
    """The protocol error code an HTTP status stands for when the body does not say."""
    found = _CODE_BY_STATUS.get(status)
    if found is not None:
        return found
    return "BAD_REQUEST" if 400 <= status < 500 else "INTERNAL_ERROR"


def error_from_response(
    method: str, url: str, status: int, content: bytes, parsed: Any | None
) -> CairnException:
    """The exception for a non-2xx answer; `parsed` is the decoded JSON body, if it was JSON."""
    if isinstance(parsed, dict) and isinstance(parsed.get("error_code"), str):
        message = parsed.get("message")
        text = message if isinstance(message, str) and message else parsed["error_code"]
        return from_error_code(parsed["error_code"], text, status)
    summary = f"{method} {url} failed with HTTP {status}"
    excerpt = body_excerpt(content)
    message = f"{summary}: {excerpt}" if excerpt else summary
    if status in (404, 405):
        message += " (is this the URL of a Cairn or MLflow tracking server?)"
    return from_error_code(code_for_status(status), message, status)


def body_excerpt(content: bytes, limit: int = BODY_EXCERPT_CHARS) -> str:
    """The start of a body on one line, for error messages."""
    text = " ".join(content[: limit * 4].decode("utf-8", "replace").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"
