"""Schemathesis hooks for fuzzing sanhu (loaded by tests/fuzz/run.sh through SCHEMATHESIS_HOOKS).

Signing. Every request schemathesis sends is signed as the API requires (crates/http/src/signature.rs):

    SANHU-ED25519-V1\\nMETHOD\\npath?query\\ntimestamp\\nnonce\\nhex(sha256(body))

The signature is computed by a `requests` auth object, which runs on the prepared request, so it
covers exactly the method, request target and body bytes that go on the wire, whatever schemathesis
generated (it overwrites the X-Sanhu-* headers schemathesis generates from the document). Because
every request is signed correctly, a 401 can only mean that signing broke, and the run would then
test nothing but the authentication layer: the `signed_requests_are_accepted` check fails on any 401.

Reaching the ledger and the three-party model. Ids drawn at random name nothing, so most requests would stop at
`account_not_found`. Before the run this module opens accounts (funded wallets, a blocked and a
closed one, two currencies), posts transfers and places holds through the API, and registers an
enterprise (admin, a limited cashier) and a person (real name, bound card, pay password); the generation hooks
below then swap some of the generated ids, amounts and references for those, so that transfers,
holds, posts, voids, closes, entries and balances run on real state. Time parameters get valid
times and near misses of them.

What the run reached (status and error code per operation) is written at exit to SANHU_FUZZ_SUMMARY;
with SANHU_FUZZ_TRACE set, every request and the start of its answer are appended to that file.

The credential is the one `sanhu serve` saves on first start, named by SANHU_FUZZ_CREDENTIALS; its
`url` is the server (127.0.0.1).
"""

from __future__ import annotations

import atexit
import base64
import functools
import hashlib
import json
import os
import secrets
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field

import requests
import schemathesis
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import strategies as st

try:  # What urllib3 puts on the request line: invalid characters percent-encoded, escapes upper-cased.
    from urllib3.util.url import _encode_target as _wire_target
except ImportError:  # pragma: no cover - a urllib3 without it sends the target as requests prepared it

    def _wire_target(target: str) -> str:
        return target


SCHEME = "SANHU-ED25519-V1"

# ----------------------------------------------------------------------------------------------
# Signing
# ----------------------------------------------------------------------------------------------


def _load_credential() -> tuple[str, str, Ed25519PrivateKey]:
    path = os.environ.get("SANHU_FUZZ_CREDENTIALS")
    if not path:
        raise RuntimeError("SANHU_FUZZ_CREDENTIALS must name the sanhu-credentials.json that `sanhu serve` saved")
    with open(path, encoding="utf-8") as file:
        credential = json.load(file)
    seed = base64.b64decode(credential["private_key"], validate=True)
    if len(seed) != 32:
        raise RuntimeError(f"{path}: private_key is {len(seed)} bytes, not a 32-byte Ed25519 seed")
    return credential["url"].rstrip("/"), credential["client_id"], Ed25519PrivateKey.from_private_bytes(seed)


def signed_string(method: str, path_and_query: str, body: bytes, timestamp: int, nonce: str) -> str:
    digest = hashlib.sha256(body).hexdigest()
    return f"{SCHEME}\n{method}\n{path_and_query}\n{timestamp}\n{nonce}\n{digest}"


class SanhuSignature(requests.auth.AuthBase):
    """Signs a prepared request with the client's Ed25519 key."""

    def __init__(self, client_id: str, key: Ed25519PrivateKey) -> None:
        self.client_id = client_id
        self.key = key

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        body = request.body
        if body is None:
            body = b""
        elif isinstance(body, str):
            # http.client would encode a text body as Latin-1 (or fail); send, and sign, its UTF-8 bytes.
            body = body.encode("utf-8")
            request.body = body
            request.headers["Content-Length"] = str(len(body))
        elif not isinstance(body, (bytes, bytearray)):
            raise TypeError(f"cannot sign a streamed request body ({type(body).__name__})")
        target = _wire_target(request.path_url)
        timestamp = int(time.time())
        nonce = secrets.token_hex(16)
        message = signed_string(request.method or "GET", target, bytes(body), timestamp, nonce)
        signature = base64.b64encode(self.key.sign(message.encode("utf-8"))).decode("ascii")
        request.headers["X-Sanhu-Client"] = self.client_id
        request.headers["X-Sanhu-Timestamp"] = str(timestamp)
        request.headers["X-Sanhu-Nonce"] = nonce
        request.headers["X-Sanhu-Signature"] = signature
        return request


