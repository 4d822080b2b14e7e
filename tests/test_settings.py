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
