// The operations console as a person uses it, in Debian's Chromium driven by playwright-core, against
// the real `sanhu serve` that run.sh starts: sign in, find a member, open a balance's flow, switch to
// English; review a withdrawal, freeze and unfreeze an account with a second staff member's approval
// (nobody approves their own), a form with a wrong CSRF token refused, an expired session sent to sign
// in, a role without finance's scope kept out of finance's pages, a merchant's onboarding review, the
// orders and the card batches, coupons issued to a member, a webhook delivery resent and its endpoint
// disabled and enabled; screenshots at 1280x800 and at a phone's width into docs/console/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { execFileSync } from "node:child_process";
import { chromium } from "playwright-core";

const url = process.env.SANHU_CONSOLE_URL;
const username = process.env.SANHU_CONSOLE_USER;
const password = process.env.SANHU_CONSOLE_PASSWORD;
const phone = process.env.SANHU_CONSOLE_PHONE;
const member = process.env.SANHU_CONSOLE_MEMBER;
const account = process.env.SANHU_CONSOLE_ACCOUNT;
const merchant = process.env.SANHU_CONSOLE_MERCHANT;
const batch = process.env.SANHU_CONSOLE_BATCH;
const database = process.env.SANHU_CONSOLE_DB;
const partner1 = process.env.SANHU_CONSOLE_PARTNER1;
const partner2 = process.env.SANHU_CONSOLE_PARTNER2;
const agent = process.env.SANHU_CONSOLE_AGENT;
const certificate = process.env.SANHU_CONSOLE_CERTIFICATE;
const signing = process.env.SANHU_CONSOLE_SIGNING;
const coupon = process.env.SANHU_CONSOLE_COUPON;
const hook = process.env.SANHU_CONSOLE_HOOK;
const card = process.env.SANHU_CONSOLE_CARD;
const store = process.env.SANHU_CONSOLE_STORE;
const shots = process.env.SANHU_CONSOLE_SCREENSHOTS;
const executablePath = process.env.SANHU_CHROMIUM || "/usr/bin/chromium";
assert.ok(url && username && password && phone && member, "run.sh sets the server, the staff member and the member");

let browser;
let storageState;

before(async () => {
  browser = await chromium.launch({ executablePath, args: ["--no-sandbox", "--disable-gpu"] });
  if (shots) mkdirSync(shots, { recursive: true });
});

after(async () => {
  await browser?.close();
});

async function shot(page, name) {
  if (shots) await page.screenshot({ path: `${shots}/${name}.png`, fullPage: true });
}

test("a staff member signs in, finds a member and opens a balance's flow, in Chinese", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "zh-CN" });
  const page = await context.newPage();
  await page.goto(`${url}/console`);
  assert.match(page.url(), /\/console\/sign-in$/);
  assert.equal(await page.getAttribute("html", "lang"), "zh-CN");
  await shot(page, "sign-in");

  // Keyboard first: the skip link, then the fields by their labels.
  await page.keyboard.press("Tab");
  await page.getByLabel("用户名").fill(username);
  await page.getByLabel("密码").fill(password);
  await page.getByLabel("密码").press("Enter");
  await page.waitForURL(`${url}/console`);
  await page.getByRole("heading", { name: "概览" }).waitFor();
  await page.getByText("待审核提现").waitFor();
  await shot(page, "dashboard");

  await page.getByRole("navigation").getByRole("link", { name: "会员查询" }).click();
  await page.getByRole("heading", { name: "会员查询" }).waitFor();
  assert.equal(await page.locator("table").count(), 0, "nothing is listed before a criterion");
  await page.getByLabel("查询方式").selectOption("phone");
  await page.getByLabel("查询内容").fill(phone);
  await page.getByRole("button", { name: "查询" }).click();
  await page.getByRole("cell", { name: member }).waitFor();
  assert.match(page.url(), /by=phone/, "htmx keeps the search in the address");
  await shot(page, "members");

  await page.getByRole("link", { name: "查看钱包" }).first().click();
  await page.getByRole("heading", { name: /会员钱包/ }).waitFor();
  const balance = page.locator("td.money a").first();
  assert.match(await balance.innerText(), /^¥[0-9,]+\.[0-9]{2}$/);
  await balance.click();
  await page.getByRole("heading", { name: /账户流水/ }).waitFor();
  await page.locator("#flow").getByText("¥1,234.56").first().waitFor();
  await shot(page, "wallet-flow");

  // English, on asking; kept for the next pages.
  await page.getByRole("link", { name: "English" }).click();
  await page.getByRole("heading", { name: /Member's wallet/ }).waitFor();
  assert.equal(await page.getAttribute("html", "lang"), "en");
  await page.getByRole("navigation").getByRole("link", { name: "Dashboard" }).click();
  await page.getByRole("heading", { name: "Dashboard" }).waitFor();
  await shot(page, "dashboard-en");
  await page.getByRole("link", { name: "中文" }).click();
  await page.getByRole("heading", { name: "概览" }).waitFor();

  storageState = await context.storageState();
  await context.close();
});

