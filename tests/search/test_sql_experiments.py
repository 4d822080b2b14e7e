"""search_experiments compiled to SQL, against the real store on every database."""

from __future__ import annotations

import pytest

from cairn.exceptions import InvalidFilter, InvalidParameterValue


@pytest.fixture
def experiments(store):
    """Default (id 0) plus 'alpha' {team: ml}, 'Beta' {team: ML}, 'gamma' (no tags)."""
    ids = {
        "alpha": store.create_experiment("alpha", tags={"team": "ml"}),
        "Beta": store.create_experiment("Beta", tags={"team": "ML", "env": "prod"}),
        "gamma": store.create_experiment("gamma"),
    }
    return store, ids


def names(store, filter_string=None, order_by=None, **kw) -> list[str]:
    return [
        e.name
        for e in store.search_experiments(filter_string=filter_string, order_by=order_by, **kw)
    ]


@pytest.mark.parametrize(
    ("filter_string", "expected"),
    [
        ("name = 'alpha'", ["alpha"]),
        ("name != 'alpha'", ["Beta", "Default", "gamma"]),
        ("name LIKE '%a'", ["Beta", "alpha", "gamma"]),
        ("attribute.name LIKE 'b%'", []),
        ("name ILIKE 'b%'", ["Beta"]),
        ("name IN ('alpha', 'gamma')", ["alpha", "gamma"]),
        ("tags.team = 'ml'", ["alpha"]),
        ("tags.team ILIKE 'ml'", ["Beta", "alpha"]),
        ("tags.team != 'ml'", ["Beta"]),  # experiments without the tag never match
        ("tags.team IS NULL", ["Default", "gamma"]),
        ("tag.env IS NOT NULL", ["Beta"]),
        ("tags.team = 'ml' OR name = 'gamma'", ["alpha", "gamma"]),
        ("(tags.team = 'ml' OR tags.team = 'ML') AND tags.env = 'prod'", ["Beta"]),
        ("experiment_id = '0'", ["Default"]),
        ("experiment_id = '00'", []),  # only the canonical spelling names an id
        ("experiment_id = 'abc'", []),
        ("experiment_id != 'abc'", ["Beta", "Default", "alpha", "gamma"]),
        ("experiment_id IN ('0', 'zz')", ["Default"]),
        ("experiment_id NOT IN ('0')", ["Beta", "alpha", "gamma"]),
        ("experiment_id LIKE '0'", ["Default"]),
        ("creation_time > 0", ["Beta", "Default", "alpha", "gamma"]),
        ("last_update_time < 0", []),
    ],
)
def test_filters(experiments, filter_string, expected):
    store, _ = experiments
    assert sorted(names(store, filter_string)) == sorted(expected)


def test_default_order_is_newest_first_then_by_id(experiments):
    store, _ = experiments
    found = store.search_experiments()
    keys = [(-e.creation_time, int(e.experiment_id)) for e in found]
    assert keys == sorted(keys)


@pytest.mark.parametrize(
    ("order_by", "expected"),
    [
        (["name"], ["Beta", "Default", "alpha", "gamma"]),  # code point order: capitals first
        (["name DESC"], ["gamma", "alpha", "Default", "Beta"]),
        (["experiment_id DESC"], ["gamma", "Beta", "alpha", "Default"]),
        (["attribute.experiment_id"], ["Default", "alpha", "Beta", "gamma"]),
    ],
)
def test_order_by(experiments, order_by, expected):
    store, _ = experiments
    assert names(store, order_by=order_by) == expected


def test_ties_are_broken_by_id(experiments):
    store, _ = experiments
    found = store.search_experiments(order_by=["creation_time"])
    keys = [(e.creation_time, int(e.experiment_id)) for e in found]
    assert keys == sorted(keys)


def test_view_types(experiments):
    store, ids = experiments
    store.delete_experiment(ids["gamma"])
    assert "gamma" not in names(store)
    assert names(store, view_type="DELETED_ONLY") == ["gamma"]
    assert sorted(names(store, view_type="ALL")) == ["Beta", "Default", "alpha", "gamma"]


def test_pages(experiments):
    store, _ = experiments
    first = store.search_experiments(max_results=3, order_by=["name"])
    assert [e.name for e in first] == ["Beta", "Default", "alpha"]
    second = store.search_experiments(max_results=3, order_by=["name"], page_token=first.token)
    assert [e.name for e in second] == ["gamma"] and second.token is None
    with pytest.raises(InvalidParameterValue):
        store.search_experiments(max_results=3, order_by=["name DESC"], page_token=first.token)


@pytest.mark.parametrize(
    ("filter_string", "order_by"),
    [
        ("metrics.acc > 1", None),
        ("name = 1", None),
        (None, ["tags.team"]),
        (None, ["name", "name"]),
    ],
)
def test_errors(experiments, filter_string, order_by):
    store, _ = experiments
    with pytest.raises(InvalidFilter):
        store.search_experiments(filter_string=filter_string, order_by=order_by)
