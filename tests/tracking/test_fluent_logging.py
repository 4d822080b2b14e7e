"""Fluent logging to the active run: params, metrics, tags, artifacts, dataset inputs."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import pytest

import cairn
from cairn.exceptions import InvalidParameterValue
from cairn.tracking.client import CairnClient

pytestmark = pytest.mark.usefixtures("tracking_uri")


def _data(run: cairn.ActiveRun) -> Any:
    return cairn.get_run(run.info.run_id).data


def test_params() -> None:
    with cairn.start_run() as run:
        assert cairn.log_param("lr", 0.01) == 0.01
        cairn.log_params({"epochs": 10, "opt": "adam", "none": None})
    assert _data(run).params == {"lr": "0.01", "epochs": "10", "opt": "adam", "none": "None"}


def test_relogging_a_param_with_another_value_is_an_error() -> None:
    with cairn.start_run():
        cairn.log_param("lr", 0.01)
        cairn.log_param("lr", 0.01)
        with pytest.raises(InvalidParameterValue):
            cairn.log_param("lr", 0.02)
        with pytest.raises(InvalidParameterValue):
            cairn.log_params({"lr": 0.03})


def test_metrics_with_steps_and_timestamps() -> None:
    with cairn.start_run() as run:
        cairn.log_metric("loss", 1.0)
        cairn.log_metric("loss", 0.5, step=1, timestamp=123)
        cairn.log_metrics({"acc": 0.9, "f1": 0.8}, step=1)
    history = CairnClient().get_metric_history(run.info.run_id, "loss")
    assert [(m.value, m.step) for m in history] == [(1.0, 0), (0.5, 1)]
    assert history[1].timestamp == 123
    assert _data(run).metrics == {"loss": 0.5, "acc": 0.9, "f1": 0.8}


def test_log_metrics_is_one_batch_with_one_timestamp(monkeypatch: pytest.MonkeyPatch) -> None:
    batches: list[tuple[Any, ...]] = []
    real = CairnClient.log_batch

    def spy(self: CairnClient, run_id: str, metrics: Any = (), *args: Any, **kw: Any) -> None:
        batches.append(tuple(metrics))
        real(self, run_id, metrics, *args, **kw)

    monkeypatch.setattr(CairnClient, "log_batch", spy)
    with cairn.start_run():
        cairn.log_metrics({"a": 1, "b": 2, "c": 3}, step=4)
    assert len(batches) == 1
    assert {m.timestamp for m in batches[0]} == {batches[0][0].timestamp}
    assert {m.step for m in batches[0]} == {4}


def test_nan_and_inf_metrics_round_trip() -> None:
    with cairn.start_run() as run:
        cairn.log_metrics({"nan": math.nan, "inf": math.inf, "ninf": -math.inf})
    metrics = _data(run).metrics
    assert math.isnan(metrics["nan"])
    assert (metrics["inf"], metrics["ninf"]) == (math.inf, -math.inf)


def test_tags() -> None:
    with cairn.start_run() as run:
        cairn.set_tag("a", 1)
        cairn.set_tags({"b": "x", "c": True})
        cairn.delete_tag("a")
    tags = _data(run).tags
    assert "a" not in tags
    assert (tags["b"], tags["c"]) == ("x", "True")


def test_logging_to_an_explicit_run_id() -> None:
    target = CairnClient().create_run("0").info.run_id
    with cairn.start_run() as active:
        cairn.log_metric("m", 1.0, run_id=target)
        cairn.log_params({"p": 1}, run_id=target)
        cairn.log_metrics({"n": 2.0}, run_id=target)
    assert cairn.get_run(target).data.metrics == {"m": 1.0, "n": 2.0}
    assert cairn.get_run(target).data.params == {"p": "1"}
    assert _data(active).metrics == {}


def test_artifacts(tmp_path: Path) -> None:
    (tmp_path / "f.txt").write_text("f")
    (tmp_path / "d").mkdir()
    (tmp_path / "d" / "g.txt").write_text("g")
    with cairn.start_run() as run:
        cairn.log_artifact(str(tmp_path / "f.txt"))
        cairn.log_artifacts(str(tmp_path / "d"), artifact_path="dir")
        cairn.log_text("t", "text/t.txt")
        cairn.log_dict({"k": 1}, "d.json")
        root = Path(cairn.get_artifact_uri())
        assert cairn.get_artifact_uri("dir/g.txt") == f"{root}/dir/g.txt"
    assert root == Path(cairn.get_run(run.info.run_id).info.artifact_uri)
    assert (root / "f.txt").read_text() == "f"
    assert (root / "dir" / "g.txt").read_text() == "g"
    assert (root / "text" / "t.txt").read_text() == "t"
    assert CairnClient().load_dict(run.info.run_id, "d.json") == {"k": 1}


def test_figures_and_images() -> None:
    np = pytest.importorskip("numpy")
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig = plt.figure()
    with cairn.start_run() as run:
        cairn.log_figure(fig, "fig.png")
        cairn.log_image(np.zeros((2, 2, 3), dtype=np.uint8), "img.png")
        cairn.log_image(np.zeros((2, 2)), key="series", step=1)
    plt.close(fig)
    files = {f.path for f in CairnClient().list_artifacts(run.info.run_id)}
    assert files == {"fig.png", "img.png", "images"}


def test_log_input_with_context_and_tags() -> None:
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"x": [1, 2, 3], "y": [0.1, 0.2, 0.3], "label": ["a", "b", "a"]})
    dataset = cairn.data.from_pandas(df, source="data/train.csv", targets="label", name="train")
    with cairn.start_run() as run:
        cairn.log_input(dataset, context="training", tags={"split": "v1"})

    (logged,) = cairn.get_run(run.info.run_id).inputs.dataset_inputs
    assert logged.context == "training"
    assert {t.key: t.value for t in logged.tags}["split"] == "v1"
    assert logged.dataset.name == "train"
    assert logged.dataset.digest == dataset.digest
    assert logged.dataset.source_type == "local"
    assert logged.dataset.schema == dataset.to_dict()["schema"]
    assert cairn.data.get_source(logged) == dataset.source


def test_log_input_accepts_anything_shaped_like_an_mlflow_dataset() -> None:
    class Entity:
        name, digest, source_type, source = "d", "12345678", "http", '{"url": "http://x"}'

    class MlflowStyle:
        def _to_mlflow_entity(self) -> Entity:
            return Entity()

    with cairn.start_run() as run:
        cairn.log_input(MlflowStyle())
    (logged,) = cairn.get_run(run.info.run_id).inputs.dataset_inputs
    assert (logged.dataset.name, logged.dataset.source_type) == ("d", "http")
    with pytest.raises(TypeError, match=r"cairn\.data"):
        cairn.log_input(object())


def test_asynchronous_logging_is_written_by_flush(tracking_uri: str) -> None:
    """`synchronous=False` queues the point; flush_async_logging sends it (more in
    test_async_logging.py)."""
    with cairn.start_run() as run:
        cairn.log_metric("m", 1.0, synchronous=False)
        cairn.flush_async_logging()
        assert cairn.get_run(run.info.run_id).data.metrics == {"m": 1.0}
