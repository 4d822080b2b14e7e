"""The public surface of cairn.search is deliberate: adding or removing a name is a decision."""

from __future__ import annotations

import subprocess
import sys

import cairn.search


def test_public_names():
    assert sorted(cairn.search.__all__) == sorted(
        [
            "EXPERIMENTS",
            "MODEL_VERSIONS",
            "REGISTERED_MODELS",
            "RUNS",
            "And",
            "Comparison",
            "Entity",
            "Field",
            "Node",
            "Op",
            "Or",
            "OrderKey",
            "SearchSchema",
            "ValueType",
            "comparisons",
            "conjuncts",
            "decode_page_token",
            "encode_page_token",
            "parse_filter",
            "parse_order_by",
            "query_fingerprint",
        ]
    )
    for name in cairn.search.__all__:
        assert getattr(cairn.search, name) is not None


def test_importing_the_grammar_does_not_import_sqlalchemy():
    code = "import sys, cairn.search; print('sqlalchemy' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
