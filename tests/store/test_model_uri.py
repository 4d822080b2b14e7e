"""`models:/` URIs: every form parses to what it names, and resolves through a registry."""

from __future__ import annotations

import pytest

from cairn.entities import ModelVersionStage
from cairn.exceptions import InvalidParameterValue, ResourceDoesNotExist
from cairn.store.model_uri import ModelUri, parse_model_uri, resolve_download_uri
from cairn.store.sql.registry import SqlRegistryStore


@pytest.mark.parametrize(
    "uri, expected",
    [
        ("models:/m/3", ModelUri("m", version="3")),
        ("models:/m/03", ModelUri("m", version="3")),
        ("models:m/1", ModelUri("m", version="1")),
        ("models:/m/Production", ModelUri("m", stage=ModelVersionStage.PRODUCTION)),
        ("models:/m/staging", ModelUri("m", stage=ModelVersionStage.STAGING)),
        ("models:/m/None", ModelUri("m", stage=ModelVersionStage.NONE)),
        ("models:/m/latest", ModelUri("m", latest=True)),
        ("models:/m/LATEST", ModelUri("m", latest=True)),
        ("models:/m@champion", ModelUri("m", alias="champion")),
        ("MODELS:/my model@a-1", ModelUri("my model", alias="a-1")),
    ],
)
def test_forms(uri: str, expected: ModelUri) -> None:
    assert parse_model_uri(uri) == expected


@pytest.mark.parametrize(
    "uri", ["models:/m", "models:/m/", "models:/m/Live", "models:/m/1/x", "models:/@a", "runs:/x"]
)
def test_malformed_uris_say_what_is_expected(uri: str) -> None:
    with pytest.raises(InvalidParameterValue):
        parse_model_uri(uri)


def test_each_form_resolves_to_the_version_files(
    registry: SqlRegistryStore, model_run: str
) -> None:
    registry.create_registered_model("m")
    for _ in range(3):
        registry.create_model_version("m", f"runs:/{model_run}/model")
    registry.transition_model_version_stage("m", "2", "Production")
    registry.set_registered_model_alias("m", "champion", "1")

    def location(version: str) -> str:
        return registry.get_model_version(version=version, name="m").storage_location

    assert resolve_download_uri(registry, "models:/m/3") == location("3")
    assert resolve_download_uri(registry, "models:/m/production") == location("2")
    assert resolve_download_uri(registry, "models:/m/latest") == location("3")
    assert resolve_download_uri(registry, "models:/m@champion") == location("1")
    with pytest.raises(ResourceDoesNotExist, match="Staging"):
        resolve_download_uri(registry, "models:/m/Staging")
    with pytest.raises(ResourceDoesNotExist):
        resolve_download_uri(registry, "models:/ghost/1")
