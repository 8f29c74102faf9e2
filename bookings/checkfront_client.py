"""The Checkfront API 3.0 client: the only code that talks to Checkfront.

Token-pair auth (HTTP Basic key:secret), the response envelope, paging,
timeouts, retries with backoff on 429/5xx, redirects that keep the auth, and
typed errors. Facts and their sources: ../shared/reference/checkfront-api.md.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from django.conf import settings

logger = logging.getLogger(__name__)

RETRY_STATUSES = {429, 500, 502, 503, 504}
MAX_PAGE_SIZE = 250


class CheckfrontError(Exception):
    """Base of every error the client raises."""

    def __init__(self, message: str, *, status: int | None = None, body: Any = None) -> None:
        super().__init__(message)
        self.status = status
        self.body = body


class CheckfrontAuthError(CheckfrontError):
    """Credentials refused (401/403)."""


class CheckfrontNotFound(CheckfrontError):
    """The booking, customer or resource does not exist (404)."""


class CheckfrontRequestError(CheckfrontError):
    """Checkfront understood the call and refused it (request.status ERROR, 4xx)."""


class CheckfrontUnavailable(CheckfrontError):
    """Checkfront did not answer usefully after every retry (timeouts, 429, 5xx). Worth trying later."""


@dataclass(frozen=True)
class Page:
    rows: list[dict[str, Any]]
    page: int
    pages: int
    total_records: int
    currency: str


@dataclass(frozen=True)
class CheckfrontConfig:
    api_base: str
    api_key: str
    api_secret: str
    timeout_seconds: float = 20.0
    max_attempts: int = 4
    backoff_seconds: float = 0.5

    @classmethod
    def from_settings(cls) -> CheckfrontConfig:
        return cls(
            api_base=settings.CHECKFRONT_API_BASE,
            api_key=settings.CHECKFRONT_API_KEY,
            api_secret=settings.CHECKFRONT_API_SECRET,
            timeout_seconds=settings.CHECKFRONT_TIMEOUT_SECONDS,
            max_attempts=settings.CHECKFRONT_MAX_ATTEMPTS,
        )


class CheckfrontClient:
    def __init__(self, config: CheckfrontConfig | None = None, *, session: requests.Session | None = None) -> None:
        self.config = config or CheckfrontConfig.from_settings()
        if not self.config.api_base:
            raise CheckfrontError("Checkfront is not configured: set CHECKFRONT_HOST or CHECKFRONT_API_BASE")
        self.base = self.config.api_base.rstrip("/") + "/"
        self.session = session or requests.Session()
        self.session.headers["Accept"] = "application/json"
        # The account currency, from the envelope of the last answer.
        self.locale_currency = ""

    # --- reads -------------------------------------------------------------

    def ping(self) -> dict[str, Any]:
        return dict(self._get("ping")["pong"])

    def company(self) -> dict[str, Any]:
        return dict(self._get("company")["company"])

    def booking_pages(self, *, limit: int = 100, **filters: str | int) -> Iterator[Page]:
        """Yield the booking index page by page (bounded memory), in Checkfront's order.

        Filters as documented: status_id, customer_id, customer_email,
        start_date, end_date, created_date, last_modified (prefix '>' or '<'),
        partner_id, item_id.
        """
        limit = max(1, min(limit, MAX_PAGE_SIZE))
        page = 1
        while True:
            envelope = self._get("booking/index", params={**filters, "limit": limit, "page": page})
            request = envelope.get("request", {})
            rows = list(_collection(envelope.get("booking/index")))
            pages = int(request.get("pages") or 1)
            yield Page(
                rows=rows,
                page=page,
                pages=pages,
                total_records=int(request.get("total_records") or len(rows)),
                currency=str(envelope.get("locale", {}).get("currency", "")),
            )
            if page >= pages or not rows:
                return
            page += 1

    def booking(self, code: str) -> dict[str, Any]:
        """The booking detail (`GET booking/{code}`); CheckfrontNotFound if there is none."""
        return dict(self._get(f"booking/{_code(code)}")["booking"])

    def booking_transactions(self, code: str) -> list[dict[str, Any]]:
        envelope = self._get(f"booking/{_code(code)}/transact")
        return list(_collection(envelope.get("transactions") or envelope.get("transaction")))

    def notes(self, *, date: str | None = None) -> list[dict[str, Any]]:
        envelope = self._get("booking/notes", params={"date": date} if date else None)
        return list(envelope.get("notes") or [])

    def customers(self, **criteria: str | int) -> list[dict[str, Any]]:
        """Exact search by customer_id, customer_email, customer_name or customer_phone."""
        return list(_collection(self._get("customer", params=criteria).get("customers")))

    def customer(self, customer_id: str | int) -> dict[str, Any]:
        return dict(self._get(f"customer/{customer_id}")["customer"])

    def items(self, **filters: str | int) -> list[dict[str, Any]]:
        return list(_collection(self._get("item", params=filters or None).get("items")))

    # --- writes ------------------------------------------------------------

    def update_booking_status(
        self, code: str, *, status_id: str, notify: bool = False, set_paid: bool = False
    ) -> dict[str, Any]:
        """Set a booking's status. `set_paid` records a POS payment for the balance (PAID only)."""
        if set_paid and status_id != "PAID":
            raise CheckfrontRequestError("set_paid only goes with status_id=PAID")
        data: dict[str, str] = {"status_id": status_id, "notify": "1" if notify else "0"}
        if set_paid:
            data["set_paid"] = "1"
        # A status update is naturally idempotent, so retrying it is safe.
        return self._post(f"booking/{_code(code)}/update", data, retry_ambiguous=True)

    def add_note(self, code: str, body: str) -> dict[str, Any]:
        if not body.strip() or len(body) > 3000:
            raise CheckfrontRequestError("a note needs 1 to 3000 characters")
        # Checkfront has no idempotency key: a note retried after a timeout
        # could be written twice, so only unambiguous failures are retried.
        return self._post(f"booking/{_code(code)}/note", {"body": body}, retry_ambiguous=False)

    # --- transport ---------------------------------------------------------

    def _get(self, path: str, params: Mapping[str, Any] | None = None) -> dict[str, Any]:
        return self._request("GET", path, params=params, retry_ambiguous=True)

    def _post(self, path: str, data: Mapping[str, str], *, retry_ambiguous: bool) -> dict[str, Any]:
        return self._request("POST", path, data=data, retry_ambiguous=retry_ambiguous)

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        data: Mapping[str, str] | None = None,
        retry_ambiguous: bool,
    ) -> dict[str, Any]:
        url = urljoin(self.base, path)
        last_error = ""
        for attempt in range(1, self.config.max_attempts + 1):
            try:
                response = self._send(method, url, params=params, data=data)
            except requests.ConnectionError as exc:
                # Refused or reset before an answer: nothing was done, retry.
                last_error = f"connection failed: {exc}"
            except requests.Timeout as exc:
                last_error = f"timed out after {self.config.timeout_seconds}s"
                if not retry_ambiguous:
                    raise CheckfrontUnavailable(f"{method} {path}: {last_error}") from exc
            else:
                if response.status_code not in RETRY_STATUSES:
                    return self._decode(method, path, response)
                last_error = f"HTTP {response.status_code}"
                if response.status_code != 429 and not retry_ambiguous:
                    raise CheckfrontUnavailable(f"{method} {path}: {last_error}", status=response.status_code)
                if attempt < self.config.max_attempts:
                    self._sleep(attempt, response.headers.get("Retry-After"))
                    continue
                raise CheckfrontUnavailable(
                    f"{method} {path}: {last_error} after {attempt} attempts", status=response.status_code
                )
            if attempt < self.config.max_attempts:
                self._sleep(attempt, None)
        raise CheckfrontUnavailable(f"{method} {path}: {last_error} after {self.config.max_attempts} attempts")

    def _send(
        self, method: str, url: str, *, params: Mapping[str, Any] | None, data: Mapping[str, str] | None
    ) -> requests.Response:
        auth = (self.config.api_key, self.config.api_secret)
        for _ in range(4):
            response = self.session.request(
                method,
                url,
                params=params,
                data=data,
                auth=auth,
                timeout=self.config.timeout_seconds,
                allow_redirects=False,
            )
            location = response.headers.get("Location")
            if response.status_code not in (301, 302, 307, 308) or not location:
                return response
            # Some accounts answer from another host; follow with the same
            # credentials, but never downgrade to plain HTTP.
            target = urljoin(url, location)
            if urlsplit(url).scheme == "https" and urlsplit(target).scheme != "https":
                raise CheckfrontError(f"refusing redirect from {url} to non-HTTPS {target}")
            url = target
        raise CheckfrontError(f"too many redirects for {url}")

    def _sleep(self, attempt: int, retry_after: str | None) -> None:
        delay = self.config.backoff_seconds * 2 ** (attempt - 1) * random.uniform(0.8, 1.2)
        if retry_after and retry_after.isdigit():
            delay = max(delay, float(retry_after))
        time.sleep(min(delay, 30.0))

    def _decode(self, method: str, path: str, response: requests.Response) -> dict[str, Any]:
        try:
            body = response.json()
        except ValueError as exc:
            raise CheckfrontError(
                f"{method} {path}: HTTP {response.status_code} with a body that is not JSON",
                status=response.status_code,
            ) from exc
        if not isinstance(body, dict):
            raise CheckfrontError(f"{method} {path}: unexpected response shape", status=response.status_code)
        locale = body.get("locale")
        if isinstance(locale, dict) and locale.get("currency"):
            self.locale_currency = str(locale["currency"]).lower()
        error = _error_text(body)
        if response.status_code in (401, 403):
            raise CheckfrontAuthError(f"{method} {path}: {error or 'access refused'}", status=response.status_code)
        if response.status_code == 404:
            raise CheckfrontNotFound(f"{method} {path}: {error or 'not found'}", status=404, body=body)
        if response.status_code >= 400 or body.get("request", {}).get("status") == "ERROR":
            raise CheckfrontRequestError(
                f"{method} {path}: {error or f'HTTP {response.status_code}'}", status=response.status_code, body=body
            )
        return body


def _collection(value: Any) -> Iterator[dict[str, Any]]:
    """Checkfront returns most collections as objects keyed by id; accept lists too."""
    if isinstance(value, dict):
        yield from (v for v in value.values() if isinstance(v, dict))
    elif isinstance(value, list):
        yield from (v for v in value if isinstance(v, dict))


def _error_text(body: Mapping[str, Any]) -> str:
    request = body.get("request")
    if isinstance(request, dict) and request.get("error"):
        error = request["error"]
        if isinstance(error, dict):
            return str(error.get("details") or error.get("title") or error)
        return str(error)
    # "Critical" errors (bad credentials) come without the envelope.
    return str(body.get("error_description") or body.get("error") or "")


def _code(code: str) -> str:
    """Booking codes are letters, digits and dashes; anything else never reaches a URL."""
    if not code or not all(c.isalnum() or c == "-" for c in code) or len(code) > 64:
        raise CheckfrontRequestError(f"{code!r} is not a booking code")
    return code
