"""Deleting runs (selection, confirmation page, POST) and restoring them from the runs
table's deleted view, against a real server."""

from __future__ import annotations

import re

from tests.ui.conftest import API, Logged, UiClient, text_of

RAW = re.compile(r"<script>alert|<img src=x")


def stage_of(ui: UiClient, run_id: str) -> str:
    got = ui.http.get(API + "/runs/get", params={"run_id": run_id})
    assert got.status_code == 200, got.text
    return str(got.json()["run"]["info"]["lifecycle_stage"])


def test_delete_selected_runs_after_confirmation(ui: UiClient, logged: Logged) -> None:
    here = f"/experiments/{logged.experiment_id}"
    chosen = [logged.run_ids["alpha"], logged.run_ids["xss"]]
    table = ui.http.get(here).text
    assert 'id="delete-button"' in table and f'formaction="{here}/runs/delete"' in table
    confirm = ui.http.get(f"{here}/runs/delete", params={"run": chosen})
    assert confirm.status_code == 200
    assert not RAW.search(confirm.text)
    assert "&lt;script&gt;alert(&#39;run&#39;)&lt;/script&gt;" in confirm.text
    assert "Delete 2 runs?" in text_of(confirm.text)
    assert f'name="runs" value="{",".join(chosen)}"' in confirm.text
    assert all(stage_of(ui, r) == "active" for r in chosen)  # the GET changed nothing
    done = ui.post_form(f"{here}/runs/delete", {"runs": ",".join(chosen), "next": here})
    assert done.status_code == 303 and done.headers["location"] == here
    assert all(stage_of(ui, r) == "deleted" for r in chosen)
    active = ui.http.get(here).text
    assert f'data-run-id="{chosen[0]}"' not in active
    assert f'data-run-id="{logged.run_ids["beta"]}"' in active
    deleted = ui.http.get(here, params={"view": "deleted"})
    assert deleted.status_code == 200 and not RAW.search(deleted.text)
    assert all(f'data-run-id="{r}"' in deleted.text for r in chosen)
    assert f'data-run-id="{logged.run_ids["beta"]}"' not in deleted.text
    assert "2 deleted runs in this experiment" in text_of(deleted.text)
    assert 'id="delete-button"' not in deleted.text
    every = ui.http.get(here, params={"view": "all"}).text
    assert all(f'data-run-id="{r}"' in every for r in logged.run_ids.values())


def test_restore_a_deleted_run(ui: UiClient, logged: Logged) -> None:
    here = f"/experiments/{logged.experiment_id}"
    run_id = logged.run_ids["gamma"]
    ui.api("/runs/delete", {"run_id": run_id})
    deleted = ui.http.get(here, params={"view": "deleted"}).text
    assert f'action="{here}/runs/restore"' in deleted and f'name="run" value="{run_id}"' in deleted
    missing = ui.post_form(f"{here}/runs/restore", {"run": run_id}, token=False)
    assert missing.status_code == 403 and stage_of(ui, run_id) == "deleted"
    done = ui.post_form(f"{here}/runs/restore", {"run": run_id})
    assert done.status_code == 303 and done.headers["location"] == f"{here}?view=deleted"
    assert stage_of(ui, run_id) == "active"
    back = ui.post_form(f"{here}/runs/restore", {"run": run_id, "next": "//evil.example/"})
    assert back.status_code == 303 and back.headers["location"] == f"{here}?view=deleted"


def test_bad_and_unknown_runs(ui: UiClient, logged: Logged) -> None:
    here = f"/experiments/{logged.experiment_id}"
    other_eid, _ = ui.experiment()
    stranger = ui.run(other_eid, "elsewhere", 1)
    mine = logged.run_ids["delta"]
    assert ui.http.get(f"{here}/runs/delete").status_code == 400  # nothing selected
    assert ui.http.get(f"{here}/runs/delete", params={"run": "nope"}).status_code == 404
    across = ui.http.get(f"{here}/runs/delete", params={"run": [mine, stranger]})
    assert across.status_code == 404
    mixed = ui.post_form(f"{here}/runs/delete", {"runs": f"{mine},{stranger}"})
    assert mixed.status_code == 404
    assert stage_of(ui, mine) == "active" and stage_of(ui, stranger) == "active"
    assert ui.post_form(f"{here}/runs/restore", {"run": stranger}).status_code == 404
    assert ui.post_form(f"{here}/runs/restore", {"run": ""}).status_code == 400
    assert ui.post_form("/experiments/999999/runs/delete", {"runs": mine}).status_code == 404
    assert ui.http.get("/experiments/x/runs/delete", params={"run": mine}).status_code == 404
    bad_view = ui.http.get(here, params={"view": "<script>alert(1)</script>"})
    assert bad_view.status_code == 400 and not RAW.search(bad_view.text)


def test_delete_without_csrf_changes_nothing(ui: UiClient, logged: Logged) -> None:
    here = f"/experiments/{logged.experiment_id}"
    run_id = logged.run_ids["beta"]
    response = ui.post_form(f"{here}/runs/delete", {"runs": run_id}, token=False)
    assert response.status_code == 403 and "security token" in response.text
    assert stage_of(ui, run_id) == "active"


def test_view_is_kept_by_the_table_links(ui: UiClient, logged: Logged) -> None:
    here = f"/experiments/{logged.experiment_id}"
    ui.api("/runs/delete", {"run_id": logged.run_ids["alpha"]})
    html = ui.http.get(here, params={"view": "deleted", "sort": "attributes.run_name"}).text
    assert 'name="view" value="deleted"' in html  # carried by the filter and column forms
    assert "view=deleted" in html.split('id="runs-table"')[1]  # header sort links
    assert 'data-view="active"' in html and 'aria-current="page">Deleted runs' in html
