"""The PaymentIntent state machine: confirm (3D Secure, declines, capture), capture, cancel, expiry.

    requires_payment_method -> requires_confirmation -> (requires_action) -> requires_capture | succeeded
    a decline or failed authentication -> requires_payment_method (last_payment_error set)
    requires_payment_method | requires_confirmation | requires_action | requires_capture -> canceled

A decline is recorded (failed charge, events) and answered with a 402 that
carries the PaymentIntent, so callers see both.
"""

from __future__ import annotations

import uuid

from payops.stripe_sim import charges, disputes, payment_methods
from payops.stripe_sim.cards import CardSpec
from payops.stripe_sim.context import Ctx, Doc, Record
from payops.stripe_sim.errors import DOC_URL, CardError, InvalidRequest
from payops.stripe_sim.money import MINIMUM_CHARGE, display

CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")
CANCELABLE = ("requires_payment_method", "requires_capture", "requires_confirmation", "requires_action", "processing")
DAY = 86_400
AUTHENTICATION_FAILED = (
    "The provided PaymentMethod has failed authentication. You can provide payment_method_data or a new "
    "PaymentMethod to attempt to fulfill this PaymentIntent again."
)
RETURN_URL_NEEDED = (
    "This PaymentIntent is configured to accept payment methods enabled in your Dashboard. Because some of these "
    "payment methods might redirect your customer off of your page, you must provide a `return_url`. If you don't "
    "want to accept redirect-based payment methods, set `automatic_payment_methods[enabled]` to `true` and "
    "`automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and Payment Intents."
)


def check_capture_amount(amount: int, currency: str, *, param: str) -> None:
    minimum = MINIMUM_CHARGE.get(currency)
    if minimum is not None and amount < minimum:
        raise InvalidRequest(
            f"Amount must be at least {display(minimum, currency)} {currency}", code="amount_too_small", param=param
        )


def needs_authentication(spec: CardSpec, method: Record, *, off_session: bool) -> bool:
    mode = spec.three_d_secure
    if mode == "always":
        return True
    if mode == "unless_setup":
        return not (off_session and method.private.get("set_up"))
    if mode == "on_session":
        return not off_session
    return False


# Stripe's refusal: saving a card for later and charging it as the merchant now do not mix.
OFF_SESSION_WITH_SETUP = (
    "You cannot confirm with `off_session=true` when `setup_future_usage` is also set on the PaymentIntent. "
    "The customer needs to be on-session to perform the steps which may be required to set up the "
    "PaymentMethod for future usage. Please confirm this PaymentIntent with your customer on-session."
)


def confirm(
    ctx: Ctx,
    intent: Record,
    *,
    method: Record | None,
    off_session: bool,
    return_url: str | None,
    error_on_requires_action: bool = False,
) -> None:
    """Confirm as Stripe does; raises the 402 of a decline after recording it."""
    doc = intent.doc
    if doc["status"] not in CONFIRMABLE:
        raise InvalidRequest(
            f"You cannot confirm this PaymentIntent because it has a status of {doc['status']}. Only a "
            "PaymentIntent with one of the following statuses may be confirmed: requires_confirmation, "
            "requires_action, requires_payment_method.",
            code="payment_intent_unexpected_state",
            payment_intent=ctx.render(doc),
        )
    if method is None:
        if doc["payment_method"] is None:
            raise InvalidRequest(
                "You cannot confirm this PaymentIntent because it's missing a payment method. You can either update "
                "the PaymentIntent with a payment method and then confirm it again, or confirm it again directly "
                "with a payment method or ConfirmationToken.",
                code="payment_intent_unexpected_state",
                payment_intent=ctx.render(doc),
            )
        method = ctx.load("payment_method", doc["payment_method"], param="payment_method")
    automatic = doc.get("automatic_payment_methods") or {}
    if automatic.get("enabled") and automatic.get("allow_redirects", "always") == "always" and not return_url:
        raise InvalidRequest(RETURN_URL_NEEDED, param="return_url")
    if off_session and doc.get("setup_future_usage"):
        raise InvalidRequest(OFF_SESSION_WITH_SETUP, param="off_session")
    payment_methods.ensure_usable(method)
    owner = method.doc["customer"]
    if owner is not None and owner != doc["customer"]:
        raise InvalidRequest(
            f"The provided PaymentMethod {method.id} is attached to a different Customer than the one on this "
            "PaymentIntent. Pass the Customer the PaymentMethod is attached to."
            if doc["customer"]
            else f"The provided PaymentMethod {method.id} belongs to a Customer; pass that Customer's id as "
            "`customer` to use it.",
            param="payment_method",
        )
    doc["payment_method"] = method.id
    doc["last_payment_error"] = None
    doc["next_action"] = None
    intent.private["off_session"] = off_session
    spec = payment_methods.spec_of(method)
    if needs_authentication(spec, method, off_session=off_session):
        if off_session or error_on_requires_action:
            _charge(ctx, intent, method, authentication_required=True)
            return
        _require_action(ctx, intent, return_url)
        return
    _charge(ctx, intent, method)


