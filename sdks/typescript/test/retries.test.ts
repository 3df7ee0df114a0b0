// Retries of 503 against a stand-in server (a real sanhu answers 503 only when its database or
// ledger fails): which answers are sent again, after the Retry-After, re-signed with a fresh nonce
// and the same Idempotency-Key. The 429 retries are tested against a real server (server.test.ts).

import assert from "node:assert/strict";
import { IncomingHttpHeaders, createServer } from "node:http";
import { AddressInfo } from "node:net";
import { test } from "node:test";

import { Client, UnavailableError } from "../src/index.js";

type Answer = [status: number, code: string | null, retryAfter: string | null];
interface Recorded {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
}

/** Answers each request with the next answer and records it; resolves to the server and a client of it. */
async function standIn(...answers: Answer[]) {
  const requests: Recorded[] = [];
  const server = createServer((request, response) => {
    const chunks: Buffer[] = [];
    request.on("data", (chunk: Buffer) => chunks.push(chunk));
    request.on("end", () => {
      requests.push({ method: request.method ?? "", path: request.url ?? "", headers: request.headers, body: Buffer.concat(chunks).toString() });
      const [status, code, retryAfter] = answers.shift() ?? [500, "stand_in_exhausted", null];
      const headers: Record<string, string> = { "content-type": "application/json" };
      if (retryAfter !== null) headers["retry-after"] = retryAfter;
      response.writeHead(status, headers);
      response.end(JSON.stringify(status === 200 ? { ok: true } : { error: { code, message: "stand-in", request_id: "req_x" } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  const client = new Client(`http://127.0.0.1:${port}`, "cli_test", Buffer.from(Array.from({ length: 32 }, (_, i) => i)).toString("base64"));
  const close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return { requests, client, close };
}

test("a keyed POST is sent again after Retry-After with the same key and a fresh nonce", async () => {
  const { requests, client, close } = await standIn([503, "audit_unavailable", "1"], [200, null, null]);
  try {
    const started = performance.now();
    const response = await client.callFull("pay", {}, { order_number: "P-1" });
    assert.ok(performance.now() - started >= 1000);
    assert.deepEqual([response.status, response.attempts], [200, 2]);
    const [first, second] = requests;
    assert.deepEqual([first.path, second.path, first.body, second.body], ["/v1/payments", "/v1/payments", '{"order_number":"P-1"}', '{"order_number":"P-1"}']);
    assert.equal(first.headers["idempotency-key"], response.idempotencyKey);
    assert.equal(second.headers["idempotency-key"], response.idempotencyKey);
    assert.notEqual(first.headers["x-sanhu-nonce"], second.headers["x-sanhu-nonce"]);
    assert.notEqual(first.headers["x-sanhu-signature"], second.headers["x-sanhu-signature"]);
  } finally {
    await close();
  }
});

test("an unkeyed POST that may have taken effect is not sent again", async () => {
  const { requests, client, close } = await standIn([503, "audit_unavailable", "0"], [200, null, null]);
  try {
    await assert.rejects(client.request("POST", "/v1/members/mem_x/pay-password", { pay_password: "135790" }), (error: unknown) => {
      assert.ok(error instanceof UnavailableError);
      assert.deepEqual([error.code, error.retryAfter], ["audit_unavailable", 0]);
      return true;
    });
    assert.equal(requests.length, 1);
  } finally {
    await close();
  }
});

test("an unkeyed POST that applied nothing is sent again", async () => {
  const { client, close } = await standIn([503, "ledger_unavailable", "0"], [200, null, null]);
  try {
    assert.equal((await client.request("POST", "/v1/members/mem_x/pay-password", { pay_password: "135790" })).attempts, 2);
  } finally {
    await close();
  }
});

test("a GET is sent at most maxRetries more times", async () => {
  const { requests, client, close } = await standIn([503, "not_ready", "0"], [503, "not_ready", "0"], [503, "not_ready", "0"]);
  try {
    await assert.rejects(client.getWallet("mem_x"), UnavailableError);
    assert.equal(requests.length, 3);
  } finally {
    await close();
  }
});
