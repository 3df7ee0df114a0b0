package sanhu.client;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * The SDK's tests, run by a plain main (the JDK alone): each test prints its name and outcome, the
 * last line is "N passed, N failed" (", N skipped" after it), and the exit status is 1 on a failure.
 *
 * The signing and webhook tests run anywhere; the others need a running `sanhu serve` (sdks/test.sh
 * starts two): SANHU_TEST_CREDENTIALS names its credential file and SANHU_TEST_LIMITED_CREDENTIALS
 * one of a server started with rate_limit_per_s = 1 and rate_limit_burst = 1. Without them those
 * tests are skipped, unless SANHU_TEST_REQUIRE_SERVER=1, when they fail.
 */
public final class TestMain {
    private static final SecureRandom RANDOM = new SecureRandom();

    interface Test {
        void run() throws Exception;
    }

    static final class Skip extends RuntimeException {
        Skip(String why) {
            super(why);
        }
    }

    public static void main(String[] args) {
        Map<String, Test> tests = new LinkedHashMap<>();
        tests.put("the example is signed as documented", TestMain::theExampleIsSignedAsDocumented);
        tests.put("the example query is built by the encoding rule", TestMain::theExampleQueryIsBuiltByTheEncodingRule);
        tests.put("a nonce is fresh and well-formed", TestMain::aNonceIsFreshAndWellFormed);
        tests.put("the example verifies as a webhook and altered ones do not", TestMain::theExampleVerifiesAsAWebhook);
        tests.put("a fresh delivery verifies", TestMain::aFreshDeliveryVerifies);
        tests.put("the HMAC example verifies and altered ones do not", TestMain::theHmacExampleVerifies);
        tests.put("JSON is read and written", TestMain::jsonIsReadAndWritten);
        tests.put("the tables are the document's", TestMain::theTablesAreTheDocuments);
        tests.put("register, recharge, pay, refund and read the flow", TestMain::registerRechargePayRefundAndReadTheFlow);
        tests.put("an idempotency key applies a payment once", TestMain::anIdempotencyKeyAppliesAPaymentOnce);
        tests.put("refusals are typed errors with their stable codes", TestMain::refusalsAreTypedErrors);
        tests.put("a rate-limited request is retried after Retry-After", TestMain::aRateLimitedRequestIsRetried);
        tests.put("the README example runs", TestMain::theReadmeExampleRuns);
        tests.put("a keyed POST is sent again after Retry-After with the same key and a fresh nonce", TestMain::aKeyedPostIsSentAgain);
        tests.put("an unkeyed POST that may have taken effect is not sent again", TestMain::anUnkeyedPostThatMayHaveTakenEffectIsNot);
        tests.put("an unkeyed POST that applied nothing is sent again", TestMain::anUnkeyedPostThatAppliedNothingIs);
        tests.put("a GET is sent at most maxRetries more times", TestMain::aGetIsSentAtMostMaxRetriesMoreTimes);
        int passed = 0, failed = 0, skipped = 0;
        for (Map.Entry<String, Test> test : tests.entrySet()) {
            long started = System.nanoTime();
            try {
                test.getValue().run();
                passed++;
                System.out.printf("ok   %s (%d ms)%n", test.getKey(), (System.nanoTime() - started) / 1_000_000);
            } catch (Skip skip) {
                skipped++;
                System.out.printf("skip %s: %s%n", test.getKey(), skip.getMessage());
            } catch (Throwable error) {
                failed++;
                System.out.printf("FAIL %s: %s%n", test.getKey(), error);
                error.printStackTrace(System.out);
            }
        }
        System.out.println(passed + " passed, " + failed + " failed" + (skipped > 0 ? ", " + skipped + " skipped" : ""));
        System.exit(failed == 0 ? 0 : 1);
    }

    // -- helpers --------------------------------------------------------------------------------

    static void check(boolean condition, String what) {
        if (!condition) throw new AssertionError(what);
    }

    static void expect(Object got, Object want, String what) {
        if (!Objects.equals(got, want)) throw new AssertionError(what + ": " + got + ", want " + want);
    }

