"""Logged models (MLflow 3) over REST: a mixin of `RestTrackingStore`.

MLflow's paths and shapes (`/mlflow/logged-models/{model_id}` and friends, spec §14.2), so it
works against `cairn server` and `mlflow server` 3.x alike. Reads, searches, tag upserts and
finalizing are safe to repeat; creating, deleting and removing a tag are sent once.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from cairn.entities import (
    LoggedModel,
    LoggedModelMetric,
    LoggedModelOutput,
    LoggedModelStatus,
    PagedList,
)
from cairn.exceptions import InvalidParameterValue

if TYPE_CHECKING:
    from cairn.transport import HttpTransport

API = "/api/2.0/mlflow"
LOGGED_MODELS = API + "/logged-models"
PARAMS_PER_REQUEST = 100
"""MLflow's client sends a model's params in requests of at most 100."""


def _model_path(model_id: str, *rest: str) -> str:
    return "/".join((LOGGED_MODELS, quote(model_id, safe=""), *(quote(r, safe="") for r in rest)))


def _pairs(mapping: Mapping[str, Any] | None) -> list[dict[str, str]]:
    return [{"key": k, "value": str(v)} for k, v in (mapping or {}).items()]


class RestLoggedModelMethods:
    """Mixed into `RestTrackingStore`; needs only its transport."""

    transport: HttpTransport

    def _model_call(
        self, method: str, path: str, fields: dict[str, Any], *, idempotent: bool
    ) -> dict[str, Any]:
        body = {k: v for k, v in fields.items() if v is not None}
        return self.transport.call(method, path, body, idempotent=idempotent)

    def create_logged_model(
        self,
        experiment_id: str,
        name: str | None = None,
        source_run_id: str | None = None,
        tags: Mapping[str, str] | None = None,
        params: Mapping[str, str] | None = None,
        model_type: str | None = None,
    ) -> LoggedModel:
        pairs = _pairs(params)
        body = {
            "experiment_id": str(experiment_id),
            "name": name,
            "model_type": model_type,
            "source_run_id": source_run_id,
            "tags": _pairs(tags),
            "params": pairs[:PARAMS_PER_REQUEST],
        }
        found = self._model_call("POST", LOGGED_MODELS, body, idempotent=False)
        model = LoggedModel.from_dict(found["model"])
        if len(pairs) > PARAMS_PER_REQUEST:
            rest = {p["key"]: p["value"] for p in pairs[PARAMS_PER_REQUEST:]}
            self.log_logged_model_params(model.model_id, rest)
            model = self.get_logged_model(model.model_id)
        return model

    def get_logged_model(self, model_id: str, allow_deleted: bool = False) -> LoggedModel:
        fields = {"allow_deleted": True} if allow_deleted else {}
        found = self._model_call("GET", _model_path(model_id), fields, idempotent=True)
        return LoggedModel.from_dict(found["model"])

    def finalize_logged_model(self, model_id: str, status: LoggedModelStatus | str) -> LoggedModel:
        try:
            wire = LoggedModelStatus.parse(status).wire
        except ValueError:
            raise InvalidParameterValue(f"Invalid logged model status {status!r}") from None
        body = {"model_id": model_id, "status": wire}
        found = self._model_call("PATCH", _model_path(model_id), body, idempotent=True)
        return LoggedModel.from_dict(found["model"])

    def delete_logged_model(self, model_id: str) -> None:
        body = {"model_id": model_id}
        self._model_call("DELETE", _model_path(model_id), body, idempotent=False)

    def set_logged_model_tags(self, model_id: str, tags: Mapping[str, str]) -> None:
        body = {"model_id": model_id, "tags": _pairs(tags)}
        self._model_call("PATCH", _model_path(model_id, "tags"), body, idempotent=True)

    def delete_logged_model_tag(self, model_id: str, key: str) -> None:
        self._model_call("DELETE", _model_path(model_id, "tags", key), {}, idempotent=False)

    def log_logged_model_params(self, model_id: str, params: Mapping[str, str]) -> None:
        pairs = _pairs(params)
        for start in range(0, len(pairs), PARAMS_PER_REQUEST):
            body = {"model_id": model_id, "params": pairs[start : start + PARAMS_PER_REQUEST]}
            self._model_call("POST", _model_path(model_id, "params"), body, idempotent=True)

    def log_model_metrics(self, run_id: str, metrics: Sequence[LoggedModelMetric]) -> None:
        """Run metrics carrying their `model_id` (how MLflow 3 sends them), in log-batch
        requests of at most 1000 points."""
        from cairn.transport.codec import wire_double

        points = [{**m.to_dict(), "value": wire_double(m.value)} for m in metrics]
        for start in range(0, len(points), 1000):
            body = {"run_id": run_id, "metrics": points[start : start + 1000]}
            self._model_call("POST", API + "/runs/log-batch", body, idempotent=True)

    def log_outputs(
        self, run_id: str, models: Sequence[LoggedModelOutput | tuple[str, int]]
    ) -> None:
        outputs = [m if isinstance(m, LoggedModelOutput) else LoggedModelOutput(*m) for m in models]
        body = {"run_id": run_id, "models": [o.to_dict() for o in outputs]}
        self._model_call("POST", API + "/runs/outputs", body, idempotent=True)

    def search_logged_models(
        self,
        experiment_ids: Sequence[str],
        filter_string: str | None = None,
        datasets: Sequence[Mapping[str, Any]] | None = None,
        max_results: int | None = None,
        order_by: Sequence[Mapping[str, Any] | str] | None = None,
        page_token: str | None = None,
    ) -> PagedList[LoggedModel]:
        body = {
            "experiment_ids": [str(e) for e in experiment_ids],
            "filter": filter_string or None,
            "datasets": [dict(d) for d in datasets] if datasets else None,
            "max_results": max_results,
            "order_by": [_order_item(o) for o in order_by] if order_by else None,
            "page_token": page_token or None,
        }
        found = self._model_call("POST", LOGGED_MODELS + "/search", body, idempotent=True)
        models = [LoggedModel.from_dict(m) for m in found.get("models", [])]
        return PagedList(models, found.get("next_page_token") or None)


def _order_item(item: Mapping[str, Any] | str) -> dict[str, Any]:
    """MLflow's order_by message from a dict, or from Cairn's `"<field> [ASC|DESC]"`."""
    if not isinstance(item, str):
        return {k: v for k, v in item.items() if v is not None}
    field, _, direction = item.strip().rpartition(" ")
    if direction.upper() in ("ASC", "DESC") and field.strip():
        return {"field_name": field.strip(), "ascending": direction.upper() == "ASC"}
    return {"field_name": item.strip()}
