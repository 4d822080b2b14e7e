"""A version's signature read from its MLmodel text, as the version page shows it."""

from __future__ import annotations

import io
from typing import Any

from cairn.exceptions import ResourceDoesNotExist
from cairn.ui.signature import MLMODEL_BYTES, SignatureColumn, read_signature, signature_tables


def test_columns_of_each_part() -> None:
    found = signature_tables(
        "flavors: {sklearn: {}, python_function: {}}\n"
        "signature:\n"
        '  inputs: \'[{"type": "long", "name": "x"}, {"type": "string", "required": false}]\'\n'
        '  outputs: \'[{"type": "tensor", "tensor-spec": {"dtype": "int8", "shape": [-1]}}]\'\n'
        '  params: \'[{"name": "k", "type": "long", "default": 3, "shape": null}]\'\n'
    )
    assert found.problem == "" and found.flavors == ["python_function", "sklearn"]
    assert found.parts["inputs"] == [
        SignatureColumn("x", "long"),
        SignatureColumn("", "string", required=False),
    ]
    assert found.parts["outputs"] == [SignatureColumn("", "tensor int8", detail="shape [-1]")]
    assert found.parts["params"] == [SignatureColumn("k", "long", detail="default 3")]


def test_problems_are_said_not_raised() -> None:
    assert signature_tables("flavors: {}\n").problem == "The MLmodel file has no signature"
    assert "not valid YAML" in signature_tables("a: [\n").problem
    assert signature_tables("- a\n").problem == "The MLmodel file is not a mapping"
    odd = signature_tables("signature:\n  inputs: 'not json'\n")
    assert odd.parts["inputs"][0].type == "unreadable"


class Access:
    def __init__(self, files: dict[str, bytes]) -> None:
        self.files = files

    def repository(self, uri: str) -> Any:
        files = self.files

        class Repo:
            def open(self, path: str) -> io.BytesIO:
                if path not in files:
                    raise ResourceDoesNotExist(path)
                return io.BytesIO(files[path])

        return Repo()


def test_read_through_the_registry_access() -> None:
    assert read_signature(Access({}), "").problem == "The version has no files"
    assert read_signature(Access({}), "x").problem == "The version has no MLmodel file"
    big = Access({"MLmodel": b"#" * (MLMODEL_BYTES + 1)})
    assert "larger than 1 MiB" in read_signature(big, "x").problem
    ok = Access({"MLmodel": b'signature:\n  inputs: \'[{"type": "double"}]\'\n'})
    assert read_signature(ok, "x").parts["inputs"] == [SignatureColumn("", "double")]
