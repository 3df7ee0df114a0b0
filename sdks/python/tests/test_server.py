"""Against a real `sanhu serve`: the wallet walk (register, recharge, pay, refund, read the flow),
idempotency keys, typed errors and retries honouring Retry-After."""

import base64
import time

import pytest

import sanhu
from sanhu import models


def active_member(client, phone):
    registered = client.register_member(phone=phone)
    assert isinstance(registered, models.RegisteredMember)
    assert registered.member.status == "inactive"
    activated = client.activate_member(registered.member.id)
    assert activated.member.status == "normal"
    (basic,) = [a for a in activated.accounts if a.account_type == "basic"]
    return registered.member.id, basic.id


def test_register_recharge_pay_refund_and_read_the_flow(client, run_id, new_phone):
    alice, alice_basic = active_member(client, new_phone())
    _, shop_basic = active_member(client, new_phone())

    # An order number with characters a path must percent-encode: the path is signed as sent.
    number = f"{run_id}/R+1:%"
    recharge = client.create_recharge(
        models.CreateRechargeRequest(order_number=number, member_id=alice, amount=10000, channel="wechat")
    )
    assert isinstance(recharge, models.Recharge)
    assert (recharge.status, recharge.account_id, recharge.credited) == ("pending", alice_basic, 0)
    confirmed = client.confirm_recharge(number)
    assert (confirmed.status, confirmed.credited) == ("succeeded", 10000)
    # Confirming again is idempotent: the member is credited once.
    assert client.confirm_recharge(number).credited == 10000
    read = client.get_recharge(number)
    assert (read.order_number, read.status) == (number, "succeeded")
    assert client.get_member(alice).status == "normal"

    paid = client.pay(order_number=f"{run_id}-P1", member_id=alice, amount=2500, receiver_account_id=shop_basic)
    assert isinstance(paid, models.Payment)
    assert (paid.status, paid.paid, paid.remainder) == ("paid", 2500, 0)
    assert paid.deductions == [models.Part(account_id=alice_basic, amount=2500)]

    refund = client.refund_payment(f"{run_id}-P1", models.RefundRequest(refund_number=f"{run_id}-P1-R1", amount=1000))
    assert isinstance(refund, models.Refund)
    assert (refund.status, refund.amount) == ("succeeded", 1000)
    assert [(r.account_id, r.amount) for r in refund.returns] == [(alice_basic, 1000)]
    assert client.get_payment(f"{run_id}-P1").refunded == 1000

    flow = list(client.iter_wallet_flow(alice, page_size=2))  # two pages
    assert all(isinstance(f, models.FlowLine) for f in flow)
    assert [(f.business_type, f.direction, f.amount, f.reference, f.balance_after) for f in flow] == [
        ("refund", "in", 1000, f"{run_id}-P1-R1", 8500),
        ("pay", "out", 2500, f"{run_id}-P1", 7500),
        ("recharge", "in", 10000, number, 10000),
    ]
    assert (flow[2].counterparty.kind, flow[2].counterparty.name) == ("platform", "channel:wechat")
    wallet = client.get_wallet(alice)
    assert isinstance(wallet, models.Wallet)
    assert (wallet.balance, wallet.available, wallet.frozen) == (8500, 8500, 0)


def test_the_models_read_and_write_the_json_of_the_api(client, run_id, new_phone):
    """A model read from an answer writes the same JSON back; a request model writes only what is set."""
    alice, _ = active_member(client, new_phone())
    raw = client.call("getWallet", {"id": alice})
    assert models.Wallet.from_dict(raw).to_dict() == raw
    raw = client.call("getMember", {"id": alice})
    assert models.Member.from_dict(raw).to_dict() == raw
    assert models.RegisterMemberRequest(phone="13800000001").to_dict() == {"phone": "13800000001"}
    request = models.PayRequest(order_number="o", member_id=alice, amount=1, receiver_account_id="acc")
    assert request.to_dict()["amount"] == 1 and "splits" not in request.to_dict()
    # Unknown fields of a newer server are ignored.
    assert models.Part.from_dict({"account_id": "a", "amount": 1, "new": True}) == models.Part("a", 1)
    # A request model or keyword fields, not both.
    with pytest.raises(ValueError):
        client.register_member(models.RegisterMemberRequest(phone=new_phone()), phone=new_phone())