    /** Runs the code and returns the exception of the type it throws. */
    static <T extends Throwable> T expectThrows(Class<T> type, Test code, String what) {
        try {
            code.run();
        } catch (Throwable error) {
            if (type.isInstance(error)) return type.cast(error);
            throw new AssertionError(what + ": expected " + type.getSimpleName() + ", got " + error, error);
        }
        throw new AssertionError(what + ": expected " + type.getSimpleName() + ", nothing was thrown");
    }

    /** Walks an answer by keys and indexes: get(o, "accounts", 0, "id"). */
    static Object get(Object value, Object... path) {
        for (Object step : path) {
            value = step instanceof String key ? ((Map<?, ?>) value).get(key) : ((List<?>) value).get((Integer) step);
        }
        return value;
    }

    @SuppressWarnings("unchecked")
    static Map<String, Object> example() throws Exception {
        String path = System.getenv("SANHU_SIGNATURE_EXAMPLE");
        Path file = path != null ? Path.of(path) : Path.of("..", "..", "docs", "signature-example.json");
        return (Map<String, Object>) Json.parse(Files.readString(file));
    }

    static Path credentials(String variable) {
        String path = System.getenv(variable);
        if (path == null || path.isEmpty()) {
            if ("1".equals(System.getenv("SANHU_TEST_REQUIRE_SERVER"))) {
                throw new AssertionError(variable + " is not set and SANHU_TEST_REQUIRE_SERVER=1");
            }
            throw new Skip(variable + " is not set: no sanhu serve to test against");
        }
        return Path.of(path);
    }

    static String runId() {
        byte[] bytes = new byte[4];
        RANDOM.nextBytes(bytes);
        return "java-" + HexFormat.of().formatHex(bytes);
    }

    static String newPhone() {
        return "139" + String.format("%08d", RANDOM.nextInt(100_000_000));
    }

    static Map<String, List<String>> headers(Map<String, Object> values) {
        Map<String, List<String>> headers = new LinkedHashMap<>();
        values.forEach((name, value) -> headers.put(name, List.of((String) value)));
        return headers;
    }

    // -- signing and webhooks -------------------------------------------------------------------

    static void theExampleIsSignedAsDocumented() throws Exception {
        Map<String, Object> e = example();
        byte[] body = ((String) e.get("body")).getBytes(java.nio.charset.StandardCharsets.UTF_8);
        long timestamp = (Long) e.get("timestamp");
        expect(Signing.bodySha256Hex(body), e.get("body_sha256_hex"), "body hash");
        expect(Signing.signedString((String) e.get("method"), (String) e.get("path_and_query"), body, timestamp, (String) e.get("nonce")),
                e.get("signed_string"), "signed string");
        Map<String, String> headers = new Signer((String) e.get("client_id"), (String) e.get("private_key"))
                .sign((String) e.get("method"), (String) e.get("path_and_query"), body, timestamp, (String) e.get("nonce"));
        expect(headers.get(Signing.SIGNATURE_HEADER), e.get("signature_base64"), "signature");
        expect(headers, e.get("headers"), "headers");
        expect(Signing.publicKeyBase64((String) e.get("private_key")), e.get("public_key_base64"), "public key");
    }

    static void theExampleQueryIsBuiltByTheEncodingRule() throws Exception {
        String query = ((String) example().get("path_and_query")).split("\\?", 2)[1];
        expect(RequestOptions.create().query("source", "测试 A/B").query("tag", "a+b").queryString(), query, "query");
        expect(Signing.encodeComponent("测试 A/B"), "%E6%B5%8B%E8%AF%95%20A%2FB", "encoded");
        expect(Signing.encodeComponent("AZaz09-._~"), "AZaz09-._~", "unreserved");
    }

    static void aNonceIsFreshAndWellFormed() {
        java.util.Set<String> nonces = new java.util.HashSet<>();
        for (int i = 0; i < 100; i++) {
            String nonce = Signing.newNonce();
            check(nonce.matches("[A-Za-z0-9_-]{16,64}") && nonces.add(nonce), "nonce " + nonce);
        }
    }

