"""The unit of work of one API call: reads and writes objects, emits events, schedules later work.

A Ctx wraps the store's connection inside one transaction. Resource modules
never touch SQL for single objects: they load a Record, change its doc, save
it and emit the event Stripe would. Events are collected in `ctx.events` and
handed to the webhook dispatcher only after the transaction commits.
"""

from __future__ import annotations

import copy
import json
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from payops.stripe_sim.clock import SimClock
from payops.stripe_sim.errors import no_such
from payops.stripe_sim.ids import new_id
from payops.stripe_sim.store import dumps

Doc = dict[str, Any]
API_VERSION = "2026-08-26.dahlia"  # stripe-python 15.6.2's pinned version, which dj-stripe 2.11 follows

# Stripe's wording in "No such …" errors, by object type.
LABELS = {
    "customer": "customer",
    "payment_method": "PaymentMethod",
    "payment_intent": "payment_intent",
    "setup_intent": "setupintent",
    "charge": "charge",
    "refund": "refund",
    "dispute": "dispute",
    "product": "product",
    "price": "price",
    "event": "event",
    "balance_transaction": "balance transaction",
    "webhook_endpoint": "webhook endpoint",
    "radar.early_fraud_warning": "early fraud warning",
}

# Computed-at-read fields (a balance transaction becomes available as the clock passes).
Renderer = Callable[["Ctx", Doc], Doc]
RENDERERS: dict[str, Renderer] = {}


def renders(kind: str) -> Callable[[Renderer], Renderer]:
    def register(function: Renderer) -> Renderer:
        RENDERERS[kind] = function
        return function

    return register


@dataclass
class Record:
    doc: Doc
    private: Doc = field(default_factory=dict)
    before: Doc = field(default_factory=dict)  # the doc as loaded, for previous_attributes

    @property
    def id(self) -> str:
        return str(self.doc["id"])


def changes(old: Any, new: Any) -> Any:
    """Stripe's previous_attributes: the old values of what changed, nested hashes narrowed to their changes."""
    result: Doc = {}
    for key in set(old) | set(new):
        before, after = old.get(key), new.get(key)
        if before == after:
            continue
        if isinstance(before, dict) and isinstance(after, dict) and before.get("object") is None:
            result[key] = changes(before, after)
        else:
            result[key] = before
    return result


class Ctx:
    def __init__(
        self,
        conn: sqlite3.Connection,
        *,
        clock: SimClock,
        request_id: str | None = None,
        idempotency_key: str | None = None,
        webhook_count: Callable[[str], int] = lambda event_type: 0,
        settings: Doc | None = None,
    ) -> None:
        self.conn = conn
        self.clock = clock
        self.request_id = request_id
        self.idempotency_key = idempotency_key
        self.webhook_count = webhook_count
        self.settings = settings or {}
        self.events: list[Doc] = []

    def now(self) -> int:
        return self.clock.now()

    # --- objects -----------------------------------------------------------------------

    def get(self, object_id: str) -> Record | None:
        row = self.conn.execute("SELECT doc, private FROM objects WHERE id = ?", (object_id,)).fetchone()
        if row is None:
            return None
        doc = json.loads(row["doc"])
        return Record(doc=doc, private=json.loads(row["private"]), before=copy.deepcopy(doc))

    def load(self, kind: str, object_id: Any, *, param: str | None = "id") -> Record:
        """The object of that type, or Stripe's 404 "No such …"."""
        record = self.get(str(object_id)) if isinstance(object_id, str) and object_id else None
        if record is None or record.doc.get("object") != kind:
            raise no_such(LABELS.get(kind, kind), str(object_id), param=param)
        return record

    def insert(self, doc: Doc, private: Doc | None = None) -> Record:
        self.conn.execute(
            "INSERT INTO objects (id, object, created, doc, private) VALUES (?, ?, ?, ?, ?)",
            (doc["id"], doc["object"], doc.get("created") or self.now(), dumps(doc), dumps(private or {})),
        )
        return Record(doc=doc, private=private or {}, before=copy.deepcopy(doc))

    def save(self, record: Record) -> None:
        self.conn.execute(
            "UPDATE objects SET doc = ?, private = ? WHERE id = ?",
            (dumps(record.doc), dumps(record.private), record.id),
        )

    def render(self, doc: Doc) -> Doc:
        renderer = RENDERERS.get(str(doc.get("object")))
        return renderer(self, copy.deepcopy(doc)) if renderer else copy.deepcopy(doc)

    def fetch(self, object_id: str) -> Doc | None:
        """The rendered doc of any object, for expansion."""
        record = self.get(object_id)
        return self.render(record.doc) if record else None

    # --- events --------------------------------------------------------------------------

    def emit(self, event_type: str, doc: Doc, *, previous: Doc | None = None, automatic: bool = False) -> Doc:
        """Record an event with the object as it is now. `automatic`: Stripe did it, not an API request."""
        data: Doc = {"object": self.render(doc)}
        if previous:
            data["previous_attributes"] = previous
        event = {
            "id": new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": self.now(),
            "data": data,
            "livemode": False,
            "pending_webhooks": self.webhook_count(event_type),
            "request": {
                "id": None if automatic else self.request_id,
                "idempotency_key": None if automatic else self.idempotency_key,
            },
            "type": event_type,
        }
        self.insert(event)
        self.events.append(event)
        return event

    def save_and_emit(self, record: Record, event_type: str | None, *, automatic: bool = False) -> None:
        """Save a changed object and emit its `.updated`-style event with previous_attributes."""
        self.save(record)
        if event_type:
            self.emit(event_type, record.doc, previous=changes(record.before, record.doc), automatic=automatic)
        record.before = copy.deepcopy(record.doc)

    # --- later work ------------------------------------------------------------------------

    def schedule(self, due: int, kind: str, target: str) -> None:
        self.conn.execute("INSERT INTO scheduled (due, kind, target) VALUES (?, ?, ?)", (due, kind, target))
