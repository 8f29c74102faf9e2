"""SetupIntents: save a card for later (off-session) payments; a card that declines fails to set up.

    requires_payment_method -> requires_confirmation -> (requires_action) -> succeeded
    a decline or failed authentication -> requires_payment_method (last_setup_error set)
    anything not succeeded -> canceled

On success the PaymentMethod is attached to the customer (if any) and counts
as set up, so a card that needs 3D Secure "unless set up" then works off-session.
"""

from __future__ import annotations

from typing import Any

from payops.stripe_sim import cards, payment_methods
from payops.stripe_sim.context import Ctx, Doc, Record
from payops.stripe_sim.customers import load_live
from payops.stripe_sim.errors import DOC_URL, CardError, InvalidRequest
from payops.stripe_sim.ids import client_secret, new_id
from payops.stripe_sim.listing import page
from payops.stripe_sim.params import EXPAND, LIST_CREATED, Arr, Bool, Enum, Hash, Metadata, Str, merge_metadata
from payops.stripe_sim.payments import AUTHENTICATION_FAILED, RETURN_URL_NEEDED

CARD_OPTIONS = Hash({"card": Hash({"request_three_d_secure": Enum("any", "automatic", "challenge")})})
CREATE = {
    "automatic_payment_methods": Hash({"enabled": Bool(required=True), "allow_redirects": Enum("always", "never")}),
    "confirm": Bool(),
    "customer": Str(),
    "description": Str(max_length=1000),
    "metadata": Metadata(),
    "payment_method": Str(),
    "payment_method_options": CARD_OPTIONS,
    "payment_method_types": Arr(Str()),
    "return_url": Str(),
    "usage": Enum("off_session", "on_session"),
    "use_stripe_sdk": Bool(),
    "expand": EXPAND,
}
UPDATE = {
    "customer": Str(),
    "description": Str(nullable=True, max_length=1000),
    "metadata": Metadata(),
    "payment_method": Str(),
    "payment_method_options": CARD_OPTIONS,
    "payment_method_types": Arr(Str()),
    "expand": EXPAND,
}
CONFIRM = {
    "payment_method": Str(),
    "payment_method_options": CARD_OPTIONS,
    "return_url": Str(),
    "use_stripe_sdk": Bool(),
    "expand": EXPAND,
}
CANCEL = {"cancellation_reason": Enum("abandoned", "duplicate", "requested_by_customer"), "expand": EXPAND}
LIST_PARAMS = {**LIST_CREATED, "customer": Str(), "payment_method": Str(), "attach_to_self": Bool()}
CONFIRMABLE = ("requires_payment_method", "requires_confirmation", "requires_action")


def _unexpected(doc: Doc, action: str) -> InvalidRequest:
    return InvalidRequest(
        f"You cannot {action} this SetupIntent because it has a status of {doc['status']}.",
        code="setup_intent_unexpected_state",
    )


