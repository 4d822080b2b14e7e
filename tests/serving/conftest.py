"""Test doubles for the scoring app: a model object with `predict` and `metadata`, enforcing
its signature as a loaded model does, and an in-process client for the app."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from cairn.models import Model, ModelSignature, enforce_params, enforce_schema
from cairn.serving.app import ScoringApp
from cairn.serving.logs import RequestLog


class FakeModel:
    """`predict` enforces the signature, then calls `fn(data, params)`."""

    def __init__(
        self, fn: Callable[[Any, dict[str, Any]], Any], signature: ModelSignature | None = None
    ) -> None:
        self.metadata = Model(artifact_path="model", run_id="r" * 32)
        self.metadata.add_flavor("python_function", loader_module="tests")
        self.metadata.signature = signature
        self.fn = fn

    def predict(self, data: Any, params: dict[str, Any] | None = None) -> Any:
        signature = self.metadata.signature
        if signature is not None and signature.inputs is not None:
            data = enforce_schema(data, signature.inputs)
        return self.fn(data, enforce_params(params, signature.params if signature else None))


class Served:
    """A ScoringApp with a client, its request log captured in memory."""

    def __init__(self, model: Any, **options: Any) -> None:
        self.log_stream = io.BytesIO()
        self.app = ScoringApp(model, request_log=RequestLog(self.log_stream), **options)
        self.client = httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app, client=("127.0.0.1", 5555)),
            base_url="http://scoring",
        )

    def log_lines(self) -> list[str]:
        return self.log_stream.getvalue().decode().splitlines()


@pytest.fixture
def make_app() -> Any:
    made: list[Served] = []

    def make(model: Any, **options: Any) -> Served:
        served = Served(model, **options)
        made.append(served)
        return served

    yield make
    for served in made:
        served.app.close()
