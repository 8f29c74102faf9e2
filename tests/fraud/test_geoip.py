"""fraud.geoip against small City databases built for each test."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import maxminddb
import pytest

from fraud import geoip
from fraud.geoip import GeoIpUnavailable, IpLocation, geoip_configured, locate
from tests.fraud.geoip_builder import build_city_db, build_mmdb

NETWORKS = {
    "81.2.69.0/24": ("GB", "Europe/London"),
    "89.160.20.0/24": ("SE", "Europe/Stockholm"),
    "2001:218::/32": ("JP", "Asia/Tokyo"),
    "2a02:cf40::/29": ("NO", "Europe/Oslo"),
}


@pytest.fixture
def city_db(tmp_path: Path, settings: Any) -> Path:
    """A configured GeoLite2-City-shaped database holding NETWORKS."""
    path = build_city_db(tmp_path / "city.mmdb", NETWORKS)
    settings.FRAUD_GEOIP_DB = str(path)
    return path


def test_an_ipv4_address_gets_its_country_and_time_zone(city_db: Path) -> None:
    assert locate("81.2.69.142") == IpLocation(country="GB", time_zone="Europe/London")


def test_an_ipv6_address_gets_its_country_and_time_zone(city_db: Path) -> None:
    assert locate("2001:218:1234::1") == IpLocation(country="JP", time_zone="Asia/Tokyo")


def test_an_ipv4_address_seen_through_a_dual_stack_socket_is_located_as_ipv4(city_db: Path) -> None:
    assert locate("::ffff:89.160.20.112") == IpLocation(country="SE", time_zone="Europe/Stockholm")


def test_surrounding_whitespace_is_ignored(city_db: Path) -> None:
    assert locate(" 81.2.69.142\n") == IpLocation(country="GB", time_zone="Europe/London")


def test_an_address_the_database_does_not_know_is_none(city_db: Path) -> None:
    assert locate("8.8.8.8") is None
    assert locate("2606:4700::1111") is None


@pytest.mark.parametrize(
    "ip",
    [
        None,
        "",
        "   ",
        "not-an-ip",
        "81.2.69.300",
        "81.2.69.0/24",
        "10.1.2.3",
        "192.168.0.10",
        "172.16.5.4",
        "100.64.0.1",
        "127.0.0.1",
        "::1",
        "fe80::1%eth0",
        "fd00::1",
        "0.1.2.3",
        "::",
        "::ffff:10.0.0.1",
        "224.0.0.1",
    ],
)
def test_empty_invalid_and_non_public_addresses_are_none(city_db: Path, ip: str | None) -> None:
    assert locate(ip) is None


def test_nothing_is_located_when_no_database_is_configured(settings: Any) -> None:
    settings.FRAUD_GEOIP_DB = ""

    assert geoip_configured() is False
    assert locate("81.2.69.142") is None


def test_a_missing_setting_means_not_configured(settings: Any) -> None:
    del settings.FRAUD_GEOIP_DB

    assert geoip_configured() is False
    assert locate("81.2.69.142") is None


def test_a_configured_database_is_reported_as_configured(city_db: Path) -> None:
    assert geoip_configured() is True


def test_a_configured_path_that_does_not_exist_is_a_config_error(tmp_path: Path, settings: Any) -> None:
    missing = tmp_path / "GeoLite2-City.mmdb"
    settings.FRAUD_GEOIP_DB = str(missing)

    with pytest.raises(GeoIpUnavailable, match=str(missing)):
        locate("81.2.69.142")


def test_a_configured_file_that_is_not_a_maxmind_database_is_a_config_error(tmp_path: Path, settings: Any) -> None:
    not_a_db = tmp_path / "GeoLite2-City.mmdb"
    not_a_db.write_text("<html>download page</html>")
    settings.FRAUD_GEOIP_DB = str(not_a_db)

    with pytest.raises(GeoIpUnavailable, match=str(not_a_db)):
        locate("81.2.69.142")


def test_a_configured_directory_is_a_config_error(tmp_path: Path, settings: Any) -> None:
    settings.FRAUD_GEOIP_DB = str(tmp_path)

    with pytest.raises(GeoIpUnavailable, match=str(tmp_path)):
        locate("81.2.69.142")


def test_a_maxmind_database_without_locations_is_a_config_error(tmp_path: Path, settings: Any) -> None:
    asn_db = build_mmdb(
        tmp_path / "GeoLite2-ASN.mmdb",
        {"81.2.69.0/24": {"autonomous_system_number": 20712}},
        database_type="GeoLite2-ASN",
    )
    settings.FRAUD_GEOIP_DB = str(asn_db)

    with pytest.raises(GeoIpUnavailable, match="GeoLite2-ASN"):
        locate("81.2.69.142")


def test_changing_the_setting_switches_database(tmp_path: Path, settings: Any) -> None:
    first = build_city_db(tmp_path / "first.mmdb", {"81.2.69.0/24": ("GB", "Europe/London")})
    second = build_city_db(tmp_path / "second.mmdb", {"81.2.69.0/24": ("IE", "Europe/Dublin")})

    settings.FRAUD_GEOIP_DB = str(first)
    assert locate("81.2.69.142") == IpLocation(country="GB", time_zone="Europe/London")

    settings.FRAUD_GEOIP_DB = str(second)
    assert locate("81.2.69.142") == IpLocation(country="IE", time_zone="Europe/Dublin")

    settings.FRAUD_GEOIP_DB = str(first)
    assert locate("81.2.69.142") == IpLocation(country="GB", time_zone="Europe/London")


def test_the_database_is_opened_once_for_many_lookups_from_many_threads(
    city_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    real_open = maxminddb.open_database
    opening = threading.Lock()

    def counting_open(path: str) -> maxminddb.Reader:
        with opening:
            opened.append(path)
        return real_open(path)

    monkeypatch.setattr(geoip.maxminddb, "open_database", counting_open)

    with ThreadPoolExecutor(max_workers=8) as pool:
        results = list(pool.map(locate, ["81.2.69.142", "2001:218::1"] * 50))

    assert opened == [str(city_db)]
    assert results.count(IpLocation(country="GB", time_zone="Europe/London")) == 50
    assert results.count(IpLocation(country="JP", time_zone="Asia/Tokyo")) == 50


def test_a_country_database_gives_the_country_without_a_time_zone(tmp_path: Path, settings: Any) -> None:
    path = build_city_db(
        tmp_path / "GeoLite2-Country.mmdb", {"81.2.69.0/24": ("GB", "")}, database_type="GeoLite2-Country"
    )
    settings.FRAUD_GEOIP_DB = str(path)

    assert locate("81.2.69.142") == IpLocation(country="GB", time_zone="")


def test_the_registered_country_stands_in_when_the_address_has_no_located_country(
    tmp_path: Path, settings: Any
) -> None:
    path = build_mmdb(
        tmp_path / "city.mmdb",
        {"81.2.69.0/24": {"registered_country": {"iso_code": "GB"}, "location": {"time_zone": "Europe/London"}}},
    )
    settings.FRAUD_GEOIP_DB = str(path)

    assert locate("81.2.69.142") == IpLocation(country="GB", time_zone="Europe/London")


def test_the_located_country_wins_over_the_registered_one(tmp_path: Path, settings: Any) -> None:
    path = build_mmdb(
        tmp_path / "city.mmdb",
        {"81.2.69.0/24": {"country": {"iso_code": "FR"}, "registered_country": {"iso_code": "GB"}}},
    )
    settings.FRAUD_GEOIP_DB = str(path)

    assert locate("81.2.69.142") == IpLocation(country="FR", time_zone="")


def test_a_record_with_neither_country_nor_time_zone_is_none(tmp_path: Path, settings: Any) -> None:
    path = build_mmdb(tmp_path / "city.mmdb", {"81.2.69.0/24": {"continent": {"code": "EU"}}})
    settings.FRAUD_GEOIP_DB = str(path)

    assert locate("81.2.69.142") is None


def test_an_ipv6_address_in_an_ipv4_only_database_is_none(tmp_path: Path, settings: Any) -> None:
    path = build_mmdb(
        tmp_path / "v4.mmdb",
        {"81.2.69.0/24": {"country": {"iso_code": "GB"}}},
        database_type="GeoIP2-Country",
        ip_version=4,
    )
    settings.FRAUD_GEOIP_DB = str(path)

    assert locate("2001:218::1") is None
    assert locate("81.2.69.142") == IpLocation(country="GB", time_zone="")
