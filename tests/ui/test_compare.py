"""`/compare`: the diff table, the charts' data and the run-count limits, over HTTP."""

from __future__ import annotations

import json
import re

from tests.ui.conftest import Logged, UiClient, text_of

RAW = re.compile(r"<script>alert|<img src=x|<script>p\(\)")


def payload(html: str) -> dict:  # type: ignore[type-arg]
    found = re.search(r'<script type="application/json" id="compare-data">(.*?)</script>', html)
    assert found, "the page carries its chart data"
    return dict(json.loads(found.group(1)))


def test_compare_three_runs(ui: UiClient, logged: Logged) -> None:
    ids = [logged.run_ids[n] for n in ("alpha", "beta", "gamma")]
    response = ui.http.get("/compare", params={"runs": ",".join(ids)})
    assert response.status_code == 200
    html = response.text
    assert "Compare 3 runs" in html
    # lr differs (highlighted), model does not
    assert re.search(r'<tr class="differs" data-ref="params.lr">', html)
    assert re.search(r'<tr class="same" data-ref="params.model">', html)
    assert 'data-ref="metrics.acc"' in html and 'class="num changed"' in html
    data = payload(html)
    assert [r["id"] for r in data["runs"]] == ids
    assert data["parallel"] == ["params.lr", "metrics.acc"]  # the differing param, a metric
    assert data["x"] == "params.lr" and data["y"] == "metrics.acc"
    assert data["histories"] == ["acc", "loss"]
    assert html.count('class="compare-history compare-chart"') == 2
    assert f'href="/experiments/{logged.experiment_id}"' in html


def test_choices_are_kept_in_the_url(ui: UiClient, logged: Logged) -> None:
    ids = ",".join(logged.run_ids[n] for n in ("alpha", "beta", "delta"))
    query = f"runs={ids}&diff=1&choose=1&par=params.model&par=metrics.loss&x=metrics.acc"
    html = ui.http.get(f"/compare?{query}&y=params.lr&h=loss").text
    data = payload(html)
    assert data["parallel"] == ["params.model", "metrics.loss"]
    assert (data["x"], data["y"], data["histories"]) == ("metrics.acc", "params.lr", ["loss"])
    assert 'data-ref="params.model"' not in html  # only differing rows
    assert 'data-ref="params.lr"' in html
    assert re.search(r'<option value="metrics.acc" selected>', html)
    nothing = ui.http.get(f"/compare?runs={ids}&choose=1").text
    assert payload(nothing)["parallel"] == [] and payload(nothing)["histories"] == []


def test_runs_table_form_sends_repeated_run_fields(ui: UiClient, logged: Logged) -> None:
    a, b = logged.run_ids["alpha"], logged.run_ids["beta"]
    response = ui.http.get("/compare", params=[("run", a), ("run", b), ("run", a)])
    assert response.status_code == 200 and "Compare 2 runs" in response.text
    table = ui.http.get(f"/experiments/{logged.experiment_id}").text
    assert 'id="compare-form"' in table and 'form="compare-form"' in table


def test_bad_run_lists(ui: UiClient, logged: Logged) -> None:
    a = logged.run_ids["alpha"]
    for query in ("", f"runs={a}", f"runs={a},{a}", "runs=,,"):
        response = ui.http.get(f"/compare?{query}")
        assert response.status_code == 400, query
        assert "at least 2 runs" in text_of(response.text)
    many = ",".join(f"{i:032x}" for i in range(101))
    too_many = ui.http.get(f"/compare?runs={many}")
    assert too_many.status_code == 400 and "At most 100 runs" in too_many.text
    missing = "0123456789abcdef0123456789abcdef"
    unknown = ui.http.get(f"/compare?runs={a},{missing},<script>alert(1)</script>")
    assert unknown.status_code == 404
    assert missing in unknown.text and "&lt;script&gt;" in unknown.text
    assert not RAW.search(unknown.text)
    bad_axis = ui.http.get(f"/compare?runs={a},{logged.run_ids['beta']}&x=tags.team&par=oops")
    assert bad_axis.status_code == 400 and "Unknown axis" in bad_axis.text


def test_values_are_escaped(ui: UiClient, logged: Logged) -> None:
    ids = f"{logged.run_ids['xss']},{logged.run_ids['alpha']}"
    html = ui.http.get(f"/compare?runs={ids}&par=params.html").text
    assert not RAW.search(html)
    assert "&lt;script&gt;p()&lt;/script&gt;" in html
    data = payload(html)  # the JSON in the page escapes < and > too
    assert data["runs"][0]["params"]["html"] == "<script>p()</script>"
    assert "\\u003cscript\\u003e" in html


def test_overlaid_histories_in_one_request(ui: UiClient, logged: Logged) -> None:
    a, b, child = logged.run_ids["alpha"], logged.run_ids["beta"], logged.run_ids["child"]
    url = "/compare/metric-history"
    response = ui.http.get(url, params={"runs": f"{a},{b},{child}", "key": "loss"})
    assert response.status_code == 200 and response.headers["content-type"] == "application/json"
    body = response.json()
    assert body["key"] == "loss" and [r["run_id"] for r in body["runs"]] == [a, b, child]
    assert body["runs"][0]["total"] == 5
    assert body["runs"][0]["points"] == [[i, i / 5] for i in range(5)]  # [step, value]
    assert body["runs"][2] == {"run_id": child, "total": 0, "points": []}  # no such metric
    alone = ui.http.get(f"/runs/{a}/metric-history", params={"key": "loss"}).json()
    assert [[p[0], p[2]] for p in alone["points"]] == body["runs"][0]["points"]
    unknown_key = ui.http.get(url, params={"runs": f"{a},{b}", "key": "never"}).json()
    assert [r["points"] for r in unknown_key["runs"]] == [[], []]


def test_overlaid_histories_bad_input(ui: UiClient, logged: Logged) -> None:
    a, b = logged.run_ids["alpha"], logged.run_ids["beta"]
    url = "/compare/metric-history"
    assert ui.http.get(url, params={"runs": f"{a},{b}"}).status_code == 400  # no key
    assert ui.http.get(url, params={"runs": a, "key": "loss"}).status_code == 400
    for bad in ("3", "x", "5000"):
        params = {"runs": f"{a},{b}", "key": "loss", "points": bad}
        assert ui.http.get(url, params=params).status_code == 400, bad
    missing = "0123456789abcdef0123456789abcdef"
    for other in (missing, "<script>"):
        response = ui.http.get(url, params={"runs": f"{a},{other}", "key": "loss"})
        assert response.status_code == 404 and not RAW.search(response.text)


def test_runs_without_params_or_metrics(ui: UiClient) -> None:
    eid, _ = ui.experiment()
    ids = [ui.run(eid, f"empty-{i}", 1000 + i) for i in range(2)]
    response = ui.http.get("/compare", params={"runs": ",".join(ids)})
    assert response.status_code == 200 and "None." in response.text
    data = payload(response.text)
    assert data["parallel"] == [] and data["histories"] == [] and data["x"] == ""
    assert 'class="compare-history' not in response.text