    static void theExampleVerifiesAsAWebhook() throws Exception {
        Map<String, Object> e = example();
        String key = (String) e.get("public_key_base64"), path = (String) e.get("path_and_query"), body = (String) e.get("body");
        Instant at = Instant.ofEpochSecond((Long) e.get("timestamp"));
        @SuppressWarnings("unchecked")
        Map<String, Object> signed = (Map<String, Object>) e.get("headers");
        Webhooks.verify(key, "POST", path, headers(signed), body.getBytes(), Webhooks.DEFAULT_TOLERANCE, at.plusSeconds(10));
        String other = Signing.publicKeyBase64(Base64.getEncoder().encodeToString(new byte[32]));
        Map<String, Object> otherNonce = new LinkedHashMap<>(signed);
        otherNonce.put(Signing.NONCE_HEADER, "another-nonce-0001");
        Map<String, Object> noSignature = new LinkedHashMap<>(signed);
        noSignature.remove(Signing.SIGNATURE_HEADER);
        Map<String, Object> shortSignature = new LinkedHashMap<>(signed);
        shortSignature.put(Signing.SIGNATURE_HEADER, "AAAA");
        record Case(String key, String path, Map<String, Object> headers, String body, Instant now, String why) {}
        List<Case> cases = List.of(
                new Case(key, path, signed, body + " ", at, "does not verify"),
                new Case(key, path + "&x=1", signed, body, at, "does not verify"),
                new Case(other, path, signed, body, at, "does not verify"),
                new Case(key, path, signed, body, at.plusSeconds(301), "outside the tolerance"),
                new Case(key, path, otherNonce, body, at, "does not verify"),
                new Case(key, path, noSignature, body, at, "missing"),
                new Case(key, path, shortSignature, body, at, "not 64 bytes"));
        for (Case c : cases) {
            WebhookSignatureException error = expectThrows(WebhookSignatureException.class,
                    () -> Webhooks.verify(c.key, "POST", c.path, headers(c.headers), c.body.getBytes(), Webhooks.DEFAULT_TOLERANCE, c.now), c.why);
            check(error.getMessage().contains(c.why), error.getMessage() + ", want " + c.why);
        }
    }

    @SuppressWarnings("unchecked")
    static void theHmacExampleVerifies() throws Exception {
        Map<String, Object> e = (Map<String, Object>) Json.parse(
                Files.readString(Path.of("..", "..", "docs", "webhook-hmac-example.json")));
        String secret = (String) e.get("secret"), path = (String) e.get("path_and_query"), body = (String) e.get("body");
        long timestamp = (Long) e.get("timestamp");
        Instant at = Instant.ofEpochSecond(timestamp);
        Map<String, Object> signed = (Map<String, Object>) e.get("headers");
        expect(Webhooks.hmacSignedString(path, body.getBytes(StandardCharsets.UTF_8), timestamp, (String) e.get("nonce")),
                e.get("signed_string"), "the signed string");
        Webhooks.verifyHmac(secret, path, headers(signed), body.getBytes(StandardCharsets.UTF_8), Webhooks.DEFAULT_TOLERANCE,
                at.plusSeconds(10));
        Map<String, Object> otherNonce = new LinkedHashMap<>(signed);
        otherNonce.put(Signing.NONCE_HEADER, "another");
        Map<String, Object> noTimestamp = new LinkedHashMap<>(signed);
        noTimestamp.remove(Signing.TIMESTAMP_HEADER);
        Map<String, Object> shortSignature = new LinkedHashMap<>(signed);
        shortSignature.put(Signing.SIGNATURE_HEADER, "AAAA");
        record Case(String secret, String path, Map<String, Object> headers, String body, Instant now, String why) {}
        List<Case> cases = List.of(
                new Case(secret, path, signed, body + " ", at, "does not verify"),
                new Case(secret, path + "&x=1", signed, body, at, "does not verify"),
                new Case(secret + "x", path, signed, body, at, "does not verify"),
                new Case(secret, path, signed, body, at.minusSeconds(301), "outside the tolerance"),
                new Case(secret, path, otherNonce, body, at, "does not verify"),
                new Case(secret, path, shortSignature, body, at, "not 32 bytes"),
                new Case(secret, path, noTimestamp, body, at, "missing"),
                new Case("", path, signed, body, at, "empty"));
        for (Case c : cases) {
            WebhookSignatureException error = expectThrows(WebhookSignatureException.class,
                    () -> Webhooks.verifyHmac(c.secret, c.path, headers(c.headers), c.body.getBytes(StandardCharsets.UTF_8),
                            Webhooks.DEFAULT_TOLERANCE, c.now), c.why);
            check(error.getMessage().contains(c.why), error.getMessage() + ", want " + c.why);
        }
    }

