"""The HTTP front: a ThreadingHTTPServer on 127.0.0.1 that serves /v1/ (auth, faults, idempotency) and /_sim/.

Every answer carries a `Request-Id`; errors are Stripe's JSON. Keys: Bearer
(or HTTP Basic with the key as user name), test mode only. Connections are
tracked so stop() can close keep-alive sockets: a client of a stopped
simulator sees a closed connection, not a hang.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from payops.stripe_sim import restricted_keys
from payops.stripe_sim.context import API_VERSION
from payops.stripe_sim.control import PREFIX as CONTROL_PREFIX
from payops.stripe_sim.errors import AuthenticationError, InvalidRequest, StripeError
from payops.stripe_sim.faults import Fault
from payops.stripe_sim.idempotency import fingerprint
from payops.stripe_sim.ids import request_id as new_request_id
from payops.stripe_sim.params import parse_form
from simkit.http import TrackedRequestHandler, TrackingHTTPServer

if TYPE_CHECKING:
    from payops.stripe_sim.simulator import StripeSimulator

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
TEST_KEY = re.compile(r"^(sk|rk)_test_[A-Za-z0-9_]+$")
NO_KEY = (
    "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer "
    "auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for "
    "details, or we can help at https://support.stripe.com/."
)


def redact(key: str) -> str:
    return f"{key[:8]}{'*' * 4}{key[-4:]}" if len(key) > 12 else "*" * len(key)


class SimHTTPServer(TrackingHTTPServer):
    def __init__(self, port: int, sim: StripeSimulator) -> None:
        super().__init__(port, SimRequestHandler)
        self.sim = sim


class SimRequestHandler(TrackedRequestHandler):
    server_version = "stripe"
    access_log = logger
    server: SimHTTPServer
    _lost_answer: Fault | None = None  # an "after" fault waiting for this request's answer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def do_DELETE(self) -> None:
        self._dispatch()

    # --- dispatch ----------------------------------------------------------------------

    def _dispatch(self) -> None:
        request_id = new_request_id()
        try:
            self._answer(request_id)
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout, often one a fault rule caused): nobody to answer.
            logger.debug("client went away during %s %s", self.command, self.path)
        except Exception:
            # The boundary of a request thread: log the trace and answer Stripe's 500
            # rather than drop the connection without a word.
            logger.exception("simulator failed on %s %s", self.command, self.path)
            error = StripeError("An unknown error occurred")
            error.status, error.type = 500, "api_error"
            self._send(500, error.body(request_id), request_id=request_id)

    def _read_body(self) -> bytes | None:
        raw_length = self.headers.get("Content-Length") or "0"
        if not raw_length.isdigit() or int(raw_length) > MAX_BODY_BYTES:
            self.close_connection = True
            return None
        length = int(raw_length)
        return self.rfile.read(length) if length else b""

    def _answer(self, request_id: str) -> None:
        sim = self.server.sim
        url = urlsplit(self.path)
        body = self._read_body()
        if body is None:
            self._error(
                InvalidRequest("The request body is missing, too large or has a bad Content-Length."), request_id
            )
            return
        if url.path.startswith(CONTROL_PREFIX):
            if not self.client_address[0].startswith("127.") and self.client_address[0] != "::1":
                self._send(403, {"error": "the control API answers loopback callers only"}, request_id=request_id)
                return
            if self.headers.get("Origin"):
                # A browser sends Origin: a web page the developer has open
                # must not reset the stand-in or redirect its webhooks.
                self._send(403, {"error": "the control API does not answer browsers"}, request_id=request_id)
                return
            content_type = self.headers.get("Content-Type", "")
            status, payload = sim.control.handle(
                method=self.command, path=url.path, query=url.query, body=body, content_type=content_type
            )
            self._send(status, payload, request_id=request_id)
            return
        fault = sim.faults.check(self.command, url.path)
        # An "after" fault lets the request run, then replaces its answer (see _send_bytes).
        self._lost_answer = fault if fault is not None and fault.after else None
        if fault is not None and not fault.after:
            if fault.stall_seconds:
                # Waits on the stop event so stopping the simulator ends a stall at once.
                sim.stopping.wait(fault.stall_seconds)
            if fault.error is not None:
                sim.requests.count(fault.error.status)
                self._error(fault.error, request_id)
                return
        auth_error = self._check_key()
        if auth_error is not None:
            sim.requests.count(auth_error.status)
            self._error(auth_error, request_id)
            return
        try:
            raw = parse_form(url.query if self.command in ("GET", "DELETE") else body.decode("utf-8"))
        except (StripeError, UnicodeDecodeError) as exc:
            error = exc if isinstance(exc, StripeError) else InvalidRequest("The request body is not valid UTF-8.")
            self._error(error, request_id)
            return
        key = self.headers.get("Idempotency-Key") if self.command == "POST" else None
        if key is None:
            answer = sim.api.handle(self.command, url.path, raw, request_id=request_id, idempotency_key=None)
            sim.requests.count(answer.status)
            self._send(answer.status, answer.body, request_id=request_id, extra=answer.headers)
            return
        self._idempotent(key, url.path, raw, request_id)

    def _idempotent(self, key: str, path: str, raw: dict[str, Any], request_id: str) -> None:
        sim = self.server.sim
        params_fingerprint = fingerprint(raw)
        try:
            with sim.idempotency.reserve(key):
                stored = sim.idempotency.lookup(key, method="POST", path=path, params_fingerprint=params_fingerprint)
                if stored is not None:
                    sim.requests.count(stored.status)
                    extra = {
                        "Idempotency-Key": key,
                        "Idempotent-Replayed": "true",
                        "Original-Request": stored.request_id,
                    }
                    self._send_bytes(stored.status, stored.body, request_id=request_id, extra=extra)
                    return
                answer = sim.api.handle("POST", path, raw, request_id=request_id, idempotency_key=key)
                encoded = json.dumps(answer.body, indent=2).encode()
                if answer.saved:
                    sim.idempotency.save(
                        key,
                        method="POST",
                        path=path,
                        params_fingerprint=params_fingerprint,
                        status=answer.status,
                        body=encoded,
                        request_id=request_id,
                    )
        except StripeError as error:
            sim.requests.count(error.status)
            self._error(error, request_id, extra={"Idempotency-Key": key})
            return
        sim.requests.count(answer.status)
        extra = {"Idempotency-Key": key, "Original-Request": request_id, **answer.headers}
        self._send_bytes(answer.status, encoded, request_id=request_id, extra=extra)

    def _check_key(self) -> StripeError | None:
        header = self.headers.get("Authorization", "")
        scheme, _, value = header.partition(" ")
        key = ""
        if scheme.lower() == "bearer":
            key = value.strip()
        elif scheme.lower() == "basic":
            try:
                key = base64.b64decode(value.strip(), validate=True).decode("utf-8").partition(":")[0]
            except (binascii.Error, UnicodeDecodeError):
                key = ""
        if not key:
            return AuthenticationError(NO_KEY)
        if key.startswith("pk_"):
            return AuthenticationError(
                "This API call cannot be made with a publishable API key. Please use a secret API key. You can find a "
                "list of your API keys at https://dashboard.stripe.com/account/apikeys."
            )
        allowed = self.server.sim.api_keys
        if not TEST_KEY.match(key) or (allowed is not None and key not in allowed):
            hint = " The PayOps Stripe simulator accepts test-mode keys only." if "_live_" in key else ""
            return AuthenticationError(f"Invalid API Key provided: {redact(key)}{hint}")
        granted = self.server.sim.restricted_keys.get(key)
        if granted is not None:
            denied = restricted_keys.check(
                key=key,
                granted=granted,
                method=self.command,
                path=urlsplit(self.path).path,
                account_id=self.server.sim.account_id,
            )
            if denied is not None:
                return denied
        account = self.headers.get("Stripe-Account")
        if account and account != self.server.sim.account_id:
            error = AuthenticationError(
                f"The provided key '{redact(key)}' does not have access to account '{account}' (or that account does "
                "not exist). Application access may have been revoked.",
                code="account_invalid",
            )
            error.status = 403
            return error
        return None

    # --- answers -----------------------------------------------------------------------

    def _error(self, error: StripeError, request_id: str, *, extra: dict[str, str] | None = None) -> None:
        self._send(
            error.status, error.body(request_id), request_id=request_id, extra={**error.headers, **(extra or {})}
        )

    def _send(self, status: int, payload: Any, *, request_id: str, extra: dict[str, str] | Any = None) -> None:
        self._send_bytes(status, json.dumps(payload, indent=2).encode(), request_id=request_id, extra=extra)

    def _send_bytes(self, status: int, body: bytes, *, request_id: str, extra: dict[str, str] | Any = None) -> None:
        lost, self._lost_answer = self._lost_answer, None
        if lost is not None:
            # The request ran (its write is stored, its idempotent answer saved); the caller hears only the fault.
            if lost.stall_seconds:
                self.server.sim.stopping.wait(lost.stall_seconds)
            # A stall alone: the answer comes late, after the client gave up.
            if lost.error is not None:
                status, extra = lost.error.status, lost.error.headers
                body = json.dumps(lost.error.body(request_id), indent=2).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Request-Id", request_id)
        self.send_header("Stripe-Version", self.headers.get("Stripe-Version") or API_VERSION)
        if self.path.startswith("/v1/"):
            # Stripe's API answers browsers (Stripe.js); the control API must not.
            self.send_header("Access-Control-Allow-Origin", "*")
        for name, value in dict(extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
