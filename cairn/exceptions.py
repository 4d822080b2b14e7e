"""Cairn's exceptions: one hierarchy, one MLflow error code (and HTTP status) per class.

    CairnException                      INTERNAL_ERROR            500
    ├── InvalidParameterValue           INVALID_PARAMETER_VALUE   400
    │   ├── InvalidFilter               INVALID_PARAMETER_VALUE   400  (says where and why)
    │   └── SchemaEnforcementError      INVALID_PARAMETER_VALUE   400  (input ≠ model signature)
    ├── BadRequest                      BAD_REQUEST               400
    ├── ResourceAlreadyExists           RESOURCE_ALREADY_EXISTS   400
    ├── ResourceDoesNotExist            RESOURCE_DOES_NOT_EXIST   404
    ├── PermissionDenied                PERMISSION_DENIED         403
    │   └── PolicyRefused               PERMISSION_DENIED         403  (a promotion rule failed)
    ├── Unauthenticated                 UNAUTHENTICATED           401
    ├── ResourceConflict                RESOURCE_CONFLICT         409
    ├── RequestTooLarge                 REQUEST_LIMIT_EXCEEDED    413
    ├── EndpointNotFound                ENDPOINT_NOT_FOUND        404  (no such route)
    ├── TemporarilyUnavailable          TEMPORARILY_UNAVAILABLE   503
    │   └── ServerUnreachable           TEMPORARILY_UNAVAILABLE   503  (no answer, retries spent)
    ├── ExecutionException              INTERNAL_ERROR            500  (a project could not run)
    ├── ModelIntegrityError             INVALID_STATE             500  (files ≠ checksums)
    └── RestError                       (whatever the server said)

The server turns an exception into `{"error_code": ..., "message": ...}` with `http_status`;
the REST client turns such a body back into the matching class with `from_error_code`; the
CLI prints `message` and exits non-zero.
"""

from __future__ import annotations

from typing import ClassVar


class CairnException(Exception):
    """Base of every error Cairn raises on purpose."""

    error_code: ClassVar[str] = "INTERNAL_ERROR"
    http_status: ClassVar[int] = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_dict(self) -> dict[str, str]:
        return {"error_code": self.error_code, "message": self.message}


class InvalidParameterValue(CairnException):
    error_code = "INVALID_PARAMETER_VALUE"
    http_status = 400


class InvalidFilter(InvalidParameterValue):
    """A search filter or order-by clause that does not parse or does not make sense.

    `position` is the 0-based character offset the complaint refers to, when known.
    """

    def __init__(self, message: str, text: str = "", position: int | None = None) -> None:
        if position is not None and text:
            # Long filters are shown as a window around the position, not echoed whole.
            start = max(0, position - 60)
            shown = text[start : position + 60]
            prefix, suffix = ("…" if start else ""), ("…" if position + 60 < len(text) else "")
            pointer = " " * (len(prefix) + position - start) + "^"
            message = f"{message} (at position {position})\n  {prefix}{shown}{suffix}\n  {pointer}"
        super().__init__(message)
        self.text = text
        self.position = position


class SchemaEnforcementError(InvalidParameterValue):
    """Model input or params that do not match the model's signature; the message names the
    column, tensor or param and the type or shape it should have."""


class BadRequest(CairnException):
    error_code = "BAD_REQUEST"
    http_status = 400


class ResourceAlreadyExists(CairnException):
    error_code = "RESOURCE_ALREADY_EXISTS"
    http_status = 400


class ResourceDoesNotExist(CairnException):
    error_code = "RESOURCE_DOES_NOT_EXIST"
    http_status = 404


class PermissionDenied(CairnException):
    error_code = "PERMISSION_DENIED"
    http_status = 403


class PolicyRefused(PermissionDenied):
    """A stage transition or alias change that a promotion policy does not allow; the message
    names the rule and why it failed. PERMISSION_DENIED (403) because MLflow clients neither
    retry it (they retry 5xx, where MLflow puts INVALID_STATE) nor take it for a typo."""


