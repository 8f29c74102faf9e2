"""fraud.email_domains: parsing an address's domain and the free-mail and disposable lists."""

from __future__ import annotations

import pytest

from fraud import email_domains
from fraud.email_domains import email_domain, is_disposable, is_freemail


@pytest.mark.parametrize(
    ("email", "domain"),
    [
        ("jane@example.com", "example.com"),
        ("Jane.Doe@Example.COM", "example.com"),
        ("  jane@example.com \n", "example.com"),
        ("jane@example.com.", "example.com"),
        ("jane+fraud@mail.example.co.uk", "mail.example.co.uk"),
        ('"jane@home"@example.com', "example.com"),
        ("a@b@example.com", "example.com"),
        ("jane@bücher.de", "xn--bcher-kva.de"),
        ("jane@BÜCHER.DE", "xn--bcher-kva.de"),
        ("jane@xn--bcher-kva.de", "xn--bcher-kva.de"),
        ("jane@ｅｘａｍｐｌｅ．ｃｏｍ", "example.com"),
        ("jane@例え。テスト", "xn--r8jz45g.xn--zckzah"),
        ("jane@xn--o38h.abrdns.com", "xn--o38h.abrdns.com"),
    ],
)
def test_the_domain_is_lower_case_ascii_after_the_last_at(email: str, domain: str) -> None:
    assert email_domain(email) == domain


@pytest.mark.parametrize(
    "email",
    [
        "",
        "   ",
        "jane.example.com",
        "jane@",
        "@example.com",
        "jane@ ",
        "jane@localhost",
        "jane@example..com",
        "jane@.example.com",
        "jane@exa mple.com",
        "jane@exam_ple.com",
        "jane@-example.com",
        "jane@example-.com",
        "jane@[192.0.2.1]",
        "jane@192.0.2.1",
        "Jane <jane@example.com>",
        "jane@" + "x" * 64 + ".com",
        "jane@" + ("a" * 60 + ".") * 5 + "com",
        "jane@bad\u00a0space.com",
    ],
)
def test_a_malformed_address_has_no_domain(email: str) -> None:
    assert email_domain(email) == ""


@pytest.mark.parametrize(
    "domain",
    ["gmail.com", "googlemail.com", "yahoo.co.uk", "hotmail.fr", "outlook.com", "icloud.com", "proton.me", "qq.com"],
)
def test_big_consumer_providers_are_freemail(domain: str) -> None:
    assert is_freemail(domain)


def test_freemail_ignores_case_whitespace_and_the_root_dot() -> None:
    assert is_freemail(" GMail.COM. ")


@pytest.mark.parametrize("domain", ["example.com", "stripe.com", "mail.gmail.com", "gmail.co", "", "not a domain"])
def test_business_domains_subdomains_and_junk_are_not_freemail(domain: str) -> None:
    assert not is_freemail(domain)


@pytest.mark.parametrize(
    "domain",
    [
        "mailinator.com",
        "guerrillamail.com",
        "10minutemail.com",
        "temp-mail.org",
        "yopmail.com",
        "trashmail.com",
        "sharklasers.com",
        "getnada.com",
        "maildrop.cc",
        "dispostable.com",
    ],
)
def test_well_known_throwaway_services_are_disposable(domain: str) -> None:
    assert is_disposable(domain)


@pytest.mark.parametrize("domain", ["eu.mailinator.com", "a.b.yopmail.com", "MX.Mailinator.COM"])
def test_subdomains_of_a_disposable_domain_are_disposable(domain: str) -> None:
    assert is_disposable(domain)


@pytest.mark.parametrize(
    "domain",
    [
        "gmail.com",
        "example.com",
        "xmailinator.com",
        "mailinator.example.com",
        "mailinator.com.example.org",
        "com",
        "",
        "junk domain",
    ],
)
def test_other_domains_lookalikes_and_bare_suffixes_are_not_disposable(domain: str) -> None:
    assert not is_disposable(domain)


def test_an_emails_domain_can_be_checked_against_both_lists() -> None:
    assert is_disposable(email_domain("Someone@Eu.Mailinator.com"))
    assert is_freemail(email_domain(" Jane.Doe@GMAIL.com"))


def test_no_domain_is_both_freemail_and_disposable() -> None:
    freemail = email_domains._freemail_domains()
    assert not any(is_disposable(domain) for domain in freemail)


@pytest.mark.parametrize(
    "domains",
    [email_domains._freemail_domains, email_domains._disposable_domains],
    ids=["freemail", "disposable"],
)
def test_every_listed_domain_is_in_the_form_email_domain_gives(domains: object) -> None:
    assert callable(domains)
    listed = domains()
    assert listed
    assert sorted(d for d in listed if email_domain(f"x@{d}") != d) == []


def test_the_lists_are_read_once() -> None:
    assert email_domains._disposable_domains() is email_domains._disposable_domains()
