"""Email address domains: parsing them and telling free-mail and disposable ones apart."""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

import idna

_DATA_DIR = Path(__file__).resolve().parent / "data"
_FREEMAIL_FILE = _DATA_DIR / "free_email_domains.txt"
_DISPOSABLE_FILE = _DATA_DIR / "disposable_email_domains.txt"

# One hostname label (RFC 1123): letters, digits and inner hyphens, at most 63.
_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
_MAX_DOMAIN_LENGTH = 253


def email_domain(email: str) -> str:
    """The domain after the last @, lower case and in IDNA (ASCII) form.

    "" when the address is malformed: no @, nothing before or after it, or a
    domain that is not a valid hostname of two or more labels (IP literals
    and bare hosts such as "localhost" included).
    """
    local, at, domain = email.strip().rpartition("@")
    if not at or not local:
        return ""
    return _normalise(domain)


def is_freemail(domain: str) -> bool:
    """Whether the domain is a free webmail provider's (exact match: gmail.com, not mail.gmail.com)."""
    return _normalise(domain) in _freemail_domains()


def is_disposable(domain: str) -> bool:
    """Whether the domain, or any domain it is a subdomain of, is a throwaway-mailbox service's."""
    normalised = _normalise(domain)
    if not normalised:
        return False
    listed = _disposable_domains()
    labels = normalised.split(".")
    # Every parent down to two labels: x.y.mailinator.com, y.mailinator.com, mailinator.com.
    return any(".".join(labels[start:]) in listed for start in range(len(labels) - 1))


def _normalise(domain: str) -> str:
    """The domain lower case in ASCII form, or "" when it is not a valid hostname."""
    domain = domain.strip()
    if domain.endswith("."):
        domain = domain[:-1]  # the DNS root: "example.com." is example.com
    if not domain:
        return ""
    if domain.isascii():
        # Taken as it is, without decoding "xn--" labels: IDNA 2008 refuses
        # some that are registered and in use (emoji domains among them).
        ascii_domain = domain.lower()
    else:
        try:
            # UTS 46 maps what people type (upper case, full-width letters and
            # dots) to the one form a mail server would use.
            ascii_domain = idna.encode(domain, uts46=True).decode("ascii")
        except idna.IDNAError:
            return ""
    labels = ascii_domain.split(".")
    if (
        len(ascii_domain) > _MAX_DOMAIN_LENGTH
        or len(labels) < 2
        or labels[-1].isdigit()  # a dotted IPv4 address, not a domain
        or not all(_LABEL.fullmatch(label) for label in labels)
    ):
        return ""
    return ascii_domain


@cache
def _freemail_domains() -> frozenset[str]:
    return _read_domain_list(_FREEMAIL_FILE)


@cache
def _disposable_domains() -> frozenset[str]:
    return _read_domain_list(_DISPOSABLE_FILE)


def _read_domain_list(path: Path) -> frozenset[str]:
    """The domains in a list file: one a line, '#' to the end of a line is a comment."""
    domains = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        domain = line.split("#", 1)[0].strip().lower()
        if domain:
            domains.add(domain)
    return frozenset(domains)
