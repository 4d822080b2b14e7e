"""Registered models in the SQL registry store: lifecycle, tags, names, search and paging."""

from __future__ import annotations

import time

import pytest

from cairn.exceptions import InvalidParameterValue, ResourceAlreadyExists, ResourceDoesNotExist
from cairn.store.sql.registry import SqlRegistryStore


def test_create_get_update_and_tags(registry: SqlRegistryStore) -> None:
    before = int(time.time() * 1000)
    created = registry.create_registered_model("churn", tags={"team": "ds"}, description="d1")
    assert created.name == "churn"
    assert created.tags == {"team": "ds"}
    assert created.description == "d1"
    assert before <= created.creation_timestamp == created.last_updated_timestamp
    assert created.latest_versions == () and created.aliases == {}

    time.sleep(0.002)
    updated = registry.update_registered_model("churn", "d2")
    assert updated.description == "d2"
    assert updated.last_updated_timestamp > created.last_updated_timestamp

    registry.set_registered_model_tag("churn", "team", "ml")
    registry.set_registered_model_tag("churn", "tier", "1")
    assert registry.get_registered_model("churn").tags == {"team": "ml", "tier": "1"}
    time.sleep(0.002)
    before_delete = registry.get_registered_model("churn").last_updated_timestamp
    registry.delete_registered_model_tag("churn", "tier")
    after_delete = registry.get_registered_model("churn").last_updated_timestamp
    assert after_delete > before_delete
    registry.delete_registered_model_tag("churn", "never-set")  # a no-op, as in MLflow
    assert registry.get_registered_model("churn").tags == {"team": "ml"}
    assert registry.get_registered_model("churn").last_updated_timestamp == after_delete


def test_names_are_unique_including_look_alikes(registry: SqlRegistryStore) -> None:
    registry.create_registered_model("Fraud")
    with pytest.raises(ResourceAlreadyExists, match="already exists"):
        registry.create_registered_model("Fraud")
    full_width = "\uff26\uff52\uff41\uff55\uff44"  # "Fraud" in full-width letters
    cyrillic_a = "Fr\u0430ud"  # a Cyrillic small a in place of the Latin one
    greek_capital = "FR\u0391UD"  # a Greek capital alpha, which folds to small alpha
    for look_alike in ("fraud", "FRAUD", full_width, cyrillic_a, greek_capital):
        with pytest.raises(ResourceAlreadyExists, match="too similar"):
            registry.create_registered_model(look_alike)
    registry.create_registered_model(
        "\u043c\u043e\u0434\u0435\u043b\u044c"
    )  # "model" in Cyrillic: a name of its own


@pytest.mark.parametrize(
    "name",
    ["", "a/b", "a:b", "a%2Fb", "a%00", "x\x00", "trailing ", " leading", "tab\tname", "x" * 257],
)
def test_invalid_names_are_refused(registry: SqlRegistryStore, name: str) -> None:
    with pytest.raises(InvalidParameterValue):
        registry.create_registered_model(name)


def test_missing_models_are_reported(registry: SqlRegistryStore) -> None:
    with pytest.raises(ResourceDoesNotExist, match="not found"):
        registry.get_registered_model("nope")
    with pytest.raises(ResourceDoesNotExist):
        registry.update_registered_model("nope", "x")
    with pytest.raises(ResourceDoesNotExist):
        registry.delete_registered_model("nope")
    with pytest.raises(ResourceDoesNotExist):
        registry.set_registered_model_tag("nope", "k", "v")


def test_tag_limits(registry: SqlRegistryStore) -> None:
    registry.create_registered_model("m")
    registry.set_registered_model_tag("m", "big", "x" * 100_000)
    assert len(registry.get_registered_model("m").tags["big"]) == 100_000
    with pytest.raises(InvalidParameterValue, match="limit"):
        registry.set_registered_model_tag("m", "big", "x" * 100_001)
    with pytest.raises(InvalidParameterValue):
        registry.set_registered_model_tag("m", "../k", "v")


