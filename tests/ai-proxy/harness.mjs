// Builds the translator harness (tests/ai-proxy/harness.ts) once per run and loads its ESM bindings.
import { execFileSync } from "node:child_process";
import { mkdirSync, existsSync, statSync, readdirSync, copyFileSync } from "node:fs";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const out = join(root, "dist", "test", "translate-harness.wasm");

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let t = st.mtimeMs;
  for (const e of readdirSync(path)) t = Math.max(t, newest(join(path, e)));
  return t;
}

export async function loadHarness() {
  mkdirSync(dirname(out), { recursive: true });
  const inputs = Math.max(newest(join(root, "shared")), newest(join(root, "tests/ai-proxy/harness.ts")));
  if (!existsSync(out) || statSync(out).mtimeMs < inputs) {
    execFileSync("npx", ["asc", "tests/ai-proxy/harness.ts", "--config", "tests/ai-proxy/harness.asconfig.json", "--bindings", "esm", "-O2", "-o", out],
      { cwd: root, stdio: "inherit" });
    copyFileSync(out.replace(/\.wasm$/, ".js"), out.replace(/\.wasm$/, ".mjs")); // ESM wherever it lands
  }
  return await import(out.replace(/\.wasm$/, ".mjs"));
}
