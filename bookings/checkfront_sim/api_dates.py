"""Checkfront dates: query filters with `<`/`>` prefixes, unix stamps, `date_desc` and ISO strings.

Query values [doc]: unix seconds, `YYYY-MM-DD`, `YYYYMMDD` or `today`, optionally
prefixed `<` (before) or `>` (after). How a value without a prefix matches is not
documented; [assumed] here it matches the whole (UTC) day the value falls on,
and `<`/`>` compare strictly with the instant (midnight for a date). So
`last_modified=>1700000000` returns bookings modified after that second,
including later in the same second: a sync that keeps the largest
`last_modified` it has seen and asks for `>` that value misses nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from bookings.checkfront_sim.errors import InvalidInput

DAY = 86400
_UNIX = re.compile(r"^\d{1,11}(\.\d+)?$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_COMPACT_DATE = re.compile(r"^\d{8}$")
_MONTH = re.compile(r"^\d{4}-\d{2}$")


@dataclass(frozen=True)
class DateFilter:
    """A comparison on one column: `op` is "<", ">" or "day" (the whole day from `value`)."""

    op: str
    value: float

    def sql(self, column: str) -> tuple[str, list[float]]:
        if self.op == "<":
            return f"{column} < ?", [self.value]
        if self.op == ">":
            return f"{column} > ?", [self.value]
        return f"{column} >= ? AND {column} < ?", [self.value, self.value + DAY]


def day_start(timestamp: float) -> int:
    return int(timestamp // DAY * DAY)


def _parse_day(text: str, pattern: str) -> int | None:
    try:
        day = datetime.strptime(text, pattern).replace(tzinfo=UTC)
    except ValueError:
        return None
    return int(day.timestamp())


def parse_point(text: str, *, now: float) -> tuple[float, bool]:
    """(instant, is_a_date) for one query value; InvalidInput when it is none of the documented forms."""
    value = text.strip()
    if value.lower() == "today":
        return float(day_start(now)), True
    if _ISO_DATE.match(value):
        day = _parse_day(value, "%Y-%m-%d")
        if day is not None:
            return float(day), True
    elif _COMPACT_DATE.match(value):
        # Eight digits read as YYYYMMDD when they make a date, else as unix seconds.
        day = _parse_day(value, "%Y%m%d")
        if day is not None:
            return float(day), True
        return float(value), False
    elif _UNIX.match(value):
        return float(value), False
    raise InvalidInput(f"{text!r} is not a date: use unix seconds, YYYY-MM-DD, YYYYMMDD or 'today'")


def parse_date_filter(raw: str, *, name: str, now: float) -> DateFilter:
    text = raw.strip()
    op = "day"
    if text[:1] in ("<", ">"):
        op, text = text[0], text[1:]
    if not text:
        raise InvalidInput(f"{name}: empty date")
    try:
        point, _ = parse_point(text, now=now)
    except InvalidInput as exc:
        raise InvalidInput(f"{name}: {exc}") from exc
    if op == "day":
        point = float(day_start(point))
    return DateFilter(op=op, value=point)


def parse_notes_date(raw: str, *, now: float) -> tuple[float, float]:
    """`booking/notes?date=`: a month (`YYYY-MM`) gives that month, anything else the notes from then on."""
    text = raw.strip()
    if _MONTH.match(text):
        start = _parse_day(text + "-01", "%Y-%m-%d")
        if start is None:
            raise InvalidInput(f"date: {raw!r} is not a month")
        first = datetime.fromtimestamp(start, tz=UTC)
        following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
        return float(start), following.timestamp()
    try:
        return datetime.fromisoformat(text).timestamp(), now + 1
    except ValueError:
        pass
    try:
        point, _ = parse_point(text, now=now)
    except InvalidInput as exc:
        raise InvalidInput(f"date: {exc}") from exc
    return point, now + 1


def parse_when(value: object, *, name: str) -> int:
    """A date in a control-API spec: unix seconds, `YYYY-MM-DD` or ISO-8601 (UTC unless it says otherwise)."""
    if isinstance(value, bool):
        raise InvalidInput(f"{name}: {value!r} is not a date")
    if isinstance(value, int | float):
        return int(value)
    text = str(value).strip()
    if _UNIX.match(text) and not _COMPACT_DATE.match(text):
        return int(float(text))
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidInput(f"{name}: {value!r} is not a date") from exc
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return int(parsed.timestamp())


def iso(timestamp: float) -> str:
    """ISO-8601 with offset, as notes and customer bookings carry: 2018-04-26T17:40:25+00:00."""
    return datetime.fromtimestamp(int(timestamp), tz=UTC).isoformat()


def _day_words(day: datetime) -> str:
    return f"{day:%a %b} {day.day}"


def date_desc(start: int, end: int) -> str:
    """The index row's `date_desc`: "Wed Mar 5, 2014" or "Wed Mar 5 - Fri Mar 7, 2014"."""
    first = datetime.fromtimestamp(start, tz=UTC)
    last = datetime.fromtimestamp(max(start, end), tz=UTC)
    if first.date() == last.date():
        return f"{_day_words(first)}, {first.year}"
    if first.year == last.year:
        return f"{_day_words(first)} - {_day_words(last)}, {last.year}"
    return f"{_day_words(first)}, {first.year} - {_day_words(last)}, {last.year}"
