// The README's example, run as written by node against the real server (with a fresh phone number
// and the built package in place of "sanhu"), from the server's directory, where `sanhu serve`
// wrote sanhu-credentials.json.

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { test } from "node:test";
import { fileURLToPath, pathToFileURL } from "node:url";

import { credentials, newPhone } from "./helpers.js";

const HERE = dirname(fileURLToPath(import.meta.url)); // dist/test
const main = credentials("SANHU_TEST_CREDENTIALS");

test("the README example runs", { skip: main.skip }, () => {
  const readme = readFileSync(resolve(HERE, "..", "..", "README.md"), "utf8");
  const example = /```ts\n([\s\S]*?)```/.exec(readme)?.[1] ?? "";
  assert.equal(example.trim().split("\n").length, 5);
  const index = pathToFileURL(resolve(HERE, "..", "src", "index.js")).href;
  const dir = mkdtempSync(join(tmpdir(), "sanhu-readme-"));
  try {
    const script = join(dir, "example.mjs");
    writeFileSync(script, example.replace('from "sanhu"', `from ${JSON.stringify(index)}`).replace("13800000001", newPhone()));
    const printed = execFileSync(process.execPath, [script], { cwd: dirname(main.path ?? ""), encoding: "utf8" });
    assert.equal(printed, "0\n");
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
