"""Starting the real `cairn models serve` as a subprocess for integration tests.

Each server gets a free port on 127.0.0.1; its stderr (the JSON request log) and stdout go
to a log file that a failing start prints.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.server_process import free_port

START_TIMEOUT = 60.0
REPO = Path(__file__).resolve().parents[2]


@dataclass
class ScoringProcess:
    url: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def stop(self) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.process.returncode


def serve_command(model_uri: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "cairn", "models", "serve", "-m", model_uri, *args]


def scoring_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    """The test environment, with the repository importable (pickled test models refer to
    classes in `tests.serving`)."""
    path = os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH", "")) if p)
    return {**os.environ, "PYTHONPATH": path, **(extra or {})}


def start_scoring(
    workdir: Path, model_uri: str, *args: str, env: dict[str, str] | None = None
) -> ScoringProcess:
    """Start `cairn models serve` on a free port and wait until /ping answers 200."""
    workdir.mkdir(parents=True, exist_ok=True)
    log_path = workdir / f"scoring-{time.monotonic_ns()}.log"
    for _attempt in range(3):
        port = free_port()
        command = serve_command(model_uri, "--host", "127.0.0.1", "--port", str(port), *args)
        with log_path.open("ab") as log:
            process = subprocess.Popen(
                command, stdout=log, stderr=log, cwd=workdir, env=scoring_env(env)
            )
        server = ScoringProcess(f"http://127.0.0.1:{port}", process, log_path)
        if _wait_ready(server):
            return server
        server.stop()
        if "address already in use" not in server.log().lower():
            break
    raise RuntimeError(f"cairn models serve did not start; its log:\n{server.log()}")


def _wait_ready(server: ScoringProcess) -> bool:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            return False
        try:
            if httpx.get(server.url + "/ping", timeout=1).status_code == 200:
                return True
        except httpx.TransportError:
            pass
        time.sleep(0.02)
    return False
