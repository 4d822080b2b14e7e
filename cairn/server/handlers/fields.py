"""Request fields and messages shared by several endpoints."""

from __future__ import annotations

from cairn.entities import ViewType
from cairn.server.messages import Field, Kind, int64, string

# Set by the auth gate on a search's fields when the caller is not an admin: a function of an
# experiment id column (a `model_pk` column for registry searches) giving the SQL condition
# "the caller may read it" (cairn.server.auth).
READABLE = "cairn.readable"

KEY_VALUE = (string("key", True), string("value"))
TAGS = Field("tags", Kind.MESSAGE, repeated=True, fields=KEY_VALUE, doc="key/value pairs")
VIEW_TYPES = tuple(v.value for v in ViewType)
ORDER_BY = Field("order_by", repeated=True, doc="order-by clauses, applied in sequence")
PAGE_TOKEN = string("page_token", doc="the next_page_token of the previous page")
FILTER = string("filter", doc="a filter in the search grammar (docs/search.md)")
RUN_ID = string("run_id", doc="the run's id (run_uuid is accepted as a legacy alias)")
RUN_UUID = string("run_uuid", doc="deprecated alias of run_id")
METRIC = (
    string("key", True),
    Field("value", Kind.DOUBLE, True),
    int64("timestamp", True),
    int64("step", default=0),
)


def tag_dict(tags: list[dict[str, str]]) -> dict[str, str]:
    return {t["key"]: t["value"] or "" for t in tags}


def run_id_of(fields: dict[str, object]) -> str:
    """`run_id`, else the legacy `run_uuid`; one of them is required."""
    from cairn.server.messages import missing

    run_id = fields.get("run_id") or fields.get("run_uuid")
    if not run_id:
        raise missing("run_id")
    return str(run_id)