test("on a phone's width the wallet and its flow stay readable", async () => {
  const context = await browser.newContext({ viewport: { width: 390, height: 844 }, storageState, isMobile: true });
  const page = await context.newPage();
  await page.goto(`${url}/console/members/${member}`);
  await page.getByRole("heading", { name: /会员钱包/ }).waitFor();
  // Wide tables scroll inside their box; the page itself does not scroll sideways.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than the screen`);
  await shot(page, "wallet-phone");
  await context.close();
});

test("signing out ends the session", async () => {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, storageState });
  const page = await context.newPage();
  await page.goto(`${url}/console`);
  await page.getByRole("button", { name: "退出登录" }).click();
  await page.waitForURL(/\/console\/sign-in\?out=1$/);
  await page.goto(`${url}/console/members`);
  assert.match(page.url(), /\/console\/sign-in/);
  await context.close();
});

/** A new browser context signed in as `who` (every staff member of run.sh has the same password). */
async function signIn(who) {
  const context = await browser.newContext({ viewport: { width: 1280, height: 800 }, locale: "zh-CN" });
  const page = await context.newPage();
  await page.goto(`${url}/console/sign-in`);
  await page.getByLabel("用户名").fill(who);
  await page.getByLabel("密码").fill(password);
  await page.getByRole("button", { name: "登录" }).click();
  try {
    await page.waitForURL(`${url}/console`);
  } catch (error) {
    // Say what the sign-in page answered instead (a limit, a lockout, a message).
    const shown = await page.locator("main, body").first().innerText().catch(() => "");
    throw new Error(`${who} was not signed in; the page at ${page.url()} shows: ${shown.slice(0, 500)}`, { cause: error });
  }
  return { context, page };
}

/** Approves, on the approvals page, the request waiting whose path contains `path`. */
async function approveOn(page, path) {
  await page.goto(`${url}/console/approvals`);
  const row = page.locator("tr", { hasText: path }).first();
  await row.waitFor();
  await row.getByRole("button", { name: /通过/ }).click();
}

test("the dashboard shows the day's and month's money and a chart by day", async () => {
  const { context, page } = await signIn(username);
  await page.getByRole("heading", { name: /交易概况/ }).waitFor();
  const figures = page.locator("table.figures");
  await figures.getByRole("row", { name: /充值/ }).getByText("¥2,469.12").first().waitFor();
  await figures.getByRole("row", { name: /支付/ }).getByText("¥88.00").first().waitFor();
  await figures.getByRole("row", { name: /退款/ }).getByText("¥18.00").first().waitFor();
  assert.ok((await page.locator("svg.chart rect.bar").count()) >= 3, "a bar for each flow that moved money today");
  await shot(page, "dashboard");
  await context.close();
});

test("a withdrawal is reviewed; a freeze and an unfreeze wait for a second staff member, never the maker", async () => {
  const finance = await signIn(username);
  let page = finance.page;
  await page.getByRole("navigation").getByRole("link", { name: "提现审核" }).click();
  const row = page.locator("tr", { hasText: "TX-2026-0001" });
  await row.getByText("¥800.00").waitFor();
  await row.getByRole("button", { name: /通过/ }).click();
  await page.getByRole("status").getByText("已完成").waitFor();
  await page.getByText("已审核").first().waitFor();

  for (const [action, shown] of [["冻结", "冻结"], ["解冻", "正常"]]) {
    await page.goto(`${url}/console/members/${member}`);
    const accountRow = page.locator("tr", { hasText: account });
    await accountRow.getByLabel("原因").fill("风控核查");
    await accountRow.getByRole("button", { name: action }).click();
    await page.getByText("已提交，等待另一位人员复核").waitFor();
    // The maker cannot approve their own request.
    await approveOn(page, `/v1/accounts/${account}/status`);
    await page.getByRole("heading", { name: "无权访问" }).waitFor();
    await page.getByText("approval_same_staff_member").waitFor();
    // Another staff member approves it.
    const checker = await signIn("zhao.min");
    await approveOn(checker.page, `/v1/accounts/${account}/status`);
    await checker.page.getByText("已完成").waitFor();
    await checker.context.close();
    await page.goto(`${url}/console/members/${member}`);
    await page.locator("tr", { hasText: account }).getByRole("cell", { name: shown, exact: true }).waitFor();
  }
  await finance.context.close();
});

