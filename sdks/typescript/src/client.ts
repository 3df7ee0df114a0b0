// The client: signs every request, gives POSTs an Idempotency-Key, turns error answers into typed
// errors and retries 429 and 503 as the server's Retry-After says.

import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";

import { OPERATIONS, OperationId } from "./api.js";
import type * as models from "./models.js";
import { ApiError, SanhuError, errorFor } from "./errors.js";
import { Signer, encodeComponent } from "./signing.js";

export const DEFAULT_CREDENTIALS_FILE = "sanhu-credentials.json";
/** Codes whose answer says nothing was applied: a retry is safe even without an Idempotency-Key. */
const NOTHING_APPLIED = new Set(["rate_limited", "ledger_unavailable", "not_ready"]);

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export type JsonObject = Record<string, any>;
export type Query = Record<string, string | number | boolean | null | undefined> | Array<[string, string | number | boolean]>;

/** The credential file `sanhu serve` and `sanhu client create --save` write. */
export interface Credential {
  url: string;
  client_id: string;
  /** Standard base64 of the 32-byte Ed25519 seed. */
  private_key: string;
}

export interface ClientOptions {
  /** Per attempt, in milliseconds (default 30,000). */
  timeoutMs?: number;
  /** How many times a 429, or a 503 that is safe to repeat, is sent again (default 2; 0: never). */
  maxRetries?: number;
  /** The longest Retry-After honoured, in seconds (default 30); a longer one is thrown, never cut short. */
  maxRetryWaitS?: number;
}

export interface RequestOptions {
  query?: Query;
  idempotencyKey?: string;
}

export interface Response<T = JsonObject> {
  status: number;
  headers: Record<string, string>;
  data: T;
  /** Whether the answer is the stored answer of an earlier request with the same Idempotency-Key. */
  replayed: boolean;
  requestId: string | undefined;
  /** How many times the request was sent (1 when it was not retried). */
  attempts: number;
  idempotencyKey: string | undefined;
}

export interface WriteOptions {
  idempotencyKey?: string;
}

export function newIdempotencyKey(): string {
  return "idem-" + randomBytes(16).toString("hex");
}

/** `name=value&...` in the given order, each part percent-encoded (encodeComponent). */
export function buildQuery(query: Query | undefined): string {
  if (!query) return "";
  const entries = Array.isArray(query) ? query : Object.entries(query);
  return entries
    .filter(([, value]) => value !== undefined && value !== null)
    .map(([name, value]) => `${encodeComponent(name)}=${encodeComponent(value as string | number | boolean)}`)
    .join("&");
}

function retryAfterSeconds(value: string | null): number | undefined {
  if (value === null) return undefined;
  const text = value.trim();
  if (/^\d+$/.test(text)) return Number(text);
  const when = Date.parse(text);
  return Number.isNaN(when) ? undefined : Math.max(0, (when - Date.now()) / 1000);
}

const sleep = (seconds: number) => new Promise((resolve) => setTimeout(resolve, seconds * 1000));

/** A signed client of one sanhu server. */
export class Client {
  readonly url: string;
  readonly signer: Signer;
  readonly timeoutMs: number;
  readonly maxRetries: number;
  readonly maxRetryWaitS: number;

  constructor(url: string, clientId: string, privateKey: string | Uint8Array, options: ClientOptions = {}) {
    this.url = url.replace(/\/+$/, "");
    this.signer = new Signer(clientId, privateKey);
    this.timeoutMs = options.timeoutMs ?? 30_000;
    this.maxRetries = options.maxRetries ?? 2;
    this.maxRetryWaitS = options.maxRetryWaitS ?? 30;
  }

  /** From a credential file: `{"url", "client_id", "private_key"}`. */
  static fromCredentials(path: string = DEFAULT_CREDENTIALS_FILE, options: ClientOptions & { url?: string } = {}): Client {
    const credential = JSON.parse(readFileSync(path, "utf8")) as Credential;
    return new Client(options.url ?? credential.url, credential.client_id, credential.private_key, options);
  }

