"""Documented mappings from other labelled fraud data sets onto the booking model's feature names.

They let the training pipeline (fraud/estimator.py) and the metrics (fraud/evaluation.py) be checked on real,
third-party labels. A mapping fills only the features its data has a fair stand-in for; the rest are absent for
that data. Every count is computed from earlier rows only, as the booking features are at scoring time.

"fraud-data" reads the public e-commerce "Fraud_Data" set (a sample is /work/shared/data/ecommerce-fraud-sample.csv;
columns user_id, signup_time, purchase_time, purchase_value, device_id, source, browser, sex, age, class). One row
is one purchase; times are M/D/YY H:MM with no time zone, read as UTC. Column by column:

- purchase_value (whole dollars) -> amount_log = log1p(purchase_value), the amount in major units.
- purchase_time - signup_time, in hours -> lead_time_hours. A stand-in: for a booking, lead time is booking to
  activity; here it is account age at purchase. Both are "how little time passed before money moved", the
  classic card-testing pattern (buy within minutes of creating the account or booking for tonight).
- hour of purchase_time -> hour_local (0-23).
- device_id -> device_bookings_1h / _24h / _7d: purchases on the same device strictly before this one (an earlier
  timestamp; same-minute purchases do not count each other, since their order is unknown) and no more than
  1 h / 24 h / 7 days before it.
- user_id -> email_bookings_1h / _24h / _7d, the same counts per user (the account stands in for the email).
  In the published data every user_id makes one purchase, so these are 0 there; they are kept because the
  mapping is meant for any file in this format.
- class -> the label (1 = fraud).

Not used: source (SEO / Ads / Direct), browser, sex and age are not booking concepts and the booking model has no
feature for them; using sex or age would also be unacceptable in a fraud decision. The file has no IP, e-mail,
card, name, country, failure, party-size or item columns, so every other booking feature is absent.
"""

from __future__ import annotations

import calendar
import csv
import math
from bisect import bisect_left
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from fraud.features import FEATURE_NAMES

__all__ = ["BOOKING_FEATURE_NAMES", "MAPPINGS", "ExternalDataError", "FeatureMapping", "MappedData"]

# A mapping may fill only the booking model's feature names.
BOOKING_FEATURE_NAMES: tuple[str, ...] = FEATURE_NAMES

HOUR = 3600.0
WINDOWS: tuple[tuple[str, float], ...] = (("1h", HOUR), ("24h", 24 * HOUR), ("7d", 7 * 24 * HOUR))


class ExternalDataError(ValueError):
    """A file a mapping cannot read: missing, not CSV, a column missing, or a bad value (with its line)."""


@dataclass(frozen=True)
class MappedData:
    feature_names: tuple[str, ...]
    X: np.ndarray  # rows x features, NaN = absent
    y: np.ndarray  # 1 = fraud
    times: np.ndarray  # epoch seconds; rows sorted oldest first


@dataclass(frozen=True)
class FeatureMapping:
    name: str
    description: str
    read: Callable[[Path], MappedData]


FRAUD_DATA_COLUMNS = ("user_id", "signup_time", "purchase_time", "purchase_value", "device_id", "class")
FRAUD_DATA_FEATURES: tuple[str, ...] = (
    "amount_log",
    "lead_time_hours",
    "hour_local",
    "device_bookings_1h",
    "device_bookings_24h",
    "device_bookings_7d",
    "email_bookings_1h",
    "email_bookings_24h",
    "email_bookings_7d",
)


@dataclass(frozen=True)
class _Purchase:
    line: int
    user: str
    device: str
    signed_up: float
    at: float
    hour: int
    value: float
    fraud: int


def read_fraud_data(path: Path) -> MappedData:
    """The "fraud-data" mapping (see the module docstring), rows sorted by purchase time, oldest first."""
    purchases = sorted(_fraud_data_rows(Path(path)), key=lambda p: p.at)  # stable: file order breaks ties
    if not purchases:
        raise ExternalDataError(f"{path}: no data rows")
    device_counts = _earlier_counts([p.device for p in purchases], [p.at for p in purchases])
    user_counts = _earlier_counts([p.user for p in purchases], [p.at for p in purchases])
    columns: dict[str, list[float]] = {
        "amount_log": [math.log1p(p.value) for p in purchases],
        "lead_time_hours": [(p.at - p.signed_up) / HOUR for p in purchases],
        "hour_local": [float(p.hour) for p in purchases],
    }
    for suffix, _ in WINDOWS:
        columns[f"device_bookings_{suffix}"] = device_counts[suffix]
        columns[f"email_bookings_{suffix}"] = user_counts[suffix]
    X = np.column_stack([np.asarray(columns[name], dtype=float) for name in FRAUD_DATA_FEATURES])
    return MappedData(
        feature_names=FRAUD_DATA_FEATURES,
        X=X,
        y=np.array([p.fraud for p in purchases], dtype=int),
        times=np.array([p.at for p in purchases], dtype=float),
    )


