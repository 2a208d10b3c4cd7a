// Reads a client-protocol SSE stream the way that protocol's clients do and returns what they would
// end up with, so golden tests can state a stream's meaning instead of only its bytes.

export interface Assembled {
  content: string;
  reasoning: string;
  tools: { id: string; name: string; arguments: string }[];
  finish: string | null;
  usage: Record<string, number> | null;
  terminated: boolean;
  error: unknown;
}

export function sseEvents(text: string): { event: string; data: string; comments: string[] }[] {
  const out: { event: string; data: string; comments: string[] }[] = [];
  for (const block of text.split("\n\n")) {
    if (!block.trim()) continue;
    let event = "", data: string[] = [];
    const comments: string[] = [];
    for (const line of block.split("\n")) {
      if (line.startsWith(":")) { comments.push(line.slice(1)); continue; }
      const c = line.indexOf(":");
      const f = c < 0 ? line : line.slice(0, c);
      let v = c < 0 ? "" : line.slice(c + 1);
      if (v.startsWith(" ")) v = v.slice(1);
      if (f === "event") event = v;
      else if (f === "data") data.push(v);
    }
    out.push({ event, data: data.join("\n"), comments });
  }
  return out;
}

function empty(): Assembled {
  return { content: "", reasoning: "", tools: [], finish: null, usage: null, terminated: false, error: null };
}

export function assembleOpenAI(text: string): Assembled {
  const a = empty();
  for (const e of sseEvents(text)) {
    if (a.terminated) throw new Error("event after [DONE]");
    if (e.data === "[DONE]") { a.terminated = true; continue; }
    const j = JSON.parse(e.data);
    if (j.error) { a.error = j.error; continue; }
    if (j.object !== "chat.completion.chunk") throw new Error("not a chunk: " + e.data);
    const c = j.choices?.[0];
    if (c) {
      const d = c.delta ?? {};
      if (d.content) a.content += d.content;
      if (d.reasoning_content) a.reasoning += d.reasoning_content;
      for (const t of d.tool_calls ?? []) {
        const slot = (a.tools[t.index] ??= { id: "", name: "", arguments: "" });
        if (t.id) slot.id = t.id;
        if (t.function?.name) slot.name = t.function.name;
        if (t.function?.arguments) slot.arguments += t.function.arguments;
      }
      if (c.finish_reason) a.finish = c.finish_reason;
    }
    if (j.usage) a.usage = j.usage;
  }
  return a;
}

export function assembleAnthropic(text: string): Assembled {
  const a = empty();
  const blocks: any[] = [];
  let started = false;
  for (const e of sseEvents(text)) {
    if (a.terminated) throw new Error("event after message_stop");
    const j = JSON.parse(e.data);
    if (e.event !== j.type) throw new Error(`event name ${e.event} != type ${j.type}`);
    if (j.type === "error") { a.error = j.error; continue; }
    if (j.type === "message_start") { started = true; a.usage = { ...j.message.usage }; continue; }
    if (!started) throw new Error("content before message_start");
    if (j.type === "content_block_start") blocks[j.index] = { ...j.content_block, json: "" };
    else if (j.type === "content_block_delta") {
      const b = blocks[j.index];
      if (!b) throw new Error("delta for unknown block " + j.index);
      if (j.delta.type === "text_delta") b.text += j.delta.text;
      else if (j.delta.type === "thinking_delta") b.thinking += j.delta.thinking;
      else if (j.delta.type === "input_json_delta") b.json += j.delta.partial_json;
    } else if (j.type === "message_delta") {
      a.finish = j.delta.stop_reason;
      a.usage = { ...a.usage, ...j.usage };
    } else if (j.type === "message_stop") a.terminated = true;
  }
  for (const b of blocks) {
    if (!b) continue;
    if (b.type === "text") a.content += b.text;
    else if (b.type === "thinking") a.reasoning += b.thinking;
    else if (b.type === "tool_use") a.tools.push({ id: b.id, name: b.name, arguments: b.json });
  }
  return a;
}

/** incremental: whether the client asked DashScope for incremental_output. */
export function assembleDashScope(text: string, incremental: boolean): Assembled {
  const a = empty();
  for (const e of sseEvents(text)) {
    const j = JSON.parse(e.data);
    if (e.event === "error") { a.error = j; a.terminated = true; continue; }
    if (e.event !== "result") throw new Error("unexpected event " + e.event);
    if (!e.comments.includes("HTTP_STATUS/200")) throw new Error("missing :HTTP_STATUS/200");
    const out = j.output;
    const c = out.choices?.[0];
    const m = c?.message ?? {};
    const content = c ? (Array.isArray(m.content) ? m.content.map((p: any) => p.text ?? "").join("") : m.content ?? "") : out.text ?? "";
    const reasoning = m.reasoning_content ?? "";
    if (incremental) { a.content += content; a.reasoning += reasoning; } else { a.content = content; a.reasoning = reasoning; }
    for (const t of m.tool_calls ?? []) {
      const slot = (a.tools[t.index] ??= { id: "", name: "", arguments: "" });
      if (t.id) slot.id = t.id;
      if (t.function?.name) slot.name = t.function.name;
      if (t.function?.arguments) slot.arguments = incremental ? slot.arguments + t.function.arguments : t.function.arguments;
    }
    const finish = c ? c.finish_reason : out.finish_reason;
    if (finish && finish !== "null") { a.finish = finish; a.terminated = true; }
    if (j.usage) a.usage = j.usage;
  }
  return a;
}
