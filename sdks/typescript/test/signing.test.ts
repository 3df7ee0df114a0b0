// The signer and the webhook verifier against the fixed example of docs/signature-example.json.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  Client,
  ERROR_CODES,
  OPERATIONS,
  Signer,
  WebhookSignatureError,
  bodySha256Hex,
  buildQuery,
  encodeComponent,
  newNonce,
  publicKeyBase64,
  signedString,
  hmacSignedString,
  verifyWebhook,
  verifyWebhookHmac,
} from "../src/index.js";
import { example, hmacExample } from "./helpers.js";

test("the example is signed as documented", () => {
  const e = example();
  assert.equal(bodySha256Hex(e.body), e.body_sha256_hex);
  assert.equal(signedString(e.method, e.path_and_query, e.body, e.timestamp, e.nonce), e.signed_string);
  const headers = new Signer(e.client_id, e.private_key).sign(e.method, e.path_and_query, e.body, e.timestamp, e.nonce);
  assert.equal(headers["X-Sanhu-Signature"], e.signature_base64);
  assert.deepEqual(headers, e.headers);
  assert.equal(publicKeyBase64(e.private_key), e.public_key_base64);
});

test("the example query is built by the encoding rule", () => {
  const query = example().path_and_query.split("?")[1];
  assert.equal(buildQuery([["source", "测试 A/B"], ["tag", "a+b"]]), query);
  assert.equal(encodeComponent("测试 A/B"), "%E6%B5%8B%E8%AF%95%20A%2FB");
  assert.equal(encodeComponent("AZaz09-._~"), "AZaz09-._~");
  assert.equal(encodeComponent("!'()*"), "%21%27%28%29%2A");
});

test("a nonce is fresh and well-formed", () => {
  const nonces = new Set(Array.from({ length: 100 }, newNonce));
  assert.equal(nonces.size, 100);
  for (const n of nonces) assert.match(n, /^[A-Za-z0-9_-]{16,64}$/);
});

test("the example verifies as a webhook and altered ones do not", () => {
  const e = example();
  const at = e.timestamp;
  verifyWebhook(e.public_key_base64, e.path_and_query, e.headers, Buffer.from(e.body), { now: at + 10 });
  const other = publicKeyBase64(Buffer.alloc(32, 7));
  const cases: Array<[string, string, Record<string, string>, string, number, RegExp]> = [
    [e.public_key_base64, e.path_and_query, e.headers, e.body + " ", at, /does not verify/],
    [e.public_key_base64, e.path_and_query + "&x=1", e.headers, e.body, at, /does not verify/],
    [other, e.path_and_query, e.headers, e.body, at, /does not verify/],
    [e.public_key_base64, e.path_and_query, e.headers, e.body, at + 301, /outside the tolerance/],
    [e.public_key_base64, e.path_and_query, { ...e.headers, "X-Sanhu-Nonce": "another-nonce-0001" }, e.body, at, /does not verify/],
    [e.public_key_base64, e.path_and_query, { "X-Sanhu-Timestamp": String(at), "X-Sanhu-Nonce": "n".repeat(16) }, e.body, at, /missing/],
    [e.public_key_base64, e.path_and_query, { ...e.headers, "X-Sanhu-Signature": "AAAA" }, e.body, at, /not 64 bytes/],
  ];
  for (const [key, path, headers, body, now, why] of cases) {
    assert.throws(() => verifyWebhook(key, path, headers, body, { now }), (error: unknown) => {
      assert.ok(error instanceof WebhookSignatureError);
      assert.match(error.message, why);
      return true;
    });
  }
});

