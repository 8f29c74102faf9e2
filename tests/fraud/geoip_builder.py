"""Small MaxMind-format databases for tests, laid out like GeoLite2-City (country.iso_code, location.time_zone)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from mmdb_writer import MMDBWriter
from netaddr import IPSet


def city_record(country: str, time_zone: str) -> dict[str, Any]:
    """A GeoLite2-City record cut down to what fraud.geoip reads; "" leaves that part out, as the real data does."""
    record: dict[str, Any] = {}
    if country:
        # GeoLite2 carries both: where the address is, and where its block is registered.
        record["country"] = {"iso_code": country, "names": {"en": country}}
        record["registered_country"] = {"iso_code": country, "names": {"en": country}}
    if time_zone:
        record["location"] = {"time_zone": time_zone}
    return record


def build_city_db(
    path: Path,
    networks: Mapping[str, tuple[str, str]],
    *,
    database_type: str = "GeoLite2-City",
) -> Path:
    """Write a dual-stack City database mapping each network (CIDR) to (ISO country, IANA time zone)."""
    return build_mmdb(
        path,
        {network: city_record(country, zone) for network, (country, zone) in networks.items()},
        database_type=database_type,
    )


def build_mmdb(
    path: Path,
    records: Mapping[str, dict[str, Any]],
    *,
    database_type: str = "GeoLite2-City",
    ip_version: int = 6,
) -> Path:
    """Write a database with raw records per network (CIDR); list a supernet before its subnets.

    An IPv6 database stores IPv4 networks under ::/96, where maxminddb looks
    IPv4 addresses up, as in MaxMind's own files.
    """
    writer = MMDBWriter(
        ip_version=ip_version,
        database_type=database_type,
        languages=["en"],
        description=f"PayOps test {database_type}",
        ipv4_compatible=ip_version == 6,
    )
    for network, record in records.items():
        writer.insert_network(IPSet([network]), record)
    writer.to_db_file(str(path))
    return path
