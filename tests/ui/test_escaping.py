"""Every user string is escaped: names, tags, params, filters, artifact contents."""

from __future__ import annotations

import re

from cairn.ui.templating import environment, format_duration, format_number, format_time
from tests.ui.conftest import Logged, UiClient

RAW = re.compile(r"<script>alert|<img src=x|<script>p\(\)|<b>1</b>")


def test_autoescape_is_on_for_every_template() -> None:
    env = environment()
    for name in env.list_templates():
        template = env.from_string("{{ value }}")
        assert template.render(value="<script>") == "&lt;script&gt;", name


def test_pages_never_echo_markup(ui: UiClient, logged: Logged) -> None:
    xss = logged.run_ids["xss"]
    pages = [
        "/",
        f"/?q={logged.experiment_name[-8:]}&view=all",
        f"/experiments/{logged.experiment_id}",
        f"/experiments/{logged.experiment_id}?cols=1&col=tags.note&col=params.html",
        f"/experiments/{logged.experiment_id}?filter=<b>1</b>",
        f"/experiments/{logged.experiment_id}?sort=tags.<b>1</b>",
        f"/runs/{xss}",
    ]
    for path in pages:
        html = ui.http.get(path).text
        assert not RAW.search(html), path
    run_page = ui.http.get(f"/runs/{xss}").text
    assert "&lt;script&gt;alert(&#39;run&#39;)&lt;/script&gt;" in run_page
    assert "&lt;img src=x onerror=alert(1)&gt;" in run_page
    assert "&lt;script&gt;p()&lt;/script&gt;" in run_page


def test_artifact_contents_are_escaped(ui: UiClient, logged: Logged) -> None:
    run = logged.run_ids["xss"]
    ui.upload(run, "evil.txt", b"<script>alert(1)</script>")
    ui.upload(run, "evil.csv", b"h,<script>alert(2)</script>\n<img src=x>,1\n")
    ui.upload(run, "<img src=x>.txt", b"x")
    for path in ("evil.txt", "evil.csv"):
        html = ui.http.get(f"/runs/{run}/artifacts/preview", params={"path": path}).text
        assert not RAW.search(html) and "&lt;script&gt;" in html
    listing = ui.http.get(f"/runs/{run}/artifacts").text
    assert not RAW.search(listing) and "&lt;img src=x&gt;.txt" in listing


def test_formatters() -> None:
    assert format_time(0) == "1970-01-01 00:00:00" and format_time(None) == ""
    assert format_duration(0, 1500) == "1.5s"
    assert format_duration(0, 61_000) == "1m 01s"
    assert format_duration(0, 3_720_000) == "1h 02m"
    assert format_duration(0, 3 * 86_400_000) == "3d 00h"
    assert format_duration(5, None) == "" and format_duration(5, 1) == ""
    assert format_number(float("nan")) == "NaN" and format_number(float("-inf")) == "-∞"
    assert format_number(2.0) == "2" and format_number(0.123456789) == "0.123457"
    assert format_number(None) == ""


def test_model_names_are_one_path_segment_in_urls() -> None:
    from cairn.ui.templating import urlpart

    assert urlpart("my model ü?#&/%") == "my%20model%20%C3%BC%3F%23%26%2F%25"
    html = environment().from_string('<a href="/models/{{ n|urlpart }}">{{ n }}</a>')
    rendered = html.render(n='<script>"x"')
    assert rendered == '<a href="/models/%3Cscript%3E%22x%22">&lt;script&gt;&#34;x&#34;</a>'
