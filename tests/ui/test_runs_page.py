"""`/experiments/<id>`: sorting, filtering, columns, paging, nesting, htmx partials."""

from __future__ import annotations

import re

from tests.ui.conftest import Logged, UiClient, text_of


def run_names(html: str) -> list[str]:
    """The run names of the table's rows, in order."""
    body = html.split('id="runs-table"', 1)[1]
    return re.findall(r'<td class="name">.*?<a href="/runs/\w+">(.*?)</a>', body)


def page(ui: UiClient, logged: Logged, **params: object) -> tuple[int, str]:
    response = ui.http.get(f"/experiments/{logged.experiment_id}", params=params)  # type: ignore[arg-type]
    return response.status_code, response.text


def test_default_order_is_newest_first_with_children_under_their_parent(
    ui: UiClient, logged: Logged
) -> None:
    status, html = page(ui, logged)
    assert status == 200
    names = run_names(html)
    assert names[:1] == ["&lt;script&gt;alert(&#39;run&#39;)&lt;/script&gt;"]
    assert names[1:] == ["delta", "gamma", "beta", "child-of-beta", "alpha"]
    child_row = re.search(
        r'<tr data-run-id="(\w+)" class="depth-(\d)', html.split("child-of-beta")[0][-400:]
    )
    assert child_row and child_row.group(1) == logged.run_ids["child"] and child_row.group(2) == "1"
    assert "6 runs in this experiment" in text_of(html)


def test_sort_by_a_metric_both_ways_missing_values_last(ui: UiClient, logged: Logged) -> None:
    _, html = page(ui, logged, sort="metrics.acc", dir="asc")
    # The child (0.5) sorts first but is shown under its parent, which is on the same page.
    assert run_names(html)[:5] == ["delta", "alpha", "gamma", "beta", "child-of-beta"]
    assert 'aria-sort="ascending"' in html
    _, html = page(ui, logged, sort="metrics.acc")
    names = run_names(html)
    # beta (0.9) leads; its child (0.5) follows it on the page, grouped under it.
    assert names[:3] == ["beta", "child-of-beta", "gamma"]
    assert names[-1].startswith("&lt;script")  # no acc: last in both directions


def test_sort_by_param_and_attribute(ui: UiClient, logged: Logged) -> None:
    _, html = page(ui, logged, sort="params.lr", dir="asc")
    assert run_names(html)[:5] == ["alpha", "beta", "child-of-beta", "gamma", "delta"]
    _, html = page(ui, logged, sort="attributes.run_name", dir="asc")
    assert run_names(html)[1:3] == ["alpha", "beta"]


def test_a_valid_filter(ui: UiClient, logged: Logged) -> None:
    status, html = page(ui, logged, filter="metrics.acc > 0.75 AND params.model = 'cnn'")
    assert status == 200
    assert sorted(run_names(html)) == ["beta", "gamma"]
    assert 'value="metrics.acc &gt; 0.75 AND params.model = &#39;cnn&#39;"' in html


def test_a_bad_filter_is_shown_inline_with_400(ui: UiClient, logged: Logged) -> None:
    status, html = page(ui, logged, filter="metrics.acc >> <b>1</b>")
    assert status == 400
    assert 'id="filter-error"' in html and "position" in html
    assert "<b>1</b>" not in html and "&lt;b&gt;1&lt;/b&gt;" in html
    assert run_names(html) == []
    assert 'id="filter-input"' in html  # the page is whole: the box can be corrected


def test_bad_sort_keys_are_shown_inline_with_400(ui: UiClient, logged: Logged) -> None:
    status, html = page(ui, logged, sort="attributes.bogus")
    assert status == 400 and "Bad sort" in html and "bogus" in html
    status, html = page(ui, logged, sort="nonsense")
    assert status == 400 and "Unknown column" in html
    assert len(run_names(html)) == 6  # fell back to the default order


def test_negative_and_malformed_pages_are_400_and_a_page_past_the_end_is_empty(
    ui: UiClient, logged: Logged
) -> None:
    for bad in ("-1", "0", "x"):
        status, html = page(ui, logged, page=bad)
        assert status == 400 and "Bad page" in html
    status, html = page(ui, logged, page="99")
    assert status == 200 and "No runs" in html


def test_paging(ui: UiClient, logged: Logged) -> None:
    _, first = page(ui, logged, size="2")
    assert len(run_names(first)) == 2 and 'rel="next"' in first and 'rel="prev"' not in first
    _, second = page(ui, logged, size="2", page="2")
    # The child started after delta; its parent is on page 3, so it stays on page 1.
    assert run_names(second) == ["delta", "gamma"] and 'rel="prev"' in second
    assert "showing 3\N{EN DASH}4" in text_of(second)
    _, last = page(ui, logged, size="2", page="3")
    assert 'rel="next"' not in last


def test_columns_default_and_chosen(ui: UiClient, logged: Logged) -> None:
    _, html = page(ui, logged)
    headers = re.findall(r'data-sort="([^"]+)"', html)
    assert {"metrics.acc", "metrics.loss", "params.lr", "params.model"} <= set(headers)
    assert "tags.team" not in headers
    response = ui.http.get(
        f"/experiments/{logged.experiment_id}?cols=1&col=tags.team&col=metrics.acc"
    )
    headers = re.findall(r'data-sort="([^"]+)"', response.text)
    assert headers[-2:] == ["tags.team", "metrics.acc"]
    assert "params.lr" not in headers
    assert "vision" in response.text
    assert 'value="tags.team" checked' in response.text  # the chooser shows the choice
    none = ui.http.get(f"/experiments/{logged.experiment_id}?cols=1").text
    assert "metrics.acc" not in re.findall(r'data-sort="([^"]+)"', none)


def test_links_keep_the_view_state(ui: UiClient, logged: Logged) -> None:
    _, html = page(ui, logged, filter="params.model = 'cnn'", size="2", cols="1", col="tags.team")
    next_link = re.search(r'rel="next"', html) and re.search(r'href="([^"]+)"[^>]*rel="next"', html)
    assert next_link
    href = next_link.group(1).replace("&amp;", "&")
    for part in ("filter=params.model", "col=tags.team", "cols=1", "page=2", "size=2"):
        assert part in href


def test_htmx_requests_get_the_table_only(ui: UiClient, logged: Logged) -> None:
    headers = {"HX-Request": "true", "HX-Target": "runs"}
    response = ui.http.get(
        f"/experiments/{logged.experiment_id}", params={"sort": "metrics.acc"}, headers=headers
    )
    assert response.status_code == 200
    assert "<html" not in response.text and 'id="runs-table"' in response.text
    bad = ui.http.get(
        f"/experiments/{logged.experiment_id}", params={"filter": "x ="}, headers=headers
    )
    assert bad.status_code == 400 and "<html" not in bad.text and "filter-error" in bad.text
    restore = ui.http.get(
        f"/experiments/{logged.experiment_id}",
        headers={**headers, "HX-History-Restore-Request": "true"},
    )
    assert "<html" in restore.text


def test_unknown_experiment_is_a_404_page(ui: UiClient) -> None:
    for path in ("/experiments/987654", "/experiments/abc"):
        response = ui.http.get(path)
        assert response.status_code == 404
        assert "Not found" in response.text and response.headers["content-type"].startswith(
            "text/html"
        )
