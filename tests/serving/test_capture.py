"""The capture file: sampled, one JSON line per request, replayable."""

from __future__ import annotations

import random
from pathlib import Path

import orjson
import pandas as pd
import pytest

from cairn.exceptions import InvalidParameterValue
from cairn.serving.capture import Capture


def test_sample_rate(tmp_path: Path) -> None:
    never = Capture(tmp_path / "never.jsonl", 0.0)
    always = Capture(tmp_path / "always.jsonl", 1.0)
    half = Capture(tmp_path / "half.jsonl", 0.5)
    half._random = random.Random(7)
    assert not any(never.sampled() for _ in range(100))
    assert all(always.sampled() for _ in range(100))
    assert 400 < sum(half.sampled() for _ in range(1000)) < 600
    for capture in (never, always, half):
        capture.close()
        capture.close()  # twice is harmless


def test_rate_must_be_a_fraction(tmp_path: Path) -> None:
    with pytest.raises(InvalidParameterValue, match="between 0 and 1"):
        Capture(tmp_path / "x.jsonl", 1.5)


def test_lines_are_json_and_appended(tmp_path: Path) -> None:
    path = tmp_path / "deep" / "capture.jsonl"
    path.parent.mkdir()
    path.write_bytes(b'{"earlier": true}\n')
    capture = Capture(path)
    capture.record("id1", "uuid", b'{"inputs":\r\n [1]}', None, b'{"predictions":[2]}')
    frame = pd.DataFrame({"a": [1.5, float("nan")], "t": pd.to_datetime(["2024-01-01", None])})
    capture.record("id2", None, None, frame, b'{"predictions":[1,2]}')
    capture.close()
    lines = [orjson.loads(line) for line in path.read_bytes().splitlines()]
    assert lines[0] == {"earlier": True}
    assert lines[1]["request"] == {"inputs": [1]} and lines[1]["request_id"] == "id1"
    assert lines[1]["response"] == {"predictions": [2]} and lines[1]["model_uuid"] == "uuid"
    split = lines[2]["request"]["dataframe_split"]
    assert split["columns"] == ["a", "t"]
    assert split["data"] == [[1.5, "2024-01-01T00:00:00"], [None, None]]