def _require_action(ctx: Ctx, intent: Record, return_url: str | None) -> None:
    doc = intent.doc
    doc["status"] = "requires_action"
    if return_url:
        doc["next_action"] = {
            "type": "redirect_to_url",
            "redirect_to_url": {
                "return_url": return_url,
                "url": f"https://hooks.stripe.com/3d_secure_2/hosted?payment_intent={doc['id']}",
            },
        }
    else:
        doc["next_action"] = {
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {"type": "stripe_3ds2_fingerprint", "three_d_secure_2_source": f"payatt_{doc['id'][3:]}"},
        }
    ctx.save(intent)
    ctx.emit("payment_intent.requires_action", doc)


def _charge(
    ctx: Ctx,
    intent: Record,
    method: Record,
    *,
    authentication_required: bool = False,
    three_d_secure: Doc | None = None,
    automatic: bool = False,
) -> None:
    doc = intent.doc
    capture = doc["capture_method"] != "manual"
    attempt = charges.attempt(
        ctx,
        intent=doc,
        method=method,
        capture=capture,
        three_d_secure=three_d_secure,
        authentication_required=authentication_required,
    )
    charge = attempt.charge
    doc["latest_charge"] = charge.id
    if attempt.decline is not None:
        doc["status"] = "requires_payment_method"
        doc["payment_method"] = None
        doc["last_payment_error"] = charges.last_error(attempt.decline, charge_id=charge.id, method=method.doc)
        ctx.save(intent)
        ctx.emit("payment_intent.payment_failed", doc, automatic=automatic)
        if method.doc["customer"] is None:
            # Stripe: a PaymentMethod used with a PaymentIntent without being
            # attached to a Customer may not be used again, declined or not.
            method.private["consumed"] = True
            ctx.save(method)
        raise charges.decline_error(
            attempt.decline, charge_id=charge.id, method=method.doc, payment_intent=ctx.render(doc)
        )
    _keep_payment_method(ctx, doc, method)
    if capture:
        doc["status"] = "succeeded"
        doc["amount_received"] = doc["amount"]
        ctx.save(intent)
        ctx.emit("payment_intent.succeeded", doc, automatic=automatic)
        disputes.after_capture(ctx, charge, payment_methods.spec_of(method))
    else:
        doc["status"] = "requires_capture"
        doc["amount_capturable"] = doc["amount"]
        ctx.save(intent)
        ctx.emit("payment_intent.amount_capturable_updated", doc, automatic=automatic)
        ctx.schedule(charge.doc["created"] + charges.AUTHORIZATION_DAYS * DAY, "expire_authorization", doc["id"])


def _keep_payment_method(ctx: Ctx, doc: Doc, method: Record) -> None:
    """After a successful payment: attach for future use, or mark a one-time PaymentMethod used up."""
    future = doc.get("setup_future_usage")
    if future and doc.get("customer"):
        customer = ctx.load("customer", doc["customer"], param="customer")
        payment_methods.attach(ctx, method, customer)
    if future:
        method.private["set_up"] = True
    elif method.doc["customer"] is None:
        method.private["consumed"] = True
    ctx.save(method)


