"""List endpoints: Stripe's cursor pagination (newest first), `created` ranges and field filters."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from payops.stripe_sim.context import LABELS, Ctx, Doc
from payops.stripe_sim.errors import ParamError, no_such
from payops.stripe_sim.expand import expand

DEFAULT_LIMIT = 10


@dataclass(frozen=True)
class Prefix:
    """Filter: the field starts with this text (event `type` wildcards such as charge.*)."""

    text: str


class _Absent:
    """Filter: the field is null or missing."""


ABSENT = _Absent()


def _condition(field: str, value: Any, args: list[Any]) -> str:
    # The JSON path is bound, not formatted in: metadata keys come from callers.
    args.append(f"$.{field}")
    column = "json_extract(doc, ?)"
    if value is ABSENT:
        return f"{column} IS NULL"
    if isinstance(value, Prefix):
        args.append(value.text.replace("%", r"\%").replace("_", r"\_") + "%")
        return rf"{column} LIKE ? ESCAPE '\'"
    if isinstance(value, list | tuple):
        args.extend(value)
        return f"{column} IN ({', '.join('?' for _ in value)})"
    if isinstance(value, bool):
        args.append(1 if value else 0)
        return f"{column} = ?"
    args.append(value)
    return f"{column} = ?"


def page(
    ctx: Ctx,
    kind: str,
    params: Mapping[str, Any],
    *,
    url: str,
    filters: Mapping[str, Any] | None = None,
) -> Doc:
    """One page of `kind` objects as Stripe's list object, expansions applied."""
    if params.get("starting_after") and params.get("ending_before"):
        raise ParamError(
            "You may only specify one of these parameters: ending_before, starting_after.",
            code="parameters_exclusive",
        )
    limit = params.get("limit") or DEFAULT_LIMIT
    args: list[Any] = [kind]
    where = ["object = ?"]
    for field, value in (filters or {}).items():
        where.append(_condition(field, value, args))
    for op, sql in (("eq", "="), ("gt", ">"), ("gte", ">="), ("lt", "<"), ("lte", "<=")):
        bound = (params.get("created") or {}).get(op)
        if bound is not None:
            where.append(f"created {sql} ?")
            args.append(bound)
    order = "DESC"
    for cursor_param, comparison, direction in (("starting_after", "<", "DESC"), ("ending_before", ">", "ASC")):
        cursor = params.get(cursor_param)
        if cursor:
            row = ctx.conn.execute("SELECT seq, object FROM objects WHERE id = ?", (cursor,)).fetchone()
            if row is None or row["object"] != kind:
                raise no_such(LABELS.get(kind, kind), cursor, param=cursor_param)
            where.append(f"seq {comparison} ?")
            args.append(row["seq"])
            order = direction
    rows = ctx.conn.execute(
        f"SELECT doc FROM objects WHERE {' AND '.join(where)} ORDER BY seq {order} LIMIT ?",  # noqa: S608
        (*args, limit + 1),
    ).fetchall()
    docs = [json.loads(row["doc"]) for row in rows[:limit]]
    if order == "ASC":
        docs.reverse()
    result = {
        "object": "list",
        "data": [ctx.render(doc) for doc in docs],
        "has_more": len(rows) > limit,
        "url": url,
    }
    return expand(ctx, result, params.get("expand"))


def sublist(url: str, data: list[Doc]) -> Doc:
    """An embedded list (a charge's refunds, an account's external accounts)."""
    return {"object": "list", "data": data, "has_more": False, "total_count": len(data), "url": url}
