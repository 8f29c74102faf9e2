"""The "fraud-data" mapping: documented columns onto our feature names, counts from earlier purchases only."""

from __future__ import annotations

import calendar
import math
from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from fraud.external_data import BOOKING_FEATURE_NAMES, MAPPINGS, ExternalDataError, MappedData

HEADER = "user_id,signup_time,purchase_time,purchase_value,device_id,source,browser,sex,age,class"


def write_csv(tmp_path: Path, rows: list[str], header: str = HEADER) -> Path:
    path = tmp_path / "purchases.csv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def read(path: Path) -> MappedData:
    return MAPPINGS["fraud-data"].read(path)


def column(data: MappedData, name: str) -> list[float]:
    return [float(v) for v in data.X[:, data.feature_names.index(name)]]


@pytest.fixture
def purchases(tmp_path: Path) -> Path:
    # Out of time order on purpose. Device D1: 09:00, twice at 09:30 (same minute), 11:00, 3 days later, 8 days
    # later. D2 once. User u1 buys twice, 20 minutes apart.
    return write_csv(
        tmp_path,
        [
            "u5,1/1/15 8:00,1/4/15 9:00,40,D1,SEO,Chrome,M,30,1",
            "u1,1/1/15 8:00,1/1/15 9:00,99,D1,Ads,Safari,F,40,0",
            "u3,1/1/15 8:00,1/1/15 9:30,10,D1,Direct,IE,M,22,0",
            "u4,1/1/15 8:00,1/1/15 9:30,12,D1,Direct,IE,M,22,1",
            "u1,1/1/15 8:00,1/1/15 9:20,0,D2,SEO,Chrome,F,40,0",
            "u6,1/1/15 8:00,1/9/15 9:00,20,D1,SEO,Chrome,M,30,1",
            "u7,1/1/15 8:00,1/1/15 11:00,30,D1,Ads,Opera,F,50,0",
        ],
    )


def test_rows_come_out_oldest_first_with_epoch_times_and_labels(purchases: Path) -> None:
    data = read(purchases)
    assert list(np.diff(data.times) >= 0) == [True] * 6
    assert data.times[0] == calendar.timegm(datetime(2015, 1, 1, 9, 0).timetuple())
    assert list(data.y) == [0, 0, 0, 1, 0, 1, 1]
    assert data.X.shape == (7, len(data.feature_names))


def test_device_counts_see_only_earlier_purchases_within_each_window(purchases: Path) -> None:
    data = read(purchases)
    # Rows in time order: D1 09:00, D2 09:20, D1 09:30, D1 09:30, D1 11:00, D1 +3 days, D1 +8 days.
    # The two 09:30 purchases do not count each other: their order within the minute is unknown.
    assert column(data, "device_bookings_1h") == [0, 0, 1, 1, 0, 0, 0]
    assert column(data, "device_bookings_24h") == [0, 0, 1, 1, 3, 0, 0]
    assert column(data, "device_bookings_7d") == [0, 0, 1, 1, 3, 4, 1]


def test_a_device_first_seen_has_no_count_from_its_later_purchases(tmp_path: Path) -> None:
    path = write_csv(
        tmp_path,
        [f"u{i},1/1/15 0:00,1/1/15 10:{i:02d},10,SAME,SEO,Chrome,M,30,0" for i in range(5)],
    )
    assert column(read(path), "device_bookings_1h") == [0, 1, 2, 3, 4]


def test_user_reuse_fills_the_email_counts(purchases: Path) -> None:
    data = read(purchases)
    assert column(data, "email_bookings_1h") == [0, 1, 0, 0, 0, 0, 0]  # u1 at 09:00, again at 09:20
    assert column(data, "email_bookings_7d") == [0, 1, 0, 0, 0, 0, 0]


def test_amount_lead_time_and_hour(purchases: Path) -> None:
    data = read(purchases)
    assert column(data, "amount_log")[:2] == [math.log1p(99), math.log1p(0)]
    assert column(data, "lead_time_hours")[:3] == [1.0, pytest.approx(80 / 60), 1.5]
    assert column(data, "hour_local") == [9, 9, 9, 9, 11, 9, 9]


def test_only_booking_feature_names_are_filled(purchases: Path) -> None:
    names = set(read(purchases).feature_names)
    assert names <= set(BOOKING_FEATURE_NAMES)
    assert not names & {"source", "browser", "sex", "age"}


def test_booking_feature_names_are_the_booking_models_own() -> None:
    features = pytest.importorskip("fraud.features")
    assert set(features.FEATURE_NAMES) == set(BOOKING_FEATURE_NAMES)


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ExternalDataError, match=r"cannot open .*nope\.csv"):
        read(tmp_path / "nope.csv")


def test_missing_column_is_named(tmp_path: Path) -> None:
    path = write_csv(tmp_path, ["u1,1/1/15 8:00,1/1/15 9:00,10,D1,1"], header="user_id,signup_time,purchase_time,x,y,z")
    with pytest.raises(ExternalDataError, match=r"missing column.*purchase_value, device_id, class"):
        read(path)


@pytest.mark.parametrize(
    ("row", "message"),
    [
        ("u1,1/1/15 8:00,2015-01-01 09:00,10,D1,SEO,Chrome,M,30,0", "times must be M/D/YY H:MM"),
        ("u1,1/2/15 8:00,1/1/15 9:00,10,D1,SEO,Chrome,M,30,0", "before signup_time"),
        ("u1,1/1/15 8:00,1/1/15 9:00,ten,D1,SEO,Chrome,M,30,0", "purchase_value is not a number"),
        ("u1,1/1/15 8:00,1/1/15 9:00,-5,D1,SEO,Chrome,M,30,0", "non-negative"),
        ("u1,1/1/15 8:00,1/1/15 9:00,10,D1,SEO,Chrome,M,30,yes", "class must be 0 or 1"),
        ("u1,1/1/15 8:00,1/1/15 9:00,10,,SEO,Chrome,M,30,0", "empty device_id"),
    ],
)
def test_a_bad_value_names_its_line(tmp_path: Path, row: str, message: str) -> None:
    path = write_csv(tmp_path, ["u0,1/1/15 8:00,1/1/15 9:00,10,D0,SEO,Chrome,M,30,0", row])
    with pytest.raises(ExternalDataError, match=f"line 3: .*{message}"):
        read(path)


def test_empty_file_and_header_only_are_clear_errors(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    with pytest.raises(ExternalDataError, match="empty file"):
        read(empty)
    with pytest.raises(ExternalDataError, match="no data rows"):
        read(write_csv(tmp_path, []))
