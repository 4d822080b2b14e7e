"""Registry governance, beyond MLflow's API (`/cairn/registry/*`): the audit trail, promotion
policies, transition requests and webhooks. See docs/registry.md, "Governance"."""

from __future__ import annotations

from typing import Any

from cairn.server.context import ServerContext
from cairn.server.endpoints import Endpoint
from cairn.server.handlers.fields import PAGE_TOKEN
from cairn.server.messages import Field, Kind, int64, string
from cairn.store.sql.registry_governance import AUDIT_DEFAULT, DELIVERIES_DEFAULT

NAME = string("name", True, doc="the registered model's name")
POLICY_NAME = string("name", True, doc='a registered model\'s name, or "*" for server-wide')
COMMENT = string("comment", doc="a comment for the audit trail")
REQUEST_ID = int64("request_id", True, doc="the transition request's id")
WEBHOOK_ID = int64("webhook_id", True, doc="the webhook's id")


def audit(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    page = ctx.registry.list_audit_entries(f["name"], f["max_results"], f["page_token"])
    out: dict[str, Any] = {"entries": [e.to_dict() for e in page]}
    if page.token:
        out["next_page_token"] = page.token
    return out


def get_policy(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    return {"name": f["name"], "policy": ctx.registry.get_registry_policy(f["name"])}


def set_policy(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    return {"name": f["name"], "policy": ctx.registry.set_registry_policy(f["name"], f["policy"])}


def delete_policy(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.registry.delete_registry_policy(f["name"])
    return {}


def create_request(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    found = ctx.registry.request_transition(
        f["name"], f["version"], f["stage"], f["comment"], bool(f["archive_existing_versions"])
    )
    return {"transition_request": found.to_dict()}


def list_requests(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    found = ctx.registry.list_transition_requests(f["name"], f["status"] or "PENDING")
    return {"transition_requests": [r.to_dict() for r in found]}


def approve(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    version = ctx.registry.approve_transition_request(f["request_id"], f["comment"])
    return {"model_version": version.to_dict()}


def reject(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    found = ctx.registry.reject_transition_request(f["request_id"], f["comment"])
    return {"transition_request": found.to_dict()}


def create_webhook(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    found = ctx.registry.create_webhook(
        f["url"], f["events"], f["secret"], f["model"] or "", f["description"] or ""
    )
    return {"webhook": found.to_dict()}


def list_webhooks(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    return {"webhooks": [w.to_dict() for w in ctx.registry.list_webhooks()]}


def delete_webhook(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    ctx.registry.delete_webhook(f["webhook_id"])
    return {}


def test_webhook(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    return {"delivery": ctx.registry.test_webhook(f["webhook_id"]).to_dict()}


def deliveries(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    found = ctx.registry.list_webhook_deliveries(f["webhook_id"], f["status"], f["max_results"])
    return {"deliveries": [d.to_dict() for d in found]}


def delivery(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    return {"delivery": ctx.registry.get_webhook_delivery(f["delivery_id"]).to_dict()}


def redeliver(ctx: ServerContext, f: dict[str, Any]) -> dict[str, Any]:
    return {"delivery": ctx.registry.redeliver_webhook_delivery(f["delivery_id"]).to_dict()}


_P = "/cairn/registry"
_R = f"{_P}/transition-requests"
_W = f"{_P}/webhooks"
ENDPOINTS = [
    Endpoint(
        f"{_P}/audit",
        ("GET",),
        (
            string("name", doc="only this model's entries (under its earlier names too)"),
            int64("max_results", default=AUDIT_DEFAULT, doc="page size, 1 to 1000"),
            PAGE_TOKEN,
        ),
        audit,
        "The registry's audit trail, oldest first",
        ("entries", "next_page_token"),
    ),
    Endpoint(
        f"{_P}/policy",
        ("GET",),
        (POLICY_NAME,),
        get_policy,
        "A model's (or the server-wide) promotion policy",
        ("name", "policy"),
    ),
    Endpoint(
        f"{_P}/policy",
        ("POST",),
        (POLICY_NAME, string("policy", True, doc="the policy document, as JSON text")),
        set_policy,
        "Set a model's (or the server-wide) promotion policy",
        ("name", "policy"),
    ),
    Endpoint(
        f"{_P}/policy",
        ("DELETE",),
        (POLICY_NAME,),
        delete_policy,
        "Remove a promotion policy",
    ),
    Endpoint(
        f"{_R}/create",
        ("POST",),
        (
            NAME,
            string("version", True),
            string("stage", True, doc="a stage whose policy requires approval"),
            COMMENT,
            Field("archive_existing_versions", Kind.BOOL, default=False),
        ),
        create_request,
        "Request a stage transition that needs approval",
        ("transition_request",),
    ),
    Endpoint(
        f"{_R}/list",
        ("GET",),
        (
            string("name", doc="only this model's requests"),
            string("status", doc="PENDING (default), APPROVED, REJECTED or ALL"),
        ),
        list_requests,
        "List transition requests",
        ("transition_requests",),
    ),
    Endpoint(
        f"{_R}/approve",
        ("POST",),
        (REQUEST_ID, COMMENT),
        approve,
        "Approve a pending request: the transition is carried out",
        ("model_version",),
    ),
    Endpoint(
        f"{_R}/reject",
        ("POST",),
        (REQUEST_ID, COMMENT),
        reject,
        "Reject a pending request",
        ("transition_request",),
    ),
    Endpoint(
        f"{_W}/create",
        ("POST",),
        (
            string("url", True, doc="an http(s) URL"),
            Field("events", repeated=True, doc="event names (see docs/registry.md)"),
            string("secret", True, doc="the HMAC-SHA256 signing key (8-256 characters)"),
            string("model", doc="only this model's events"),
            string("description"),
        ),
        create_webhook,
        "Register a webhook (its secret is never returned)",
        ("webhook",),
    ),
    Endpoint(f"{_W}/list", ("GET",), (), list_webhooks, "List webhooks", ("webhooks",)),
    Endpoint(
        f"{_W}/delete",
        ("DELETE",),
        (WEBHOOK_ID,),
        delete_webhook,
        "Delete a webhook and its delivery log",
    ),
    Endpoint(
        f"{_W}/test",
        ("POST",),
        (WEBHOOK_ID,),
        test_webhook,
        "Queue a ping delivery to a webhook",
        ("delivery",),
    ),
    Endpoint(
        f"{_W}/deliveries",
        ("GET",),
        (
            int64("webhook_id", doc="only this webhook's deliveries"),
            string("status", doc="PENDING, DELIVERED or FAILED"),
            int64("max_results", default=DELIVERIES_DEFAULT, doc="1 to 1000, newest first"),
        ),
        deliveries,
        "The webhook delivery log",
        ("deliveries",),
    ),
    Endpoint(
        f"{_W}/delivery",
        ("GET",),
        (int64("delivery_id", True),),
        delivery,
        "One delivery with the log of its attempts",
        ("delivery",),
    ),
    Endpoint(
        f"{_W}/redeliver",
        ("POST",),
        (int64("delivery_id", True),),
        redeliver,
        "Queue a delivery again, with a fresh set of attempts",
        ("delivery",),
    ),
]