def test_an_idempotency_key_applies_a_payment_once(client, run_id, new_phone):
    alice, _ = active_member(client, new_phone())
    _, shop_basic = active_member(client, new_phone())
    client.create_recharge(order_number=f"{run_id}-R", member_id=alice, amount=5000, channel="wechat")
    client.confirm_recharge(f"{run_id}-R")

    key = sanhu.new_idempotency_key()
    body = {"order_number": f"{run_id}-P", "member_id": alice, "amount": 1200, "receiver_account_id": shop_basic}
    first = client.call("pay", body=body, idempotency_key=key, full_response=True)
    again = client.call("pay", body=body, idempotency_key=key, full_response=True)
    assert (first.replayed, again.replayed) == (False, True)
    assert again.data == first.data
    assert client.get_wallet(alice).balance == 3800

    with pytest.raises(sanhu.UnprocessableError) as refused:
        client.call("pay", body={**body, "amount": 1300}, idempotency_key=key)
    assert refused.value.code == "idempotency_key_reused"
    # Without a key of its own, each POST gets a fresh one.
    response = client.call("getWallet", {"id": alice}, full_response=True)
    assert response.idempotency_key is None
    response = client.call("createRecharge", body={"order_number": f"{run_id}-R2", "member_id": alice,
                                                   "amount": 100, "channel": "wechat"}, full_response=True)
    assert response.idempotency_key.startswith("idem-")


def test_refusals_are_typed_errors_with_their_stable_codes(client, run_id, new_phone):
    alice, _ = active_member(client, new_phone())
    _, shop_basic = active_member(client, new_phone())
    with pytest.raises(sanhu.UnprocessableError) as refused:
        client.pay(order_number=f"{run_id}-P", member_id=alice, amount=1, receiver_account_id=shop_basic)
    error = refused.value
    assert (error.status, error.code, error.known) == (422, "insufficient_funds", True)
    assert error.request_id.startswith("req_")

    with pytest.raises(sanhu.NotFoundError) as missing:
        client.get_payment(f"{run_id}-nobody")
    assert (missing.value.code, missing.value.known) == ("order_not_found", True)
    with pytest.raises(sanhu.InvalidRequestError) as invalid:
        client.get_wallet("mem_not-an-id")
    assert invalid.value.code == "invalid_id"

    # A key the server does not know for this client: the signature does not verify.
    stranger = sanhu.Client(client.url, client.signer.client_id, base64.b64encode(b"\x01" * 32).decode())
    with pytest.raises(sanhu.AuthenticationError) as unsigned:
        stranger.get_wallet(alice)
    assert (unsigned.value.status, unsigned.value.code) == (401, "invalid_signature")


def test_a_rate_limited_request_is_retried_after_retry_after(limited_credentials):
    # The server allows one request a second with a burst of one.
    strict = sanhu.Client.from_credentials(limited_credentials, max_retries=0)
    limited = None
    for _ in range(5):
        try:
            strict.call("listPlatformAccounts")
        except sanhu.RateLimitedError as error:
            limited = error
            break
    assert limited is not None, "five requests at once were not limited"
    assert (limited.status, limited.code, limited.known) == (429, "rate_limited", True)
    assert limited.retry_after is not None and 1 <= limited.retry_after <= 2

    patient = sanhu.Client.from_credentials(limited_credentials, max_retries=3)
    started = time.monotonic()
    responses = [patient.call("listPlatformAccounts", full_response=True) for _ in range(3)]
    elapsed = time.monotonic() - started
    assert all(r.status == 200 for r in responses)
    assert any(r.attempts > 1 for r in responses), "no request was retried"
    assert elapsed >= 1.0, f"retries waited {elapsed:.2f} s, less than Retry-After"

    # A Retry-After longer than the client may wait is raised, not cut short.
    hasty = sanhu.Client.from_credentials(limited_credentials, max_retries=3, max_retry_wait=0.1)
    with pytest.raises(sanhu.RateLimitedError):
        for _ in range(5):
            hasty.call("listPlatformAccounts")