def authenticate(ctx: Ctx, intent: Record, *, success: bool) -> None:
    """What the customer's 3D Secure challenge does (the control API's stand-in for the browser step)."""
    doc = intent.doc
    if doc["status"] != "requires_action":
        raise InvalidRequest(
            f"PaymentIntent {doc['id']} is {doc['status']}, not requires_action: nothing to authenticate."
        )
    method = ctx.load("payment_method", doc["payment_method"])
    doc["next_action"] = None
    if not success:
        doc["status"] = "requires_payment_method"
        doc["payment_method"] = None
        doc["last_payment_error"] = {
            "code": "payment_intent_authentication_failure",
            "doc_url": DOC_URL.format("payment-intent-authentication-failure"),
            "message": AUTHENTICATION_FAILED,
            "payment_method": method.doc,
            "type": "invalid_request_error",
        }
        ctx.save(intent)
        ctx.emit("payment_intent.payment_failed", doc, automatic=True)
        return
    secure = {
        "authentication_flow": "challenge",
        "electronic_commerce_indicator": "05",
        "exemption_indicator": None,
        "result": "authenticated",
        "result_reason": None,
        "transaction_id": str(uuid.uuid4()),
        "version": "2.2.0",
    }
    if doc.get("setup_future_usage") == "off_session":
        method.private["set_up"] = True
    try:
        _charge(ctx, intent, method, three_d_secure=secure, automatic=True)
    except CardError:
        pass  # recorded on the PaymentIntent; the control call itself succeeded


def capture(ctx: Ctx, intent: Record, *, amount: int | None) -> None:
    doc = intent.doc
    if doc["status"] != "requires_capture":
        raise InvalidRequest(
            f"This PaymentIntent could not be captured because it has a status of {doc['status']}. Only a "
            "PaymentIntent with one of the following statuses may be captured: requires_capture.",
            code="payment_intent_unexpected_state",
            payment_intent=ctx.render(doc),
        )
    capturable = doc["amount_capturable"]
    amount = capturable if amount is None else amount
    if amount > capturable:
        raise InvalidRequest(
            f"The amount_to_capture ({amount}) must be less than or equal to the PaymentIntent's amount_capturable "
            f"({capturable}).",
            code="amount_too_large",
            param="amount_to_capture",
        )
    check_capture_amount(amount, doc["currency"], param="amount_to_capture")
    charge = ctx.load("charge", doc["latest_charge"])
    method = ctx.get(charge.doc["payment_method"])
    charges.mark_captured(ctx, charge, amount, method)
    ctx.emit("charge.captured", charge.doc)
    doc["status"] = "succeeded"
    doc["amount_received"] = amount
    doc["amount_capturable"] = 0
    ctx.save(intent)
    ctx.emit("payment_intent.succeeded", doc)
    if method is not None:
        disputes.after_capture(ctx, charge, payment_methods.spec_of(method))


def cancel(ctx: Ctx, intent: Record, *, reason: str | None, automatic: bool = False) -> None:
    doc = intent.doc
    if doc["status"] not in CANCELABLE:
        raise InvalidRequest(
            f"You cannot cancel this PaymentIntent because it has a status of {doc['status']}. Only a PaymentIntent "
            f"with one of the following statuses may be canceled: {', '.join(CANCELABLE)}.",
            code="payment_intent_unexpected_state",
            payment_intent=ctx.render(doc),
        )
    if doc["status"] == "requires_capture":
        # The authorization is released: Stripe marks the uncaptured charge refunded.
        charge = ctx.load("charge", doc["latest_charge"])
        charge.doc["refunded"] = True
        charge.doc["amount_refunded"] = charge.doc["amount"]
        ctx.save(charge)
        ctx.emit("charge.expired" if automatic else "charge.refunded", charge.doc, automatic=automatic)
    doc["status"] = "canceled"
    doc["canceled_at"] = ctx.now()
    doc["cancellation_reason"] = reason
    doc["amount_capturable"] = 0
    doc["next_action"] = None
    ctx.save(intent)
    ctx.emit("payment_intent.canceled", doc, automatic=automatic)


def expire_authorization(ctx: Ctx, intent_id: str) -> None:
    """Scheduled 7 days after an uncaptured authorization: Stripe cancels the PaymentIntent."""
    intent = ctx.get(intent_id)
    if intent is None or intent.doc.get("status") != "requires_capture":
        return  # captured or canceled meanwhile
    cancel(ctx, intent, reason="automatic", automatic=True)
