"""The client: signs every request, gives POSTs an Idempotency-Key, turns error answers into typed
errors and retries 429 and 503 as the server's Retry-After says."""

import email.utils
import json
import re
import secrets
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import Any, Dict, Iterator, Mapping, Optional, Sequence, Tuple, Union

from . import models
from ._api import OPERATIONS
from .errors import ApiError, SanhuError, error_for
from .signing import Signer, encode_component

DEFAULT_CREDENTIALS_FILE = "sanhu-credentials.json"
# Codes whose answer says nothing was applied: a retry is safe even without an Idempotency-Key.
_NOTHING_APPLIED = {"rate_limited", "ledger_unavailable", "not_ready"}
_PATH_PARAMETER = re.compile(r"\{([a-z_]+)\}")

Query = Union[Mapping[str, Any], Sequence[Tuple[str, Any]], None]


@dataclass
class Response:
    status: int
    headers: Dict[str, str]
    data: Any
    #: Whether the answer is the stored answer of an earlier request with the same Idempotency-Key.
    replayed: bool = False
    request_id: Optional[str] = None
    #: How many times the request was sent (1 when it was not retried).
    attempts: int = 1
    idempotency_key: Optional[str] = field(default=None, repr=False)


def new_idempotency_key() -> str:
    return "idem-" + secrets.token_hex(16)


def build_query(query: Query) -> str:
    """`name=value&...` in the given order, each part percent-encoded (signing.encode_component)."""
    if not query:
        return ""
    items = query.items() if isinstance(query, Mapping) else query
    parts = []
    for name, value in items:
        if value is None:
            continue
        if isinstance(value, bool):
            value = "true" if value else "false"
        parts.append(f"{encode_component(name)}={encode_component(value)}")
    return "&".join(parts)


def _retry_after_seconds(value: Optional[str]) -> Optional[float]:
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


