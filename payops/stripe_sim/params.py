"""Strict parameter validation, as Stripe does it: unknown, missing, empty or malformed parameters are 400s.

Each endpoint declares a schema: a dict of parameter name to Field. Bodies are
form-encoded with brackets (`metadata[k]=v`, `expand[0]=x`, `card[number]=…`),
parsed by bookings.php_forms into nested dicts and lists of strings; the
fields turn them into typed values. An empty string means "unset" where Stripe
allows it (the value becomes None) and is refused where it does not.
Messages follow Stripe's wording where it is known (see README.md).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from bookings.php_forms import parse_php_query
from payops.stripe_sim.errors import ParamError
from payops.stripe_sim.money import CURRENCIES

Schema = Mapping[str, "Field"]
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def parse_form(text: str) -> dict[str, Any]:
    try:
        parsed = parse_php_query(text)
    except ValueError as exc:
        raise ParamError(f"Invalid request body: {exc}") from exc
    return parsed if isinstance(parsed, dict) else {}


def _empty_error(path: str) -> ParamError:
    return ParamError(
        f"You passed an empty string for '{path}'. We assume empty values are an attempt to unset a parameter; "
        f"however '{path}' cannot be unset. You should remove '{path}' from your request or supply a non-empty "
        "value.",
        code="parameter_invalid_empty",
        param=path,
    )


class Field:
    """One parameter. `nullable`: an empty string unsets it (cleaned to None)."""

    def __init__(self, *, required: bool = False, nullable: bool = False) -> None:
        self.required = required
        self.nullable = nullable

    def clean(self, value: Any, path: str) -> Any:
        if value == "":
            if self.nullable:
                return None
            raise _empty_error(path)
        return self.convert(value, path)

    def convert(self, value: Any, path: str) -> Any:
        raise NotImplementedError


def _scalar(value: Any, path: str, kind: str) -> str:
    if not isinstance(value, str):
        raise ParamError(f"Invalid {kind}: {_shown(value)}", param=path)
    return value


def _shown(value: Any) -> str:
    if isinstance(value, dict):
        return "{" + ", ".join(f":{k}=>{_shown(v)!s}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_shown(v) for v in value) + "]"
    return str(value)


class Str(Field):
    def __init__(self, *, max_length: int = 5000, required: bool = False, nullable: bool = False) -> None:
        super().__init__(required=required, nullable=nullable)
        self.max_length = max_length

    def convert(self, value: Any, path: str) -> Any:
        text = _scalar(value, path, "string")
        if len(text) > self.max_length:
            raise ParamError(
                f"Invalid string: {text[:20]}...; must be at most {self.max_length} characters", param=path
            )
        return text


class Email(Str):
    def convert(self, value: Any, path: str) -> Any:
        text = super().convert(value, path)
        if not _EMAIL.match(text):
            raise ParamError(f"Invalid email address: {text}", code="email_invalid", param=path)
        return text


class Enum(Field):
    def __init__(self, *choices: str, required: bool = False, nullable: bool = False) -> None:
        super().__init__(required=required, nullable=nullable)
        self.choices = choices

    def convert(self, value: Any, path: str) -> Any:
        text = _scalar(value, path, "string")
        if text not in self.choices:
            listed = (
                ", ".join(self.choices[:-1]) + f", or {self.choices[-1]}" if len(self.choices) > 1 else self.choices[0]
            )
            raise ParamError(f"Invalid {path}: must be one of {listed}", param=path)
        return text


class Currency(Field):
    def convert(self, value: Any, path: str) -> Any:
        text = _scalar(value, path, "string").lower()
        if text not in CURRENCIES:
            raise ParamError(
                f"Invalid currency: {value}. Stripe currently supports these currencies: "
                f"{', '.join(sorted(CURRENCIES))}",
                param=path,
            )
        return text


class Int(Field):
    def __init__(
        self, *, min: int | None = None, max: int | None = None, required: bool = False, nullable: bool = False
    ) -> None:
        super().__init__(required=required, nullable=nullable)
        self.min = min
        self.max = max

    def convert(self, value: Any, path: str) -> Any:
        text = _scalar(value, path, "integer")
        if not re.fullmatch(r"-?\d+", text):
            raise ParamError(f"Invalid integer: {text}", code="parameter_invalid_integer", param=path)
        number = int(text)
        if self.min is not None and number < self.min:
            raise ParamError(f"This value must be greater than or equal to {self.min}.", param=path)
        if self.max is not None and number > self.max:
            raise ParamError(f"This value must be less than or equal to {self.max}.", param=path)
        return number


class Bool(Field):
    def convert(self, value: Any, path: str) -> Any:
        text = _scalar(value, path, "boolean")
        if text not in ("true", "false"):
            raise ParamError(f"Invalid boolean: {text}", param=path)
        return text == "true"


class Hash(Field):
    """A nested hash with its own schema."""

    def __init__(self, schema: Schema, *, required: bool = False, nullable: bool = False) -> None:
        super().__init__(required=required, nullable=nullable)
        self.schema = schema

    def convert(self, value: Any, path: str) -> Any:
        if isinstance(value, list):  # keys 0..n were parsed as a list
            value = {str(i): v for i, v in enumerate(value)}
        if not isinstance(value, dict):
            raise ParamError("Invalid hash", param=path)
        return validate(self.schema, value, prefix=path)


class Arr(Field):
    def __init__(self, item: Field, *, max_items: int | None = None, required: bool = False) -> None:
        super().__init__(required=required, nullable=True)
        self.item = item
        self.max_items = max_items

    def convert(self, value: Any, path: str) -> Any:
        if isinstance(value, dict) and all(k.isdigit() for k in value):
            value = [value[k] for k in sorted(value, key=int)]
        if not isinstance(value, list):
            raise ParamError("Invalid array", param=path)
        if self.max_items is not None and len(value) > self.max_items:
            raise ParamError(f"Invalid array: must have at most {self.max_items} items", param=path)
        return [self.item.clean(item, f"{path}[{i}]") for i, item in enumerate(value)]


class Metadata(Field):
    """Stripe's metadata: ≤50 keys, keys ≤40 characters, values ≤500. An empty value deletes that key."""

    def __init__(self) -> None:
        super().__init__(nullable=True)

    def clean(self, value: Any, path: str) -> Any:
        if value == "":
            return {}  # metadata="" clears every key
        if isinstance(value, list):
            value = {str(i): v for i, v in enumerate(value)}
        if not isinstance(value, dict):
            raise ParamError("Invalid hash", param=path)
        if len(value) > 50:
            raise ParamError("Invalid metadata: metadata cannot have more than 50 keys", param=path)
        cleaned: dict[str, str | None] = {}
        for key, item in value.items():
            item_path = f"{path}[{key}]"
            if not key:
                raise ParamError("Invalid metadata: metadata keys cannot be empty", param=path)
            if len(key) > 40:
                raise ParamError(
                    f"Invalid metadata: metadata keys must be at most 40 characters long, but {key!r} is longer",
                    param=item_path,
                )
            if not isinstance(item, str):
                raise ParamError(f"Invalid string: {_shown(item)}", param=item_path)
            if len(item) > 500:
                raise ParamError(
                    "Invalid metadata: metadata values must be at most 500 characters long", param=item_path
                )
            cleaned[key] = item or None
        return cleaned


