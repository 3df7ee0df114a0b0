// Against a real `sanhu serve`: the wallet walk (register, recharge, pay, refund, read the flow),
// idempotency keys, typed errors and retries honouring Retry-After.

import assert from "node:assert/strict";
import { test } from "node:test";

import {
  ApiError,
  AuthenticationError,
  Client,
  InvalidRequestError,
  models,
  NotFoundError,
  RateLimitedError,
  UnprocessableError,
  newIdempotencyKey,
} from "../src/index.js";
import { credentials, newPhone, runId } from "./helpers.js";

const main = credentials("SANHU_TEST_CREDENTIALS");
const limited = credentials("SANHU_TEST_LIMITED_CREDENTIALS");

async function activeMember(client: Client): Promise<[string, string]> {
  const { member } = await client.registerMember({ phone: newPhone() });
  assert.equal(member.status, "inactive");
  const activated = await client.activateMember(member.id);
  assert.equal(activated.member.status, "normal");
  const basic = activated.accounts.filter((a) => a.account_type === "basic");
  assert.equal(basic.length, 1);
  return [member.id, basic[0].id];
}

/** Resolves to the error `promise` rejects with, checking its class. */
async function refusal<T extends ApiError>(promise: Promise<unknown>, type: new (...args: never[]) => T): Promise<T> {
  try {
    await promise;
  } catch (error) {
    assert.ok(error instanceof type, `expected ${type.name}, got ${error}`);
    return error;
  }
  assert.fail(`expected ${type.name}, the request succeeded`);
}

test("register, recharge, pay, refund and read the flow", { skip: main.skip }, async () => {
  const client = Client.fromCredentials(main.path);
  const run = runId();
  const [alice, aliceBasic] = await activeMember(client);
  const [, shopBasic] = await activeMember(client);

  // An order number with characters a path must percent-encode: the path is signed as sent.
  const number = `${run}/R+1:%`;
  const request: models.CreateRechargeRequest = { order_number: number, member_id: alice, amount: 10000, channel: "wechat" };
  const recharge: models.Recharge = await client.createRecharge(request);
  assert.deepEqual([recharge.status, recharge.account_id, recharge.credited], ["pending", aliceBasic, 0]);
  const confirmed = await client.confirmRecharge(number);
  assert.deepEqual([confirmed.status, confirmed.credited], ["succeeded", 10000]);
  // Confirming again is idempotent: the member is credited once.
  assert.equal((await client.confirmRecharge(number)).credited, 10000);
  const read = await client.getRecharge(number);
  assert.deepEqual([read.order_number, read.status], [number, "succeeded"]);
  assert.equal((await client.getMember(alice)).status, "normal");

  const paid = await client.pay({ order_number: `${run}-P1`, member_id: alice, amount: 2500, receiver_account_id: shopBasic });
  assert.deepEqual([paid.status, paid.paid, paid.remainder], ["paid", 2500, 0]);
  assert.deepEqual(paid.deductions, [{ account_id: aliceBasic, amount: 2500 }]);

  const refund = await client.refundPayment(`${run}-P1`, { refund_number: `${run}-P1-R1`, amount: 1000 });
  assert.deepEqual([refund.status, refund.amount], ["succeeded", 1000]);
  assert.deepEqual(refund.returns, [{ account_id: aliceBasic, amount: 1000 }]);
  assert.equal((await client.getPayment(`${run}-P1`)).refunded, 1000);

  const flow: models.FlowLine[] = [];
  for await (const line of client.iterWalletFlow(alice, 2)) flow.push(line); // two pages
  assert.deepEqual(
    flow.map((f) => [f.business_type, f.direction, f.amount, f.reference, f.balance_after]),
    [
      ["refund", "in", 1000, `${run}-P1-R1`, 8500],
      ["pay", "out", 2500, `${run}-P1`, 7500],
      ["recharge", "in", 10000, number, 10000],
    ],
  );
  assert.deepEqual([flow[2].counterparty.kind, flow[2].counterparty.name], ["platform", "channel:wechat"]);
  const wallet: models.Wallet = await client.getWallet(alice);
  assert.deepEqual([wallet.balance, wallet.available, wallet.frozen], [8500, 8500, 0]);
});

