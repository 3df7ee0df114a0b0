// The operations console as a person uses it, in Debian's Chromium driven by playwright-core, against
// the real `sanhu serve` that run.sh starts: sign in, find a member, open a balance's flow, switch to
// English; screenshots at 1280x800 and at a phone's width into docs/console/.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { mkdirSync } from "node:fs";
import { chromium } from "playwright-core";

const url = process.env.SANHU_CONSOLE_URL;
const username = process.env.SANHU_CONSOLE_USER;
const password = process.env.SANHU_CONSOLE_PASSWORD;
const phone = process.env.SANHU_CONSOLE_PHONE;
const member = process.env.SANHU_CONSOLE_MEMBER;
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
