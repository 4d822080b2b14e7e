"""Human-friendly values in tables."""

from __future__ import annotations

from cairn.cli.output import format_duration, format_number, format_size, format_time


def test_format_duration() -> None:
    assert format_duration(None, None) == ""
    assert format_duration(0, 1500) == "1.5s"
    assert format_duration(0, 90_000) == "1m 30s"
    assert format_duration(0, 2 * 3600_000 + 60_000) == "2h 1m"
    assert format_duration(0, 50 * 3600_000) == "2d 2h"


def test_format_number() -> None:
    assert format_number(0.912345678) == "0.912346"
    assert format_number(1234567.0) == "1.23457e+06"
    assert format_number(float("nan")) == "nan"


def test_format_size() -> None:
    assert format_size(None) == ""
    assert format_size(512) == "512 B"
    assert format_size(1536) == "1.5 KiB"
    assert format_size(5 * 1024**3) == "5.0 GiB"
    assert format_size(3 * 1024**4) == "3.0 TiB"


def test_format_time() -> None:
    assert format_time(None) == ""
    assert len(format_time(1_700_000_000_000)) == len("2023-11-14 22:13:20")
