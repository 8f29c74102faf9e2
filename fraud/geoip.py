"""IP geolocation (country, time zone) from a MaxMind-format database named by the FRAUD_GEOIP_DB setting."""

from __future__ import annotations

import ipaddress
import os
import threading
from dataclasses import dataclass

import maxminddb
from django.conf import settings
from maxminddb.types import Record

# MaxMind's City, Country and Enterprise databases (and DB-IP's look-alikes)
# share the layout read here; an ASN or ISP database would answer "unknown"
# for every address, so it is refused as a config error instead.
_GEO_DATABASE_TYPES = ("City", "Country", "Enterprise")


class GeoIpUnavailable(Exception):
    """FRAUD_GEOIP_DB names a file that is missing or is not a MaxMind geolocation database."""


@dataclass(frozen=True)
class IpLocation:
    country: str  # ISO 3166-1 alpha-2, upper case, "" when unknown
    time_zone: str  # IANA zone from location.time_zone, "" when the database has none


@dataclass(frozen=True)
class _OpenDatabase:
    path: str
    reader: maxminddb.Reader
    ip_version: int  # read once: metadata() builds a new object on every call


# Swapped as one object, so a lookup never pairs one path with another's
# reader. Readers are safe for concurrent lookups; the lock only keeps two
# threads from opening the same file at once.
_cached: _OpenDatabase | None = None
_open_lock = threading.Lock()


def geoip_configured() -> bool:
    """Whether FRAUD_GEOIP_DB names a database; it is not opened until the first `locate`."""
    return bool(_configured_path())


def locate(ip: str | None) -> IpLocation | None:
    """The country and time zone of a public IP address.

    None when no database is configured, the ip is empty, invalid, private,
    loopback or otherwise not globally routable, or the database knows neither
    a country nor a time zone for it. Raises GeoIpUnavailable when the
    configured database cannot be opened.
    """
    database = _database()
    if database is None:
        return None
    address = _public_address(ip)
    if address is None:
        return None
    if address.version == 6 and database.ip_version == 4:
        return None  # an IPv4-only database raises on IPv6 lookups rather than answering "unknown"
    record = database.reader.get(address)
    if not isinstance(record, dict):
        return None
    country = _text(record, "country", "iso_code") or _text(record, "registered_country", "iso_code")
    time_zone = _text(record, "location", "time_zone")
    if not country and not time_zone:
        return None
    return IpLocation(country=country.upper(), time_zone=time_zone)


def _configured_path() -> str:
    return os.fspath(getattr(settings, "FRAUD_GEOIP_DB", "") or "")


def _database() -> _OpenDatabase | None:
    global _cached
    path = _configured_path()
    if not path:
        return None
    cached = _cached
    if cached is not None and cached.path == path:
        return cached
    with _open_lock:
        # Another thread may have opened it while this one waited.
        if _cached is not None and _cached.path == path:
            return _cached
        # The reader this replaces is not closed: a thread may still be looking
        # an address up in it, and closing under a read raises there. It closes
        # itself once the last reference goes.
        _cached = _open(path)
        return _cached


def _open(path: str) -> _OpenDatabase:
    try:
        reader = maxminddb.open_database(path)
    except FileNotFoundError as exc:
        raise GeoIpUnavailable(f"FRAUD_GEOIP_DB={path!r}: no such file") from exc
    except (OSError, maxminddb.InvalidDatabaseError) as exc:
        raise GeoIpUnavailable(f"FRAUD_GEOIP_DB={path!r} is not a readable MaxMind DB file: {exc}") from exc
    metadata = reader.metadata()
    if not any(kind in metadata.database_type for kind in _GEO_DATABASE_TYPES):
        reader.close()
        raise GeoIpUnavailable(
            f"FRAUD_GEOIP_DB={path!r} is a {metadata.database_type!r} database; "
            "expected a City or Country one (e.g. GeoLite2-City)"
        )
    return _OpenDatabase(path=path, reader=reader, ip_version=metadata.ip_version)


def _public_address(ip: str | None) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    if not ip:
        return None
    try:
        address = ipaddress.ip_address(ip.strip())
    except ValueError:
        return None
    # ::ffff:a.b.c.d is an IPv4 client seen through a dual-stack socket.
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    if not address.is_global or address.is_multicast:
        return None
    return address


def _text(record: dict[str, Record], section: str, field: str) -> str:
    part = record.get(section)
    value = part.get(field) if isinstance(part, dict) else None
    return value if isinstance(value, str) else ""