test("a form with a wrong CSRF token is refused and changes nothing", async () => {
  const { context, page } = await signIn(username);
  await page.goto(`${url}/console/members/${member}`);
  const accountRow = page.locator("tr", { hasText: account });
  await accountRow.locator("input[name=csrf]").evaluate((input) => { input.value = "f".repeat(64); });
  await accountRow.getByLabel("原因").fill("伪造的表单");
  const [response] = await Promise.all([
    page.waitForResponse((r) => r.url().includes(`/console/accounts/${account}/status`)),
    accountRow.getByRole("button", { name: "冻结" }).click(),
  ]);
  assert.equal(response.status(), 403);
  await page.getByText("表单已失效，请刷新页面后重试。").waitFor();
  await page.goto(`${url}/console/approvals`);
  await page.getByText("没有待复核的审批。").waitFor();
  await context.close();
});

test("an expired session is sent to sign in", async () => {
  const { context, page } = await signIn("kefu");
  // The session's last request and start moved back a day: past both limits.
  execFileSync("python3", ["-c", `
import sqlite3, sys
db = sqlite3.connect(sys.argv[1])
day = 86400 * 10**9
db.execute("UPDATE staff_sessions SET last_seen_at = last_seen_at - ?, created_at = created_at - ? WHERE username = 'kefu'", (day, day))
db.commit()`, database]);
  await page.goto(`${url}/console/members`);
  await page.waitForURL(/\/console\/sign-in\?ended=1$/);
  await page.getByText("会话已失效").waitFor();
  await context.close();
});

test("a role without finance's scope neither sees nor reaches finance's pages", async () => {
  const { context, page } = await signIn("kefu");
  const menu = page.getByRole("navigation");
  await menu.getByRole("link", { name: "会员查询" }).waitFor();
  assert.equal(await menu.getByRole("link", { name: "提现审核" }).count(), 0);
  const answer = await page.goto(`${url}/console/withdrawals`);
  assert.equal(answer.status(), 403);
  await page.getByRole("heading", { name: "无权访问" }).waitFor();
  await context.close();
});

test("a merchant's onboarding review is made by one staff member and approved by another", async () => {
  const maker = await signIn("yun.ying");
  let page = maker.page;
  await page.getByRole("navigation").getByRole("link", { name: "商户管理" }).click();
  assert.equal(await page.locator("table").count(), 0, "nothing is listed before a criterion");
  await page.getByRole("link", { name: /审核队列/ }).click();
  await page.getByRole("link", { name: merchant }).click();
  await page.getByRole("heading", { name: /某某咖啡中关村店/ }).waitFor();
  assert.equal(await page.getByText("1100000000000000000001").count(), 0, "the settlement account is masked");
  await shot(page, "merchant");
  await page.getByRole("button", { name: /通过/ }).click();
  await page.getByText("已提交，等待另一位人员复核").waitFor();
  await approveOn(page, `/v1/merchants/${merchant}/review`);
  await page.getByText("approval_same_staff_member").waitFor();
  const checker = await signIn("zhao.min");
  await approveOn(checker.page, `/v1/merchants/${merchant}/review`);
  await checker.page.getByText("已完成").waitFor();
  await checker.context.close();
  await page.goto(`${url}/console/merchants?by=name&q=${encodeURIComponent("某某咖啡")}`);
  await page.locator("tr", { hasText: merchant }).getByText("正常").waitFor();
  await shot(page, "merchants");
  await maker.context.close();
});