URL, CLIENT_ID, _KEY = _load_credential()
SIGNER = SanhuSignature(CLIENT_ID, _KEY)


@schemathesis.hook
def before_call(context, case, kwargs):
    """Every call is signed: the auth object goes into the transport's keyword arguments, which win over
    any auth schemathesis set on the case."""
    kwargs["auth"] = SIGNER
    _bind_idempotency_key(case)


def _bind_idempotency_key(case) -> None:
    """Generated Idempotency-Keys repeat (they shrink alike), and a key repeated with another request
    is only ever `idempotency_key_reused`, which would hide the endpoint behind it. A well-formed key
    is made specific to the request by a digest of what it sends: the same request with the same key
    is still replayed, another request gets a key of its own. A malformed key is sent as generated."""
    headers = case.headers or {}
    for name, value in list(headers.items()):
        if name.lower() != "idempotency-key" or not isinstance(value, str):
            continue
        if not value or len(value) > 255 or not all(" " <= c <= "~" for c in value):
            continue
        request = json.dumps(
            [case.method, case.path, case.path_parameters, case.query, _jsonable(case.body)],
            sort_keys=True,
            default=repr,
        )
        digest = hashlib.sha256(request.encode("utf-8", "surrogatepass")).hexdigest()[:32]
        headers[name] = f"{value[:200]}~{digest}"


def _jsonable(body):
    return None if type(body).__name__ == "NotSet" else body


@schemathesis.check
def signed_requests_are_accepted(ctx, response, case):
    """Every request is signed correctly, so the server must never answer 401 (a staff sign-in with a
    made-up username and password is refused 401 `invalid_credentials`, rightly)."""
    if response.status_code == 401:
        try:
            code = response.json()["error"]["code"]
        except Exception:  # noqa: BLE001 - any body: the status alone is the failure
            code = "?"
        if code == "invalid_credentials":
            return
        raise AssertionError(
            f"a correctly signed request was refused with 401 `{code}`: the request signing in "
            "tests/fuzz/sanhu_hooks.py does not match what was sent, or the server's verification is wrong"
        )


# ----------------------------------------------------------------------------------------------
# Seed state, and generation hooks that use it
# ----------------------------------------------------------------------------------------------


@dataclass
class Seed:
    accounts: list[str] = field(default_factory=list)
    transfers: list[str] = field(default_factory=list)
    holds: list[str] = field(default_factory=list)
    references: list[str] = field(default_factory=list)
    # The three-party model: members (an active enterprise and an active person), operators, the
    # enterprise's accounts and the person's bound card.
    members: list[str] = field(default_factory=list)
    operators: list[str] = field(default_factory=list)
    member_accounts: list[str] = field(default_factory=list)
    cards: list[str] = field(default_factory=list)


