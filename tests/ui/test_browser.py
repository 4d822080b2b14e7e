"""The UI in a real browser: Playwright driving Debian's chromium against a real server.

Screenshots of each page go to `$CAIRN_TEST_ARTIFACTS/ui` when that is set, else to the
test's tmp directory. Without chromium (or Playwright) the test is skipped with the reason,
except under CI=true, where that is a failure: `.ci/run` installs chromium.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.ui.conftest import UiClient, metric_points
from tests.ui.test_artifacts import PNG

CHROMIUM = "/usr/bin/chromium"
IN_CI = os.environ.get("CI", "").lower() == "true"
TIMEOUT_MS = 15_000


def _require_browser() -> None:
    problem = None
    if not Path(CHROMIUM).exists():
        problem = f"{CHROMIUM} is missing (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "Playwright is not installed (pip install playwright; no browser download)"
    if problem:
        if IN_CI:
            pytest.fail(f"{problem}; CI=true: browser tests must run, not skip")
        pytest.skip(problem)


@pytest.fixture
def browser_page(tmp_path: Path) -> Iterator[Any]:
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.set_default_timeout(TIMEOUT_MS)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: (
                errors.append(msg.text)
                if msg.type == "error" and "status of 400" not in msg.text
                else None
            ),
        )
        page.cairn_errors = errors
        try:
            yield page
        finally:
            browser.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    base = os.environ.get("CAIRN_TEST_ARTIFACTS")
    directory = Path(base) / "ui" if base else tmp_path / "screenshots"
    directory.mkdir(parents=True, exist_ok=True)
    return directory


def test_experiment_run_and_artifacts_in_a_browser(
    ui: UiClient, browser_page: Any, shots: Path
) -> None:
    from playwright.sync_api import expect

    page = browser_page
    eid, _ = ui.experiment()
    runs = {}
    for i, (name, acc) in enumerate(
        [("alpha", 0.7), ("beta", 0.9), ("gamma", 0.8), ("delta", 0.6)]
    ):
        runs[name] = ui.run(
            eid, name, 2_000_000 + i * 1000,
            metrics=[*metric_points("loss", 60, start=2_000_000),
                     {"key": "acc", "value": acc, "timestamp": 1, "step": 0}],
            params=[{"key": "lr", "value": str(i)}],
            tags=[{"key": "team", "value": f"team-{name}"}],
        )  # fmt: skip
    ui.upload(runs["beta"], "table.csv", b"epoch,loss\n1,0.5\n2,0.25\n3,0.125\n")
    ui.upload(runs["beta"], "plots/curve.png", PNG)

    def names() -> list[str]:
        return page.locator("#runs-table tbody td.name a:first-of-type").all_inner_texts()

    page.goto(f"{ui.url}/experiments/{eid}")
    expect(page.locator("#runs-table tbody tr")).to_have_count(4)
    assert names() == ["delta", "gamma", "beta", "alpha"]
    page.screenshot(path=shots / "01-experiment.png", full_page=True)

    # Sort by a metric: the table is swapped by htmx and the URL keeps the state.
    page.evaluate("() => { window.cairnSamePage = true; }")  # lost on a full navigation
    page.click('a[data-sort="metrics.acc"]')
    page.wait_for_url("**sort=metrics.acc**")
    expect(page.locator("#runs-table tbody td.name a").first).to_have_text("beta")
    assert names() == ["beta", "gamma", "alpha", "delta"]
    page.click('a[data-sort="metrics.acc"]')
    page.wait_for_url("**dir=asc**")
    expect(page.locator("#runs-table tbody td.name a").first).to_have_text("delta")
    page.screenshot(path=shots / "02-sorted.png", full_page=True)

    # A valid filter, then an invalid one (its error shown inline).
    page.fill("#filter-input", "metrics.acc > 0.75")
    page.click("#filter-form button[type=submit]")
    expect(page.locator("#runs-table tbody tr")).to_have_count(2)
    assert "filter=metrics.acc" in page.url and "sort=metrics.acc" in page.url
    assert names() == ["gamma", "beta"]  # the ascending sort was kept
    page.fill("#filter-input", "metrics.acc >> 1")
    page.click("#filter-form button[type=submit]")
    expect(page.locator("#filter-error")).to_be_visible()
    expect(page.locator("#filter-error")).to_contain_text("position")
    page.screenshot(path=shots / "03-filter-error.png", full_page=True)
    page.fill("#filter-input", "")
    page.click("#filter-form button[type=submit]")
    expect(page.locator("#runs-table tbody tr")).to_have_count(4)
    assert page.evaluate("() => window.cairnSamePage === true"), "htmx swaps, no reloads"

    # Choose a column.
    page.click("#column-chooser summary")
    page.check('#columns-form input[value="tags.team"]')
    page.click("#columns-form button[type=submit]")
    expect(page.locator('a[data-sort="tags.team"]')).to_be_visible()
    expect(page.locator("#runs-table")).to_contain_text("team-beta")
    assert "col=tags.team" in page.url
    # Select three runs.
    boxes = page.locator('#runs-table input[name="run"]')
    for i in range(3):
        boxes.nth(i).check()
    expect(page.locator("#selected-count")).to_have_text("3")
    page.screenshot(path=shots / "04-columns-selected.png", full_page=True)

    # A shared link reproduces the view.
    shared = page.url
    page.goto(shared)
    expect(page.locator('a[data-sort="tags.team"]')).to_be_visible()

    # The run page: one chart per metric, rendered by ECharts on a canvas.
    page.click("#runs-table >> text=beta")
    page.wait_for_url(f"**/runs/{runs['beta']}")
    charts = page.locator('.metric-chart[data-state="ready"]')
    expect(charts).to_have_count(2)
    expect(page.locator(".metric-chart canvas").first).to_be_visible()
    series = page.evaluate(
        "() => Array.from(document.querySelectorAll('.metric-chart'))"
        ".map(el => [el.dataset.key, echarts.getInstanceByDom(el).getOption().series.length])"
    )
    assert sorted(series) == [["acc", 1], ["loss", 1]]
    page.locator("#chart-smoothing").fill("0.6")
    smoothed = page.evaluate(
        "() => echarts.getInstanceByDom(document.querySelector('.metric-chart[data-key=loss]'))"
        ".getOption().series.length"
    )
    assert smoothed == 2  # the raw line, faded, and the smoothed one
    page.screenshot(path=shots / "05-run.png", full_page=True)

    # Artifacts: a CSV as a table, then an image.
    page.click('#artifact-list a[data-path="table.csv"]')
    expect(page.locator("#artifact-preview table.csv-preview tbody tr")).to_have_count(3)
    expect(page.locator("#artifact-preview th").first).to_have_text("epoch")
    page.locator("#artifacts").screenshot(path=shots / "06-artifact-csv.png")
    page.click("#artifact-list >> text=plots/")
    page.click('#artifact-list a[data-path="plots/curve.png"]')
    image = page.locator("#artifact-preview img.artifact-image")
    expect(image).to_be_visible()
    page.wait_for_function("() => document.querySelector('#artifact-preview img').naturalWidth > 0")
    page.locator("#artifacts").screenshot(path=shots / "07-artifact-image.png")

    assert page.cairn_errors == []  # no script errors, no CSP violations
    assert len(list(shots.glob("0[1-7]-*.png"))) == 7
    if not os.environ.get("CAIRN_TEST_ARTIFACTS"):
        shutil.rmtree(shots, ignore_errors=True)


def test_compare_and_registry_in_a_browser(ui: UiClient, browser_page: Any, shots: Path) -> None:
    from playwright.sync_api import expect

    from tests.ui.test_registry_pages import register

    page = browser_page
    eid, _ = ui.experiment()
    for i, name in enumerate(["alpha", "beta", "gamma", "delta"]):
        ui.run(
            eid, name, 3_000_000 + i * 1000,
            metrics=[*metric_points("loss", 40 + i, start=3_000_000),
                     {"key": "acc", "value": 0.5 + i / 10, "timestamp": 1, "step": 0}],
            params=[{"key": "lr", "value": str(0.1 * (i + 1))},
                    {"key": "optimizer", "value": "adam" if i % 2 else "sgd"}],
        )  # fmt: skip

    # Select three runs on the runs table and open their comparison.
    page.goto(f"{ui.url}/experiments/{eid}")
    expect(page.locator("#compare-button")).to_be_disabled()
    boxes = page.locator('#runs-table input[name="run"]')
    for i in range(3):
        boxes.nth(i).check()
    expect(page.locator("#compare-button")).to_be_enabled()
    page.click("#compare-button")
    page.wait_for_url("**/compare?**")
    expect(page.locator("#compare-charts")).to_have_attribute("data-state", "ready")
    expect(page.locator("#compare-table thead th")).to_have_count(4)  # key + three runs
    expect(page.locator('#compare-table tr.differs[data-ref="params.lr"]')).to_have_count(1)
    assert page.locator("#compare-parallel canvas").count() == 1
    assert page.locator("#compare-scatter canvas").count() == 1

    def series(selector: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = page.evaluate(
            "(sel) => echarts.getInstanceByDom(document.querySelector(sel)).getOption().series"
            ".map(s => ({type: s.type, n: s.data.length}))",
            selector,
        )
        return found

    assert series("#compare-parallel") == [{"type": "parallel", "n": 3}]  # a line per run
    assert series("#compare-scatter") == [{"type": "scatter", "n": 3}]
    histories = page.locator(".compare-history")
    expect(histories).to_have_count(2)  # acc and loss
    for i in range(2):
        key = histories.nth(i).get_attribute("data-key")
        lines = series(f'.compare-history[data-key="{key}"]')
        assert [s["type"] for s in lines] == ["line"] * 3, key  # one series per run
    page.screenshot(path=shots / "08-compare.png", full_page=True)

    # Choices go to the URL: only differing rows, another scatter axis.
    page.check("#only-diff")
    page.wait_for_url("**diff=1**")
    expect(page.locator('#compare-table tr[data-ref="params.lr"]')).to_have_count(1)
    page.select_option("#scatter-x", "params.optimizer")
    page.wait_for_url("**x=params.optimizer**")
    expect(page.locator("#compare-charts")).to_have_attribute("data-state", "ready")
    assert "diff=1" in page.url
    # Nothing chosen: the charts say so instead of failing.
    page.goto(page.url.split("&")[0] + "&choose=1")
    expect(page.locator("#compare-charts")).to_have_attribute("data-state", "ready")
    expect(page.locator("#compare-parallel")).to_contain_text("No axes chosen")

    # The registry: the models list, then a version page.
    model = register(ui, versions=2)
    page.goto(f"{ui.url}/models")
    page.fill('#model-search input[name="q"]', model.name[-6:])
    page.click("#model-search button[type=submit]")
    expect(page.locator("#models-table tbody tr")).to_have_count(1)
    page.screenshot(path=shots / "09-models.png", full_page=True)
    page.click("#models-table td.name a")
    expect(page.locator("#versions-table tbody tr")).to_have_count(2)
    page.click('#versions-table a:text("Version 1")')
    expect(page.locator("table.signature")).to_have_count(2)
    page.select_option('#stage-form select[name="stage"]', "Staging")
    page.fill('#stage-form input[name="comment"]', "looks good")
    page.click("#stage-form button[type=submit]")
    expect(page.locator("#audit-table")).to_contain_text("looks good")
    page.screenshot(path=shots / "10-model-version.png", full_page=True)

    assert page.cairn_errors == []
    assert len(list(shots.glob("0[89]-*.png")) + list(shots.glob("10-*.png"))) == 3
    if not os.environ.get("CAIRN_TEST_ARTIFACTS"):
        shutil.rmtree(shots, ignore_errors=True)


def test_delete_restore_and_edit_in_a_browser(ui: UiClient, browser_page: Any, shots: Path) -> None:
    from playwright.sync_api import expect

    from tests.ui.test_registry_pages import register

    page = browser_page
    eid, _ = ui.experiment()
    for i, name in enumerate(["keep", "drop"]):
        ui.run(eid, name, 4_000_000 + i * 1000)

    # Delete a selected run through the confirmation page, then restore it.
    page.goto(f"{ui.url}/experiments/{eid}")
    expect(page.locator("#delete-button")).to_be_disabled()
    page.check('#runs-table tr:has(a:text("drop")) input[name="run"]')
    expect(page.locator("#delete-button")).to_be_enabled()
    page.click("#delete-button")
    page.wait_for_url("**/runs/delete?**")
    expect(page.locator("#delete-table tbody tr")).to_have_count(1)
    page.screenshot(path=shots / "11-delete-confirm.png", full_page=True)
    page.click("#delete-form button[type=submit]")
    page.wait_for_url(f"**/experiments/{eid}")
    expect(page.locator("#runs-table tbody tr")).to_have_count(1)
    page.click('#run-views a[data-view="deleted"]')
    page.wait_for_url("**view=deleted**")
    expect(page.locator("#runs-table tbody tr")).to_contain_text("drop")
    page.click('#runs-table button:text("Restore")')
    page.wait_for_url("**view=deleted**")
    expect(page.locator("#runs-table tbody")).to_contain_text("No runs")

    # Tag and describe a model version.
    model = register(ui, versions=1)
    page.goto(f"{ui.url}{model.path}/versions/1")
    page.fill('#tag-form input[name="key"]', "validated")
    page.fill('#tag-form input[name="value"]', "yes")
    page.click("#tag-form button[type=submit]")
    expect(page.locator('#tags-table tr[data-tag="validated"]')).to_have_count(1)
    page.fill('#description-form textarea[name="description"]', "checked by hand")
    page.click("#description-form button[type=submit]")
    expect(page.locator("#description p.description")).to_have_text("checked by hand")
    page.screenshot(path=shots / "12-version-edited.png", full_page=True)

    assert page.cairn_errors == []
    if not os.environ.get("CAIRN_TEST_ARTIFACTS"):
        shutil.rmtree(shots, ignore_errors=True)
