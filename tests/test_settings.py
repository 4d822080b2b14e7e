"""Settings are declared once and documented: docs/settings.md is generated from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from cairn import settings

DOC = Path(__file__).resolve().parent.parent / "docs" / "settings.md"


def test_settings_doc_is_up_to_date() -> None:
    assert settings.settings_markdown() in DOC.read_text(), (
        "docs/settings.md is stale; regenerate its table with cairn.settings.settings_markdown()"
    )


def test_every_setting_is_listed_and_named_uniquely() -> None:
    names = [s.name for s in settings.ALL_SETTINGS]
    envs = [s.env for s in settings.ALL_SETTINGS]
    assert len(set(names)) == len(names) and len(set(envs)) == len(envs)
    declared = {v for v in vars(settings).values() if isinstance(v, settings.Setting)}
    assert declared == set(settings.ALL_SETTINGS)


def test_cairn_variable_wins_over_mlflow_fallback(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")
    assert settings.TRACKING_URI.get() == "sqlite:///mlflow.db"
    monkeypatch.setenv("CAIRN_TRACKING_URI", "sqlite:///cairn.db")
    assert settings.TRACKING_URI.get() == "sqlite:///cairn.db"


def test_empty_variable_means_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_ARTIFACT_ROOT", "")
    monkeypatch.delenv("MLFLOW_DEFAULT_ARTIFACT_ROOT", raising=False)
    assert settings.ARTIFACT_ROOT.get() == settings.ARTIFACT_ROOT.default


@pytest.mark.parametrize("raw, expected", [("true", True), ("1", True), ("off", False), ("", True)])
def test_boolean_settings(monkeypatch: pytest.MonkeyPatch, raw: str, expected: bool) -> None:
    monkeypatch.setenv("CAIRN_TRUNCATE_LONG_VALUES", raw)
    assert settings.TRUNCATE_LONG_VALUES.get_bool() is expected


def test_numbers_are_read_with_their_bounds(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CAIRN_SQL_POOL_SIZE", " 7 ")
    assert settings.SQL_POOL_SIZE.get_int(minimum=1) == 7
    monkeypatch.setenv("CAIRN_SQL_BUSY_TIMEOUT", "0.05")
    assert settings.SQL_BUSY_TIMEOUT.get_float() == 0.05
    monkeypatch.delenv("CAIRN_HTTP_REQUEST_TIMEOUT", raising=False)
    monkeypatch.delenv("MLFLOW_HTTP_REQUEST_TIMEOUT", raising=False)
    assert settings.HTTP_REQUEST_TIMEOUT.get_float(positive=True) == 120.0  # the default


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("soon", "a whole number of at least 1, not 'soon'"),
        ("0", "a whole number of at least 1, not '0'"),
        ("-3", "a whole number of at least 1"),
        ("²", "a whole number of at least 1"),  # str.isdigit() says yes; int() says no
        ("2.5", "a whole number of at least 1"),
    ],
)
def test_a_bad_whole_number_names_the_variable(
    monkeypatch: pytest.MonkeyPatch, value: str, message: str
) -> None:
    from cairn.exceptions import InvalidParameterValue

    monkeypatch.setenv("CAIRN_SQL_POOL_SIZE", value)
    with pytest.raises(InvalidParameterValue, match=f"CAIRN_SQL_POOL_SIZE must be {message}"):
        settings.SQL_POOL_SIZE.get_int(minimum=1)


@pytest.mark.parametrize("value", ["later", "-1", "inf", "nan", "1e999"])
def test_a_bad_number_names_the_variable(monkeypatch: pytest.MonkeyPatch, value: str) -> None:
    from cairn.exceptions import InvalidParameterValue

    monkeypatch.setenv("CAIRN_SQL_BUSY_TIMEOUT", value)
    with pytest.raises(InvalidParameterValue, match="CAIRN_SQL_BUSY_TIMEOUT must be a number"):
        settings.SQL_BUSY_TIMEOUT.get_float()


def test_a_positive_number_refuses_zero(monkeypatch: pytest.MonkeyPatch) -> None:
    from cairn.exceptions import InvalidParameterValue

    monkeypatch.setenv("CAIRN_WEBHOOK_TIMEOUT", "0")
    with pytest.raises(InvalidParameterValue, match="WEBHOOK_TIMEOUT must be a number above 0"):
        settings.WEBHOOK_TIMEOUT.get_float(positive=True)