def create(ctx: Ctx, params: dict[str, Any]) -> Doc:
    if params.get("automatic_payment_methods") and params.get("payment_method_types"):
        raise InvalidRequest(
            "You may only specify one of these parameters: automatic_payment_methods, payment_method_types.",
            code="parameters_exclusive",
        )
    if "return_url" in params and not params.get("confirm"):
        raise InvalidRequest("You can only pass `return_url` when `confirm` is true.", param="return_url")
    customer = load_live(ctx, params["customer"], param="customer").id if params.get("customer") else None
    method = (
        payment_methods.resolve(ctx, params["payment_method"], param="payment_method")
        if params.get("payment_method")
        else None
    )
    automatic = params.get("automatic_payment_methods")
    if automatic is None and "payment_method_types" not in params:
        automatic = {"enabled": True, "allow_redirects": "always"}
    elif automatic is not None:
        automatic = {"allow_redirects": automatic.get("allow_redirects", "always"), "enabled": automatic["enabled"]}
    for index, kind in enumerate(params.get("payment_method_types") or []):
        if kind != "card":
            raise InvalidRequest(
                f'The payment method type "{kind}" is invalid.', param=f"payment_method_types[{index}]"
            )
    intent_id = new_id("seti")
    doc: Doc = {
        "id": intent_id,
        "object": "setup_intent",
        "application": None,
        "automatic_payment_methods": automatic,
        "cancellation_reason": None,
        "client_secret": client_secret(intent_id),
        "created": ctx.now(),
        "customer": customer,
        "description": params.get("description"),
        "flow_directions": None,
        "last_setup_error": None,
        "latest_attempt": None,
        "livemode": False,
        "mandate": None,
        "metadata": merge_metadata({}, params.get("metadata")),
        "next_action": None,
        "on_behalf_of": None,
        "payment_method": method.id if method else None,
        "payment_method_configuration_details": None,
        "payment_method_options": {
            "card": {"mandate_options": None, "network": None, "request_three_d_secure": "automatic"}
        },
        "payment_method_types": params.get("payment_method_types") or ["card"],
        "single_use_mandate": None,
        "status": "requires_confirmation" if method else "requires_payment_method",
        "usage": params.get("usage", "off_session"),
    }
    intent = ctx.insert(doc)
    ctx.emit("setup_intent.created", doc)
    if params.get("confirm"):
        confirm_intent(ctx, intent, method=method, return_url=params.get("return_url"))
    return intent.doc


def confirm_intent(ctx: Ctx, intent: Record, *, method: Record | None, return_url: str | None) -> None:
    doc = intent.doc
    if doc["status"] not in CONFIRMABLE:
        raise _unexpected(doc, "confirm")
    if method is None:
        if doc["payment_method"] is None:
            raise InvalidRequest(
                "You cannot confirm this SetupIntent because it's missing a payment method. Update the SetupIntent "
                "with a payment method and then confirm it again.",
                code="setup_intent_unexpected_state",
            )
        method = ctx.load("payment_method", doc["payment_method"], param="payment_method")
    automatic = doc.get("automatic_payment_methods") or {}
    if automatic.get("enabled") and automatic.get("allow_redirects") == "always" and not return_url:
        raise InvalidRequest(RETURN_URL_NEEDED.replace("PaymentIntent", "SetupIntent"), param="return_url")
    payment_methods.ensure_usable(method)
    if method.doc["customer"] not in (None, doc["customer"]):
        raise InvalidRequest("The provided PaymentMethod is attached to another Customer.", param="payment_method")
    doc["payment_method"] = method.id
    doc["last_setup_error"] = None
    spec = payment_methods.spec_of(method)
    if spec.three_d_secure in ("always", "unless_setup"):
        doc["status"] = "requires_action"
        doc["next_action"] = {
            "type": "redirect_to_url" if return_url else "use_stripe_sdk",
            **(
                {
                    "redirect_to_url": {
                        "return_url": return_url,
                        "url": f"https://hooks.stripe.com/3d_secure_2/hosted?setup_intent={doc['id']}",
                    }
                }
                if return_url
                else {"use_stripe_sdk": {"type": "stripe_3ds2_fingerprint"}}
            ),
        }
        ctx.save(intent)
        ctx.emit("setup_intent.requires_action", doc)
        return
    declined = spec.risk == "blocked" or (spec.decline and not spec.attach_ok)
    if declined:
        decline_code = "fraudulent" if spec.risk == "blocked" else str(spec.decline)
        code = cards.error_code(decline_code)
        error: Doc = {
            "code": code,
            "doc_url": DOC_URL.format(code.replace("_", "-")),
            "message": cards.message(decline_code),
            "payment_method": method.doc,
            "type": "card_error",
        }
        if decline_code not in cards.ERROR_CODE_FOR:
            error["decline_code"] = decline_code
        _failed(ctx, intent, error)
        raise CardError(
            error["message"],
            code=code,
            decline_code=error.get("decline_code"),
            payment_method=method.doc,
            setup_intent=ctx.render(doc),
        )
    _succeeded(ctx, intent, method)