test("orders are found by criteria only, and an order shows its ledger transfers", async () => {
  const { context, page } = await signIn(username);
  await page.getByRole("navigation").getByRole("link", { name: "订单查询" }).click();
  assert.equal(await page.locator("table").count(), 0, "nothing is listed before a criterion");
  await page.getByLabel("订单类型").selectOption("payment");
  await page.getByLabel("会员").fill(member);
  await page.getByRole("button", { name: "查询" }).click();
  await page.getByRole("link", { name: "ZF-2026-0001" }).waitFor();
  assert.match(page.url(), /member_id=/, "htmx keeps the search in the address");
  await shot(page, "orders");
  // The list's export: the same criteria, as CSV, amounts in yuan and times in the platform's zone.
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: /导出 CSV/ }).click(),
  ]);
  assert.equal(download.suggestedFilename(), "orders-payment.csv");
  const chunks = [];
  for await (const chunk of await download.createReadStream()) chunks.push(chunk);
  const csv = Buffer.concat(chunks).toString("utf8");
  assert.ok(csv.startsWith("\uFEFF"), "a byte order mark first, for spreadsheets");
  const lines = csv.trim().split("\r\n");
  assert.match(lines[0], /^"订单号",/);
  assert.equal(lines.length, 2, "the member's one payment, nothing else");
  assert.ok(lines[1].includes('"ZF-2026-0001"') && lines[1].includes('"¥88.00"'), lines[1]);
  assert.match(lines[1], /"\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}"$/);
  await page.getByRole("link", { name: "ZF-2026-0001" }).click();
  await page.getByRole("heading", { name: /支付订单/ }).waitFor();
  await page.getByText("TK-2026-0001").waitFor();
  await page.getByRole("cell", { name: "支付", exact: true }).first().waitFor();
  await shot(page, "order");
  await context.close();
});

test("a card batch is approved by marketing, then by finance", async () => {
  const marketing = await signIn("mei.lin");
  let page = marketing.page;
  await page.getByRole("navigation").getByRole("link", { name: "会员卡" }).click();
  await page.getByText("金卡").first().waitFor();
  await shot(page, "cards");
  await page.getByRole("link", { name: batch }).click();
  await page.getByRole("button", { name: /审批通过：\s*市场部/ }).click();
  await page.getByRole("status").getByText("已完成").waitFor();
  await marketing.context.close();
  const finance = await signIn(username);
  page = finance.page;
  await page.goto(`${url}/console/cards/batches/${batch}`);
  await page.getByRole("button", { name: /审批通过：\s*财务部/ }).click();
  await page.getByText("已审批").first().waitFor();
  await shot(page, "batch");

  // Redemption codes: their text shown once, with a CSV to download; the list never shows it.
  await page.getByLabel("数量").fill("5");
  const expiry = new Date(Date.now() + 30 * 86400 * 1000).toISOString().slice(0, 10);
  const expires = page.getByLabel(/有效期至/);
  assert.equal(await expires.getAttribute("type"), null, "a text field, not the browser's mm/dd/yyyy date field");
  await expires.fill(expiry);
  // The batch's cards are sold at a price: a redeemed code's sale is paid through a channel.
  await page.getByLabel(/支付渠道/).fill("alipay");
  await page.getByRole("button", { name: "生成兑换码" }).click();
  await page.getByRole("heading", { name: /已生成的兑换码/ }).waitFor();
  const texts = await page.locator(".code-text").allInnerTexts();
  assert.equal(texts.length, 5);
  for (const text of texts) assert.match(text, /^[0-9A-Z]{4}(-[0-9A-Z]{4}){3}$/);
  await shot(page, "codes-generated");
  const [download] = await Promise.all([
    page.waitForEvent("download"),
    page.getByRole("link", { name: /下载 CSV/ }).click(),
  ]);
  const chunks = [];
  for await (const chunk of await download.createReadStream()) chunks.push(chunk);
  const csv = Buffer.concat(chunks).toString("utf8");
  for (const text of texts) assert.ok(csv.includes(text), "the CSV holds every code");
  await page.getByRole("link", { name: /查看兑换码/ }).click();
  await page.getByRole("heading", { name: /兑换码/ }).waitFor();
  assert.equal(await page.getByRole("cell", { name: "未兑换" }).count(), 5);
  const listed = await page.locator("main").innerText();
  for (const text of texts) assert.ok(!listed.includes(text), "the list never shows a code's text");
  await shot(page, "codes");
  await finance.context.close();
});

