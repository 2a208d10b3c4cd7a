// AssemblyScript's abort handler (asconfig.json "use": abort=shared/proxy/abort/onAbort).
// It reports through proxy_log, where Envoy shows it, then traps as Envoy expects of a failed VM.
import { LogLevel, proxy_log } from "./abi";

export function onAbort(message: string | null, fileName: string | null, line: u32, column: u32): void {
  const text = "wasm abort: " + (message == null ? "" : message) + " at " +
    (fileName == null ? "?" : fileName) + ":" + line.toString() + ":" + column.toString();
  const b = String.UTF8.encode(text);
  proxy_log(LogLevel.Critical, changetype<usize>(b), b.byteLength);
  unreachable();
}
