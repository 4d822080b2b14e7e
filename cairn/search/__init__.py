"""The search grammar shared by every Cairn search: filter string -> AST, order_by -> keys.

    parse_filter("metrics.acc > 0.9 AND params.model = 'cnn'", RUNS)  # -> And(...)
    parse_order_by(["metrics.acc DESC"], RUNS)                          # -> (OrderKey(...),)

This package is pure Python; the SQL backends translate its AST (see `cairn.store.sql`).
`cairn.search.sql` holds the SQLAlchemy helpers those backends share and is imported only
by them, so `import cairn.search` stays light.
"""

from cairn.search.nodes import And, Comparison, Entity, Node, Op, Or, comparisons, conjuncts
from cairn.search.order_by import OrderKey, parse_order_by
from cairn.search.page_token import decode_page_token, encode_page_token, query_fingerprint
from cairn.search.parser import parse_filter
from cairn.search.schema import Field, SearchSchema, ValueType
from cairn.search.schemas import EXPERIMENTS, MODEL_VERSIONS, REGISTERED_MODELS, RUNS

__all__ = [
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
