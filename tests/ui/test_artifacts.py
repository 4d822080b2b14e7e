"""The artifact browser: listings, previews, downloads, and the paths it refuses."""

from __future__ import annotations

import re

from tests.ui.conftest import Logged, UiClient, text_of

PNG = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360f8cfc0f01f0005000201a5f6b1e30000000049454e44ae426082"
)


def uploaded(ui: UiClient, logged: Logged) -> str:
    run = logged.run_ids["gamma"]
    ui.upload(run, "metrics.csv", b"epoch,loss\n1,0.5\n2,0.25\n")
    ui.upload(run, "plots/curve.png", PNG)
    ui.upload(run, "config.json", b'{"lr": 0.1, "layers": [1, 2]}')
    ui.upload(run, "model/MLmodel", b"flavors:\n  sklearn: {}\nrun_id: r1\n")
    ui.upload(run, "page.html", b"<html><script>alert(1)</script></html>")
    return run


def test_listing_and_directories(ui: UiClient, logged: Logged) -> None:
    run = uploaded(ui, logged)
    root = ui.http.get(f"/runs/{run}/artifacts").text
    names = re.findall(r">([\w.]+/?)</a>", root)
    assert names == ["model/", "plots/", "config.json", "metrics.csv", "page.html"]
    plots = ui.http.get(f"/runs/{run}/artifacts", params={"path": "plots"}).text
    assert "curve.png" in plots and "artifacts</a> /" in plots
    empty = ui.http.get(f"/runs/{run}/artifacts", params={"path": "nothing-here"})
    assert empty.status_code == 200 and "No artifacts here" in empty.text


def test_previews(ui: UiClient, logged: Logged) -> None:
    run = uploaded(ui, logged)

    def preview(path: str) -> str:
        response = ui.http.get(f"/runs/{run}/artifacts/preview", params={"path": path})
        assert response.status_code == 200, response.text
        return response.text

    table = preview("metrics.csv")
    assert 'data-kind="table"' in table and "<th>epoch</th>" in table and "<td>0.25</td>" in table
    image = preview("plots/curve.png")
    assert f'src="/runs/{run}/artifacts/file?path=plots%2Fcurve.png&amp;inline=1"' in image
    assert '"lr": 0.1' in text_of(preview("config.json")).replace("&#34;", '"')
    model = text_of(preview("model/MLmodel"))
    assert "Flavors sklearn" in model and "run_id r1" in model


def test_downloads_are_attachments_and_images_alone_are_inline(
    ui: UiClient, logged: Logged
) -> None:
    run = uploaded(ui, logged)
    csv = ui.http.get(f"/runs/{run}/artifacts/file", params={"path": "metrics.csv"})
    assert csv.content == b"epoch,loss\n1,0.5\n2,0.25\n"
    assert csv.headers["content-disposition"].startswith("attachment")
    image = ui.http.get(
        f"/runs/{run}/artifacts/file", params={"path": "plots/curve.png", "inline": "1"}
    )
    assert image.content == PNG and image.headers["content-type"] == "image/png"
    assert image.headers["content-disposition"] == "inline"
    html = ui.http.get(f"/runs/{run}/artifacts/file", params={"path": "page.html", "inline": "1"})
    assert html.headers["content-disposition"].startswith("attachment")
    for response in (csv, image, html):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["content-security-policy"].startswith("sandbox")


def test_bad_paths(ui: UiClient, logged: Logged) -> None:
    run = uploaded(ui, logged)
    for path in ("../../etc/passwd", "/etc/passwd", "a/../../x"):
        for route in ("artifacts", "artifacts/preview", "artifacts/file"):
            response = ui.http.get(f"/runs/{run}/{route}", params={"path": path})
            assert response.status_code == 400, (route, path)
    assert (
        ui.http.get(f"/runs/{run}/artifacts/preview", params={"path": "nope.txt"}).status_code
        == 404
    )
    assert ui.http.get(f"/runs/{run}/artifacts/file").status_code == 400
    assert ui.http.get("/runs/0123456789abcdef0123456789abcdef/artifacts").status_code == 404
