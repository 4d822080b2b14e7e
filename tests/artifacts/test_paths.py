"""Artifact path rules: what is normalised, what is rejected, and symlink escapes."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from cairn.artifacts.paths import join_artifact_path, resolve_under_root, validate_artifact_path
from cairn.exceptions import InvalidParameterValue

from .conftest import write


@pytest.mark.parametrize(
    ("given_path", "expected"),
    [
        (None, ""),
        ("", ""),
        (".", ""),
        ("./", ""),
        ("a", "a"),
        ("a/b.txt", "a/b.txt"),
        ("a//b", "a/b"),
        ("./a", "a"),
        ("a/./b/", "a/b"),
        ("a\\b", "a/b"),
        ("...", "..."),
        ("a..b/..c/d..", "a..b/..c/d.."),
        ("dir with space/ü.txt", "dir with space/ü.txt"),
        ("ab:c/d:e", "ab:c/d:e"),
    ],
)
def test_paths_are_normalised(given_path: str | None, expected: str) -> None:
    assert validate_artifact_path(given_path) == expected


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("..", "'..' segments"),
        ("../x", "'..' segments"),
        ("a/../b", "'..' segments"),
        ("a/..", "'..' segments"),
        ("./../x", "'..' segments"),
        ("..\\x", "'..' segments"),
        ("a\\..\\..\\etc\\passwd", "'..' segments"),
        ("/etc/passwd", "absolute paths"),
        ("/", "absolute paths"),
        ("//server/share/x", "absolute paths"),
        ("\\x", "absolute paths"),
        ("\\\\server\\share\\x", "absolute paths"),
        ("\\\\?\\C:\\x", "absolute paths"),
        ("C:\\Windows\\win.ini", "Windows drive"),
        ("c:/x", "Windows drive"),
        ("C:x", "Windows drive"),
        ("a:b", "Windows drive"),
        (".\\C:x", "Windows drive"),
        ("a\x00b", "NUL bytes"),
    ],
)
def test_traversal_forms_are_rejected_naming_the_path(bad: str, reason: str) -> None:
    with pytest.raises(InvalidParameterValue) as caught:
        validate_artifact_path(bad)
    assert reason in caught.value.message
    assert repr(bad) in caught.value.message
    assert caught.value.error_code == "INVALID_PARAMETER_VALUE"


def test_non_strings_are_rejected() -> None:
    with pytest.raises(InvalidParameterValue, match="expected a string"):
        validate_artifact_path(b"a/b")  # type: ignore[arg-type]


@given(st.text(alphabet=st.sampled_from(["a", "b", ".", "/", "\\", ":", "C", "\x00"])))
def test_accepted_paths_are_canonical_and_relative(text: str) -> None:
    try:
        clean = validate_artifact_path(text)
    except InvalidParameterValue:
        return
    assert validate_artifact_path(clean) == clean
    assert not clean.startswith("/")
    assert "\\" not in clean and "\x00" not in clean
    if clean:
        assert all(s not in ("", ".", "..") for s in clean.split("/"))


def test_join_validates_every_piece_and_skips_empty_ones() -> None:
    assert join_artifact_path(None, "a//b", "", "./c.txt") == "a/b/c.txt"
    assert join_artifact_path(None, "") == ""
    with pytest.raises(InvalidParameterValue):
        join_artifact_path("a", "../b")


class TestResolveUnderRoot:
    def test_plain_paths_resolve_beneath_the_root_even_when_missing(self, root: Path) -> None:
        assert resolve_under_root(root, "a//b.txt") == root / "a" / "b.txt"
        assert resolve_under_root(root, None) == root

    def test_links_staying_inside_the_root_are_followed(self, root: Path) -> None:
        write(root / "real" / "f.txt", "x")
        (root / "alias").symlink_to(root / "real")
        assert resolve_under_root(root, "alias/f.txt") == root / "alias" / "f.txt"

    def test_a_root_that_is_itself_a_link_is_fine(self, tmp_path: Path) -> None:
        write(tmp_path / "disk" / "f.txt", "x")
        (tmp_path / "link").symlink_to(tmp_path / "disk")
        assert resolve_under_root(tmp_path / "link", "f.txt") == tmp_path / "link" / "f.txt"

    def test_reading_through_a_directory_link_to_outside_is_rejected(
        self, root: Path, outside: Path
    ) -> None:
        root.mkdir()
        (root / "escape").symlink_to(outside)
        with pytest.raises(InvalidParameterValue, match="outside the artifact root") as caught:
            resolve_under_root(root, "escape/secret.txt")
        assert "'escape/secret.txt'" in caught.value.message

    def test_a_file_link_to_outside_is_rejected(self, root: Path, outside: Path) -> None:
        root.mkdir()
        (root / "secret.txt").symlink_to(outside / "secret.txt")
        with pytest.raises(InvalidParameterValue, match="symbolic link"):
            resolve_under_root(root, "secret.txt")

    def test_writing_a_new_file_through_a_link_to_outside_is_rejected(
        self, root: Path, outside: Path
    ) -> None:
        root.mkdir()
        (root / "escape").symlink_to(outside)
        with pytest.raises(InvalidParameterValue, match="symbolic link"):
            resolve_under_root(root, "escape/new/planted.txt")

    def test_a_dangling_link_to_outside_is_rejected(self, root: Path, tmp_path: Path) -> None:
        root.mkdir()
        (root / "later").symlink_to(tmp_path / "does-not-exist-yet")
        with pytest.raises(InvalidParameterValue, match="symbolic link"):
            resolve_under_root(root, "later")

    def test_a_sibling_sharing_the_roots_name_prefix_is_outside(self, tmp_path: Path) -> None:
        root = tmp_path / "store"
        write(tmp_path / "store-other" / "f.txt", "x")
        root.mkdir()
        (root / "f.txt").symlink_to(tmp_path / "store-other" / "f.txt")
        with pytest.raises(InvalidParameterValue):
            resolve_under_root(root, "f.txt")

    def test_lexical_rules_apply_first(self, root: Path) -> None:
        with pytest.raises(InvalidParameterValue, match=r"'\.\.' segments"):
            resolve_under_root(root, "../store/x")

    def test_a_relative_link_climbing_out_is_rejected(self, root: Path, outside: Path) -> None:
        root.mkdir()
        os.symlink(os.path.join("..", "outside"), root / "up")
        with pytest.raises(InvalidParameterValue, match="symbolic link"):
            resolve_under_root(root, "up/secret.txt")