def _seed() -> Seed:
    """Opens accounts and moves money through the API; what the generation hooks draw from."""
    session = requests.Session()
    seed = Seed()

    def call(method: str, path: str, body: dict | None = None) -> dict:
        response = session.request(method, URL + path, json=body, auth=SIGNER, timeout=30)
        if response.status_code not in (200, 201):
            raise RuntimeError(f"seeding: {method} {path} answered {response.status_code}: {response.text}")
        return response.json()

    def account(**fields) -> str:
        opened = call("POST", "/v1/ledger/accounts", fields)["id"]
        seed.accounts.append(opened)
        return opened

    def transfer(**fields) -> dict:
        made = call("POST", "/v1/ledger/transfers", fields)
        seed.transfers.append(made["id"])
        return made

    funding = account(currency="CNY", normal_side="debit", code="funding")
    usd_funding = account(currency="USD", normal_side="debit", overdraft_limit=None)
    wallets = [account(currency="CNY", code="wallet", metadata={"member": f"mem_{i}"}) for i in range(3)]
    overdraft = account(currency="CNY", overdraft_limit=500)
    usd_wallet = account(currency="USD")
    blocked = account(currency="CNY")
    closed = account(currency="CNY")
    call("POST", f"/v1/ledger/accounts/{closed}/close")
    for index, wallet in enumerate([*wallets, overdraft, blocked]):
        reference = f"seed-order-{index}"
        seed.references.append(reference)
        transfer(debit_account_id=funding, credit_account_id=wallet, amount=1_000_000, reference=reference)
    transfer(debit_account_id=usd_funding, credit_account_id=usd_wallet, amount=50_000, code="recharge")
    call("POST", f"/v1/ledger/accounts/{blocked}/blocks", {"debits_blocked": True})
    # Holds: most stay pending for the fuzzer to post or void; one expires within a second.
    for index in range(16):
        hold = transfer(
            debit_account_id=wallets[index % 3],
            credit_account_id=wallets[(index + 1) % 3],
            amount=100 + index,
            pending=True,
            timeout_s=1 if index == 0 else 0,
            reference="seed-holds",
        )
        seed.holds.append(hold["id"])
    seed.references.append("seed-holds")
    posted = call("POST", f"/v1/ledger/transfers/{seed.holds[1]}/post", {"amount": 50})
    voided = call("POST", f"/v1/ledger/transfers/{seed.holds[2]}/void")
    seed.transfers += [posted["id"], voided["id"]]
    batch = call(
        "POST",
        "/v1/ledger/transfers/batch",
        {
            "transfers": [
                {"debit_account_id": wallets[0], "credit_account_id": wallets[1], "amount": 10, "linked": True},
                {"debit_account_id": wallets[1], "credit_account_id": wallets[2], "amount": 10},
                {"action": "hold", "debit_account_id": wallets[2], "credit_account_id": wallets[0], "amount": 7},
            ]
        },
    )
    for result in batch["results"]:
        if result["status"] == "ok":
            seed.transfers.append(result["transfer"]["id"])
    seed.holds.append(batch["results"][2]["transfer"]["id"])
    _seed_parties(call, seed)
    return seed


def _seed_parties(call, seed: Seed) -> None:
    """An active enterprise with its admin and a cashier granted pay on its basic account with limits,
    and an active person with a real name, a bound card and a pay password."""
    enterprise = call(
        "POST",
        "/v1/enterprises",
        {
            "email": "finance@seed.example.com",
            "company": {
                "name": "某某种子科技有限公司",
                "credit_code": "91110108MA01ABCD0B",
                "legal_person": "张三",
                "legal_person_certificate_number": "110101199003071233",
                "contact": "李四",
                "contact_phone": "13912345678",
                "industry": "I642",
                "licence_expiry": "long_term",
                "address": "北京市海淀区某某路1号",
            },
            "admin": {"phone": "13900000001"},
        },
    )
    member, admin = enterprise["member"]["id"], enterprise["admin"]["id"]
    basic = call("POST", f"/v1/members/{member}/activate", {})["accounts"][0]["id"]
    cashier = call(
        "POST",
        f"/v1/members/{member}/operators",
        {"role": "cashier", "phone": "13900000002", "reason": "seed", "acting_operator_id": admin},
    )["id"]
    call("POST", f"/v1/operators/{cashier}/grants", {"account_id": basic, "operations": ["view", "pay"], "reason": "seed"})
    call(
        "POST",
        f"/v1/operators/{cashier}/limits",
        {"limits": {"currency": "CNY", "per_transaction": 1_000, "per_day": 100_000}, "reason": "seed"},
    )
    person = call("POST", "/v1/members", {"phone": "13800000001"})["member"]["id"]
    call("POST", f"/v1/members/{person}/activate", {})
    call(
        "POST",
        f"/v1/members/{person}/authentications",
        {"type": "id_card", "channel": "police_id_check", "name": "张三", "certificate_type": "id_card",
         "certificate_number": "110101199003071233", "result": "verified"},
    )
    card = call("POST", f"/v1/members/{person}/bank-cards", {"card_number": "6222020000000000018", "holder": "张三"})["id"]
    call("POST", f"/v1/members/{person}/pay-password", {"pay_password": "135790"})
    seed.members += [member, person]
    seed.operators += [admin, cashier]
    seed.member_accounts.append(basic)
    seed.cards.append(card)


SEED = _seed()

ACCOUNT_FIELDS = ("debit_account_id", "credit_account_id")
TRANSFER_FIELDS = ("pending_id",)


def _or_known(value, known: list[str]) -> st.SearchStrategy:
    """The generated value, or (as often) one that names seeded state."""
    if not known:
        return st.just(value)
    return st.one_of(st.just(value), st.sampled_from(known))