def test_rename_keeps_everything_and_frees_the_old_name(
    registry: SqlRegistryStore, model_run: str
) -> None:
    registry.create_registered_model("old", tags={"k": "v"})
    registry.create_model_version("old", f"runs:/{model_run}/model", model_run)
    registry.set_registered_model_alias("old", "champion", "1")
    renamed = registry.rename_registered_model("old", "new")
    assert renamed.name == "new" and renamed.tags == {"k": "v"}
    assert renamed.aliases == {"champion": "1"}
    assert registry.get_model_version("new", "1").name == "new"
    assert registry.get_model_version_by_alias("new", "champion").version == "1"
    with pytest.raises(ResourceDoesNotExist):
        registry.get_registered_model("old")
    registry.create_registered_model("old")  # the old name is free again
    registry.rename_registered_model("new", "NEW")  # a model may change its own case
    with pytest.raises(ResourceAlreadyExists):
        registry.rename_registered_model("NEW", "old")


def test_search_filters_orders_and_pages(registry: SqlRegistryStore) -> None:
    for name, team in [("alpha", "a"), ("beta", "b"), ("Gamma", "a"), ("delta", "b")]:
        registry.create_registered_model(name, tags={"team": team})
        time.sleep(0.002)
    registry.set_registered_model_tag("Gamma", "mlflow.prompt.is_prompt", "true")

    def names(**kw: object) -> list[str]:
        return [m.name for m in registry.search_registered_models(**kw)]  # type: ignore[arg-type]

    assert names() == ["Gamma", "alpha", "beta", "delta"]  # name ASC, byte order
    assert names(filter_string="name LIKE '%ta'") == ["beta", "delta"]
    assert names(filter_string="name ILIKE 'g%'") == ["Gamma"]
    assert names(filter_string="name IN ('alpha', 'delta')") == ["alpha", "delta"]
    assert names(filter_string="tags.team = 'a'") == ["Gamma", "alpha"]
    assert names(filter_string="name != 'beta' AND tag.team = 'b'") == ["delta"]
    # The MLflow 3.x client adds this clause to every search: a missing tag reads as 'false'.
    prompt_free = "tag.`mlflow.prompt.is_prompt` != 'true'"
    assert names(filter_string=prompt_free) == ["alpha", "beta", "delta"]
    assert names(filter_string="tags.`mlflow.prompt.is_prompt` = 'false'") == [
        "alpha",
        "beta",
        "delta",
    ]
    assert names(order_by=["last_updated_timestamp DESC"]) == ["Gamma", "delta", "beta", "alpha"]
    assert names(order_by=["timestamp ASC"]) == ["alpha", "beta", "delta", "Gamma"]

    first = registry.search_registered_models(max_results=3)
    assert [m.name for m in first] == ["Gamma", "alpha", "beta"] and first.token
    second = registry.search_registered_models(max_results=3, page_token=first.token)
    assert [m.name for m in second] == ["delta"] and second.token is None
    with pytest.raises(InvalidParameterValue):
        registry.search_registered_models(max_results=3, page_token=first.token, order_by=["name"])
    with pytest.raises(InvalidParameterValue):
        registry.search_registered_models(max_results=1001)
    with pytest.raises(InvalidParameterValue):
        registry.search_registered_models(filter_string="run_id = 'x'")


def test_delete_removes_versions_tags_aliases_and_copies(
    registry: SqlRegistryStore, model_run: str
) -> None:
    from cairn.store.model_sources import LocalArtifactAccess

    registry.create_registered_model("doomed", tags={"k": "v"})
    version = registry.create_model_version("doomed", f"runs:/{model_run}/model", tags={"t": "1"})
    registry.set_registered_model_alias("doomed", "a", "1")
    copy = LocalArtifactAccess(registry.tracking.artifact_root).repository(version.storage_location)
    assert copy.list_artifacts()
    registry.delete_registered_model("doomed")
    with pytest.raises(ResourceDoesNotExist):
        registry.get_model_version("doomed", "1")
    assert copy.list_artifacts() == []
    recreated = registry.create_registered_model("doomed")
    assert recreated.tags == {} and recreated.aliases == {}
    assert registry.create_model_version("doomed", f"runs:/{model_run}/model").version == "1"