test("a customer is found by certificate; its page links its members, accounts and history", async () => {
  const { context, page } = await signIn(username);
  await page.getByRole("navigation").getByRole("link", { name: "客户查询" }).click();
  await page.getByRole("heading", { name: "客户查询" }).waitFor();
  assert.equal(await page.locator("table").count(), 0, "nothing is listed before a criterion");
  await page.getByLabel("查询方式").selectOption("certificate");
  await page.getByLabel("查询内容").fill(certificate);
  await page.getByRole("button", { name: "查询" }).click();
  await page.getByRole("cell", { name: "张三" }).first().waitFor();
  await shot(page, "customers");
  await page.locator("tbody a").first().click();
  await page.getByRole("heading", { name: /^客户/ }).first().waitFor();
  await page.getByRole("cell", { name: member }).first().waitFor();
  await page.getByText("会员注册").first().waitFor();
  await page.getByText("基本户").first().waitFor();
  await shot(page, "customer");
  // A balance opens its account's flow.
  await page.locator("td.money a").first().click();
  await page.getByRole("heading", { name: /会员钱包/ }).waitFor();
  await page.getByRole("heading", { name: /账户流水/ }).waitFor();
  await context.close();
});

test("a member's bill is issued for a month and read with its items; the customer's bill sums it", async () => {
  const { context, page } = await signIn(username);
  await page.goto(`${url}/console/members/${member}`);
  await page.getByRole("link", { name: /会员账单/ }).click();
  await page.getByRole("heading", { name: /会员账单/ }).first().waitFor();
  const period = await page.getByLabel(/月份/).inputValue();
  assert.match(period, /^[0-9]{4}-[0-9]{2}$/, "last month is offered");
  await page.getByRole("button", { name: "出具账单" }).click();
  await page.getByRole("heading", { name: new RegExp(`账单 ${period}`) }).waitFor();
  await page.getByRole("heading", { name: "账单明细" }).waitFor();
  await shot(page, "bill");
  await page.goto(`${url}/console/members/${member}/bills`);
  await page.getByRole("cell", { name: period }).waitFor();
  await page.locator("tbody a").first().click();
  await page.getByRole("link", { name: /^cus_/ }).click();
  await page.getByLabel(/月份/).fill(period);
  await page.getByRole("button", { name: "查看客户账单" }).click();
  await page.getByRole("heading", { name: new RegExp(`客户账单 ${period}`) }).waitFor();
  await page.getByRole("link", { name: /^bil_/ }).first().waitFor();
  await shot(page, "customer-bill");
  await context.close();
});

test("a merchant's place in the hierarchy is shown, and a move waits for a second staff member", async () => {
  const maker = await signIn("yun.ying");
  const page = maker.page;
  await page.goto(`${url}/console/merchants/${partner1}`);
  await page.getByRole("heading", { name: "下级商户" }).waitFor();
  await page.getByRole("link", { name: agent }).click();
  await page.getByRole("heading", { name: /某某代理/ }).waitFor();
  const facts = page.locator("#hierarchy + dl");
  await facts.getByText("代理商").waitFor();
  await facts.getByRole("link", { name: new RegExp(partner1) }).waitFor();
  // The merchant's values are in words, not the API's codes.
  const text = await page.locator("main").innerText();
  for (const raw of ["enterprise", "offline_store", "t1", "merchant.opened"]) {
    assert.ok(!new RegExp(`\\b${raw.replace(".", "\\.")}\\b`).test(text), `${raw} is shown untranslated`);
  }
  await page.getByText("企业商户").first().waitFor();
  await page.getByText("线下门店").first().waitFor();
  await page.getByLabel(/新上级商户/).fill(partner2);
  await page.locator("#move-reason").fill("代理商划转");
  await page.getByRole("button", { name: "迁移" }).click();
  await page.getByText("已提交，等待另一位人员复核").waitFor();
  await approveOn(page, `/v1/merchants/${agent}/move`);
  await page.getByText("approval_same_staff_member").waitFor();
  const checker = await signIn("zhao.min");
  await approveOn(checker.page, `/v1/merchants/${agent}/move`);
  await checker.page.getByText("已完成").waitFor();
  await checker.context.close();
  await page.goto(`${url}/console/merchants/${agent}`);
  await page.locator("#hierarchy + dl").getByRole("link", { name: new RegExp(partner2) }).waitFor();
  await page.getByText("调整上级商户").first().waitFor();
  await shot(page, "merchant-hierarchy");
  await maker.context.close();
});