def _amount(value) -> st.SearchStrategy:
    """The generated amount, or a small one that the seeded balances cover."""
    return st.one_of(st.just(value), st.integers(min_value=1, max_value=2_000))


_OMIT = object()


def _without_omitted(drawn: dict) -> dict:
    return {name: value for name, value in drawn.items() if value is not _OMIT}


def _item(item) -> st.SearchStrategy:
    """A transfer-shaped object (a request body or a batch item) with some fields swapped."""
    if not isinstance(item, dict):
        return st.just(item)
    parts = {}
    for name, value in item.items():
        if name == "id":
            # Generated ids repeat (they shrink alike), and a repeated id with other fields is only ever
            # `exists_with_different_fields`: mostly let the server make one.
            parts[name] = st.sampled_from([value, _OMIT, _OMIT])
        elif name == "timeout_s":
            # Only holds take a timeout; most generated bodies are not holds.
            parts[name] = st.sampled_from([value, _OMIT])
        elif name in ACCOUNT_FIELDS:
            parts[name] = _or_known(value, SEED.accounts)
        elif name in TRANSFER_FIELDS:
            parts[name] = _or_known(value, SEED.holds)
        elif name == "amount":
            parts[name] = _amount(value)
        elif name == "reference":
            parts[name] = _or_known(value, SEED.references)
        elif name == "account_id":
            parts[name] = _or_known(value, SEED.member_accounts)
        elif name == "acting_operator_id":
            parts[name] = _or_known(value, SEED.operators)
        elif name == "member_id":
            parts[name] = _or_known(value, SEED.members)
        else:
            parts[name] = st.just(value)
    return st.fixed_dictionaries(parts).map(_without_omitted)


MOVEMENT_ONLY = ("debit_account_id", "credit_account_id", "pending", "timeout_s", "balancing")


def _shaped(item: dict, action: str) -> dict:
    """A batch item made coherent for `action`: only the fields that action takes, the required ones
    present (placeholders that `_item` may swap for seeded state)."""
    item = {**item, "action": action}
    if action in ("post", "hold"):
        item.pop("pending_id", None)
        item.pop("pending", None)
        if action == "post":
            item.pop("timeout_s", None)
        item.setdefault("debit_account_id", SEED.accounts[0])
        item.setdefault("credit_account_id", SEED.accounts[2])
        item.setdefault("amount", 1)
    else:
        for name in MOVEMENT_ONLY:
            item.pop(name, None)
        if action == "void_pending":
            item.pop("amount", None)
        item.setdefault("pending_id", SEED.holds[-1])
    return item


def _batch_item(item) -> st.SearchStrategy:
    """A batch item as generated, or made coherent for one of the actions (generated items mix the
    fields of all four, which the server refuses whole before the ledger sees the batch)."""
    if not isinstance(item, dict):
        return st.just(item)
    actions = st.sampled_from([None, "post", "hold", "post_pending", "void_pending"])
    return actions.flatmap(lambda action: _item(item if action is None else _shaped(item, action)))


@schemathesis.hook
def flatmap_body(context, body):
    if isinstance(body, dict) and isinstance(body.get("transfers"), list):
        items = [_batch_item(item) for item in body["transfers"]]
        return st.tuples(*items).map(lambda drawn: {**body, "transfers": list(drawn)})
    return _item(body)


@schemathesis.hook
def flatmap_path_parameters(context, path_parameters):
    if not isinstance(path_parameters, dict):
        return st.just(path_parameters)
    path = context.operation.path if context.operation is not None else ""
    parts = {}
    for name, value in path_parameters.items():
        if name == "id" and path.startswith("/v1/ledger/accounts/"):
            parts[name] = _or_known(value, SEED.accounts)
        elif name == "id" and path.startswith("/v1/ledger/transfers/"):
            parts[name] = _or_known(value, SEED.transfers + SEED.holds)
        elif name == "pending_id":
            parts[name] = _or_known(value, SEED.holds)
        elif name == "id" and path.startswith("/v1/members/"):
            parts[name] = _or_known(value, SEED.members)
        elif name == "id" and path.startswith("/v1/operators/"):
            parts[name] = _or_known(value, SEED.operators)
        elif name == "id" and path.startswith("/v1/bank-cards/"):
            parts[name] = _or_known(value, SEED.cards)
        elif name == "id" and path.startswith("/v1/accounts/"):
            parts[name] = _or_known(value, SEED.member_accounts)
        else:
            parts[name] = st.just(value)
    return st.fixed_dictionaries(parts)


