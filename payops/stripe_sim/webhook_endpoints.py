"""Webhook endpoints API (create, retrieve, update, delete, list); the secret is shown only on create."""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import urlsplit

from payops.stripe_sim.context import Ctx, Doc, Record
from payops.stripe_sim.errors import InvalidRequest
from payops.stripe_sim.ids import new_id, webhook_secret
from payops.stripe_sim.listing import page
from payops.stripe_sim.params import EXPAND, LIST, Arr, Bool, Metadata, Str, merge_metadata

_EVENT_NAME = re.compile(r"^(\*|[a-z_]+(\.[a-z_]+)+)$")
CREATE = {
    "url": Str(required=True),
    "enabled_events": Arr(Str(), required=True),
    "api_version": Str(),
    "connect": Bool(),
    "description": Str(nullable=True),
    "metadata": Metadata(),
    "expand": EXPAND,
}
UPDATE = {
    "url": Str(),
    "enabled_events": Arr(Str()),
    "description": Str(nullable=True),
    "disabled": Bool(),
    "metadata": Metadata(),
    "expand": EXPAND,
}
LIST_PARAMS = dict(LIST)


def _check_url(url: str) -> str:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise InvalidRequest(f"Invalid URL: {url}. URLs must begin with http:// or https://", param="url")
    return url


def _check_events(events: list[str]) -> list[str]:
    if not events:
        raise InvalidRequest("enabled_events must list at least one event type, or *", param="enabled_events")
    for index, name in enumerate(events):
        if not _EVENT_NAME.match(name):
            raise InvalidRequest(
                f"Invalid enabled_events[{index}]: {name!r} is not an event type", param=f"enabled_events[{index}]"
            )
    return events


def build(
    ctx: Ctx,
    *,
    url: str,
    events: list[str],
    secret: str | None,
    description: str | None = None,
    metadata: dict[str, str] | None = None,
    managed: bool = False,
) -> Record:
    """Store an endpoint; `managed` marks the one the simulator's own settings configure."""
    doc: Doc = {
        "id": new_id("we"),
        "object": "webhook_endpoint",
        "api_version": None,
        "application": None,
        "created": ctx.now(),
        "description": description,
        "enabled_events": _check_events(events),
        "livemode": False,
        "metadata": metadata or {},
        "status": "enabled",
        "url": _check_url(url),
    }
    return ctx.insert(doc, {"secret": secret or webhook_secret(), "managed": managed})


def create(ctx: Ctx, params: dict[str, Any]) -> Doc:
    record = build(
        ctx,
        url=params["url"],
        events=params["enabled_events"],
        secret=None,
        description=params.get("description"),
        metadata=merge_metadata({}, params.get("metadata")),
    )
    if params.get("api_version"):
        record.doc["api_version"] = params["api_version"]
        ctx.save(record)
    return {**record.doc, "secret": record.private["secret"]}


def retrieve(ctx: Ctx, params: dict[str, Any], endpoint_id: str) -> Doc:
    return ctx.load("webhook_endpoint", endpoint_id).doc


def update(ctx: Ctx, params: dict[str, Any], endpoint_id: str) -> Doc:
    record = ctx.load("webhook_endpoint", endpoint_id)
    doc = record.doc
    if "url" in params:
        doc["url"] = _check_url(params["url"])
    if "enabled_events" in params:
        doc["enabled_events"] = _check_events(params["enabled_events"])
    if "description" in params:
        doc["description"] = params["description"]
    if "metadata" in params:
        doc["metadata"] = merge_metadata(doc["metadata"], params["metadata"])
    if "disabled" in params:
        doc["status"] = "disabled" if params["disabled"] else "enabled"
    ctx.save(record)
    return doc


def delete(ctx: Ctx, params: dict[str, Any], endpoint_id: str) -> Doc:
    record = ctx.load("webhook_endpoint", endpoint_id)
    ctx.conn.execute("DELETE FROM objects WHERE id = ?", (record.id,))
    return {"id": record.id, "object": "webhook_endpoint", "deleted": True}


def list_(ctx: Ctx, params: dict[str, Any]) -> Doc:
    return page(ctx, "webhook_endpoint", params, url="/v1/webhook_endpoints")
