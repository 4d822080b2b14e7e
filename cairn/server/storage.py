"""Which artifact locations this server reads and writes on a client's behalf.

Clients never choose server-side paths. The server touches only:
* `mlflow-artifacts:` URIs (and proxy URLs), which name paths under `--artifacts-destination`;
* locations under one of its own roots (the destination and `--default-artifact-root`), such
  as the absolute paths that experiments created by a local client on the same database have;
* URIs of a registered remote scheme (object stores) — credentials are the server's own.
Everything else, `/etc` or `file:///home/...` included, is refused with INVALID_PARAMETER_VALUE.
The model registry's copies (`<artifact root>/models/`) are read-only to clients: proxy
uploads and deletes there are refused (PERMISSION_DENIED), and so are experiment locations.

Proxy paths arrive percent-decoded once (by the HTTP layer, or by `proxy_path` for URIs) and
are stored under exactly that name, so a file called `100%25.txt` keeps its name. Every further
decoding must pass the path rules too: `%252e%252e%252f` is `../` to whichever proxy or client
decodes it one more time, and is refused.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlsplit

from cairn.artifacts import ArtifactRepository, LocalArtifactRepository, get_artifact_repository
from cairn.artifacts.local import TEMP_PREFIX, local_root_from_uri
from cairn.artifacts.paths import is_inside, resolve_under_root, validate_artifact_path
from cairn.artifacts.registry import LOCAL_SCHEME, uri_scheme
from cairn.exceptions import InvalidParameterValue, PermissionDenied
from cairn.server.config import PROXY_SCHEME, ServerConfig
from cairn.store.model_sources import REGISTRY_DIRECTORY, check_decodings

PROXY_PATH = "/api/2.0/mlflow-artifacts/artifacts"
MAX_DECODINGS = 4
"""Further percent-decodings checked; a path still changing after this many is refused."""


class ServerStorage:
    """Resolves artifact URIs to repositories, refusing anything outside the server's roots."""

    def __init__(self, config: ServerConfig) -> None:
        self.config = config
        self.destination = Path(local_root_from_uri(config.artifacts_destination))
        roots = [self.destination]
        root = config.default_artifact_root
        if root and uri_scheme(root) == LOCAL_SCHEME:
            roots.append(Path(local_root_from_uri(root)))
        self.local_roots = tuple(roots)
        self.proxy_repository = LocalArtifactRepository(str(self.destination))
        """The whole destination, as the proxy routes see it."""
        self.registry_directory = self._local_location(
            f"{config.artifact_root.rstrip('/')}/{REGISTRY_DIRECTORY}"
        )
        """Where the model registry keeps its copies of version files, when that is local:
        only the registry writes there (see `check_writable`)."""

    def _local_location(self, uri: str) -> Path | None:
        """The directory a proxy URI or local location names; None for remote stores."""
        proxied = self.proxy_path(uri)
        if proxied is not None:
            return self.destination / proxied
        if uri_scheme(uri) == LOCAL_SCHEME:
            return Path(local_root_from_uri(uri))
        return None

    def check_writable(self, location: Path) -> None:
        """Refuse writes by clients into the registry's storage: a registered version's
        files change only through the registry (and deleting the version)."""
        if self.registry_directory is not None and is_inside(self.registry_directory, location):
            raise PermissionDenied(
                "This location holds the model registry's copies of version files; only the "
                "registry writes there (register a new version instead)"
            )

    def proxy_path(self, uri: str) -> str | None:
        """The destination-relative path of a proxy URI, or None if `uri` is not one."""
        parts = urlsplit(uri)
        if parts.scheme == PROXY_SCHEME:
            path = parts.path
        elif parts.scheme in ("http", "https") and PROXY_PATH in parts.path:
            path = parts.path.split(PROXY_PATH, 1)[1]
        else:
            return None
        # A URI's path is what a client puts in the request URL, which the server decodes once.
        decoded = unquote(path)
        return checked_path(decoded[1:] if decoded.startswith("/") else decoded)

    def destination_path(self, path: str) -> Path:
        """Where proxy path `path` lives on disk (validated, symlinks may not escape)."""
        return resolve_under_root(self.destination, checked_path(path))

    def repository(self, uri: str) -> ArtifactRepository:
        """A repository for an artifact URI stored on an experiment, run or model version."""
        proxied = self.proxy_path(uri)
        if proxied is not None:
            if not self.config.serve_artifacts:
                raise InvalidParameterValue(
                    f"Artifact URI {uri!r} goes through the artifact proxy, which this server "
                    "runs with --no-serve-artifacts"
                )
            return LocalArtifactRepository(str(self.destination_path(proxied)))
        if uri_scheme(uri) == LOCAL_SCHEME:
            location = local_root_from_uri(uri)
            if not any(is_inside(root, location) for root in self.local_roots):
                raise InvalidParameterValue(
                    f"Artifact location {uri!r} is outside this server's artifact stores"
                )
            return LocalArtifactRepository(str(location))
        if uri_scheme(uri) in ("http", "https"):
            # The server would fetch whatever the URL names (SSRF); only proxy URLs are served.
            raise InvalidParameterValue(f"Artifact location {uri!r} is not served by this server")
        return get_artifact_repository(uri)

    def check_location(self, uri: str) -> None:
        """Refuse an experiment artifact location the server could not safely serve."""
        check_decodings(uri, "artifact location")
        parts = urlsplit(uri)
        if parts.scheme.lower() in ("http", "https") or (
            parts.scheme == PROXY_SCHEME and parts.netloc
        ):
            # Clients resolve such a location to that host, so every run logged to the
            # experiment would upload its artifacts there.
            raise InvalidParameterValue(
                f"Artifact location {uri!r} names another host; give "
                f"{PROXY_SCHEME}:/<path> for this server's artifact store"
            )
        self.repository(uri)
        location = self._local_location(uri)
        if (
            location is not None
            and self.registry_directory is not None
            and is_inside(self.registry_directory, location)
        ):
            raise InvalidParameterValue(
                f"Artifact location {uri!r} is inside the model registry's storage"
            )


def checked_path(path: str) -> str:
    """The canonical form of a once-decoded proxy path, after checking every further decoding.

    Raises InvalidParameterValue for anything the artifact path rules refuse, in `path` itself
    or in any string it percent-decodes to, and for names reserved for in-flight uploads.
    """
    canonical = validate_artifact_path(path)
    current = path
    for _ in range(MAX_DECODINGS):
        decoded = unquote(current)
        if decoded == current:
            break
        try:
            validate_artifact_path(decoded)
        except InvalidParameterValue as e:
            raise InvalidParameterValue(
                f"Invalid artifact path {path!r}: it percent-decodes to {decoded!r}, which is "
                f"refused ({e.message})"
            ) from None
        current = decoded
    else:
        raise InvalidParameterValue(f"Invalid artifact path {path!r}: too many levels of encoding")
    if any(segment.startswith(TEMP_PREFIX) for segment in canonical.split("/")):
        raise InvalidParameterValue(
            f"Invalid artifact path {path!r}: names starting with {TEMP_PREFIX!r} are reserved "
            "for uploads in progress"
        )
    return canonical