class Client:
    """A signed client of one sanhu server.

    max_retries: how many times a 429, or a 503 that is safe to repeat, is sent again (0: never).
    max_retry_wait: the longest Retry-After honoured, in seconds; a longer one is raised, never cut short.
    """

    def __init__(
        self,
        url: str,
        client_id: str,
        private_key,
        *,
        timeout: float = 30.0,
        max_retries: int = 2,
        max_retry_wait: float = 30.0,
    ):
        self.url = url.rstrip("/")
        self.signer = Signer(client_id, private_key)
        self.timeout = timeout
        self.max_retries = max_retries
        self.max_retry_wait = max_retry_wait

    @classmethod
    def from_credentials(cls, path: str = DEFAULT_CREDENTIALS_FILE, *, url: Optional[str] = None, **options) -> "Client":
        """From the credential file `sanhu serve` and `sanhu client create --save` write:
        `{"url": ..., "client_id": "cli_...", "private_key": "<base64 of the 32-byte seed>"}`."""
        with open(path, encoding="utf-8") as file:
            credential = json.load(file)
        return cls(url or credential["url"], credential["client_id"], credential["private_key"], **options)

    # -- the wire ---------------------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: Query = None,
        idempotency_key: Optional[str] = None,
    ) -> Response:
        """Sends one signed request (again on 429/503 as allowed) and returns the answer; raises an
        ApiError subclass for a non-2xx answer. `path` is sent and signed as given: build its
        parameters with `encode_component` and pass the query as `query`."""
        method = method.upper()
        path_and_query = path + (f"?{q}" if (q := build_query(query)) else "")
        payload = b"" if body is None else json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        attempt = 0
        while True:
            attempt += 1
            try:
                response = self._send(method, path_and_query, payload, idempotency_key)
            except ApiError as error:
                wait = self._retry_wait(error, method, idempotency_key, attempt)
                if wait is None:
                    raise
                time.sleep(wait)
                continue
            response.attempts = attempt
            response.idempotency_key = idempotency_key
            return response

    def _retry_wait(self, error: ApiError, method: str, idempotency_key, attempt: int) -> Optional[float]:
        if attempt > self.max_retries:
            return None
        if error.status == 429:
            pass
        elif error.status == 503:
            safe = method in ("GET", "HEAD") or idempotency_key is not None or error.code in _NOTHING_APPLIED
            if not safe:
                return None
        else:
            return None
        wait = error.retry_after if error.retry_after is not None else min(0.25 * 2 ** (attempt - 1), 4.0)
        return wait if wait <= self.max_retry_wait else None

    def _send(self, method: str, path_and_query: str, payload: bytes, idempotency_key: Optional[str]) -> Response:
        headers = self.signer.sign(method, path_and_query, payload)
        headers["Accept"] = "application/json"
        if payload:
            headers["Content-Type"] = "application/json"
        if idempotency_key is not None:
            headers["Idempotency-Key"] = idempotency_key
        request = urllib.request.Request(
            self.url + path_and_query, data=payload if payload or method == "POST" else None, headers=headers, method=method
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as answer:
                status, answer_headers, raw = answer.status, dict(answer.headers.items()), answer.read()
        except urllib.error.HTTPError as answer:
            status, answer_headers, raw = answer.code, dict(answer.headers.items()), answer.read()
        except urllib.error.URLError as error:
            raise SanhuError(f"failed to reach {self.url}: {error.reason}") from error
        headers_lower = {k.lower(): v for k, v in answer_headers.items()}
        try:
            data = json.loads(raw) if raw else None
        except ValueError:
            data = raw.decode("utf-8", "replace")
        request_id = headers_lower.get("x-request-id")
        if 200 <= status < 300:
            return Response(status, headers_lower, data, headers_lower.get("idempotent-replayed") == "true", request_id)
        detail = data.get("error") if isinstance(data, dict) and isinstance(data.get("error"), dict) else {}
        raise error_for(
            status,
            detail.get("code", f"http_{status}"),
            detail.get("message", str(data)),
            detail.get("request_id", request_id),
            _retry_after_seconds(headers_lower.get("retry-after")),
        )

    def call(
        self,
        operation_id: str,
        path_params: Optional[Mapping[str, Any]] = None,
        body: Any = None,
        *,
        query: Query = None,
        idempotency_key: Optional[str] = None,
        full_response: bool = False,
    ):
        """Any operation of the OpenAPI document by its operationId (sanhu.OPERATIONS). A POST that
        takes an Idempotency-Key gets a fresh one unless given, so that retries apply it once."""
        try:
            method, template, idempotent = OPERATIONS[operation_id]
        except KeyError:
            raise ValueError(f"no operation {operation_id!r} in the OpenAPI document") from None
        params = dict(path_params or {})

        def fill(match):
            name = match.group(1)
            if name not in params:
                raise ValueError(f"{operation_id} needs the path parameter {name!r}")
            return encode_component(params.pop(name))

        path = _PATH_PARAMETER.sub(fill, template)
        if params:
            raise ValueError(f"{operation_id} has no path parameter {', '.join(sorted(params))}")
        if idempotency_key is not None and not idempotent:
            raise ValueError(f"{operation_id} takes no Idempotency-Key (its request or response carries a secret)")
        if idempotency_key is None and idempotent and method == "POST":
            idempotency_key = new_idempotency_key()
        response = self.request(method, path, body, query=query, idempotency_key=idempotency_key)
        return response if full_response else response.data

    # -- the main flows, by name, with the typed models of sanhu.models ------------------------------

    def _typed(self, model, operation_id, path_params=None, request=None, fields=None, **options):
        """Sends a request model (or the keyword fields) and reads the answer as `model`."""
        if request is not None and fields:
            raise ValueError(f"{operation_id} takes a request model or keyword fields, not both")
        body = request.to_dict() if isinstance(request, models._Model) else (request if request is not None else fields)
        return model.from_dict(self.call(operation_id, path_params, body, **options))

    def register_member(
        self, request: Optional[models.RegisterMemberRequest] = None, *, idempotency_key: Optional[str] = None, **fields
    ) -> models.RegisteredMember:
        """POST /v1/members: RegisterMemberRequest(phone="13800000001") or phone="13800000001"."""
        return self._typed(models.RegisteredMember, "registerMember", None, request, fields, idempotency_key=idempotency_key)

    def activate_member(self, member_id: str, *, idempotency_key: Optional[str] = None) -> models.ActivatedMember:
        """POST /v1/members/{id}/activate: the member becomes normal and its basic account opens."""
        return self._typed(models.ActivatedMember, "activateMember", {"id": member_id}, {}, idempotency_key=idempotency_key)

    def get_member(self, member_id: str) -> models.Member:
        return self._typed(models.Member, "getMember", {"id": member_id})

    def create_recharge(
        self, request: Optional[models.CreateRechargeRequest] = None, *, idempotency_key: Optional[str] = None, **fields
    ) -> models.Recharge:
        """POST /v1/recharges: order_number, member_id, amount (minor units), channel."""
        return self._typed(models.Recharge, "createRecharge", None, request, fields, idempotency_key=idempotency_key)

    def confirm_recharge(self, order_number: str, *, idempotency_key: Optional[str] = None) -> models.Recharge:
        """POST /v1/recharges/{number}/confirm: the channel says it was paid; credits the member once."""
        return self._typed(models.Recharge, "confirmRecharge", {"number": order_number}, idempotency_key=idempotency_key)

    def get_recharge(self, order_number: str) -> models.Recharge:
        return self._typed(models.Recharge, "getRecharge", {"number": order_number})

    def pay(
        self, request: Optional[models.PayRequest] = None, *, idempotency_key: Optional[str] = None, **fields
    ) -> models.Payment:
        """POST /v1/payments: order_number, member_id, amount, receiver_account_id (or
        receiver_platform_account), ..."""
        return self._typed(models.Payment, "pay", None, request, fields, idempotency_key=idempotency_key)

    def get_payment(self, order_number: str) -> models.Payment:
        return self._typed(models.Payment, "getPayment", {"number": order_number})

    def refund_payment(
        self,
        order_number: str,
        request: Optional[models.RefundRequest] = None,
        *,
        idempotency_key: Optional[str] = None,
        **fields,
    ) -> models.Refund:
        """POST /v1/payments/{number}/refunds: refund_number, amount."""
        return self._typed(
            models.Refund, "refundPayment", {"number": order_number}, request, fields, idempotency_key=idempotency_key
        )

    def get_wallet(self, member_id: str) -> models.Wallet:
        return self._typed(models.Wallet, "getWallet", {"id": member_id})

    def wallet_flow(self, member_id: str, *, limit: Optional[int] = None, after: Optional[str] = None) -> models.FlowPage:
        """One page of the wallet's flow, newest first: data and next_cursor."""
        return self._typed(models.FlowPage, "getWalletFlow", {"id": member_id}, query={"limit": limit, "after": after})

    def iter_wallet_flow(self, member_id: str, *, page_size: int = 100) -> Iterator[models.FlowLine]:
        """Every line of the wallet's flow, newest first, page after page."""
        after = None
        while True:
            page = self.wallet_flow(member_id, limit=page_size, after=after)
            yield from page.data
            after = page.next_cursor
            if not after or not page.data:
                return