class Range(Field):
    """A list filter such as created: an integer, or a hash of gt / gte / lt / lte."""

    def convert(self, value: Any, path: str) -> Any:
        if isinstance(value, dict):
            bounds = validate({k: Int() for k in ("gt", "gte", "lt", "lte")}, value, prefix=path)
            return bounds
        return {"eq": Int().convert(value, path)}


def merge_metadata(current: Mapping[str, str], changes: Mapping[str, str | None] | None) -> dict[str, str]:
    """Apply a cleaned metadata parameter: None values delete keys; {} (from metadata="") clears all."""
    if changes is None:
        return dict(current)
    if changes == {}:
        return {}
    merged = dict(current)
    for key, value in changes.items():
        if value is None:
            merged.pop(key, None)
        else:
            merged[key] = value
    return merged


def validate(schema: Schema, raw: Mapping[str, Any], *, prefix: str = "") -> dict[str, Any]:
    """Clean `raw` against `schema`; ParamError at the first problem, as Stripe reports one at a time."""
    for name in raw:
        if name not in schema:
            path = f"{prefix}[{name}]" if prefix else name
            raise ParamError(f"Received unknown parameter: {path}", code="parameter_unknown", param=path)
    cleaned: dict[str, Any] = {}
    for name, field in schema.items():
        path = f"{prefix}[{name}]" if prefix else name
        if name not in raw:
            if field.required:
                raise ParamError(f"Missing required param: {path}.", code="parameter_missing", param=path)
            continue
        cleaned[name] = field.clean(raw[name], path)
    return cleaned


def exclusive(params: Mapping[str, Any], *names: str) -> None:
    given = [name for name in names if params.get(name) is not None]
    if len(given) > 1:
        raise ParamError(
            f"You may only specify one of these parameters: {', '.join(names)}.", code="parameters_exclusive"
        )


# --- shared shapes -------------------------------------------------------------------------

EXPAND = Arr(Str(max_length=5000))
ADDRESS = {name: Str(nullable=True) for name in ("city", "country", "line1", "line2", "postal_code", "state")}
BILLING_DETAILS = {
    "address": Hash(ADDRESS, nullable=True),
    "email": Email(nullable=True),
    "name": Str(nullable=True),
    "phone": Str(nullable=True),
}
SHIPPING = {
    "address": Hash(ADDRESS, required=True),
    "name": Str(required=True),
    "carrier": Str(nullable=True),
    "phone": Str(nullable=True),
    "tracking_number": Str(nullable=True),
}
LIST = {
    "limit": Int(min=1, max=100),
    "starting_after": Str(),
    "ending_before": Str(),
    "expand": EXPAND,
}
LIST_CREATED = {**LIST, "created": Range()}
RETRIEVE = {"expand": EXPAND}


def address(value: Mapping[str, Any] | None) -> dict[str, Any] | None:
    """An address hash as Stripe returns it: every key present."""
    if value is None:
        return None
    return {name: value.get(name) for name in ("city", "country", "line1", "line2", "postal_code", "state")}