class Unauthenticated(CairnException):
    error_code = "UNAUTHENTICATED"
    http_status = 401


class ResourceConflict(CairnException):
    error_code = "RESOURCE_CONFLICT"
    http_status = 409


class RequestTooLarge(CairnException):
    """A request body over the server's limit (answered before the whole body is read)."""

    error_code = "REQUEST_LIMIT_EXCEEDED"
    http_status = 413


class EndpointNotFound(CairnException):
    """The server has no such route: a wrong URL or prefix, or not a tracking server at all.

    Deliberately not a `ResourceDoesNotExist`: "no such experiment" and "no such API" must
    not be confused (a lookup by name would otherwise quietly answer None).
    """

    error_code = "ENDPOINT_NOT_FOUND"
    http_status = 404


class TemporarilyUnavailable(CairnException):
    error_code = "TEMPORARILY_UNAVAILABLE"
    http_status = 503


class ServerUnreachable(TemporarilyUnavailable):
    """A remote server could not be reached (refused, reset, timed out), even after retries."""


class ExecutionException(CairnException):
    """A project run that could not be carried out: its environment cannot be built (a tool
    such as conda or docker is missing or unusable, no matching Python), its code cannot be
    fetched, or, for a synchronous run, its command failed. MLflow's name, kept for scripts
    that catch `mlflow.projects.ExecutionException`."""


class UntrustedModelError(PermissionDenied):
    """A model whose files are loaded with pickle (MLflow's scikit-learn and pyfunc models,
    Cairn models saved with `serialization_format="cloudpickle"`), loaded without trust.

    Unpickling runs whatever code the file names, so such a model is loaded only when the
    caller says it trusts it: `trust=True`, `--trust`, or a source listed in the
    `CAIRN_TRUSTED_MODEL_SOURCES` setting. The message names the file and the three ways."""


class ModelIntegrityError(CairnException):
    """A model directory whose files do not match its checksums manifest (a file changed,
    missing or added, or the manifest itself unreadable), or that holds something that cannot
    be checksummed safely (a symlink leading outside it, a device or pipe). `changed`,
    `missing` and `added` list the relative paths concerned.

    INVALID_STATE (500, MLflow's code for stored state that is not as it should be): the
    caller sent nothing wrong; the stored files are. Not in `from_error_code`'s table, since
    MLflow servers answer INVALID_STATE for other reasons too."""

    error_code = "INVALID_STATE"
    http_status = 500

    def __init__(
        self,
        message: str,
        changed: tuple[str, ...] = (),
        missing: tuple[str, ...] = (),
        added: tuple[str, ...] = (),
    ) -> None:
        super().__init__(message)
        self.changed = changed
        self.missing = missing
        self.added = added


class RestError(CairnException):
    """An error answered by a remote server whose code has no class of its own."""

    def __init__(self, message: str, error_code: str, http_status: int = 500) -> None:
        super().__init__(message)
        self.error_code = error_code  # type: ignore[misc]
        self.http_status = http_status  # type: ignore[misc]


_BY_CODE: dict[str, type[CairnException]] = {
    cls.error_code: cls
    for cls in (
        InvalidParameterValue,
        BadRequest,
        ResourceAlreadyExists,
        ResourceDoesNotExist,
        PermissionDenied,
        Unauthenticated,
        ResourceConflict,
        RequestTooLarge,
        EndpointNotFound,
        TemporarilyUnavailable,
    )
}


def from_error_code(error_code: str, message: str, http_status: int = 500) -> CairnException:
    """The exception a remote `{"error_code", "message"}` body stands for."""
    cls = _BY_CODE.get(error_code)
    if cls is None:
        return RestError(message, error_code, http_status)
    return cls(message)


# MLflow scripts catch `MlflowException`; give them the same name for the base class.
MlflowException = CairnException
