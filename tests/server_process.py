"""Starting the real `cairn server` as a subprocess for integration tests.

Each server gets a free port on 127.0.0.1, its own SQLite database (or the URI given) and
artifact destination; its output goes to a log file that a failing start prints.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

START_TIMEOUT = 30.0


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class ServerProcess:
    url: str
    backend_uri: str
    artifacts_destination: Path
    process: subprocess.Popen[bytes]
    log_path: Path
    args: list[str] = field(default_factory=list)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30.0) -> int:
        """Stop the server (SIGTERM by default) and return its exit status."""
        if self.process.poll() is None:
            self.process.send_signal(sig)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def start_server(
    workdir: Path,
    *args: str,
    backend_uri: str | None = None,
    env: dict[str, str] | None = None,
    port: int | None = None,
) -> ServerProcess:
    """Start `cairn server` on a free port and wait until /health answers."""
    workdir.mkdir(parents=True, exist_ok=True)
    backend_uri = backend_uri or f"sqlite:///{workdir / 'server.db'}"
    destination = workdir / "artifacts"
    log_path = workdir / f"server-{time.monotonic_ns()}.log"
    for _attempt in range(3):
        chosen = port or free_port()
        command = [
            sys.executable,
            "-m",
            "cairn",
            "server",
            "--host",
            "127.0.0.1",
            "--port",
            str(chosen),
            "--backend-store-uri",
            backend_uri,
            "--artifacts-destination",
            str(destination),
            *args,
        ]
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=workdir,
                env={**os.environ, **(env or {})},
            )
        server = ServerProcess(
            f"http://127.0.0.1:{chosen}", backend_uri, destination, process, log_path, list(args)
        )
        if _wait_healthy(server):
            return server
        server.stop(signal.SIGKILL)
        if "address already in use" not in server.log().lower():
            break
    raise RuntimeError(f"cairn server did not start; its log:\n{server.log()}")


def _wait_healthy(server: ServerProcess) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            if httpx.get(server.url + "/health", timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    return False