  /**
   * Sends one signed request (again on 429/503 as allowed) and resolves to the answer; rejects with
   * an ApiError subclass for a non-2xx answer. `path` is sent and signed as given: build its
   * parameters with encodeComponent and pass the query as `options.query`.
   */
  async request<T = JsonObject>(method: string, path: string, body?: unknown, options: RequestOptions = {}): Promise<Response<T>> {
    const upper = method.toUpperCase();
    const query = buildQuery(options.query);
    const pathAndQuery = query ? `${path}?${query}` : path;
    const payload = body === undefined ? "" : JSON.stringify(body);
    for (let attempt = 1; ; attempt++) {
      try {
        const response = await this.#send<T>(upper, pathAndQuery, payload, options.idempotencyKey);
        return { ...response, attempts: attempt, idempotencyKey: options.idempotencyKey };
      } catch (error) {
        const wait = error instanceof ApiError ? this.#retryWait(error, upper, options.idempotencyKey, attempt) : undefined;
        if (wait === undefined) throw error;
        await sleep(wait);
      }
    }
  }

  #retryWait(error: ApiError, method: string, idempotencyKey: string | undefined, attempt: number): number | undefined {
    if (attempt > this.maxRetries) return undefined;
    if (error.status === 503) {
      const safe = method === "GET" || method === "HEAD" || idempotencyKey !== undefined || NOTHING_APPLIED.has(error.code);
      if (!safe) return undefined;
    } else if (error.status !== 429) {
      return undefined;
    }
    const wait = error.retryAfter ?? Math.min(0.25 * 2 ** (attempt - 1), 4);
    return wait <= this.maxRetryWaitS ? wait : undefined;
  }

  async #send<T>(method: string, pathAndQuery: string, payload: string, idempotencyKey: string | undefined) {
    const headers: Record<string, string> = { ...this.signer.sign(method, pathAndQuery, payload), Accept: "application/json" };
    if (payload) headers["Content-Type"] = "application/json";
    if (idempotencyKey !== undefined) headers["Idempotency-Key"] = idempotencyKey;
    let answer: globalThis.Response;
    try {
      answer = await fetch(this.url + pathAndQuery, {
        method,
        headers,
        body: payload || (method === "POST" ? "" : undefined),
        redirect: "manual",
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      throw new SanhuError(`failed to reach ${this.url}: ${(error as Error).message}`, { cause: error });
    }
    const text = await answer.text();
    let data: unknown = null;
    if (text) {
      try {
        data = JSON.parse(text);
      } catch {
        data = text;
      }
    }
    const answerHeaders: Record<string, string> = {};
    answer.headers.forEach((value, name) => (answerHeaders[name] = value));
    const requestId = answer.headers.get("x-request-id") ?? undefined;
    if (answer.status >= 200 && answer.status < 300) {
      return {
        status: answer.status,
        headers: answerHeaders,
        data: data as T,
        replayed: answer.headers.get("idempotent-replayed") === "true",
        requestId,
      };
    }
    const detail = (data as { error?: { code?: string; message?: string; request_id?: string } } | null)?.error ?? {};
    throw errorFor(
      answer.status,
      detail.code ?? `http_${answer.status}`,
      detail.message ?? text,
      detail.request_id ?? requestId,
      retryAfterSeconds(answer.headers.get("retry-after")),
    );
  }

  /**
   * Any operation of the OpenAPI document by its operationId (OPERATIONS). A POST that takes an
   * Idempotency-Key gets a fresh one unless given, so that retries apply it once.
   */
  async callFull<T = JsonObject>(
    operationId: OperationId,
    pathParams: Record<string, string> = {},
    body?: unknown,
    options: RequestOptions = {},
  ): Promise<Response<T>> {
    const operation = OPERATIONS[operationId];
    if (!operation) throw new TypeError(`no operation ${operationId} in the OpenAPI document`);
    const unused = new Set(Object.keys(pathParams));
    const path = operation.path.replace(/\{([a-z_]+)\}/g, (_, name: string) => {
      if (!(name in pathParams)) throw new TypeError(`${operationId} needs the path parameter ${name}`);
      unused.delete(name);
      return encodeComponent(pathParams[name]);
    });
    if (unused.size) throw new TypeError(`${operationId} has no path parameter ${[...unused].join(", ")}`);
    let idempotencyKey = options.idempotencyKey;
    if (idempotencyKey !== undefined && !operation.idempotent) {
      throw new TypeError(`${operationId} takes no Idempotency-Key (its request or response carries a secret)`);
    }
    if (idempotencyKey === undefined && operation.idempotent && operation.method === "POST") {
      idempotencyKey = newIdempotencyKey();
    }
    return this.request<T>(operation.method, path, body, { query: options.query, idempotencyKey });
  }

  /** As callFull, resolving to the answer's body. */
  async call<T = JsonObject>(operationId: OperationId, pathParams: Record<string, string> = {}, body?: unknown, options: RequestOptions = {}): Promise<T> {
    return (await this.callFull<T>(operationId, pathParams, body, options)).data;
  }

  // The main flows, by name, with the typed models of models.ts.

  /** POST /v1/members: e.g. {phone: "13800000001"}; resolves to {member, customer}. */
  registerMember(body: models.RegisterMemberRequest, options: WriteOptions = {}) {
    return this.call<models.RegisteredMember>("registerMember", {}, body, options);
  }

  /** POST /v1/members/{id}/activate: the member becomes normal and its basic account opens. */
  activateMember(memberId: string, body: models.ActivateMemberRequest = {}, options: WriteOptions = {}) {
    return this.call<models.ActivatedMember>("activateMember", { id: memberId }, body, options);
  }

  getMember(memberId: string) {
    return this.call<models.Member>("getMember", { id: memberId });
  }

  /** POST /v1/recharges: {order_number, member_id, amount (minor units), channel}. */
  createRecharge(body: models.CreateRechargeRequest, options: WriteOptions = {}) {
    return this.call<models.Recharge>("createRecharge", {}, body, options);
  }

  /** POST /v1/recharges/{number}/confirm: the channel says it was paid; credits the member once. */
  confirmRecharge(orderNumber: string, options: WriteOptions = {}) {
    return this.call<models.Recharge>("confirmRecharge", { number: orderNumber }, undefined, options);
  }

  getRecharge(orderNumber: string) {
    return this.call<models.Recharge>("getRecharge", { number: orderNumber });
  }

  /** POST /v1/payments: {order_number, member_id, amount, receiver_account_id | receiver_platform_account, ...}. */
  pay(body: models.PayRequest, options: WriteOptions = {}) {
    return this.call<models.Payment>("pay", {}, body, options);
  }

  getPayment(orderNumber: string) {
    return this.call<models.Payment>("getPayment", { number: orderNumber });
  }

  /** POST /v1/payments/{number}/refunds: {refund_number, amount}. */
  refundPayment(orderNumber: string, body: models.RefundRequest, options: WriteOptions = {}) {
    return this.call<models.Refund>("refundPayment", { number: orderNumber }, body, options);
  }

  getWallet(memberId: string) {
    return this.call<models.Wallet>("getWallet", { id: memberId });
  }

  /** One page of the wallet's flow, newest first: {data, next_cursor}. */
  walletFlow(memberId: string, page: { limit?: number; after?: string } = {}) {
    return this.call<models.FlowPage>("getWalletFlow", { id: memberId }, undefined, { query: { limit: page.limit, after: page.after } });
  }

  /** Every line of the wallet's flow, newest first, page after page. */
  async *iterWalletFlow(memberId: string, pageSize = 100): AsyncGenerator<models.FlowLine> {
    let after: string | undefined;
    for (;;) {
      const page = await this.walletFlow(memberId, { limit: pageSize, after });
      yield* page.data;
      after = page.next_cursor ?? undefined;
      if (!after || page.data.length === 0) return;
    }
  }
}
