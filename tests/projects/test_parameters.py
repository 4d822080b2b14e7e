"""Parameter values: required ones, types, paths, URIs, passed-on extras, and the command."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from cairn.exceptions import InvalidParameterValue
from cairn.projects.parameters import ResolvedParameters, build_command, resolve_parameters
from cairn.projects.spec import EntryPoint, Parameter

ENTRY = EntryPoint(
    "main",
    "python train.py --alpha {alpha} --steps {steps} --data {data} --src {src} --name {name}",
    {
        "alpha": Parameter("alpha", "float", "0.5"),
        "steps": Parameter("steps", "int", None),
        "data": Parameter("data", "path", "."),
        "src": Parameter("src", "uri", "s3://bucket/key"),
        "name": Parameter("name", "string", "plain"),
    },
)


def _resolve(given: dict[str, Any], cwd: Path, **kw: Any) -> ResolvedParameters:
    return resolve_parameters(
        ENTRY,
        given,
        cwd=cwd,
        storage_dir=kw.get("storage_dir", lambda: cwd / "downloads"),
        download=kw.get("download", _no_download),
    )


def _no_download(uri: str, target: Path) -> str:
    raise AssertionError(f"unexpected download of {uri}")


def test_defaults_fill_in_and_values_are_checked(tmp_path: Path) -> None:
    resolved = _resolve({"steps": 10, "alpha": "1e-3"}, tmp_path)
    assert resolved.values == {
        "alpha": "1e-3",
        "steps": "10",
        "data": str(tmp_path),
        "src": "s3://bucket/key",
        "name": "plain",
    }
    assert resolved.extras == {}
    assert resolved.logged == resolved.values


def test_every_missing_required_parameter_is_named() -> None:
    entry = EntryPoint("main", "x {a} {b}", {"a": Parameter("a"), "b": Parameter("b", "int")})
    with pytest.raises(InvalidParameterValue, match=r"required parameter\(s\) a, b"):
        resolve_parameters(entry, {}, cwd=Path.cwd(), storage_dir=Path, download=_no_download)


@pytest.mark.parametrize(
    "given, message",
    [
        ({"alpha": "fast"}, "'alpha' of entry point 'main' is a float; 'fast' is not a number"),
        ({"steps": "1.5"}, "'steps' of entry point 'main' is an int; '1.5' is not a whole number"),
        ({"src": "relative/path"}, "is a uri; 'relative/path' has no scheme"),
        ({"data": "no/such/dir"}, "is a path; 'no/such/dir' .* does not exist"),
        ({"--flag": "x"}, "Invalid parameter name"),
        ({"two words": "x"}, "Invalid parameter name"),
    ],
)
def test_bad_values_are_refused(tmp_path: Path, given: dict[str, str], message: str) -> None:
    with pytest.raises(InvalidParameterValue, match=message):
        _resolve({"steps": "3", **given}, tmp_path)


def test_paths_are_made_absolute_against_the_callers_directory(tmp_path: Path) -> None:
    (tmp_path / "data.csv").write_text("x")
    resolved = _resolve({"steps": 1, "data": "data.csv"}, tmp_path)
    assert resolved.values["data"] == str(tmp_path / "data.csv")
    file_uri = _resolve({"steps": 1, "data": (tmp_path / "data.csv").as_uri()}, tmp_path)
    assert file_uri.values["data"] == str(tmp_path / "data.csv")


def test_a_path_given_as_a_uri_is_downloaded_and_recorded_as_given(tmp_path: Path) -> None:
    fetched = []

    def download(uri: str, target: Path) -> str:
        fetched.append((uri, target))
        (target / "file.txt").write_text("x")
        return str(target / "file.txt")

    resolved = _resolve({"steps": 1, "data": "runs:/abc/file.txt"}, tmp_path, download=download)
    target = tmp_path / "downloads" / "param_2"
    assert fetched == [("runs:/abc/file.txt", target)]
    assert resolved.values["data"] == str(target / "file.txt")
    assert resolved.logged["data"] == "runs:/abc/file.txt"


def test_undeclared_parameters_are_passed_on_and_recorded(tmp_path: Path) -> None:
    resolved = _resolve({"steps": 2, "epochs": 7, "note": "two words"}, tmp_path)
    assert resolved.extras == {"epochs": "7", "note": "two words"}
    assert resolved.logged["epochs"] == "7"
    command = build_command(ENTRY, resolved)
    assert command.endswith("--name plain --epochs 7 --note 'two words'")


def test_values_reach_the_shell_quoted(tmp_path: Path) -> None:
    resolved = _resolve({"steps": 2, "name": "it's; rm -rf /"}, tmp_path)
    command = build_command(ENTRY, resolved)
    assert "--name 'it'\"'\"'s; rm -rf /'" in command


def test_literal_braces_in_a_command() -> None:
    entry = EntryPoint("main", "echo '{{}}' {a}", {"a": Parameter("a", "string", "x")})
    resolved = resolve_parameters(
        entry, {}, cwd=Path.cwd(), storage_dir=Path, download=_no_download
    )
    assert build_command(entry, resolved) == "echo '{}' x"