    static void aFreshDeliveryVerifies() {
        byte[] seed = new byte[32];
        for (int i = 0; i < 32; i++) seed[i] = (byte) i;
        String privateKey = Base64.getEncoder().encodeToString(seed);
        byte[] body = "{\"id\":\"evt_1\",\"type\":\"payment.paid\"}".getBytes();
        Map<String, List<String>> lower = new LinkedHashMap<>();
        new Signer("cli_webhooks", privateKey).signNow("POST", "/hooks/sanhu?shop=1", body)
                .forEach((name, value) -> lower.put(name.toLowerCase(), new ArrayList<>(List.of(value))));
        String publicKey = Signing.publicKeyBase64(privateKey);
        Webhooks.verify(publicKey, "/hooks/sanhu?shop=1", lower, body);
        expectThrows(WebhookSignatureException.class, () -> Webhooks.verify(publicKey, "POST", "/hooks/sanhu?shop=1", lower, body,
                Webhooks.DEFAULT_TOLERANCE, Instant.now().plusSeconds(600)), "a stale delivery");
        lower.get("x-sanhu-nonce").add("another-nonce-0001");
        WebhookSignatureException twice = expectThrows(WebhookSignatureException.class,
                () -> Webhooks.verify(publicKey, "/hooks/sanhu?shop=1", lower, body), "a repeated header");
        check(twice.getMessage().contains("more than once"), twice.getMessage());
    }

    static void jsonIsReadAndWritten() {
        Object value = Json.parse("{\"a\": [1, -2, 3.5, \"x\\\"\\u00e9\\n\", true, null], \"b\": {}, \"big\": 9007199254740993}");
        expect(get(value, "a", 0), 1L, "an integer");
        expect(get(value, "a", 2), new java.math.BigDecimal("3.5"), "a decimal");
        expect(get(value, "a", 3), "x\"é\n", "a string");
        expect(get(value, "big"), 9007199254740993L, "an integer beyond a double's");
        expect(Json.write(value), "{\"a\":[1,-2,3.5,\"x\\\"é\\n\",true,null],\"b\":{},\"big\":9007199254740993}", "written");
        expectThrows(IllegalArgumentException.class, () -> Json.parse("{\"a\":1,}"), "a trailing comma");
    }

    static void theTablesAreTheDocuments() {
        expect(Api.ERROR_CODES.get("insufficient_funds"), 422, "insufficient_funds");
        expect(Api.ERROR_CODES.get("rate_limited"), 429, "rate_limited");
        expect(Api.ERROR_CODES.get("ledger_unavailable"), 503, "ledger_unavailable");
        expect(Api.OPERATIONS.get("pay"), new Api.Operation("POST", "/v1/payments", true), "pay");
        expect(Api.OPERATIONS.get("getWalletFlow"), new Api.Operation("GET", "/v1/members/{id}/wallet/flow", false), "getWalletFlow");
        // A secret-bearing endpoint takes no Idempotency-Key, and the client refuses to send one.
        Client client = Client.builder().url("http://127.0.0.1:9").clientId("cli_x")
                .privateKey(Base64.getEncoder().encodeToString(new byte[32])).build();
        IllegalArgumentException refused = expectThrows(IllegalArgumentException.class, () -> client.call("setMemberPayPassword",
                Map.of("id", "mem_x"), Map.of("pay_password", "135790"), RequestOptions.create().idempotencyKey("k")), "a key");
        check(refused.getMessage().contains("takes no Idempotency-Key"), refused.getMessage());
        expect(Client.retryAfter("2"), java.util.OptionalDouble.of(2), "Retry-After in seconds");
    }

    // -- against a real sanhu serve -------------------------------------------------------------

