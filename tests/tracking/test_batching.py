"""log_batch is split into requests within the server's limits (MLflow's client does so)."""

from __future__ import annotations

from typing import Any

import pytest

from cairn.entities import Metric, Param, RunTag
from cairn.tracking.batching import chunk_batch
from cairn.tracking.client import CairnClient


def _metrics(n: int) -> list[Metric]:
    return [Metric(f"m{i}", float(i), 1000 + i, i) for i in range(n)]


def _params(n: int) -> list[Param]:
    return [Param(f"p{i}", str(i)) for i in range(n)]


def _tags(n: int) -> list[RunTag]:
    return [RunTag(f"t{i}", str(i)) for i in range(n)]


def test_an_empty_batch_makes_no_request() -> None:
    assert list(chunk_batch([], [], [])) == []


def test_a_small_batch_is_one_request() -> None:
    chunks = list(chunk_batch(_metrics(3), _params(2), _tags(1)))
    assert [(len(c.metrics), len(c.params), len(c.tags)) for c in chunks] == [(3, 2, 1)]


@pytest.mark.parametrize(
    ("metrics", "params", "tags"), [(2500, 0, 0), (0, 250, 0), (0, 0, 101), (2001, 250, 130)]
)
def test_every_chunk_respects_every_limit_and_nothing_is_lost(
    metrics: int, params: int, tags: int
) -> None:
    ms, ps, ts = _metrics(metrics), _params(params), _tags(tags)
    chunks = list(chunk_batch(ms, ps, ts))
    for c in chunks:
        assert len(c.metrics) <= 1000
        assert len(c.params) <= 100
        assert len(c.tags) <= 100
        assert len(c.metrics) + len(c.params) + len(c.tags) <= 1000
    assert [m for c in chunks for m in c.metrics] == ms
    assert [p for c in chunks for p in c.params] == ps
    assert [t for c in chunks for t in c.tags] == ts


def test_params_and_tags_go_before_the_bulk_of_the_metrics() -> None:
    chunks = list(chunk_batch(_metrics(1500), _params(100), _tags(100)))
    assert [(len(c.metrics), len(c.params), len(c.tags)) for c in chunks] == [
        (800, 100, 100),
        (700, 0, 0),
    ]


def test_client_log_batch_splits_and_stores_everything(
    backend_client: CairnClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    run_id = backend_client.create_run("0").info.run_id
    calls: list[tuple[int, int, int]] = []
    real = backend_client.store.log_batch

    def counting(run_id: str, metrics: Any = (), params: Any = (), tags: Any = ()) -> None:
        calls.append((len(metrics), len(params), len(tags)))
        real(run_id, metrics, params, tags)

    monkeypatch.setattr(backend_client.store, "log_batch", counting)

    backend_client.log_batch(run_id, _metrics(2100), _params(150), _tags(120))

    assert calls == [(800, 100, 100), (930, 50, 20), (370, 0, 0)]
    data = backend_client.get_run(run_id).data
    assert len(data.metrics) == 2100
    assert len(data.params) == 150
    assert len([k for k in data.tags if k.startswith("t")]) == 120
