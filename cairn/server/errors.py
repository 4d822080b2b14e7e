"""Every failure leaves the server as MLflow's `{"error_code", "message"}` JSON body.

Cairn exceptions carry their own code and status. Unknown routes are JSON 404s (MLflow
sends HTML, which its client maps to ENDPOINT_NOT_FOUND anyway), and anything unexpected is a
500 INTERNAL_ERROR whose traceback goes to the server log, never to the client.
"""

from __future__ import annotations

import logging

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import Response

from cairn.exceptions import CairnException
from cairn.server import wire

log = logging.getLogger("cairn.server")

_HTTP_CODES = {404: "ENDPOINT_NOT_FOUND", 405: "BAD_REQUEST", 413: "REQUEST_LIMIT_EXCEEDED"}


def error_body(error_code: str, message: str) -> bytes:
    return wire.dumps({"error_code": error_code, "message": message})


def error_response(status: int, error_code: str, message: str) -> Response:
    return Response(
        error_body(error_code, message), status_code=status, media_type="application/json"
    )


async def cairn_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, CairnException)
    return error_response(exc.http_status, exc.error_code, exc.message)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    status = exc.status_code
    if status == 404:
        message = f"No endpoint {request.method} {request.url.path}"
    elif status == 405:
        message = f"Method {request.method} is not allowed on {request.url.path}"
    else:
        message = str(exc.detail)
    response = error_response(status, _HTTP_CODES.get(status, "BAD_REQUEST"), message)
    if exc.headers:
        response.headers.update(exc.headers)
    return response


SERVER_FAULT_CODE = "INTERNAL_ERROR"
SERVER_FAULT_MESSAGE = "Internal server error; see the server log"


def log_fault(method: str, path: str, exc: Exception) -> None:
    log.error("Unhandled error in %s %s", method, path, exc_info=exc)


def server_fault(request: Request, exc: Exception) -> Response:
    """Log the traceback, answer the client without it."""
    log_fault(request.method, request.url.path, exc)
    return error_response(500, SERVER_FAULT_CODE, SERVER_FAULT_MESSAGE)


async def internal_error(request: Request, exc: Exception) -> Response:
    return server_fault(request, exc)


EXCEPTION_HANDLERS = {
    CairnException: cairn_error,
    HTTPException: http_error,
    Exception: internal_error,
}
