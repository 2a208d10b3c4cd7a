// Runs the node:test suites (tests/**/*.test.ts, e2e/**/*.test.ts) through tsx.
// Node 20's --test does not expand globs, so the file list is built here.
// Usage: node scripts/test.mjs [filter...]   (a filter keeps files whose path contains it)
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

function find(dir, out) {
  if (!existsSync(dir)) return out;
  for (const e of readdirSync(dir)) {
    if (e === "node_modules") continue;
    const p = join(dir, e);
    if (statSync(p).isDirectory()) find(p, out);
    else if (p.endsWith(".test.ts")) out.push(p);
  }
  return out;
}

const filters = process.argv.slice(2);
const files = [...find("tests", []), ...find("e2e", [])]
  .filter((f) => filters.length === 0 || filters.some((x) => f.includes(x)))
  .sort();
if (files.length === 0) { console.error("no test files matched"); process.exit(1); }
const concurrency = process.env.TEST_CONCURRENCY ?? "2";
const r = spawnSync(process.execPath, ["--import", "tsx", "--test", `--test-concurrency=${concurrency}`, ...files], { stdio: "inherit" });
process.exit(r.status ?? 1);