    /** Registers and activates a member: its id and its basic account's. */
    static String[] activeMember(Client client) {
        Models.RegisteredMember registered = client.registerMember(Models.RegisterMemberRequest.builder().phone(newPhone()).build());
        expect(registered.member().status(), "inactive", "registered");
        String member = registered.member().id();
        Models.ActivatedMember activated = client.activateMember(member);
        expect(activated.member().status(), "normal", "activated");
        expect(activated.accounts().size(), 1, "its accounts");
        expect(activated.accounts().get(0).accountType(), "basic", "its account");
        return new String[] {member, activated.accounts().get(0).id()};
    }

    static void registerRechargePayRefundAndReadTheFlow() {
        Client client = Client.fromCredentials(credentials("SANHU_TEST_CREDENTIALS"));
        String run = runId();
        String[] alice = activeMember(client);
        String[] shop = activeMember(client);

        // An order number with characters a path must percent-encode: the path is signed as sent.
        String number = run + "/R+1:%";
        Models.Recharge recharge = client.createRecharge(Models.CreateRechargeRequest.builder()
                .orderNumber(number).memberId(alice[0]).amount(10000).channel("wechat").build());
        expect(List.of(recharge.status(), recharge.accountId(), recharge.credited()), List.of("pending", alice[1], 0L), "recharge");
        Models.Recharge confirmed = client.confirmRecharge(number);
        expect(List.of(confirmed.status(), confirmed.credited()), List.of("succeeded", 10000L), "confirmed");
        // Confirming again is idempotent: the member is credited once.
        expect(client.confirmRecharge(number).credited(), 10000L, "confirmed again");
        Models.Recharge read = client.getRecharge(number);
        expect(List.of(read.orderNumber(), read.status()), List.of(number, "succeeded"), "read");
        expect(client.getMember(alice[0]).status(), "normal", "member status");

        Models.Payment paid = client.pay(Models.PayRequest.builder()
                .orderNumber(run + "-P1").memberId(alice[0]).amount(2500).receiverAccountId(shop[1]).build());
        expect(List.of(paid.status(), paid.paid(), paid.remainder()), List.of("paid", 2500L, 0L), "paid");
        expect(paid.deductions(), List.of(new Models.Part(alice[1], 2500)), "deductions");

        Models.Refund refund = client.refundPayment(run + "-P1", new Models.RefundRequest(1000, run + "-P1-R1"));
        expect(List.of(refund.status(), refund.amount()), List.of("succeeded", 1000L), "refund");
        expect(refund.returns().size(), 1, "returns");
        expect(List.of(refund.returns().get(0).accountId(), refund.returns().get(0).amount()), List.of(alice[1], 1000L), "returns");
        expect(client.getPayment(run + "-P1").refunded(), 1000L, "refunded");

        List<List<Object>> flow = new ArrayList<>();
        List<Object> counterparties = new ArrayList<>();
        client.forEachWalletFlow(alice[0], 2, line -> { // two pages
            flow.add(List.of(line.businessType(), line.direction(), line.amount(), line.reference(), line.balanceAfter()));
            counterparties.add(java.util.Arrays.asList(line.counterparty().kind(), line.counterparty().name()));
        });
        expect(flow, List.of(
                List.of("refund", "in", 1000L, run + "-P1-R1", 8500L),
                List.of("pay", "out", 2500L, run + "-P1", 7500L),
                List.of("recharge", "in", 10000L, number, 10000L)), "flow");
        expect(counterparties.get(2), List.of("platform", "channel:wechat"), "the recharge's counterparty");
        Models.Wallet wallet = client.getWallet(alice[0]);
        expect(List.of(wallet.balance(), wallet.available(), wallet.frozen()), List.of(8500L, 8500L, 0L), "wallet");

        // A model writes back the JSON it was read from; a request sends only what is set.
        Object raw = client.call("getWallet", Map.of("id", alice[0]), null, null).data();
        expect(Json.parse(Json.write(Models.Wallet.fromJson(raw))), raw, "the wallet written back");
        expect(Json.write(Models.RegisterMemberRequest.builder().phone("13800000001").build()), "{\"phone\":\"13800000001\"}", "a request");
        expectThrows(SanhuException.class, () -> Models.Part.fromJson(Map.of("account_id", "a")), "a model without a required amount");
    }