# Times in every form the API documents, and (below) each with one or two characters replaced,
# inserted or deleted: near misses reach deeper into a parser than random text, which fails at its
# first check.
TIME_EXAMPLES = (
    "2026-01-31T16:00:00Z",
    "2026-02-01T00:00:00+08:00",
    "2026-01-31T16:00:00.123456789-05:30",
    "2000-02-29T23:59:59.5z",
    "1970-01-01 00:00:00Z",
)
# The time parameters of each operation that takes some: added where the generator left them out.
TIME_PARAMETERS = {
    "/v1/ledger/accounts/{id}/balance": ("at",),
    "/v1/ledger/accounts/{id}/entries": ("from", "to"),
}


_CHARACTER = st.one_of(
    st.characters(max_codepoint=127),
    st.characters(min_codepoint=128, exclude_categories=("Cs",)),  # several bytes in UTF-8
)


def _edit(text: str, edit: tuple[int, str, str]) -> str:
    position, character, kind = edit
    position %= max(len(text), 1)
    if kind == "insert":
        return text[:position] + character + text[position:]
    if kind == "delete":
        return text[:position] + text[position + 1 :]
    return text[:position] + character + text[position + 1 :]


def _near_miss(text: str) -> st.SearchStrategy:
    """`text` with one or two characters replaced, inserted or deleted."""
    edit = st.tuples(st.integers(0, 63), _CHARACTER, st.sampled_from(["replace", "insert", "delete"]))
    return st.lists(edit, min_size=1, max_size=2).map(lambda edits: functools.reduce(_edit, edits, text))


def _time(value) -> st.SearchStrategy:
    """The generated value (or absence, `_OMIT`), a valid time, or a near miss of one."""
    valid = st.sampled_from(TIME_EXAMPLES)
    near_miss = valid.flatmap(_near_miss)
    return st.one_of(st.just(value), valid, near_miss, near_miss)


@schemathesis.hook
def flatmap_query(context, query):
    times = TIME_PARAMETERS.get(context.operation.path if context.operation is not None else "", ())
    if query is None and times:
        query = {}
    if not isinstance(query, dict):
        return st.just(query)
    parts = {name: _time(_OMIT) for name in times if name not in query}
    for name, value in query.items():
        if name in times:
            parts[name] = _time(value)
        elif name == "account_ids":
            known = st.lists(st.sampled_from(SEED.accounts), min_size=1, max_size=5).map(",".join)
            parts[name] = st.one_of(st.just(value), known)
        elif name == "reference":
            parts[name] = _or_known(value, SEED.references)
        elif name == "member_id":
            parts[name] = _or_known(value, SEED.members)
        else:
            parts[name] = st.just(value)
    return st.fixed_dictionaries(parts).map(_without_omitted)


# ----------------------------------------------------------------------------------------------
# What the run reached: status codes per operation, written at exit for run.sh to print
# ----------------------------------------------------------------------------------------------

_STATUSES: dict[str, Counter] = defaultdict(Counter)
_TRACE = open(os.environ["SANHU_FUZZ_TRACE"], "a", encoding="utf-8") if os.environ.get("SANHU_FUZZ_TRACE") else None


@schemathesis.hook
def after_call(context, case, response):
    outcome = str(response.status_code)
    if response.status_code >= 400:
        try:
            outcome += " " + response.json()["error"]["code"]
        except Exception:  # noqa: BLE001 - not an error body: the checks report that
            pass
    _STATUSES[case.operation.label][outcome] += 1
    if _TRACE is not None:
        request = response.request
        body = request.body[:300] if isinstance(request.body, bytes) else request.body
        _TRACE.write(f"{outcome} {request.method} {request.url[:300]} {body!r} -> {response.content[:300]!r}\n")


def _write_summary() -> None:
    path = os.environ.get("SANHU_FUZZ_SUMMARY")
    if not path or not _STATUSES:
        return
    lines = []
    for label in sorted(_STATUSES):
        counts = ", ".join(f"{outcome} x{count}" for outcome, count in sorted(_STATUSES[label].items()))
        lines.append(f"  {label:<46} {counts}")
    with open(path, "w", encoding="utf-8") as file:
        file.write("\n".join(lines) + "\n")


atexit.register(_write_summary)
