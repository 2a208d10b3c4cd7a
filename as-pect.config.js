// as-pect 8 runs the AssemblyScript unit tests of shared/ (tests/unit/**/*.spec.ts).
// as-pect 8 calls `instantiate(memory, createImports, instantiate, binary)`, where `instantiate` is
// @assemblyscript/loader's async instantiate; an older `imports(...)` hook is never called.
export default {
  entries: ["tests/unit/**/*.spec.ts"],
  include: ["tests/unit/**/*.include.ts"],
  disclude: [/node_modules/],
  async instantiate(_memory, createImports, instantiate, binary) {
    let memory; // set once the module exists; the host functions below run only after that
    const env = {
      // shared/ modules log through proxy_log; shown with ASP_LOG=1.
      proxy_log(level, ptr, len) {
        const s = Buffer.from(new Uint8Array(memory.buffer, ptr, len)).toString("utf8");
        if (process.env.ASP_LOG) console.log(`[wasm log ${level}] ${s}`);
        return 0;
      },
      proxy_get_log_level(out) {
        new DataView(memory.buffer).setUint32(out, 0, true); // trace: every log reaches proxy_log
        return 0;
      },
      proxy_get_current_time_nanoseconds(out) {
        new DataView(memory.buffer).setBigUint64(out, BigInt(Date.now()) * 1000000n, true);
        return 0;
      },
    };
    // Other host calls have no meaning here (tests/**/*.test.ts run plugins in host/). Stub them so a module
    // that merely references one still links, and a test that calls one fails naming it.
    for (const { module, name, kind } of WebAssembly.Module.imports(new WebAssembly.Module(binary))) {
      if (module === "env" && kind === "function" && name.startsWith("proxy_") && !(name in env)) {
        env[name] = () => {
          const message = `${name} is not available in as-pect unit tests`;
          console.error(message); // as-pect shows only abort messages, not host exceptions
          throw new Error(message);
        };
      }
    }
    try {
      const result = await instantiate(binary, createImports({ env }));
      memory = result.exports.memory;
      return result;
    } catch (err) {
      // Thrown from here, binaryen's uncaughtException handler would hide this (exit 7 and a 200 KB source line).
      console.error("as-pect: instantiating a test module failed:", err);
      process.exit(1);
    }
  },
  outputBinary: false,
};