    static void anIdempotencyKeyAppliesAPaymentOnce() {
        Client client = Client.fromCredentials(credentials("SANHU_TEST_CREDENTIALS"));
        String run = runId();
        String[] alice = activeMember(client);
        String[] shop = activeMember(client);
        client.createRecharge(Models.CreateRechargeRequest.builder().orderNumber(run + "-R").memberId(alice[0]).amount(5000).channel("wechat").build());
        client.confirmRecharge(run + "-R");

        String key = Client.newIdempotencyKey();
        Map<String, Object> body = Map.of("order_number", run + "-P", "member_id", alice[0], "amount", 1200, "receiver_account_id", shop[1]);
        Response first = client.call("pay", null, body, RequestOptions.create().idempotencyKey(key));
        Response again = client.call("pay", null, body, RequestOptions.create().idempotencyKey(key));
        expect(List.of(first.replayed(), again.replayed()), List.of(false, true), "replayed");
        expect(again.data(), first.data(), "the same answer");
        expect(client.getWallet(alice[0]).balance(), 3800L, "balance");

        Map<String, Object> altered = new LinkedHashMap<>(body);
        altered.put("amount", 1300);
        ApiException.Unprocessable reused = expectThrows(ApiException.Unprocessable.class,
                () -> client.call("pay", null, altered, RequestOptions.create().idempotencyKey(key)), "the same key for another payment");
        expect(reused.code(), "idempotency_key_reused", "code");
        // Without a key of its own, each POST gets a fresh one.
        expect(client.call("getWallet", Map.of("id", alice[0]), null, null).idempotencyKey(), null, "a GET's key");
        Response created = client.call("createRecharge", null, Map.of("order_number", run + "-R2", "member_id", alice[0], "amount", 100, "channel", "wechat"), null);
        check(created.idempotencyKey() != null && created.idempotencyKey().startsWith("idem-"), "a POST's key: " + created.idempotencyKey());
    }

    static void refusalsAreTypedErrors() {
        Client client = Client.fromCredentials(credentials("SANHU_TEST_CREDENTIALS"));
        String run = runId();
        String[] alice = activeMember(client);
        String[] shop = activeMember(client);
        ApiException.Unprocessable poor = expectThrows(ApiException.Unprocessable.class,
                () -> client.pay(Models.PayRequest.builder().orderNumber(run + "-P").memberId(alice[0]).amount(1).receiverAccountId(shop[1]).build()), "paying with nothing");
        expect(List.of(poor.status(), poor.code(), poor.known()), List.of(422, "insufficient_funds", true), "insufficient funds");
        check(poor.requestId() != null && poor.requestId().startsWith("req_"), "request id " + poor.requestId());

        ApiException.NotFound missing = expectThrows(ApiException.NotFound.class, () -> client.getPayment(run + "-nobody"), "an unknown order");
        expect(List.of(missing.code(), missing.known()), List.of("order_not_found", true), "not found");
        ApiException.InvalidRequest invalid = expectThrows(ApiException.InvalidRequest.class, () -> client.getWallet("mem_not-an-id"), "a malformed id");
        expect(invalid.code(), "invalid_id", "invalid id");

        // A key the server does not know for this client: the signature does not verify.
        Client stranger = Client.builder().url(client.url()).clientId(client.signer().clientId())
                .privateKey(Base64.getEncoder().encodeToString(new byte[32])).build();
        ApiException.Authentication unsigned = expectThrows(ApiException.Authentication.class, () -> stranger.getWallet(alice[0]), "another key");
        expect(List.of(unsigned.status(), unsigned.code()), List.of(401, "invalid_signature"), "invalid signature");
    }

