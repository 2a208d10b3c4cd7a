// Compiles every plugins/<name>/main.ts (and tests/plugins/<name>/main.ts, the
// test-only modules) to dist/<name>.wasm; `--debug` builds dist/debug/<name>.wasm.
// Only rebuilds a module whose inputs (its folder, shared/, asconfig.json) changed.
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, statSync } from "node:fs";
import { join } from "node:path";

const debug = process.argv.includes("--debug");
const only = process.argv.slice(2).filter((a) => !a.startsWith("--"));
const target = debug ? "debug" : "release";
const outDir = debug ? "dist/debug" : "dist";
mkdirSync(outDir, { recursive: true });

function newest(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let t = st.mtimeMs;
  for (const e of readdirSync(path)) t = Math.max(t, newest(join(path, e)));
  return t;
}

const entries = [];
for (const root of ["plugins", "tests/plugins"]) {
  if (!existsSync(root)) continue;
  for (const name of readdirSync(root)) {
    const main = join(root, name, "main.ts");
    if (existsSync(main) && (only.length === 0 || only.includes(name))) entries.push({ name, dir: join(root, name), main });
  }
}

const sharedTime = Math.max(newest("shared"), newest("asconfig.json"));
let failed = 0;
for (const e of entries) {
  const out = join(outDir, `${e.name}.wasm`);
  // Test modules may import each other, so any change under tests/plugins rebuilds them all.
  const inputs = Math.max(sharedTime, newest(e.dir.startsWith("tests") ? "tests/plugins" : e.dir));
  if (existsSync(out) && statSync(out).mtimeMs > inputs) continue;
  try {
    execFileSync("npx", ["asc", e.main, "--config", "asconfig.json", "--target", target, "-o", out], { stdio: "inherit" });
    console.log(`built ${out} (${statSync(out).size} bytes)`);
  } catch {
    console.error(`FAILED ${e.main}`);
    failed++;
  }
}
if (failed) process.exit(1);
