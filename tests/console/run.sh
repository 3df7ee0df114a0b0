#!/usr/bin/env bash
# The operations console in a real browser: starts `sanhu serve` on SQLite in a temporary directory,
# makes staff members of several roles (`sanhu staff create`), a member with money in its wallet, a
# withdrawal waiting for review, a payment and its refund, an enterprise merchant under review, two
# channel partners and an agent under one of them, a card batch, a coupon template, a webhook
# endpoint with a test event, a card sold and activated and a store (`sanhu call`), then runs console.test.mjs (node's test runner) in Debian's Chromium through playwright-core (no
# browser download). Screenshots go to docs/console/ (SANHU_CONSOLE_SCREENSHOTS to change it; empty:
# none). For CI (.ci/run) and by hand:
#
#   bash tests/console/run.sh                     # builds the sanhu binary first
#   SANHU_BIN=path/to/sanhu bash tests/console/run.sh
#
# Installs what it lacks: the packages chromium and fonts-noto-cjk (apt-get, as root) and the npm
# packages of package-lock.json (npm ci).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
REPO="$(cd "$HERE/../.." && pwd)"
CHROMIUM="${SANHU_CHROMIUM:-/usr/bin/chromium}"
export SANHU_CONSOLE_SCREENSHOTS="${SANHU_CONSOLE_SCREENSHOTS-$REPO/docs/console}"

say() { printf '\n== console: %s\n' "$*"; }
die() { printf 'console: %s\n' "$*" >&2; exit 1; }

# fc-list is read whole before it is matched: under pipefail, `grep -q` leaving early would fail the pipe.
if [[ ! -x "$CHROMIUM" ]] || [[ "$(fc-list 2>/dev/null || true)" != *"Noto Sans CJK"* ]]; then
  say "installing chromium and the CJK fonts"
  [[ "$(id -u)" == 0 ]] || die "chromium or fonts-noto-cjk missing, and installing them needs root"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-noto-cjk >/dev/null \
    || die "apt-get install chromium fonts-noto-cjk failed"
fi
if [[ ! -d "$HERE/node_modules/playwright-core" ]]; then
  say "installing playwright-core"
  (cd "$HERE" && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund --loglevel=error) || die "npm ci failed"
fi

if [[ -z "${SANHU_BIN:-}" ]]; then
  say "building sanhu"
  (cd "$REPO" && cargo build --locked -q -p sanhu --bin sanhu) || die "cargo build failed"
  TARGET_DIR="$(cd "$REPO" && cargo metadata --format-version 1 --no-deps | python3 -c 'import json,sys; print(json.load(sys.stdin)["target_directory"])')"
  SANHU_BIN="$TARGET_DIR/debug/sanhu"
fi
[[ -x "$SANHU_BIN" ]] || die "no sanhu binary at $SANHU_BIN"