    static void aRateLimitedRequestIsRetried() {
        // The server allows one request a second with a burst of one.
        Path credentials = credentials("SANHU_TEST_LIMITED_CREDENTIALS");
        Client strict = Client.builder().credentials(credentials).maxRetries(0).build();
        ApiException.RateLimited limited = null;
        for (int i = 0; i < 5 && limited == null; i++) {
            try {
                strict.call("listPlatformAccounts", null, null, null);
            } catch (ApiException.RateLimited error) {
                limited = error;
            }
        }
        check(limited != null, "five requests at once were not limited");
        expect(List.of(limited.status(), limited.code(), limited.known()), List.of(429, "rate_limited", true), "limited");
        double retryAfter = limited.retryAfter().orElse(-1);
        check(retryAfter >= 1 && retryAfter <= 2, "Retry-After " + retryAfter);

        Client patient = Client.builder().credentials(credentials).maxRetries(3).build();
        long started = System.nanoTime();
        boolean retried = false;
        for (int i = 0; i < 3; i++) {
            Response response = patient.call("listPlatformAccounts", null, null, null);
            expect(response.status(), 200, "status");
            retried |= response.attempts() > 1;
        }
        double elapsed = (System.nanoTime() - started) / 1e9;
        check(retried, "no request was retried");
        check(elapsed >= 1, "retries waited " + elapsed + " s, less than Retry-After");

        // A Retry-After longer than the client may wait is thrown, not cut short.
        Client hasty = Client.builder().credentials(credentials).maxRetries(3).maxRetryWait(Duration.ofMillis(100)).build();
        expectThrows(ApiException.RateLimited.class, () -> {
            for (int i = 0; i < 5; i++) hasty.call("listPlatformAccounts", null, null, null);
        }, "a hasty client");
    }

    /**
     * The README's example, compiled and run as written against the real server (with a fresh phone
     * number) in a JVM of its own started in the server's directory, where `sanhu serve` wrote
     * sanhu-credentials.json.
     */
    static void theReadmeExampleRuns() throws Exception {
        Path credentials = credentials("SANHU_TEST_CREDENTIALS");
        java.util.regex.Matcher block = java.util.regex.Pattern.compile("(?s)```java\n(.*?)```").matcher(Files.readString(Path.of("README.md")));
        check(block.find(), "the README has a java block");
        String example = block.group(1);
        expect(example.strip().split("\n").length, 5, "the example's lines");
        Path dir = Files.createTempDirectory("sanhu-readme");
        try {
            Path source = dir.resolve("Example.java");
            Files.writeString(source, "import java.nio.file.Path;\nimport java.util.Map;\nimport sanhu.client.*;\n\n"
                    + "public class Example {\n    public static void main(String[] args) {\n"
                    + example.replace("13800000001", newPhone()) + "    }\n}\n");
            String classes = Path.of("build", "classes").toAbsolutePath().toString();
            int compiled = javax.tools.ToolProvider.getSystemJavaCompiler()
                    .run(null, null, null, "-cp", classes, "-d", dir.toString(), source.toString());
            expect(compiled, 0, "javac of the README example");
            Process run = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                    "-cp", dir + java.io.File.pathSeparator + classes, "Example")
                    .directory(credentials.toAbsolutePath().getParent().toFile()).redirectErrorStream(true).start();
            String printed = new String(run.getInputStream().readAllBytes());
            expect(run.waitFor(), 0, "the README example's exit status (" + printed + ")");
            expect(printed, "0\n", "what the README example printed");
        } finally {
            try (var files = Files.walk(dir)) {
                files.sorted(java.util.Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
            }
        }
    }

    // -- retries of 503, against a stand-in server ----------------------------------------------
    // A real sanhu answers 503 only when its database or ledger fails: which answers are sent again,
    // after the Retry-After, re-signed with a fresh nonce and the same Idempotency-Key. The 429
    // retries are tested against a real server (above).

    record Answer(int status, String code, String retryAfter) {}

    record Recorded(String path, com.sun.net.httpserver.Headers headers, String body) {}

    /** Answers each request with the next answer and records it. */
    static final class StandIn implements AutoCloseable {
        final List<Recorded> requests = java.util.Collections.synchronizedList(new ArrayList<>());
        final com.sun.net.httpserver.HttpServer server;
        final Client client;

