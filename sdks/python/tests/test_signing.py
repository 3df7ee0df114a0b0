"""The signer and the webhook verifier against the fixed example of docs/signature-example.json."""

import base64
import time

import pytest

import sanhu
from sanhu import ERROR_CODES, OPERATIONS, WebhookSignatureError, verify_webhook


def test_the_example_is_signed_as_documented(example):
    assert sanhu.body_sha256_hex(example["body"]) == example["body_sha256_hex"]
    text = sanhu.signed_string(
        example["method"], example["path_and_query"], example["body"], example["timestamp"], example["nonce"]
    )
    assert text == example["signed_string"]
    signer = sanhu.Signer(example["client_id"], example["private_key"])
    headers = signer.sign(
        example["method"], example["path_and_query"], example["body"], example["timestamp"], example["nonce"]
    )
    assert headers["X-Sanhu-Signature"] == example["signature_base64"]
    assert headers == example["headers"]
    assert sanhu.public_key_base64(example["private_key"]) == example["public_key_base64"]


def test_the_example_query_is_built_by_the_encoding_rule(example):
    path, query = example["path_and_query"].split("?", 1)
    assert sanhu.build_query([("source", "测试 A/B"), ("tag", "a+b")]) == query
    assert sanhu.encode_component("测试 A/B") == "%E6%B5%8B%E8%AF%95%20A%2FB"
    assert sanhu.encode_component("AZaz09-._~") == "AZaz09-._~"


def test_a_nonce_is_fresh_and_well_formed():
    nonces = {sanhu.new_nonce() for _ in range(100)}
    assert len(nonces) == 100
    assert all(16 <= len(n) <= 64 and n.isalnum() for n in nonces)


def test_the_example_verifies_as_a_webhook_and_altered_ones_do_not(example):
    key, path, body = example["public_key_base64"], example["path_and_query"], example["body"]
    at = example["timestamp"]
    verify_webhook(key, path, example["headers"], body.encode(), now=at + 10)
    altered = [
        (key, path, example["headers"], body + " ", at, "does not verify"),
        (key, path + "&x=1", example["headers"], body, at, "does not verify"),
        (sanhu.public_key_base64(b"\x07" * 32), path, example["headers"], body, at, "does not verify"),
        (key, path, example["headers"], body, at + 301, "outside the tolerance"),
        (key, path, {**example["headers"], "X-Sanhu-Nonce": "another-nonce-0001"}, body, at, "does not verify"),
        (key, path, {"X-Sanhu-Timestamp": str(at), "X-Sanhu-Nonce": "n" * 16}, body, at, "missing"),
        (key, path, {**example["headers"], "X-Sanhu-Signature": "AAAA"}, body, at, "not 64 bytes"),
    ]
    for public_key, p, headers, b, now, why in altered:
        with pytest.raises(WebhookSignatureError, match=why):
            verify_webhook(public_key, p, headers, b, now=now)


def test_a_fresh_delivery_verifies_with_lower_case_headers():
    seed = bytes(range(32))
    body = b'{"id":"evt_1","type":"payment.paid"}'
    headers = sanhu.Signer("cli_webhooks", seed).sign("POST", "/hooks/sanhu?shop=1", body)
    lower = {k.lower(): v for k, v in headers.items()}
    verify_webhook(sanhu.public_key_base64(seed), "/hooks/sanhu?shop=1", lower, body)
    with pytest.raises(WebhookSignatureError):
        verify_webhook(sanhu.public_key_base64(seed), "/hooks/sanhu?shop=1", lower, body, now=time.time() + 600)


def test_the_tables_are_the_documents():
    assert ERROR_CODES["insufficient_funds"] == 422
    assert ERROR_CODES["rate_limited"] == 429
    assert ERROR_CODES["ledger_unavailable"] == 503
    assert OPERATIONS["pay"] == ("POST", "/v1/payments", True)
    assert OPERATIONS["getWalletFlow"] == ("GET", "/v1/members/{id}/wallet/flow", False)
    # A secret-bearing endpoint takes no Idempotency-Key, and the client refuses to send one.
    assert OPERATIONS["setMemberPayPassword"][2] is False
    client = sanhu.Client("http://127.0.0.1:9", "cli_x", base64.b64encode(bytes(32)).decode())
    with pytest.raises(ValueError, match="takes no Idempotency-Key"):
        client.call("setMemberPayPassword", {"id": "mem_x"}, {"pay_password": "135790"}, idempotency_key="k")


@pytest.fixture(scope="session")
def hmac_example():
    import json
    from pathlib import Path

    path = Path(__file__).resolve().parents[3] / "docs" / "webhook-hmac-example.json"
    return json.loads(path.read_text(encoding="utf-8"))


def test_the_hmac_example_verifies_and_altered_ones_do_not(hmac_example):
    e = hmac_example
    secret, path, body, at = e["secret"], e["path_and_query"], e["body"], e["timestamp"]
    assert sanhu.hmac_signed_string(path, body, at, e["nonce"]) == e["signed_string"]
    sanhu.verify_webhook_hmac(secret, path, e["headers"], body.encode(), now=at + 10)
    lower = {k.lower(): v for k, v in e["headers"].items()}
    sanhu.verify_webhook_hmac(secret, path, lower, body, now=at)
    altered = [
        (secret, path, e["headers"], body + " ", at, "does not verify"),
        (secret, path + "&x=1", e["headers"], body, at, "does not verify"),
        (secret + "x", path, e["headers"], body, at, "does not verify"),
        (secret, path, e["headers"], body, at - 301, "outside the tolerance"),
        (secret, path, {**e["headers"], "X-Sanhu-Nonce": "another"}, body, at, "does not verify"),
        (secret, path, {**e["headers"], "X-Sanhu-Signature": "AAAA"}, body, at, "not 32 bytes"),
        (secret, path, {"X-Sanhu-Nonce": "n", "X-Sanhu-Signature": "AAAA"}, body, at, "missing"),
        ("", path, e["headers"], body, at, "empty"),
    ]
    for s, p, headers, b, now, why in altered:
        with pytest.raises(sanhu.WebhookSignatureError, match=why):
            sanhu.verify_webhook_hmac(s, p, headers, b, now=now)
    # An Ed25519 verifier does not take an HMAC delivery for its own, nor the other way round.
    with pytest.raises(sanhu.WebhookSignatureError):
        verify_webhook(sanhu.public_key_base64(b"\x07" * 32), path, e["headers"], body, now=at)