def _fraud_data_rows(path: Path) -> Iterator[_Purchase]:
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as exc:
        raise ExternalDataError(f"cannot open {path}: {exc.strerror or exc}") from exc
    with handle:
        reader = csv.DictReader(handle)
        try:
            header = reader.fieldnames
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ExternalDataError(f"{path}: not a readable CSV file ({exc})") from exc
        if not header:
            raise ExternalDataError(f"{path}: empty file, expected a header row")
        missing = [column for column in FRAUD_DATA_COLUMNS if column not in header]
        if missing:
            raise ExternalDataError(
                f"{path}: missing column(s) {', '.join(missing)}; expected at least {', '.join(FRAUD_DATA_COLUMNS)}"
            )
        try:
            for record in reader:
                yield _purchase(path, reader.line_num, record)
        except (csv.Error, UnicodeDecodeError) as exc:
            raise ExternalDataError(f"{path} line {reader.line_num}: not readable as CSV ({exc})") from exc


def _purchase(path: Path, line: int, record: dict[str, str]) -> _Purchase:
    def fail(problem: str) -> ExternalDataError:
        return ExternalDataError(f"{path} line {line}: {problem}")

    if any(record.get(column) in (None, "") for column in FRAUD_DATA_COLUMNS):
        empty = [column for column in FRAUD_DATA_COLUMNS if record.get(column) in (None, "")]
        raise fail(f"empty {', '.join(empty)}")
    signed_up = _parse_time(record["signup_time"])
    purchased = _parse_time(record["purchase_time"])
    if signed_up is None or purchased is None:
        raise fail(f"times must be M/D/YY H:MM, got {record['signup_time']!r} and {record['purchase_time']!r}")
    if purchased < signed_up:
        raise fail("purchase_time is before signup_time")
    try:
        value = float(record["purchase_value"])
    except ValueError:
        raise fail(f"purchase_value is not a number: {record['purchase_value']!r}") from None
    if not math.isfinite(value) or value < 0:
        raise fail(f"purchase_value must be a non-negative amount, got {record['purchase_value']!r}")
    if record["class"] not in ("0", "1"):
        raise fail(f"class must be 0 or 1, got {record['class']!r}")
    return _Purchase(
        line=line,
        user=record["user_id"],
        device=record["device_id"],
        signed_up=_epoch(signed_up),
        at=_epoch(purchased),
        hour=purchased.hour,
        value=value,
        fraud=int(record["class"]),
    )


def _parse_time(text: str) -> datetime | None:
    try:
        return datetime.strptime(text.strip(), "%m/%d/%y %H:%M")
    except ValueError:
        return None


def _epoch(moment: datetime) -> float:
    # The file gives no time zone; read as UTC so no local-time shift or daylight saving gap applies.
    return float(calendar.timegm(moment.timetuple()))


def _earlier_counts(keys: Sequence[str], times: Sequence[float]) -> dict[str, list[float]]:
    """For each row and window: rows with the same key at an earlier time no more than the window before.

    Rows must come in time order, so each key's list of times stays sorted and a row sees only its past.
    """
    seen: dict[str, list[float]] = defaultdict(list)
    counts: dict[str, list[float]] = {suffix: [] for suffix, _ in WINDOWS}
    for key, at in zip(keys, times, strict=True):
        earlier = seen[key]
        before_now = bisect_left(earlier, at)  # strictly earlier: equal times do not count each other
        for suffix, window in WINDOWS:
            counts[suffix].append(float(before_now - bisect_left(earlier, at - window)))
        earlier.append(at)
    return counts


MAPPINGS: dict[str, FeatureMapping] = {
    "fraud-data": FeatureMapping(
        name="fraud-data",
        description=(
            "public e-commerce Fraud_Data CSV: purchase value, account age, purchase hour, "
            "past-only device and user reuse"
        ),
        read=read_fraud_data,
    ),
}
