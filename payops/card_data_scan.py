"""A scan for card data where PayOps keeps things: every text column of the database, log files, model artefacts.

Two kinds of finding:

- a card number (payops.card_numbers: 13-19 digits standing as a word,
  starting with 2-6, Luhn-valid, unbroken or in groups as people write them);
- a field named for card data that carries a value: `cvc`, `cvv`, `cvc2`,
  `card_number`…, in JSON (`{"cvc": "123"}`), in text (`cvc=123`,
  `card[cvc]=123`, `'cvv': '123'`), and `number` inside a `card` object or
  beside `exp_month`. An empty value or null is not card data.

A finding says where (table.column and pk, file:line, or file and byte
offset) and shows a number masked (first 6, last 4), a field's value never.
"""

from __future__ import annotations

import gzip
import json
import re
import zipfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.apps import apps
from django.db import connections, models

from payops.card_numbers import find_card_numbers

Progress = Callable[[str], None]

# Field names that hold card data whatever object they are in (lower case, - read as _).
CARD_FIELDS = frozenset(
    {
        "cvc",
        "cvv",
        "cvc2",
        "cvv2",
        "csc",
        "card_cvc",
        "card_cvv",
        "security_code",
        "card_number",
        "cardnumber",
        "card_no",
        "cc_number",
    }
)
_TEXT_FIELD = re.compile(
    r"""(?ix)
    (?<![\w\[])["']?\[?
    (?P<key>cvc2?|cvv2?|csc|card_cvc|card_cvv|security_code|card_?number|card_no|cc_number|card\]?\[(?:number|cvc)\])
    \]?["']?\s*[:=]\s*
    (?P<value>"[^"]*"|'[^']*'|[^\s,;&}\])]+)
    """
)
_EMPTY = {"", "null", "none", "nil", "undefined", "false"}
DEFAULT_BATCH = 2000
_WHOLE_FILE_BYTES = 64 << 20
_OVERLAP = 64


@dataclass(frozen=True)
class Finding:
    where: str
    what: str

    def __str__(self) -> str:
        return f"{self.where}: {self.what}"


@dataclass
class ScanReport:
    findings: list[Finding] = field(default_factory=list)
    rows: int = 0
    files: int = 0
    _seen: set[Finding] = field(default_factory=set, repr=False)

    def add(self, found: Iterable[Finding]) -> None:
        """Each finding once (a JSON text column is scanned as text and as JSON), in the order found."""
        for finding in found:
            if finding not in self._seen:
                self._seen.add(finding)
                self.findings.append(finding)


# --- Text and values ----------------------------------------------------------


def _text_matches(text: str) -> list[tuple[int, str]]:
    """(offset, what) for each finding in the text."""
    found = [(card.start, f"card number {card.masked}") for card in find_card_numbers(text)]
    for match in _TEXT_FIELD.finditer(text):
        if match["value"].strip("\"'").lower() not in _EMPTY:
            found.append((match.start(), f"card field {match['key'].lower()!r} with a value"))
    return found


def scan_text(text: str, where: str) -> list[Finding]:
    return [Finding(where, what) for _, what in _text_matches(text)]


def scan_value(value: Any, where: str, path: str = "") -> list[Finding]:
    """Findings in a decoded JSON value: its strings and integers, and its keys."""
    here = f"{where} at {path}" if path else where
    if isinstance(value, str):
        return scan_text(value, here)
    if isinstance(value, int) and not isinstance(value, bool):
        return scan_text(str(value), here)
    found: list[Finding] = []
    if isinstance(value, list):
        for i, item in enumerate(value):
            found += scan_value(item, where, f"{path}[{i}]")
    elif isinstance(value, dict):
        found += _card_fields(value, here, in_card=path.rsplit(".", 1)[-1].lower() == "card")
        for key, item in value.items():
            found += scan_value(item, where, f"{path}.{key}" if path else str(key))
    return found


def _card_fields(obj: dict[Any, Any], where: str, *, in_card: bool) -> list[Finding]:
    names = {str(k).lower().replace("-", "_"): v for k, v in obj.items()}
    suspect = [k for k in names if k in CARD_FIELDS]
    # `number` means the card's number inside a card object or beside its expiry (as Stripe's API takes it).
    if "number" in names and (in_card or "exp_month" in names):
        suspect.append("number")
    return [Finding(where, f"card field {k!r} with a value") for k in suspect if _carries_value(names[k])]


def _carries_value(value: Any) -> bool:
    if value is None or isinstance(value, bool | dict | list):
        return False
    return str(value).strip().lower() not in _EMPTY


def _scan_stored_text(text: str, where: str) -> list[Finding]:
    """Text that may hold JSON (a raw body, a TextField of JSON): scanned as text, and as JSON if it is."""
    found = scan_text(text, where)
    if text.lstrip()[:1] in ("{", "["):
        try:
            found += scan_value(json.loads(text), where)
        except ValueError:
            pass  # text that looks like JSON but is not: the text scan above is all there is
    return found


# --- Database -------------------------------------------------------------------

_TEXT_FIELDS = (models.CharField, models.TextField, models.JSONField, models.BinaryField)


def text_columns(model: type[models.Model]) -> list[models.Field[Any, Any]]:
    return [f for f in model._meta.concrete_fields if isinstance(f, _TEXT_FIELDS)]


