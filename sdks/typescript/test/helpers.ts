// The suite's setup. The signing and webhook tests run anywhere; the others need a running
// `sanhu serve` (sdks/test.sh starts two): SANHU_TEST_CREDENTIALS names its credential file and
// SANHU_TEST_LIMITED_CREDENTIALS one of a server started with rate_limit_per_s = 1 and
// rate_limit_burst = 1. Without them those tests are skipped, unless SANHU_TEST_REQUIRE_SERVER=1,
// when they fail.

import { randomBytes, randomInt } from "node:crypto";
import { readFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";

// dist/test/helpers.js -> the repository's root.
const REPO = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..", "..");

export interface Example {
  private_key: string;
  public_key_base64: string;
  client_id: string;
  method: string;
  path_and_query: string;
  timestamp: number;
  nonce: string;
  body: string;
  body_sha256_hex: string;
  signed_string: string;
  signature_base64: string;
  headers: Record<string, string>;
}

export function example(): Example {
  const path = process.env.SANHU_SIGNATURE_EXAMPLE ?? resolve(REPO, "docs", "signature-example.json");
  return JSON.parse(readFileSync(path, "utf8")) as Example;
}

export interface HmacExample {
  secret: string;
  path_and_query: string;
  timestamp: number;
  nonce: string;
  body: string;
  signed_string: string;
  signature_base64: string;
  headers: Record<string, string>;
}

/** docs/webhook-hmac-example.json: a delivery signed with HMAC-SHA256. */
export function hmacExample(): HmacExample {
  return JSON.parse(readFileSync(resolve(REPO, "docs", "webhook-hmac-example.json"), "utf8")) as HmacExample;
}

/** The credential file named by `variable`, or a reason to skip (a failure when the server is required). */
export function credentials(variable: string): { path?: string; skip?: string } {
  const path = process.env[variable];
  if (path) return { path };
  if (process.env.SANHU_TEST_REQUIRE_SERVER === "1") {
    throw new Error(`${variable} is not set and SANHU_TEST_REQUIRE_SERVER=1`);
  }
  return { skip: `${variable} is not set: no sanhu serve to test against` };
}

export function runId(): string {
  return "ts-" + randomBytes(4).toString("hex");
}

export function newPhone(): string {
  return "139" + String(randomInt(0, 100_000_000)).padStart(8, "0");
}