WORK="$(mktemp -d -t sanhu-console.XXXXXX)"
SERVER_PID=""
cleanup() {
  if [[ -n "$SERVER_PID" ]]; then kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
export SANHU_DATABASE_URL="sqlite://$WORK/sanhu.db"
say "starting sanhu serve on 127.0.0.1:$PORT"
cd "$WORK"
# The tests sign staff in some thirty times a minute from one address, which the default per-address
# limit (a burst of 10, then 30 a minute) would refuse on a fast machine; the limit itself is tested
# by crates/http/tests/it/staff.rs.
cat > sanhu.toml <<'TOML'
[staff]
sign_ins_per_address_per_min = 600
sign_ins_per_address_burst = 100
TOML
"$SANHU_BIN" serve --listen "127.0.0.1:$PORT" > serve.stdout 2> serve.stderr &
SERVER_PID=$!
for _ in $(seq 1 150); do
  if [[ -s sanhu-credentials.json ]] && python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$PORT/health', timeout=1)" 2>/dev/null; then
    break
  fi
  sleep 0.2
done
[[ -s sanhu-credentials.json ]] || { cat serve.stderr >&2; die "sanhu serve did not start"; }

say "staff members, a member with money, a withdrawal, a payment, a merchant, a card batch"
PASSWORD="a console test password"
for who in li.wei:finance zhao.min:super_admin kefu:customer_service yun.ying:operations mei.lin:marketing; do
  "$SANHU_BIN" staff create --username "${who%%:*}" --role "${who#*:}" --password-stdin <<< "$PASSWORD" > /dev/null
done
PHONE=13800138001
call() { "$SANHU_BIN" call "$@"; }
json() { python3 -c "import json,sys; print(json.load(sys.stdin)$1)"; }
MEMBER="$(call POST /v1/members --data "{\"phone\":\"$PHONE\"}" | json '["member"]["id"]')"
ACCOUNT="$(call POST "/v1/members/$MEMBER/activate" --data '{}' | json '["accounts"][0]["id"]')"
call POST "/v1/members/$MEMBER/authentications" --data '{"type":"id_card","channel":"police_id_check","name":"张三","certificate_type":"id_card","certificate_number":"110101199003071233","result":"verified"}' > /dev/null
for n in 1 2; do
  call POST /v1/recharges --data "{\"order_number\":\"CZ-2026-000$n\",\"member_id\":\"$MEMBER\",\"account_id\":\"$ACCOUNT\",\"amount\":123456,\"channel\":\"alipay\"}" > /dev/null
  call POST "/v1/recharges/CZ-2026-000$n/confirm" --data '{}' > /dev/null
done
# A bank card (a Luhn-valid number) and a withdrawal above the amount approved without review.
CARD_NUMBER="$(python3 -c '
b = "622202000000000001"
for c in range(10):
    n = b + str(c); s = 0
    for i, d in enumerate(reversed(n)):
        d = int(d) * (2 if i % 2 else 1); s += d - 9 if d > 9 else d
    if s % 10 == 0: print(n); break')"
CARD="$(call POST "/v1/members/$MEMBER/bank-cards" --data "{\"card_number\":\"$CARD_NUMBER\",\"holder\":\"张三\"}" | json '["id"]')"
call POST /v1/withdrawals --data "{\"order_number\":\"TX-2026-0001\",\"member_id\":\"$MEMBER\",\"amount\":80000,\"bank_card_id\":\"$CARD\"}" > /dev/null
# A payment to another member, and a part of it refunded.
SHOP="$(call POST /v1/members --data '{"phone":"13800138002"}' | json '["member"]["id"]')"
SHOP_ACCOUNT="$(call POST "/v1/members/$SHOP/activate" --data '{}' | json '["accounts"][0]["id"]')"
call POST /v1/payments --data "{\"order_number\":\"ZF-2026-0001\",\"member_id\":\"$MEMBER\",\"amount\":8800,\"receiver_account_id\":\"$SHOP_ACCOUNT\"}" > /dev/null
call POST /v1/payments/ZF-2026-0001/refunds --data '{"refund_number":"TK-2026-0001","amount":1800}' > /dev/null
# An enterprise merchant, its documents, its verified corporate account, submitted for review.
CREDIT_CODE="$(python3 -c '
chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"; w = [1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28]
stem = "91110108MA0100001"; c = (31 - sum(chars.index(x) * k for x, k in zip(stem, w)) % 31) % 31
print(stem + chars[c])')"
ID_CARD=110101199003071233
ENTERPRISE="$(call POST /v1/enterprises --data "{\"email\":\"cafe@example.com\",\"admin\":{\"phone\":\"13912340001\"},\"company\":{\"name\":\"北京某某咖啡有限公司\",\"credit_code\":\"$CREDIT_CODE\",\"legal_person\":\"张三\",\"legal_person_certificate_number\":\"$ID_CARD\",\"contact\":\"李四\",\"contact_phone\":\"13912345678\",\"industry\":\"I642\",\"licence_expiry\":\"2035-06-30\",\"address\":\"北京市海淀区某某路1号\"}}" | json '["member"]["id"]')"
call POST "/v1/members/$ENTERPRISE/activate" --data '{}' > /dev/null
MERCHANT="$(call POST /v1/merchants --data "{\"member_id\":\"$ENTERPRISE\",\"merchant_type\":\"enterprise\",\"name\":\"某某咖啡中关村店\",\"scenario\":{\"kind\":\"offline_store\",\"address\":\"北京市海淀区某某路1号\"},\"contact\":{\"name\":\"李四\",\"phone\":\"13912345678\"},\"business\":{\"registered_name\":\"北京某某咖啡有限公司\",\"credit_code\":\"$CREDIT_CODE\"}}" | json '["id"]')"
call POST "/v1/merchants/$MERCHANT/documents" --data "{\"licence_number\":\"$CREDIT_CODE\",\"legal_person\":{\"name\":\"张三\",\"certificate_number\":\"$ID_CARD\"},\"premises_photos\":[\"file:premises-1\"]}" > /dev/null
call POST "/v1/merchants/$MERCHANT/settlement-account" --data '{"kind":"corporate","account_name":"北京某某咖啡有限公司","account_number":"1100000000000000000001","bank_code":"102","branch_code":"102100000012"}' > /dev/null
call POST "/v1/merchants/$MERCHANT/settlement-account/verification" --data '{"verified":true,"account_number":"1100000000000000000001"}' > /dev/null
call POST "/v1/merchants/$MERCHANT/submit" --data '{}' > /dev/null
# The hierarchy: two channel partners, active (reviewed by two staff members), each another
# enterprise's (an active merchant opens accounts a member has one of), and an agent applying under the
# first.
enterprise() { # number: an active enterprise member, its credit code ending in that number
  local code
  code="$(python3 -c '
import sys
chars = "0123456789ABCDEFGHJKLMNPQRTUWXY"; w = [1,3,9,27,19,26,16,17,20,29,25,13,8,24,10,30,28]
stem = "91110108MA010000" + sys.argv[1]; c = (31 - sum(chars.index(x) * k for x, k in zip(stem, w)) % 31) % 31
print(stem + chars[c])' "$1")"
  member="$(call POST /v1/enterprises --data "{\"email\":\"partner$1@example.com\",\"admin\":{\"phone\":\"1391234000$1\"},\"company\":{\"name\":\"北京某某渠道有限公司$1\",\"credit_code\":\"$code\",\"legal_person\":\"张三\",\"legal_person_certificate_number\":\"$ID_CARD\",\"contact\":\"李四\",\"contact_phone\":\"13912345678\",\"industry\":\"I642\",\"licence_expiry\":\"2035-06-30\",\"address\":\"北京市朝阳区某某路2号\"}}" | json '["member"]["id"]')"
  call POST "/v1/members/$member/activate" --data '{}' > /dev/null
  echo "$member $code"
}
merchant() { # member credit-code name level [parent]: a merchant applying
  local parent=""
  [[ -n "${5:-}" ]] && parent=",\"parent_id\":\"$5\""
  call POST /v1/merchants --data "{\"member_id\":\"$1\",\"merchant_type\":\"enterprise\",\"name\":\"$3\",\"level\":\"$4\"$parent,\"scenario\":{\"kind\":\"offline_store\",\"address\":\"北京市朝阳区某某路2号\"},\"contact\":{\"name\":\"李四\",\"phone\":\"13912345678\"},\"business\":{\"registered_name\":\"北京某某渠道有限公司\",\"credit_code\":\"$2\"}}" | json '["id"]'
}
activate() { # merchant credit-code: documents, account, review by two staff members
  call POST "/v1/merchants/$1/documents" --data "{\"licence_number\":\"$2\",\"legal_person\":{\"name\":\"张三\",\"certificate_number\":\"$ID_CARD\"},\"premises_photos\":[\"file:premises-1\"]}" > /dev/null
  call POST "/v1/merchants/$1/settlement-account" --data '{"kind":"corporate","account_name":"北京某某渠道有限公司","account_number":"1100000000000000000002","bank_code":"102","branch_code":"102100000012"}' > /dev/null
  call POST "/v1/merchants/$1/settlement-account/verification" --data '{"verified":true,"account_number":"1100000000000000000002"}' > /dev/null
  call POST "/v1/merchants/$1/submit" --data '{}' > /dev/null
  approval="$(SANHU_STAFF_PASSWORD="$PASSWORD" call --staff yun.ying POST "/v1/merchants/$1/review" --data '{"decision":"approve"}' | json '["id"]')"
  SANHU_STAFF_PASSWORD="$PASSWORD" call --staff zhao.min POST "/v1/approvals/$approval/approve" --data '{}' | json '["response"]["body"]["status"]' | grep -qx active \
    || die "the merchant $1 did not become active"
}
read -r PARTNER_A CODE_A <<< "$(enterprise 2)"
read -r PARTNER_B CODE_B <<< "$(enterprise 3)"
PARTNER1="$(merchant "$PARTNER_A" "$CODE_A" "某某渠道一" channel_partner)"
activate "$PARTNER1" "$CODE_A"
PARTNER2="$(merchant "$PARTNER_B" "$CODE_B" "某某渠道二" channel_partner)"
activate "$PARTNER2" "$CODE_B"
AGENT="$(merchant "$PARTNER_A" "$CODE_A" "某某代理" agent "$PARTNER1")"
# A card type, a number segment and a batch waiting for marketing's and finance's approval.
# The second channel partner applies to sign a product: staff review it in the console.
call POST "/v1/merchants/$PARTNER2/products" --data '{"product":"balance_payment"}' > /dev/null
CARD_TYPE="$(call POST /v1/card-types --data '{"name":"金卡","grade":1,"terms":{"kind":"stored_value","face_value":500000,"sale_price":450000,"validity":{"days_from_activation":365},"rechargeable":true,"default_rate_bp":9000}}' | json '["id"]')"
SEGMENT="$(call POST /v1/card-segments --data '{"prefix":"8601","serial_digits":8,"first_serial":0,"last_serial":9999,"region":"北京分公司"}' | json '["id"]')"
BATCH="$(call POST /v1/card-batches --data "{\"type_id\":\"$CARD_TYPE\",\"segment_id\":\"$SEGMENT\",\"channel\":\"app\",\"quantity\":100}" | json '["id"]')"
# A coupon template to issue, and a webhook endpoint with a test event (its host does not resolve
# here, so its attempts fail and are logged).
COUPON="$(call POST /v1/coupon-templates --data '{"name":"满80减20","kind":"threshold","amount":2000,"threshold":8000,"validity":{"days_from_issue":30},"quantity":100,"stacking":"coupon_then_discount"}' | json '["id"]')"
HOOK="$(call POST /v1/webhooks --data '{"url":"https://hooks.example.invalid/sanhu","events":["payment.paid","payment.refunded"],"description":"门店通知"}' | json '["id"]')"
call POST "/v1/webhooks/$HOOK/test" --data '{}' > /dev/null
# A card sold and activated from a second batch (approved by marketing, then finance), to be reported
# lost and re-issued; a store of the first channel partner, whose settings staff set.
BATCH2="$(call POST /v1/card-batches --data "{\"type_id\":\"$CARD_TYPE\",\"segment_id\":\"$SEGMENT\",\"channel\":\"store\",\"quantity\":10}" | json '["id"]')"
for who in mei.lin li.wei; do
  SANHU_STAFF_PASSWORD="$PASSWORD" call --staff "$who" POST "/v1/card-batches/$BATCH2/approve" --data '{}' > /dev/null
done
CARD="$(call POST /v1/cards --data "{\"order_number\":\"SK-2026-0001\",\"batch_id\":\"$BATCH2\",\"payment_channel\":\"alipay\"}" | json '["number"]')"
call POST "/v1/cards/$CARD/activate" --data '{}' > /dev/null
STORE="$(call POST "/v1/merchants/$PARTNER1/stores" --data '{"name":"朝阳店","address":"北京市朝阳区某某路2号"}' | json '["id"]')"

say "the browser tests"
cd "$HERE"
SANHU_CONSOLE_URL="http://127.0.0.1:$PORT" SANHU_CONSOLE_USER=li.wei SANHU_CONSOLE_PASSWORD="$PASSWORD" \
  SANHU_CONSOLE_PHONE="$PHONE" SANHU_CONSOLE_MEMBER="$MEMBER" SANHU_CONSOLE_ACCOUNT="$ACCOUNT" \
  SANHU_CONSOLE_MERCHANT="$MERCHANT" SANHU_CONSOLE_BATCH="$BATCH" SANHU_CONSOLE_DB="$WORK/sanhu.db" \
  SANHU_CONSOLE_PARTNER1="$PARTNER1" SANHU_CONSOLE_PARTNER2="$PARTNER2" SANHU_CONSOLE_AGENT="$AGENT" \
  SANHU_CONSOLE_CERTIFICATE="$ID_CARD" SANHU_CONSOLE_SIGNING="$PARTNER2" \
  SANHU_CONSOLE_COUPON="$COUPON" SANHU_CONSOLE_HOOK="$HOOK" SANHU_CONSOLE_CARD="$CARD" SANHU_CONSOLE_STORE="$STORE" \
  SANHU_CHROMIUM="$CHROMIUM" timeout 300 node --test --test-concurrency=1 console.test.mjs || {
    status=$?
    # What the server said is what a failed page usually needs to be understood.
    echo "== the server's last log lines" >&2
    tail -n 60 "$WORK/serve.stderr" >&2 || true
    exit "$status"
  }
