"""The HTTP front: a ThreadingHTTPServer on 127.0.0.1 that routes /api/3.0/ and /_sim/ and applies faults and auth.

Credentials (HTTP Basic api_key:api_secret [doc]) are checked on every API
call. A missing or wrong one gets HTTP 401 [assumed: the status is not
documented] with Checkfront's "critical error" body and no envelope.
Connections are tracked (simkit.http) so stop() can close keep-alive sockets: a client
of a stopped simulator sees a closed connection rather than a hang.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
import logging
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from bookings.checkfront_sim.api import API_PREFIX
from bookings.checkfront_sim.control import PREFIX as CONTROL_PREFIX
from bookings.checkfront_sim.envelope import CREDENTIALS_ERROR
from bookings.checkfront_sim.faults import Fault
from simkit.http import TrackedRequestHandler, TrackingHTTPServer

if TYPE_CHECKING:
    from bookings.checkfront_sim.simulator import CheckfrontSimulator

logger = logging.getLogger(__name__)

MAX_BODY_BYTES = 1_000_000
_FAULT_TEXT = {
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
}


class SimHTTPServer(TrackingHTTPServer):
    def __init__(self, port: int, sim: CheckfrontSimulator) -> None:
        super().__init__(port, SimRequestHandler)
        self.sim = sim


class SimRequestHandler(TrackedRequestHandler):
    server_version = "CheckfrontSim/1.0"
    access_log = logger
    server: SimHTTPServer

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    # --- dispatch -------------------------------------------------------------------

    def _dispatch(self) -> None:
        try:
            self._answer()
        except (BrokenPipeError, ConnectionResetError):
            # The client gave up (a timeout, often one a fault rule caused): nobody to answer.
            logger.debug("client went away during %s %s", self.command, self.path)
        except Exception:
            # The boundary of a request thread: log the trace and answer 500
            # rather than drop the connection without a word.
            logger.exception("simulator failed on %s %s", self.command, self.path)
            self._send(500, {"error": "simulator_error", "error_description": "see the simulator's log"})

    def _answer(self) -> None:
        sim = self.server.sim
        url = urlsplit(self.path)
        raw_length = self.headers.get("Content-Length") or "0"
        if not raw_length.isdigit():
            self._send(400, {"error": "invalid_request", "error_description": "bad Content-Length"})
            self.close_connection = True
            return
        length = int(raw_length)
        if length > MAX_BODY_BYTES:
            self._send(413, {"error": "body too large"})
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        if url.path.startswith(CONTROL_PREFIX):
            if not self.client_address[0].startswith("127.") and self.client_address[0] != "::1":
                self._send(403, {"error": "the control API answers loopback callers only"})
                return
            status, payload = sim.control.handle(method=self.command, path=url.path, query=url.query, body=body)
            self._send(status, payload)
            return
        if not url.path.startswith(API_PREFIX):
            self._send(404, {"error": "not_found", "error_description": "Only /api/3.0/ and /_sim/ are served."})
            return
        fault = sim.faults.check(url.path, self.command)
        if fault is not None and not fault.after and self._inject(fault):
            sim.requests.count(fault.status or 0)
            return
        if not self._authorised():
            sim.requests.count(401)
            self._send(401, CREDENTIALS_ERROR, extra={"WWW-Authenticate": 'Basic realm="Checkfront API"'})
            return
        status, payload = sim.api.handle(
            method=self.command,
            path=url.path[len(API_PREFIX) :],
            query=url.query,
            body=body,
            content_type=self.headers.get("Content-Type", ""),
            remote_addr=self.client_address[0],
        )
        sim.requests.count(status)
        if fault is not None and fault.after and self._inject(fault):
            return  # it ran, but the caller hears only the fault
        self._send(status, payload)

    def _inject(self, fault: Fault) -> bool:
        """Stall and/or fail as the fault says; True if the answer was sent."""
        if fault.stall_seconds:
            # Waits on the stop event so stopping the simulator ends a stall at once.
            self.server.sim.stopping.wait(fault.stall_seconds)
        if fault.status is None:
            return False
        text = _FAULT_TEXT[fault.status]
        body = f"<html><body><h1>{fault.status} {text}</h1></body></html>".encode()
        self.send_response(fault.status)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(body)))
        if fault.retry_after is not None:
            self.send_header("Retry-After", str(fault.retry_after))
        self.end_headers()
        self.wfile.write(body)
        return True

    def _authorised(self) -> bool:
        header = self.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return False
        try:
            key, _, secret = base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            return False
        sim = self.server.sim
        # Both compared, in constant time, whatever the first result.
        key_ok = hmac.compare_digest(key.encode(), sim.api_key.encode())
        secret_ok = hmac.compare_digest(secret.encode(), sim.api_secret.encode())
        return key_ok and secret_ok

    def _send(self, status: int, payload: Any, *, extra: dict[str, str] | None = None) -> None:
        body = json.dumps(payload, ensure_ascii=False).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (extra or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