        StandIn(Answer... answers) throws java.io.IOException {
            java.util.Deque<Answer> queue = new java.util.ArrayDeque<>(List.of(answers));
            server = com.sun.net.httpserver.HttpServer.create(new java.net.InetSocketAddress("127.0.0.1", 0), 0);
            server.createContext("/", exchange -> {
                String body = new String(exchange.getRequestBody().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
                requests.add(new Recorded(exchange.getRequestURI().getRawPath(), exchange.getRequestHeaders(), body));
                Answer next;
                synchronized (queue) {
                    next = queue.isEmpty() ? new Answer(500, "stand_in_exhausted", null) : queue.removeFirst();
                }
                byte[] out = (next.status == 200 ? "{\"ok\":true}"
                        : "{\"error\":{\"code\":\"" + next.code + "\",\"message\":\"stand-in\",\"request_id\":\"req_x\"}}").getBytes();
                exchange.getResponseHeaders().add("Content-Type", "application/json");
                if (next.retryAfter != null) exchange.getResponseHeaders().add("Retry-After", next.retryAfter);
                exchange.sendResponseHeaders(next.status, out.length);
                exchange.getResponseBody().write(out);
                exchange.close();
            });
            server.start();
            byte[] seed = new byte[32];
            for (int i = 0; i < 32; i++) seed[i] = (byte) i;
            client = Client.builder().url("http://127.0.0.1:" + server.getAddress().getPort()).clientId("cli_test")
                    .privateKey(Base64.getEncoder().encodeToString(seed)).build();
        }

        @Override
        public void close() {
            server.stop(0);
        }
    }

    static void aKeyedPostIsSentAgain() throws Exception {
        try (StandIn s = new StandIn(new Answer(503, "audit_unavailable", "1"), new Answer(200, null, null))) {
            long started = System.nanoTime();
            Response response = s.client.call("pay", null, Map.of("order_number", "P-1"), null);
            check(System.nanoTime() - started >= 1_000_000_000L, "retried before Retry-After");
            expect(List.of(response.status(), response.attempts()), List.of(200, 2), "answer");
            Recorded first = s.requests.get(0), second = s.requests.get(1);
            expect(List.of(first.path(), second.path(), first.body(), second.body()),
                    List.of("/v1/payments", "/v1/payments", "{\"order_number\":\"P-1\"}", "{\"order_number\":\"P-1\"}"), "paths and bodies");
            expect(List.of(first.headers().getFirst("Idempotency-Key"), second.headers().getFirst("Idempotency-Key")),
                    List.of(response.idempotencyKey(), response.idempotencyKey()), "keys");
            check(!first.headers().getFirst(Signing.NONCE_HEADER).equals(second.headers().getFirst(Signing.NONCE_HEADER)), "a fresh nonce");
            check(!first.headers().getFirst(Signing.SIGNATURE_HEADER).equals(second.headers().getFirst(Signing.SIGNATURE_HEADER)), "a fresh signature");
        }
    }

    static void anUnkeyedPostThatMayHaveTakenEffectIsNot() throws Exception {
        try (StandIn s = new StandIn(new Answer(503, "audit_unavailable", "0"), new Answer(200, null, null))) {
            ApiException.Unavailable refused = expectThrows(ApiException.Unavailable.class,
                    () -> s.client.request("POST", "/v1/members/mem_x/pay-password", Map.of("pay_password", "135790"), null), "a 503");
            expect(List.of(refused.code(), refused.retryAfter(), s.requests.size()),
                    List.of("audit_unavailable", java.util.OptionalDouble.of(0), 1), "not sent again");
        }
    }

    static void anUnkeyedPostThatAppliedNothingIs() throws Exception {
        try (StandIn s = new StandIn(new Answer(503, "ledger_unavailable", "0"), new Answer(200, null, null))) {
            expect(s.client.request("POST", "/v1/members/mem_x/pay-password", Map.of("pay_password", "135790"), null).attempts(), 2, "attempts");
        }
    }

    static void aGetIsSentAtMostMaxRetriesMoreTimes() throws Exception {
        try (StandIn s = new StandIn(new Answer(503, "not_ready", "0"), new Answer(503, "not_ready", "0"), new Answer(503, "not_ready", "0"))) {
            expectThrows(ApiException.Unavailable.class, () -> s.client.getWallet("mem_x"), "a 503");
            expect(s.requests.size(), 3, "requests");
        }
    }
}