test("an idempotency key applies a payment once", { skip: main.skip }, async () => {
  const client = Client.fromCredentials(main.path);
  const run = runId();
  const [alice] = await activeMember(client);
  const [, shopBasic] = await activeMember(client);
  await client.createRecharge({ order_number: `${run}-R`, member_id: alice, amount: 5000, channel: "wechat" });
  await client.confirmRecharge(`${run}-R`);

  const idempotencyKey = newIdempotencyKey();
  const body = { order_number: `${run}-P`, member_id: alice, amount: 1200, receiver_account_id: shopBasic };
  const first = await client.callFull("pay", {}, body, { idempotencyKey });
  const again = await client.callFull("pay", {}, body, { idempotencyKey });
  assert.deepEqual([first.replayed, again.replayed], [false, true]);
  assert.deepEqual(again.data, first.data);
  assert.equal((await client.getWallet(alice)).balance, 3800);

  const reused = await refusal(client.call("pay", {}, { ...body, amount: 1300 }, { idempotencyKey }), UnprocessableError);
  assert.equal(reused.code, "idempotency_key_reused");
  // Without a key of its own, each POST gets a fresh one.
  assert.equal((await client.callFull("getWallet", { id: alice })).idempotencyKey, undefined);
  const created = await client.callFull("createRecharge", {}, { order_number: `${run}-R2`, member_id: alice, amount: 100, channel: "wechat" });
  assert.match(created.idempotencyKey ?? "", /^idem-/);
});

test("refusals are typed errors with their stable codes", { skip: main.skip }, async () => {
  const client = Client.fromCredentials(main.path);
  const run = runId();
  const [alice] = await activeMember(client);
  const [, shopBasic] = await activeMember(client);
  const poor = await refusal(client.pay({ order_number: `${run}-P`, member_id: alice, amount: 1, receiver_account_id: shopBasic }), UnprocessableError);
  assert.deepEqual([poor.status, poor.code, poor.known], [422, "insufficient_funds", true]);
  assert.match(poor.requestId ?? "", /^req_/);

  const missing = await refusal(client.getPayment(`${run}-nobody`), NotFoundError);
  assert.deepEqual([missing.code, missing.known], ["order_not_found", true]);
  const invalid = await refusal(client.getWallet("mem_not-an-id"), InvalidRequestError);
  assert.equal(invalid.code, "invalid_id");

  // A key the server does not know for this client: the signature does not verify.
  const stranger = new Client(client.url, client.signer.clientId, Buffer.alloc(32, 1).toString("base64"));
  const unsigned = await refusal(stranger.getWallet(alice), AuthenticationError);
  assert.deepEqual([unsigned.status, unsigned.code], [401, "invalid_signature"]);
});

test("a rate-limited request is retried after Retry-After", { skip: limited.skip }, async () => {
  // The server allows one request a second with a burst of one.
  const strict = Client.fromCredentials(limited.path, { maxRetries: 0 });
  let limitedError: RateLimitedError | undefined;
  for (let i = 0; i < 5 && !limitedError; i++) {
    try {
      await strict.call("listPlatformAccounts");
    } catch (error) {
      if (!(error instanceof RateLimitedError)) throw error;
      limitedError = error;
    }
  }
  assert.ok(limitedError, "five requests at once were not limited");
  assert.deepEqual([limitedError.status, limitedError.code, limitedError.known], [429, "rate_limited", true]);
  assert.ok(limitedError.retryAfter !== undefined && limitedError.retryAfter >= 1 && limitedError.retryAfter <= 2);

  const patient = Client.fromCredentials(limited.path, { maxRetries: 3 });
  const started = performance.now();
  const responses = [];
  for (let i = 0; i < 3; i++) responses.push(await patient.callFull("listPlatformAccounts"));
  const elapsed = (performance.now() - started) / 1000;
  assert.ok(responses.every((r) => r.status === 200));
  assert.ok(responses.some((r) => r.attempts > 1), "no request was retried");
  assert.ok(elapsed >= 1, `retries waited ${elapsed.toFixed(2)} s, less than Retry-After`);

  // A Retry-After longer than the client may wait is thrown, not cut short.
  const hasty = Client.fromCredentials(limited.path, { maxRetries: 3, maxRetryWaitS: 0.1 });
  await assert.rejects(async () => {
    for (let i = 0; i < 5; i++) await hasty.call("listPlatformAccounts");
  }, RateLimitedError);
});