def scanned_models(using: str = "default") -> list[type[models.Model]]:
    """Every concrete model with a table here (ours and third-party apps', many-to-many tables included)."""
    tables = set(connections[using].introspection.table_names())
    return [
        model
        for model in apps.get_models(include_auto_created=True)
        if not model._meta.proxy and model._meta.db_table in tables and text_columns(model)
    ]


def scan_database(
    *, using: str = "default", batch_size: int = DEFAULT_BATCH, progress: Progress | None = None
) -> ScanReport:
    """Every text, char, JSON and binary column of every table, in pk order, a batch at a time."""
    report = ScanReport()
    for model in scanned_models(using):
        table, columns = model._meta.db_table, text_columns(model)
        rows = 0
        for pk, values in _rows(model, columns, using=using, batch_size=batch_size):
            for column, value in zip(columns, values, strict=True):
                report.add(_scan_column_value(model, column, pk, value))
            rows += 1
            if progress and rows % (batch_size * 50) == 0:
                progress(f"{table}: {rows} rows so far")
        report.rows += rows
        if progress:
            progress(f"{table}: {rows} rows")
    return report


def _rows(
    model: type[models.Model], columns: list[models.Field[Any, Any]], *, using: str, batch_size: int
) -> Iterator[tuple[Any, list[Any]]]:
    """(pk, column values) for every row. Keyset paging (pk after the last one seen) reads millions of rows in
    constant memory and constant time per batch, where OFFSET slows down with every page."""
    queryset = model._base_manager.using(using).order_by("pk")
    names = [f.attname for f in columns]
    last = None
    while True:
        page = queryset if last is None else queryset.filter(pk__gt=last)
        batch = list(page.values_list("pk", *names)[:batch_size])
        for pk, *values in batch:
            yield pk, values
        if len(batch) < batch_size:
            return
        last = batch[-1][0]


def _scan_column_value(model: type[models.Model], column: models.Field[Any, Any], pk: Any, value: Any) -> list[Finding]:
    where = f"{model._meta.db_table}.{column.column} pk={pk}"
    if value is None:
        return []
    if isinstance(value, bytes | memoryview):
        return _scan_binary(bytes(value), where)
    if not isinstance(value, str):
        return scan_value(value, where)  # a JSONField, already decoded
    found = _scan_stored_text(value, where)
    if model._meta.label == "sessions.Session" and column.name == "session_data":
        # Session data is signed and base64-encoded: what a view put in the session only shows decoded.
        store = model.get_session_store_class()()  # type: ignore[attr-defined]
        found += scan_value(store.decode(value), f"{where} (decoded)")
    return found


# --- Files ----------------------------------------------------------------------


def files_under(folder: Path) -> list[Path]:
    """The files under a folder, or the file itself."""
    if folder.is_file():
        return [folder]
    return sorted(p for p in folder.rglob("*") if p.is_file()) if folder.is_dir() else []


def scan_log_files(folder: Path, *, progress: Progress | None = None) -> ScanReport:
    """Every file under the folder (or the one file), line by line, gzip-rotated logs too: never read whole."""
    report = ScanReport()
    for path in files_under(folder):
        opener = gzip.open if path.suffix == ".gz" else open
        with opener(path, "rt", encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, start=1):
                report.add(scan_text(line, f"{path}:{number}"))
        report.files += 1
        if progress:
            progress(f"{path}: scanned")
    return report


def scan_artefacts(folder: Path, *, progress: Progress | None = None) -> ScanReport:
    """Model files: a zip (skops) member by member, JSON and text by line, anything else as bytes."""
    report = ScanReport()
    for path in files_under(folder):
        if zipfile.is_zipfile(path):
            with zipfile.ZipFile(path) as archive:
                for member in archive.namelist():
                    report.add(_scan_blob(archive.read(member), f"{path}!{member}"))
        else:
            report.add(_scan_file(path))
        report.files += 1
        if progress:
            progress(f"{path}: scanned")
    return report


def _scan_blob(data: bytes, where: str) -> list[Finding]:
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return _scan_binary(data, where)
    found: list[Finding] = []
    for number, line in enumerate(text.splitlines(), start=1):
        found += scan_text(line, f"{where}:{number}")
    if text.lstrip()[:1] in ("{", "["):
        try:
            found += scan_value(json.loads(text), where)
        except ValueError:
            pass  # not JSON after all: scanned as text above
    return found


def _scan_binary(data: bytes, where: str) -> list[Finding]:
    """Card numbers and card fields written as text anywhere in binary data (a pickle, a numpy array)."""
    return [Finding(f"{where} byte {offset}", what) for offset, what in _text_matches(data.decode("latin-1"))]


def _scan_file(path: Path) -> list[Finding]:
    if path.stat().st_size <= _WHOLE_FILE_BYTES:
        return _scan_blob(path.read_bytes(), str(path))
    found: list[Finding] = []
    with path.open("rb") as handle:
        data, start = handle.read(_WHOLE_FILE_BYTES), 0
        while data:
            more = handle.read(_WHOLE_FILE_BYTES)
            # What starts in a piece's last bytes is left to the next piece, which begins with them, so a
            # number cut in two is found whole, and once.
            limit = len(data) - _OVERLAP if more else len(data)
            for at, what in _text_matches(data.decode("latin-1")):
                if at < limit:
                    found.append(Finding(f"{path} byte {start + at}", what))
            start += max(limit, 0)
            data = data[limit:] + more if more else b""
    return found
