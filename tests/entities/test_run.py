"""Run entities: wire dicts round-trip, and MLflow's plain dictionary view."""

from __future__ import annotations

import math

from cairn.entities import (
    Dataset,
    DatasetInput,
    InputTag,
    Metric,
    Run,
    RunData,
    RunInfo,
    RunInputs,
    RunStatus,
)


def _run() -> Run:
    info = RunInfo("a" * 32, "1", "brave-otter-101", "ann", RunStatus.FINISHED, 10, 20, "/x")
    data = RunData.from_latest(
        [Metric("acc", 0.9, 15, 3), Metric("nan", math.nan, 15, 0)], {"lr": "0.1"}, {"t": "v"}
    )
    inputs = RunInputs(
        (DatasetInput(Dataset("iris", "abc", "local", "{}"), (InputTag("k", "v"),)),)
    )
    return Run(info, data, inputs)


def test_wire_dict_round_trips() -> None:
    run = _run()
    again = Run.from_dict(run.to_dict())
    assert again.info == run.info
    assert again.inputs == run.inputs
    assert again.data.params == run.data.params and again.data.tags == run.data.tags
    assert again.data.latest_metrics == run.data.latest_metrics  # NaN compares equal to NaN


def test_wire_dict_shape_matches_mlflow() -> None:
    d = _run().to_dict()
    assert d["info"]["run_uuid"] == d["info"]["run_id"]
    assert d["info"]["status"] == "FINISHED"
    assert d["data"]["metrics"][0] == {"key": "acc", "value": 0.9, "timestamp": 15, "step": 3}
    assert d["data"]["params"] == [{"key": "lr", "value": "0.1"}]


def test_to_dictionary_gives_plain_maps() -> None:
    d = _run().to_dictionary()
    assert d["data"]["params"] == {"lr": "0.1"}
    assert d["data"]["metrics"]["acc"] == 0.9
    assert d["info"]["run_name"] == "brave-otter-101"


def test_missing_times_are_omitted() -> None:
    info = RunInfo("b" * 32, "0", "r", "", RunStatus.RUNNING, 5, None, "/y")
    assert "end_time" not in info.to_dict()
