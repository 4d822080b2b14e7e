"""`/runs/<id>`: overview, tag and description forms, chart data."""

from __future__ import annotations

import math

from tests.ui.conftest import Logged, UiClient, metric_points, text_of


def test_overview_params_metrics_tags_and_charts(ui: UiClient, logged: Logged) -> None:
    run = logged.run_ids["beta"]
    response = ui.http.get(f"/runs/{run}")
    assert response.status_code == 200
    text = text_of(response.text)
    assert run in text and "train.py" in text and "vision" in text
    assert "lr 0.2" in text and "model cnn" in text
    assert "acc 0.9 4" in text  # latest value and its step
    assert response.text.count('class="metric-chart"') == 2
    assert f'data-url="/runs/{run}/metric-history?key=acc"' in response.text
    assert "default-src 'self'" in response.headers["content-security-policy"]


def test_child_run_links_its_parent(ui: UiClient, logged: Logged) -> None:
    html = ui.http.get(f"/runs/{logged.run_ids['child']}").text
    assert f'href="/runs/{logged.run_ids["beta"]}"' in html


def test_edit_tags_and_description(ui: UiClient, logged: Logged) -> None:
    run = logged.run_ids["alpha"]
    set_tag = ui.post_form(f"/runs/{run}/tags", {"key": "stage", "value": "tuned"})
    assert set_tag.status_code == 303 and set_tag.headers["location"] == f"/runs/{run}#tags"
    assert "stage tuned" in text_of(ui.http.get(f"/runs/{run}").text)
    assert ui.post_form(f"/runs/{run}/tags/delete", {"key": "stage"}).status_code == 303
    assert "stage tuned" not in text_of(ui.http.get(f"/runs/{run}").text)
    note = "Line one\r\nLine <two> & three"
    assert ui.post_form(f"/runs/{run}/description", {"description": note}).status_code == 303
    page = ui.http.get(f"/runs/{run}").text
    assert "Line one\nLine &lt;two&gt; &amp; three</textarea>" in page
    api = ui.http.get("/api/2.0/mlflow/runs/get", params={"run_id": run}).json()
    tags = {t["key"]: t["value"] for t in api["run"]["data"]["tags"]}
    assert tags["mlflow.note.content"] == "Line one\nLine <two> & three"


def test_refused_edits_are_error_pages(ui: UiClient, logged: Logged) -> None:
    response = ui.post_form(f"/runs/{logged.run_ids['alpha']}/tags", {"key": "", "value": "v"})
    assert response.status_code == 400 and response.headers["content-type"].startswith("text/html")
    missing = ui.post_form("/runs/0123456789abcdef0123456789abcdef/tags", {"key": "k"})
    assert missing.status_code == 404


def test_chart_data_is_downsampled_on_the_server(ui: UiClient, logged: Logged) -> None:
    run = logged.run_ids["delta"]
    points = metric_points("long", 5000)
    points[1234]["value"] = 99.0
    for i in range(0, len(points), 1000):
        ui.api("/runs/log-batch", {"run_id": run, "metrics": points[i : i + 1000]})
    ui.api(
        "/runs/log-metric",
        {"run_id": run, "key": "long", "value": "NaN", "timestamp": 1, "step": 6000},
    )
    whole = ui.http.get(f"/runs/{run}/metric-history", params={"key": "long", "points": "10000"})
    assert whole.json()["total"] == 5001 and len(whole.json()["points"]) == 5001
    assert whole.json()["points"][-1] == [6000, 1, None]  # NaN travels as null
    cut = ui.http.get(f"/runs/{run}/metric-history", params={"key": "long", "points": "100"})
    body = cut.json()
    assert cut.headers["content-type"] == "application/json"
    assert body["key"] == "long" and body["total"] == 5001 and len(body["points"]) <= 100
    assert [1234, 1234, 99.0] in body["points"]  # the spike survives
    default = ui.http.get(f"/runs/{run}/metric-history", params={"key": "long"}).json()
    assert 100 < len(default["points"]) <= 2000
    assert not any(isinstance(p[2], float) and math.isnan(p[2]) for p in default["points"])


def test_chart_data_errors(ui: UiClient, logged: Logged) -> None:
    run = logged.run_ids["delta"]
    assert ui.http.get(f"/runs/{run}/metric-history").status_code == 400
    for bad in ("3", "abc", "100000"):
        response = ui.http.get(f"/runs/{run}/metric-history", params={"key": "acc", "points": bad})
        assert response.status_code == 400
    unknown_key = ui.http.get(f"/runs/{run}/metric-history", params={"key": "never"})
    assert unknown_key.json() == {"key": "never", "total": 0, "points": []}
    missing = ui.http.get("/runs/0123456789abcdef0123456789abcdef/metric-history?key=acc")
    assert missing.status_code == 404


def test_unknown_runs_are_404_pages(ui: UiClient) -> None:
    for path in ("/runs/0123456789abcdef0123456789abcdef", "/runs/not-an-id", "/runs/%3Cx%3E"):
        response = ui.http.get(path)
        assert response.status_code == 404 and "Not found" in response.text