test("a fresh delivery verifies with lower-case and fetch headers", () => {
  const seed = Buffer.from(Array.from({ length: 32 }, (_, i) => i));
  const body = '{"id":"evt_1","type":"payment.paid"}';
  const signed = new Signer("cli_webhooks", seed).sign("POST", "/hooks/sanhu?shop=1", body);
  const lower = Object.fromEntries(Object.entries(signed).map(([k, v]) => [k.toLowerCase(), v]));
  verifyWebhook(publicKeyBase64(seed), "/hooks/sanhu?shop=1", lower, body);
  verifyWebhook(publicKeyBase64(seed), "/hooks/sanhu?shop=1", new Headers(signed), body);
  const twice = new Headers(signed);
  twice.append("X-Sanhu-Nonce", "another-nonce-0001");
  assert.throws(() => verifyWebhook(publicKeyBase64(seed), "/hooks/sanhu?shop=1", twice, body), /more than once/);
  assert.throws(
    () => verifyWebhook(publicKeyBase64(seed), "/hooks/sanhu?shop=1", lower, body, { now: Date.now() / 1000 + 600 }),
    WebhookSignatureError,
  );
});

test("the tables are the document's", async () => {
  assert.equal(ERROR_CODES.insufficient_funds, 422);
  assert.equal(ERROR_CODES.rate_limited, 429);
  assert.equal(ERROR_CODES.ledger_unavailable, 503);
  assert.deepEqual(OPERATIONS.pay, { method: "POST", path: "/v1/payments", idempotent: true });
  assert.deepEqual(OPERATIONS.getWalletFlow, { method: "GET", path: "/v1/members/{id}/wallet/flow", idempotent: false });
  // A secret-bearing endpoint takes no Idempotency-Key, and the client refuses to send one.
  assert.equal(OPERATIONS.setMemberPayPassword.idempotent, false);
  const client = new Client("http://127.0.0.1:9", "cli_x", Buffer.alloc(32).toString("base64"));
  await assert.rejects(
    client.call("setMemberPayPassword", { id: "mem_x" }, { pay_password: "135790" }, { idempotencyKey: "k" }),
    /takes no Idempotency-Key/,
  );
});

test("the HMAC example verifies and altered ones do not", () => {
  const e = hmacExample();
  const { secret, path_and_query: path, body, timestamp: at } = e;
  assert.equal(hmacSignedString(path, body, at, e.nonce), e.signed_string);
  verifyWebhookHmac(secret, path, e.headers, Buffer.from(body), { now: at + 10 });
  const lower = Object.fromEntries(Object.entries(e.headers).map(([k, v]) => [k.toLowerCase(), v]));
  verifyWebhookHmac(secret, path, lower, body, { now: at });
  verifyWebhookHmac(secret, path, new Headers(e.headers), body, { now: at });
  const altered: [string, string, Record<string, string>, string, number, RegExp][] = [
    [secret, path, e.headers, body + " ", at, /does not verify/],
    [secret, path + "&x=1", e.headers, body, at, /does not verify/],
    [secret + "x", path, e.headers, body, at, /does not verify/],
    [secret, path, e.headers, body, at - 301, /outside the tolerance/],
    [secret, path, { ...e.headers, "X-Sanhu-Nonce": "another" }, body, at, /does not verify/],
    [secret, path, { ...e.headers, "X-Sanhu-Signature": "AAAA" }, body, at, /not 32 bytes/],
    [secret, path, { "X-Sanhu-Nonce": "n", "X-Sanhu-Signature": "AAAA" }, body, at, /missing/],
    ["", path, e.headers, body, at, /empty/],
  ];
  for (const [s, p, headers, b, now, why] of altered) {
    assert.throws(() => verifyWebhookHmac(s, p, headers, b, { now }), (error: unknown) => {
      assert.ok(error instanceof WebhookSignatureError);
      assert.match((error as Error).message, why);
      return true;
    });
  }
  // An Ed25519 verifier does not take an HMAC delivery for its own.
  assert.throws(
    () => verifyWebhook(publicKeyBase64(Buffer.alloc(32, 7)), path, e.headers, body, { now: at }),
    WebhookSignatureError,
  );
});