def _failed(ctx: Ctx, intent: Record, error: Doc, *, automatic: bool = False) -> None:
    doc = intent.doc
    doc["status"] = "requires_payment_method"
    doc["payment_method"] = None
    doc["next_action"] = None
    doc["last_setup_error"] = error
    ctx.save(intent)
    ctx.emit("setup_intent.setup_failed", doc, automatic=automatic)


def _succeeded(ctx: Ctx, intent: Record, method: Record, *, automatic: bool = False) -> None:
    doc = intent.doc
    if doc["customer"]:
        payment_methods.attach(ctx, method, load_live(ctx, doc["customer"], param="customer"))
    method.private["set_up"] = True
    ctx.save(method)
    doc["status"] = "succeeded"
    doc["next_action"] = None
    ctx.save(intent)
    ctx.emit("setup_intent.succeeded", doc, automatic=automatic)


def authenticate(ctx: Ctx, intent: Record, *, success: bool) -> None:
    """The customer's 3D Secure step for a SetupIntent in requires_action."""
    doc = intent.doc
    if doc["status"] != "requires_action":
        raise InvalidRequest(
            f"SetupIntent {doc['id']} is {doc['status']}, not requires_action: nothing to authenticate."
        )
    method = ctx.load("payment_method", doc["payment_method"])
    if success:
        _succeeded(ctx, intent, method, automatic=True)
        return
    _failed(
        ctx,
        intent,
        {
            "code": "setup_intent_authentication_failure",
            "doc_url": DOC_URL.format("setup-intent-authentication-failure"),
            "message": AUTHENTICATION_FAILED,
            "payment_method": method.doc,
            "type": "invalid_request_error",
        },
        automatic=True,
    )


def retrieve(ctx: Ctx, params: dict[str, Any], intent_id: str) -> Doc:
    return ctx.load("setup_intent", intent_id).doc


def update(ctx: Ctx, params: dict[str, Any], intent_id: str) -> Doc:
    intent = ctx.load("setup_intent", intent_id)
    doc = intent.doc
    if doc["status"] in ("succeeded", "canceled"):
        raise _unexpected(doc, "update")
    if params.get("customer"):
        doc["customer"] = load_live(ctx, params["customer"], param="customer").id
    if params.get("payment_method"):
        doc["payment_method"] = payment_methods.resolve(ctx, params["payment_method"], param="payment_method").id
        doc["status"] = "requires_confirmation"
    if "description" in params:
        doc["description"] = params["description"]
    if "metadata" in params:
        doc["metadata"] = merge_metadata(doc["metadata"], params["metadata"])
    ctx.save(intent)
    return doc


def confirm(ctx: Ctx, params: dict[str, Any], intent_id: str) -> Doc:
    intent = ctx.load("setup_intent", intent_id)
    method = (
        payment_methods.resolve(ctx, params["payment_method"], param="payment_method")
        if params.get("payment_method")
        else None
    )
    confirm_intent(ctx, intent, method=method, return_url=params.get("return_url"))
    return intent.doc


def cancel(ctx: Ctx, params: dict[str, Any], intent_id: str) -> Doc:
    intent = ctx.load("setup_intent", intent_id)
    doc = intent.doc
    if doc["status"] in ("succeeded", "canceled", "processing"):
        raise _unexpected(doc, "cancel")
    doc["status"] = "canceled"
    doc["cancellation_reason"] = params.get("cancellation_reason")
    doc["next_action"] = None
    ctx.save(intent)
    ctx.emit("setup_intent.canceled", doc)
    return doc


def list_(ctx: Ctx, params: dict[str, Any]) -> Doc:
    filters = {name: params[name] for name in ("customer", "payment_method") if params.get(name)}
    return page(ctx, "setup_intent", params, url="/v1/setup_intents", filters=filters)
