"""Artifact previews decided from names and bytes."""

from __future__ import annotations

import json

from cairn.ui.previews import CSV_ROWS, PREVIEW_BYTES, kind_of, preview

MLMODEL = """\
artifact_path: model
flavors:
  python_function:
    loader_module: cairn.sklearn
  sklearn:
    sklearn_version: 1.5.0
run_id: abc123
signature:
  inputs: '[{"type": "double", "name": "x"},
    {"type": "tensor", "tensor-spec": {"dtype": "float32", "shape": [-1, 4]}}]'
  outputs: '[{"type": "long"}]'
utc_time_created: '2026-11-24 08:00:00.000000'
"""


def test_kinds_by_name() -> None:
    assert kind_of("dir/MLmodel") == "mlmodel"
    assert kind_of("a/plot.PNG") == "image"
    assert kind_of("x.svg") == "image"
    assert kind_of("t.csv") == "table" and kind_of("t.tsv") == "table"
    assert kind_of("c.json") == "json"
    assert kind_of("c.yml") == "yaml"
    assert kind_of("notes") == "text"


def test_csv_is_a_table_cut_to_its_first_rows() -> None:
    body = "a,b\n" + "".join(f"{i},{i * 2}\n" for i in range(500))
    shown = preview("m.csv", body.encode(), len(body))
    assert shown.kind == "table"
    assert shown.rows[0] == ["a", "b"] and shown.rows[1] == ["0", "0"]
    assert len(shown.rows) == CSV_ROWS + 1 and shown.truncated
    small = preview("m.tsv", b"a\tb\n1\t2\n", 8)
    assert small.rows == [["a", "b"], ["1", "2"]] and not small.truncated


def test_json_is_pretty_printed_when_whole_and_valid() -> None:
    shown = preview("c.json", b'{"b": [1, 2], "a": "<x>"}', 24)
    assert shown.kind == "json"
    assert json.loads(shown.text) == {"b": [1, 2], "a": "<x>"} and "\n" in shown.text
    broken = preview("c.json", b"{not json", 9)
    assert broken.text == "{not json"


def test_mlmodel_summary() -> None:
    shown = preview("model/MLmodel", MLMODEL.encode(), len(MLMODEL))
    assert shown.kind == "mlmodel"
    assert shown.model["flavors"] == ["python_function", "sklearn"]
    assert shown.model["inputs"] == ["x: double", "tensor float32 [-1, 4]"]
    assert shown.model["outputs"] == ["long"]
    assert shown.model["run_id"] == "abc123"
    assert preview("MLmodel", b": : not yaml [", 14).model == {}


def test_binary_files_have_no_preview() -> None:
    assert preview("weights.bin", b"\x00\x01\x02" * 100, 300).kind == "none"
    assert preview("blob", bytes(range(128, 256)) * 10, 1280).kind == "none"


def test_long_text_is_marked_truncated_without_a_broken_character() -> None:
    head = ("é" * (PREVIEW_BYTES // 2)).encode()[: PREVIEW_BYTES - 1]  # ends mid-character
    shown = preview("log.txt", head, PREVIEW_BYTES * 3)
    assert shown.truncated and not shown.text.endswith("\ufffd")


def test_images_are_shown_by_url_not_inlined() -> None:
    shown = preview("plot.png", b"\x89PNG\r\n", 6)
    assert shown.kind == "image" and shown.text == ""
