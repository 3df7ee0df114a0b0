"""Retries of 503 against a stand-in server (a real sanhu answers 503 only when its database or
ledger fails): which answers are sent again, after the Retry-After, re-signed with a fresh nonce and
the same Idempotency-Key. The 429 retries are tested against a real server (test_server.py)."""

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

import sanhu


class StandIn:
    """Answers each request with the next of `answers` (status, code, Retry-After) and records it."""

    def __init__(self, answers):
        self.answers = list(answers)
        self.requests = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self):
                self.answer()

            def do_POST(self):
                self.answer()

            def answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                stand_in.requests.append((self.command, self.path, dict(self.headers), self.rfile.read(length)))
                status, code, retry_after = stand_in.answers.pop(0)
                body = json.dumps({"ok": True} if status == 200 else
                                  {"error": {"code": code, "message": "stand-in", "request_id": "req_x"}}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if retry_after is not None:
                    self.send_header("Retry-After", retry_after)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stand_in():
    servers = []

    def make(*answers):
        server = StandIn(answers)
        servers.append(server)
        return server, sanhu.Client(server.url, "cli_test", base64.b64encode(bytes(range(32))).decode())

    yield make
    for server in servers:
        server.close()


def test_a_keyed_post_is_sent_again_after_retry_after_with_the_same_key_and_a_fresh_nonce(stand_in):
    server, client = stand_in((503, "audit_unavailable", "1"), (200, None, None))
    started = time.monotonic()
    response = client.call("pay", body={"order_number": "P-1"}, full_response=True)
    assert time.monotonic() - started >= 1.0
    assert (response.status, response.attempts) == (200, 2)
    (_, path1, first, body1), (_, path2, second, body2) = server.requests
    assert (path1, path2, body1, body2) == ("/v1/payments", "/v1/payments", b'{"order_number":"P-1"}', b'{"order_number":"P-1"}')
    assert first["Idempotency-Key"] == second["Idempotency-Key"] == response.idempotency_key
    assert first["X-Sanhu-Nonce"] != second["X-Sanhu-Nonce"]
    assert first["X-Sanhu-Signature"] != second["X-Sanhu-Signature"]


def test_an_unkeyed_post_that_may_have_taken_effect_is_not_sent_again(stand_in):
    server, client = stand_in((503, "audit_unavailable", "0"), (200, None, None))
    with pytest.raises(sanhu.UnavailableError) as refused:
        client.request("POST", "/v1/members/mem_x/pay-password", {"pay_password": "135790"})
    assert (refused.value.code, refused.value.retry_after, len(server.requests)) == ("audit_unavailable", 0, 1)


def test_an_unkeyed_post_that_applied_nothing_is_sent_again(stand_in):
    server, client = stand_in((503, "ledger_unavailable", "0"), (200, None, None))
    assert client.request("POST", "/v1/members/mem_x/pay-password", {"pay_password": "135790"}).attempts == 2


def test_a_get_is_sent_at_most_max_retries_more_times(stand_in):
    server, client = stand_in(*[(503, "not_ready", "0")] * 3)
    with pytest.raises(sanhu.UnavailableError):
        client.get_wallet("mem_x")
    assert len(server.requests) == 3
