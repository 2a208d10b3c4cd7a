// Higress's per-request access-log attributes: one JSON object in the request's filter state
// ("wasm.ai_log", written through the property `ai_log`), which Higress's access log format prints
// with %FILTER_STATE(wasm.ai_log:PLAIN)%. A writer merges into what earlier plugins wrote (its own keys
// win, the others stay), as wasm-go's WriteUserAttributeToLogWithKey does, so ai-statistics, the rate
// limiter and the rest coexist in one object.
import { JsonValue, parseJsonBytes } from "./json";
import { getProperty, setProperty } from "./proxy/hostcalls";

/** Adds every key of `attrs` (an object) to the request's ai_log. */
export function writeAiLog(attrs: JsonValue): void {
  const before = getProperty("ai_log");
  let log = before != null && before.byteLength > 0 ? parseJsonBytes(before) : null;
  if (log == null || !log.isObject()) log = JsonValue.newObject();
  const keys = attrs.keys();
  for (let i = 0; i < keys.length; i++) {
    const v = attrs.get(keys[i]);
    if (v != null) log.set(keys[i], v);
  }
  setProperty("ai_log", log.toString());
}