test("date fields are text in YYYY-MM-DD, never the browser's mm/dd/yyyy", async () => {
  const { context, page } = await signIn(username);
  for (const path of ["/console/orders", "/console/audit"]) {
    const answer = await page.goto(`${url}${path}`);
    if (answer.status() === 403) continue;
    for (const input of await page.locator("input[name$=_date]").all()) {
      assert.equal(await input.getAttribute("type"), null);
      assert.equal(await input.getAttribute("placeholder"), "YYYY-MM-DD");
    }
  }
  await context.close();
});

test("API clients with their keys' fingerprints, staff with their roles, and the configuration with its secrets hidden", async () => {
  const { context, page } = await signIn("li.wei");
  await page.getByRole("navigation").getByRole("link", { name: "接入方与密钥" }).click();
  await page.getByRole("heading", { name: "接入方（API 客户端）" }).waitFor();
  const fingerprint = page.locator("td code", { hasText: "SHA256:" }).first();
  await fingerprint.waitFor();
  await page.getByText("平台（未绑定）").first().waitFor();
  await shot(page, "api-clients");
  await page.locator("td a code").first().click();
  await page.getByRole("heading", { name: /^接入方 / }).waitFor();
  await page.getByText("钱包查询").first().waitFor();
  assert.match(await page.locator("td code.wrap").first().innerText(), /^SHA256:[0-9a-f]{64}$/);
  await shot(page, "api-client");

  await page.getByRole("navigation").getByRole("link", { name: "员工与角色" }).click();
  await page.getByLabel("角色").selectOption("operations");
  await page.getByRole("button", { name: "查询" }).click();
  await page.getByRole("link", { name: "yun.ying" }).waitFor();
  assert.equal(await page.getByRole("link", { name: "kefu" }).count(), 0, "only the role asked for");
  await page.getByRole("cell", { name: "运营" }).first().waitFor();
  await shot(page, "staff");

  await page.getByRole("navigation").getByRole("link", { name: "系统配置" }).click();
  await page.getByRole("heading", { name: "系统配置" }).waitFor();
  await page.getByText("Asia/Shanghai").waitFor();
  await page.getByText("平台时区").waitFor();
  await page.getByText("已隐藏（密钥）").first().waitFor();
  await page.getByText(/^sqlite:\/\//).waitFor();
  await shot(page, "configuration");
  await context.close();
});

test("a product's signing is approved by one staff member, held, and approved by another", async () => {
  const maker = await signIn("yun.ying");
  const page = maker.page;
  await page.getByRole("navigation").getByRole("link", { name: "产品签约" }).click();
  await page.getByRole("heading", { name: "产品目录" }).waitFor();
  await page.getByRole("cell", { name: "余额支付" }).waitFor();
  await shot(page, "products");
  await page.goto(`${url}/console/merchants/${signing}`);
  await page.locator("main").getByRole("link", { name: /^产品签约/ }).click();
  await page.getByRole("heading", { name: /产品签约: 某某渠道二/ }).waitFor();
  await page.getByText("审核中").first().waitFor();
  await page.getByLabel("审核结果").selectOption("approve");
  await page.getByRole("button", { name: "提交复核" }).click();
  await page.getByText("已提交，等待另一位人员复核").waitFor();
  await page.getByText("审核中").first().waitFor();
  await approveOn(page, `/v1/merchants/${signing}/products/balance_payment/review`);
  await page.getByText("approval_same_staff_member").waitFor();
  const checker = await signIn("zhao.min");
  await approveOn(checker.page, `/v1/merchants/${signing}/products/balance_payment/review`);
  await checker.page.getByText("已完成").waitFor();
  await checker.context.close();
  await page.goto(`${url}/console/merchants/${signing}/products`);
  await page.getByText("已签约").first().waitFor();
  await page.getByRole("cell", { name: "staff:zhao.min" }).waitFor();
  await page.getByRole("button", { name: /暂停签约/ }).waitFor();
  await shot(page, "signings");
  await page.locator("main").getByRole("link", { name: "加盟设置" }).click();
  await page.getByRole("heading", { name: /加盟设置: 某某渠道二/ }).waitFor();
  await page.getByRole("cell", { name: "平台" }).first().waitFor();
  await shot(page, "merchant-settings");
  await maker.context.close();
});

test("marketing issues a coupon to the member, shown in its coupon wallet; customer service has no coupons", async () => {
  const { context, page } = await signIn("mei.lin");
  await page.getByRole("navigation").getByRole("link", { name: "优惠券" }).click();
  await page.getByRole("heading", { name: "优惠券模板" }).waitFor();
  await page.getByRole("cell", { name: "满80减20" }).waitFor();
  await page.getByText("满 ¥80.00 减 ¥20.00").first().waitFor();
  await shot(page, "coupons");
  await page.getByRole("link", { name: coupon }).click();
  await page.getByRole("heading", { name: /券模板 满80减20/ }).waitFor();
  await page.getByLabel(/会员编号/).fill(member);
  await page.getByRole("button", { name: "向会员发券" }).click();
  await page.getByText("✓ 已发放 1 · ✗ 未发放 0").waitFor();
  await page.getByText("1 / 100").waitFor();
  await shot(page, "coupon-template");
  await context.close();

  const finance = await signIn(username);
  await finance.page.goto(`${url}/console/members/${member}#coupons`);
  await finance.page.getByRole("heading", { name: "券包" }).waitFor();
  await finance.page.getByText("○ 未使用").waitFor();
  await finance.page.getByRole("cell", { name: "staff:mei.lin" }).waitFor();
  await shot(finance.page, "member-coupons");
  await finance.context.close();

  const service = await signIn("kefu");
  assert.equal(await service.page.getByRole("navigation").getByRole("link", { name: "优惠券" }).count(), 0);
  await service.page.goto(`${url}/console/coupons`);
  await service.page.getByText("无权访问").first().waitFor();
  await service.context.close();
});

test("finance resends a webhook delivery and disables then enables the endpoint; customer service is refused", async () => {
  const { context, page } = await signIn(username);
  await page.getByRole("navigation").getByRole("link", { name: "Webhook 通知" }).click();
  await page.getByRole("heading", { name: "Webhook 通知地址" }).waitFor();
  await page.getByText("https://hooks.example.invalid/sanhu").waitFor();
  await shot(page, "webhooks");
  await page.getByRole("link", { name: hook }).click();
  await page.getByRole("heading", { name: /通知地址/ }).waitFor();
  await page.getByRole("cell", { name: "webhook.test" }).waitFor();
  await page.getByRole("button", { name: /重新投递/ }).first().click();
  await page.getByText("✓ 已重新投递").waitFor();
  await page.getByRole("button", { name: /停用/ }).click();
  await page.getByText("(后台停用)").first().waitFor();
  assert.equal(await page.getByRole("button", { name: /重新投递/ }).count(), 0, "nothing is resent while disabled");
  await page.getByRole("button", { name: /启用/ }).click();
  await page.getByText("✓ 启用").first().waitFor();
  await shot(page, "webhook");
  await context.close();

  // Customer service holds wallet:read, but webhooks are not its work: no menu, and refused.
  const service = await signIn("kefu");
  assert.equal(await service.page.getByRole("navigation").getByRole("link", { name: "Webhook 通知" }).count(), 0);
  await service.page.goto(`${url}/console/webhooks/${hook}`);
  await service.page.getByText("无权访问").first().waitFor();
  assert.equal(await service.page.getByRole("cell", { name: "webhook.test" }).count(), 0);
  await service.context.close();
});

/** Yesterday in the platform's time zone (Asia/Shanghai, UTC+8): a closed daily period. */
function platformYesterday() {
  return new Date(Date.now() + 8 * 3600 * 1000 - 86400 * 1000).toISOString().slice(0, 10);
}

test("a settlement adjustment is approved by a second staff member, carried by the statement issued, confirmed", async () => {
  const finance = await signIn(username);
  let page = finance.page;
  await page.getByRole("navigation").getByRole("link", { name: "商户结算" }).click();
  await page.getByRole("heading", { name: "商户结算单" }).waitFor();
  assert.equal(await page.locator("table").count(), 0, "nothing is listed before a merchant is given");
  await page.getByLabel("商户编号").fill(partner1);
  await page.getByRole("button", { name: "查询" }).click();
  await page.getByText("没有符合条件的记录。").waitFor();
  await page.getByLabel("金额（元，可为负）").fill("15.00");
  await page.getByLabel("原因", { exact: true }).fill("活动补贴");
  await page.getByRole("button", { name: "提交复核" }).click();
  await page.getByText("已提交，等待另一位人员复核").waitFor();
  const checker = await signIn("zhao.min");
  await approveOn(checker.page, "settlement-adjustments");
  await checker.page.getByText("已完成").first().waitFor();
  await checker.context.close();

  await page.goto(`${url}/console/settlements?merchant=${partner1}`);
  await page.getByLabel("结算期（YYYY-MM 或 YYYY-MM-DD）", { exact: true }).last().fill(platformYesterday());
  await page.getByRole("button", { name: "出具结算单" }).click();
  await page.getByRole("heading", { name: /结算单 S000001/ }).waitFor();
  await page.getByRole("cell", { name: "调整" }).waitFor();
  await page.locator("dd.money").getByText("¥15.00").first().waitFor();
  await shot(page, "settlement");
  await page.getByRole("button", { name: /代商户确认/ }).click();
  await page.getByText("已确认").first().waitFor();
  await page.getByRole("link", { name: "商户结算单" }).first().click();
  await page.getByRole("cell", { name: "S000001" }).waitFor();
  await shot(page, "settlements");
  await finance.context.close();

  // Neither customer service nor marketing sees settlements, nor reaches them.
  const service = await signIn("kefu");
  assert.equal(await service.page.getByRole("navigation").getByRole("link", { name: "商户结算" }).count(), 0);
  await service.page.goto(`${url}/console/settlements/${partner1}/S000001`);
  await service.page.getByText("无权访问").first().waitFor();
  await service.context.close();
});

test("a card is reported lost and re-issued after confirming; the two cards link each other", async () => {
  const { context, page } = await signIn(username);
  await page.goto(`${url}/console/cards`);
  await page.getByLabel("卡号").fill(card);
  await page.getByRole("button", { name: "按卡号查找" }).click();
  await page.getByRole("heading", { name: new RegExp(`会员卡 ${card}`) }).waitFor();
  await page.locator("#lost-reason").fill("会员钱包丢失");
  // The box unticked, the browser does not send the form.
  await page.getByRole("button", { name: /挂失/ }).click();
  assert.match(page.url(), new RegExp(`/console/cards/${card}$`));
  await page.locator("#lost-confirm").check();
  await page.getByRole("button", { name: /挂失/ }).click();
  await page.getByText("✓ 已完成").waitFor();
  await page.getByText("已挂失").first().waitFor();
  await page.locator("#reissue-reason").fill("补办新卡");
  await page.locator("#reissue-confirm").check();
  await page.getByRole("button", { name: "补卡" }).click();
  await page.getByText("本卡是补卡，原卡：").waitFor();
  assert.ok(!page.url().includes(card), "the new card's page");
  await shot(page, "card-reissued");
  await page.getByRole("link", { name: card }).click();
  await page.getByText("本卡已补卡，新卡：").waitFor();
  await page.getByText("已补卡（作废）").first().waitFor();
  await shot(page, "card-old");
  await context.close();
});

test("a store's own settings are set: payment methods and the pay-password-free threshold", async () => {
  const { context, page } = await signIn("yun.ying");
  await page.goto(`${url}/console/merchants/${partner1}`);
  await page.getByRole("link", { name: /门店与终端/ }).click();
  await page.getByRole("link", { name: store }).click();
  await page.getByRole("heading", { name: /门店: 朝阳店/ }).waitFor();
  await page.getByLabel("付款码").check();
  await page.getByLabel("会员卡").check();
  await page.getByLabel(/免密支付额度（元/).fill("50");
  await page.getByRole("button", { name: "保存" }).click();
  await page.getByText("✓ 已完成").waitFor();
  await page.getByRole("cell", { name: "¥50.00" }).first().waitFor();
  await page.getByLabel("设备序列号").fill("SN-0001");
  await page.getByRole("button", { name: "增加终端" }).click();
  await page.getByRole("cell", { name: "SN-0001" }).waitFor();
  await shot(page, "store");
  // On a phone's width the store's tables scroll in their box; the page does not scroll sideways.
  await page.setViewportSize({ width: 390, height: 844 });
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 1, `the page is ${overflow}px wider than the screen`);
  await shot(page, "store-phone");
  await context.close();
});
