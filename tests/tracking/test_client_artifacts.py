"""CairnClient artifact methods: files, directories, text, dicts, figures and images."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from cairn.exceptions import InvalidParameterValue
from cairn.tracking.client import CairnClient


@pytest.fixture
def run_id(client: CairnClient) -> str:
    return client.create_run("0").info.run_id


def _root(client: CairnClient, run_id: str) -> Path:
    return Path(client.get_run(run_id).info.artifact_uri)


def test_log_artifact_list_and_download_round_trip(
    client: CairnClient, run_id: str, tmp_path: Path
) -> None:
    src = tmp_path / "model.txt"
    src.write_text("weights")

    client.log_artifact(run_id, src)
    client.log_artifact(run_id, src, artifact_path="nested/dir")

    top = client.list_artifacts(run_id)
    assert [(f.path, f.is_dir) for f in top] == [("model.txt", False), ("nested", True)]
    assert top[0].file_size == len("weights")
    assert [f.path for f in client.list_artifacts(run_id, "nested/dir")] == ["nested/dir/model.txt"]
    local = client.download_artifacts(run_id, "nested", tmp_path / "out")
    assert Path(local, "dir", "model.txt").read_text() == "weights"


def test_log_artifacts_uploads_a_directory_s_contents(
    client: CairnClient, run_id: str, tmp_path: Path
) -> None:
    src = tmp_path / "outputs"
    (src / "sub").mkdir(parents=True)
    (src / "a.txt").write_text("a")
    (src / "sub" / "b.txt").write_text("b")

    client.log_artifacts(run_id, src, artifact_path="results")

    root = _root(client, run_id)
    assert (root / "results" / "a.txt").read_text() == "a"
    assert (root / "results" / "sub" / "b.txt").read_text() == "b"


def test_log_text_and_load_text(client: CairnClient, run_id: str) -> None:
    client.log_text(run_id, "héllo\n", "notes/readme.md")
    assert (_root(client, run_id) / "notes" / "readme.md").read_text("utf-8") == "héllo\n"
    assert client.load_text(run_id, "notes/readme.md") == "héllo\n"


@pytest.mark.parametrize(
    ("name", "parse"),
    [("conf.json", json.loads), ("conf.yaml", yaml.safe_load), ("conf.yml", yaml.safe_load)],
)
def test_log_dict_writes_json_or_yaml_by_extension(
    client: CairnClient, run_id: str, name: str, parse: object
) -> None:
    data = {"layers": [64, 32], "act": "relu", "nested": {"p": 0.5}}
    client.log_dict(run_id, data, f"config/{name}")
    text = (_root(client, run_id) / "config" / name).read_text()
    assert parse(text) == data  # type: ignore[operator]
    assert client.load_dict(run_id, f"config/{name}") == data


def test_log_dict_with_another_extension_writes_json(client: CairnClient, run_id: str) -> None:
    client.log_dict(run_id, {"a": 1}, "data.txt")
    assert json.loads((_root(client, run_id) / "data.txt").read_text()) == {"a": 1}


@pytest.mark.parametrize("bad", ["", "../escape.txt", "/abs.txt"])
def test_invalid_artifact_names_are_refused(client: CairnClient, run_id: str, bad: str) -> None:
    with pytest.raises(InvalidParameterValue):
        client.log_text(run_id, "x", bad)


def test_log_figure_matplotlib(client: CairnClient, run_id: str) -> None:
    matplotlib = pytest.importorskip("matplotlib")
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    try:
        client.log_figure(run_id, fig, "plots/line.png")
        client.log_figure(run_id, fig, "plots/line.svg", save_kwargs={"transparent": True})
    finally:
        plt.close(fig)
    root = _root(client, run_id) / "plots"
    assert (root / "line.png").read_bytes().startswith(b"\x89PNG")
    assert b"<svg" in (root / "line.svg").read_bytes()


def test_log_figure_plotly_html(client: CairnClient, run_id: str) -> None:
    class Figure:  # stands in for plotly.graph_objects.Figure (not installed here)
        def write_html(self, path: str, **kwargs: object) -> None:
            Path(path).write_text(f"<html>{sorted(kwargs)}</html>")

    Figure.__module__ = "plotly.graph_objs._figure"
    client.log_figure(run_id, Figure(), "fig.html")
    text = (_root(client, run_id) / "fig.html").read_text()
    assert text == "<html>['auto_open', 'include_plotlyjs']</html>"


def test_log_figure_refuses_other_objects(client: CairnClient, run_id: str) -> None:
    with pytest.raises(TypeError, match="matplotlib or plotly"):
        client.log_figure(run_id, object(), "x.png")


def test_log_image_from_arrays_and_pil(client: CairnClient, run_id: str) -> None:
    np = pytest.importorskip("numpy")
    from PIL import Image

    client.log_image(run_id, np.zeros((4, 6, 3), dtype=np.uint8), "img/rgb.png")
    client.log_image(run_id, np.full((4, 6), 0.5), "img/gray.png")
    client.log_image(run_id, np.ones((4, 6, 1), dtype=bool), "img/mask.png")
    client.log_image(run_id, Image.new("RGBA", (3, 2)), "img/pil.png")

    root = _root(client, run_id) / "img"
    with Image.open(root / "rgb.png") as im:
        assert (im.size, im.mode) == ((6, 4), "RGB")
    with Image.open(root / "gray.png") as im:
        assert im.getpixel((0, 0)) == 128
    with Image.open(root / "mask.png") as im:
        assert im.getpixel((0, 0)) == 255
    with Image.open(root / "pil.png") as im:
        assert (im.size, im.mode) == ((3, 2), "RGBA")


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda np: np.full((2, 2), 1.5), r"\[0, 1\]"),
        (lambda np: np.full((2, 2), 300), r"\[0, 255\]"),
        (lambda np: np.zeros((2, 2, 2)), "shape"),
        (lambda np: np.zeros(5), "shape"),
    ],
)
def test_log_image_refuses_bad_arrays(
    client: CairnClient, run_id: str, make: object, message: str
) -> None:
    np = pytest.importorskip("numpy")
    with pytest.raises(InvalidParameterValue, match=message):
        client.log_image(run_id, make(np), "bad.png")  # type: ignore[operator]


def test_log_image_with_key_and_step_stores_a_series(client: CairnClient, run_id: str) -> None:
    np = pytest.importorskip("numpy")
    client.log_image(run_id, np.zeros((300, 400, 3), dtype=np.uint8), key="val/sample", step=3)

    files = [f.path for f in client.list_artifacts(run_id, "images")]
    assert len(files) == 2
    (png,) = [f for f in files if f.endswith(".png")]
    (webp,) = [f for f in files if f.endswith(".webp")]
    assert png.startswith("images/val#sample%step%3%timestamp%") and png.endswith(".png")
    assert webp == png.removesuffix(".png") + "%compressed.webp"
    assert client.get_run(run_id).data.tags["mlflow.loggedImages"] == "True"


def test_log_image_needs_exactly_one_of_file_or_key(client: CairnClient, run_id: str) -> None:
    with pytest.raises(InvalidParameterValue, match="exactly one"):
        client.log_image(run_id, object())
    with pytest.raises(InvalidParameterValue, match="exactly one"):
        client.log_image(run_id, object(), "a.png", key="k")
