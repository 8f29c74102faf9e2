"""Pay links: a signed, expiring token naming one PaymentCollection, and the public URL built from it.

The token is the customer's only credential for the pay page, so it is signed
with SECRET_KEY (a salt of its own keeps it from being valid anywhere else)
and carries its creation time; it stops working after PAY_LINK_MAX_AGE_DAYS.
"""

from __future__ import annotations

from django.conf import settings
from django.core import signing
from django.urls import reverse

SALT = "payops.payments.pay-link"


class PayLinkInvalid(Exception):
    """The token was not made by us, or was altered."""


class PayLinkExpired(PayLinkInvalid):
    """The token is genuine but older than PAY_LINK_MAX_AGE_DAYS."""


def signer() -> signing.TimestampSigner:
    return signing.TimestampSigner(salt=SALT)


def make_token(collection_id: int) -> str:
    return signer().sign_object({"collection": collection_id}, compress=True)


def collection_id_from(token: str) -> int:
    """The collection a token names. Raises PayLinkExpired or PayLinkInvalid."""
    max_age = settings.PAY_LINK_MAX_AGE_DAYS * 86_400
    try:
        value = signer().unsign_object(token, max_age=max_age)
    except signing.SignatureExpired as exc:
        raise PayLinkExpired("this pay link has expired") from exc
    except (signing.BadSignature, ValueError) as exc:
        raise PayLinkInvalid("this pay link is not valid") from exc
    collection_id = value.get("collection") if isinstance(value, dict) else None
    if not isinstance(collection_id, int) or isinstance(collection_id, bool):
        raise PayLinkInvalid("this pay link is not valid")
    return collection_id


def pay_url(collection_id: int) -> str:
    """The link customers get, under PAYOPS_PUBLIC_URL."""
    path = reverse("payments:pay", kwargs={"token": make_token(collection_id)})
    return f"{settings.PAYOPS_PUBLIC_URL}{path}"
