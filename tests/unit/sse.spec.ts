// shared/sse.ts: WHATWG event-stream parsing fed in arbitrary chunks (down to single bytes,
// inside UTF-8 characters and between \r and \n), event size limits, and formatSseEvent.
import { SseEvent, SseParser, formatSseEvent } from "../../shared/sse";
import { parseJson } from "../../shared/json";

/** One line per event, every field shown, so a mismatch is easy to read. */
function show(events: SseEvent[]): string {
  const lines: string[] = [];
  for (let i = 0; i < events.length; i++) {
    const e = events[i];
    lines.push("event=" + e.event + "|id=" + e.id + "|retry=" + e.retry.toString() +
      "|data=" + e.data + "|raw=" + e.raw.replaceAll("\r", "<CR>").replaceAll("\n", "<LF>"));
  }
  return lines.join("\n");
}

function appendAll(to: SseEvent[], from: SseEvent[]): void {
  for (let i = 0; i < from.length; i++) to.push(from[i]);
}

/** Feeds text in pieces of the given sizes (cycled), then finishes the stream. */
function feedInPieces(text: string, sizes: i32[]): SseEvent[] {
  const bytes = String.UTF8.encode(text);
  const p = new SseParser();
  const out: SseEvent[] = [];
  let at = 0;
  let k = 0;
  while (at < bytes.byteLength) {
    const n = min(sizes[k++ % sizes.length], bytes.byteLength - at);
    appendAll(out, p.feed(bytes.slice(at, at + n)));
    at += n;
  }
  appendAll(out, p.finish());
  return out;
}

function whole(text: string): SseEvent[] {
  const p = new SseParser();
  const out = p.feedString(text);
  appendAll(out, p.finish());
  return out;
}

/** A realistic OpenAI chat completion stream: role, content deltas (CJK, emoji, escapes), stop, usage, [DONE]. */
function openAiStream(lineEnd: string): string {
  const pieces = ["Hello", ", ", "world", "! ", "你好", "，世界", " 😀", " \\\"quoted\\\"", "\\n", "line two", " é", "."];
  let s = ": keep-alive" + lineEnd + lineEnd;
  const head = '{"id":"chatcmpl-9x","object":"chat.completion.chunk","created":1718000000,"model":"gpt-4o-mini","choices":[{"index":0,"delta":';
  s += "data: " + head + '{"role":"assistant","content":""},"finish_reason":null}]}' + lineEnd + lineEnd;
  for (let i = 0; i < pieces.length; i++) {
    s += "data: " + head + '{"content":"' + pieces[i] + '"},"finish_reason":null}]}' + lineEnd + lineEnd;
  }
  s += "data: " + head + '{},"finish_reason":"stop"}]}' + lineEnd + lineEnd;
  s += 'data: {"id":"chatcmpl-9x","choices":[],"usage":{"prompt_tokens":12,"completion_tokens":15,"total_tokens":27}}' + lineEnd + lineEnd;
  s += "data: [DONE]" + lineEnd + lineEnd;
  return s;
}

describe("SseParser fields", () => {
  it("reads data, strips one leading space, joins data lines with \\n", () => {
    const evs = whole("data: a\n\ndata:nospace\n\ndata:  two\n\ndata: x\ndata\ndata:  y\n\n");
    expect(evs.length).toBe(4);
    expect(evs[0].data).toBe("a");
    expect(evs[0].raw).toBe("data: a\n\n");
    expect(evs[1].data).toBe("nospace");
    expect(evs[2].data).toBe(" two");
    expect(evs[3].data).toBe("x\n\n y");
  });

  it("reads event, id and retry; the last id carries over to later events", () => {
    const evs = whole("event: delta\nid: 7\nretry: 1500\ndata: 1\n\ndata: 2\n\nid: 8\u0000x\nretry: 12a\ndata: 3\n\n");
    expect(show(evs)).toBe(
      "event=delta|id=7|retry=1500|data=1|raw=event: delta<LF>id: 7<LF>retry: 1500<LF>data: 1<LF><LF>\n" +
      "event=|id=7|retry=-1|data=2|raw=data: 2<LF><LF>\n" +
      "event=|id=7|retry=-1|data=3|raw=id: 8\u0000x<LF>retry: 12a<LF>data: 3<LF><LF>");
  });

  it("skips comments (incl. DashScope :HTTP_STATUS lines) and blocks without data", () => {
    const evs = whole(":HTTP_STATUS/200\n: ping\n\nevent: nothing\nid: 5\n\n:c\ndata: d\n\nunknown: field\n\n");
    expect(evs.length).toBe(1);
    expect(evs[0].data).toBe("d");
    expect(evs[0].event).toBe("");
    expect(evs[0].id).toBe("5"); // an id without data still sets the last event ID
    expect(evs[0].raw).toBe(":c\ndata: d\n\n");
  });

  it("accepts \\n, \\r\\n and \\r line endings, keeping the raw text exactly", () => {
    const evs = whole("data: a\r\n\r\ndata: b\r\rdata: c\n\ndata: d\r\ndata: e\r\n");
    expect(show(evs)).toBe(
      "event=|id=|retry=-1|data=a|raw=data: a<CR><LF><CR><LF>\n" +
      "event=|id=|retry=-1|data=b|raw=data: b<CR><CR>\n" +
      "event=|id=|retry=-1|data=c|raw=data: c<LF><LF>\n" +
      "event=|id=|retry=-1|data=d\ne|raw=data: d<CR><LF>data: e<CR><LF>");
  });

  it("strips a BOM at the stream start only, even when split across chunks", () => {
    const start = String.UTF8.encode("\uFEFFdata: x\n\n");
    const p = new SseParser();
    expect(p.feed(start.slice(0, 1)).length).toBe(0);
    expect(p.feed(start.slice(1, 2)).length).toBe(0);
    const evs = p.feed(start.slice(2));
    // Later, a BOM is just part of a field name ("\uFEFFdata" is unknown and ignored).
    appendAll(evs, p.feedString("data: y\n\n\uFEFFdata: z\n\n"));
    expect(show(evs)).toBe(
      "event=|id=|retry=-1|data=x|raw=data: x<LF><LF>\n" +
      "event=|id=|retry=-1|data=y|raw=data: y<LF><LF>");
  });
});

describe("SseParser chunking", () => {
  it("waits for the byte after a final \\r before deciding the line end", () => {
    const p = new SseParser();
    expect(p.feedString("data: a\r").length).toBe(0);
    expect(p.feedString("\n\r").length).toBe(0);
    const evs = p.feedString("\ndata: b\r");
    expect(evs.length).toBe(1);
    expect(evs[0].raw).toBe("data: a\r\n\r\n");
    const rest = p.finish();
    expect(rest.length).toBe(1);
    expect(rest[0].data).toBe("b");
    expect(rest[0].raw).toBe("data: b\r");
  });

  it("decodes UTF-8 characters split between chunks", () => {
    const text = "data: 你好😀é\n\n";
    const evs = feedInPieces(text, [1]);
    expect(evs.length).toBe(1);
    expect(evs[0].data).toBe("你好😀é");
    expect(evs[0].raw).toBe(text);
  });

  it("gives the same events for an OpenAI stream fed whole, byte by byte and in random pieces", () => {
    const endings = ["\n", "\r\n", "\r"];
    for (let e = 0; e < endings.length; e++) {
      const text = openAiStream(endings[e]);
      const expected = whole(text);
      expect(expected.length).toBe(16);
      expect(show(feedInPieces(text, [1]))).toBe(show(expected));
      expect(show(feedInPieces(text, [2, 3, 5, 7, 11, 13, 17, 64, 1]))).toBe(show(expected));
      let seed: u32 = 12345 + e;
      const sizes: i32[] = [];
      for (let i = 0; i < 200; i++) { seed = seed * 1664525 + 1013904223; sizes.push(<i32>(seed >> 24) + 1); }
      expect(show(feedInPieces(text, sizes))).toBe(show(expected));
      // The deltas reassemble into the message.
      let content = "";
      for (let i = 0; i < expected.length - 2; i++) {
        const chunk = parseJson(expected[i].data);
        expect(chunk != null).toBe(true);
        if (chunk) {
          const piece = chunk.path("choices.0.delta.content");
          if (piece) content += piece.asString();
        }
      }
      expect(content).toBe('Hello, world! 你好，世界 😀 "quoted"\nline two é.');
      expect(expected[15].data).toBe("[DONE]");
      expect(expected[14].raw.startsWith('data: {"id":"chatcmpl-9x","choices":[]')).toBe(true);
    }
  });
});

describe("SseParser end of stream and limits", () => {
  it("finish() dispatches a last event lacking its blank line, and resets", () => {
    const p = new SseParser();
    expect(p.feedString("data: done\n\ndata: last").length).toBe(1);
    const evs = p.finish();
    expect(evs.length).toBe(1);
    expect(evs[0].data).toBe("last");
    expect(evs[0].raw).toBe("data: last");
    expect(p.finish().length).toBe(0);
    // A new stream: its BOM is stripped again, the old id is gone.
    const next = p.feedString("\uFEFFdata: n\n\n");
    expect(next.length).toBe(1);
    expect(next[0].raw).toBe("data: n\n\n");
    const q = new SseParser();
    q.feedString(": only a comment\nid: 3\n");
    expect(q.finish().length).toBe(0);
  });

  it("drops a complete event over maxEventBytes and keeps parsing", () => {
    const p = new SseParser(20);
    expect(p.error()).toBe("");
    const evs = p.feedString("data: 0123456789abcdefghij\n\ndata: small\n\n");
    expect(evs.length).toBe(1);
    expect(evs[0].data).toBe("small");
    expect(p.error()).toBe("event of 28 bytes exceeds maxEventBytes 20");
  });

  it("drops an oversized event spanning chunks without buffering it, then resumes", () => {
    const p = new SseParser(32);
    expect(p.feedString("data: ok\n\ndata: " + "x".repeat(40)).length).toBe(1);
    expect(p.error()).toBe("event exceeds maxEventBytes 32");
    expect(p.feedString("y".repeat(1000) + "\r").length).toBe(0);
    expect(p.feedString("\ndata: still the big one\r\n").length).toBe(0);
    const evs = p.feedString("\r\nevent: after\ndata: fine\n\n");
    expect(show(evs)).toBe("event=after|id=|retry=-1|data=fine|raw=event: after<LF>data: fine<LF><LF>");
  });

  it("drops oversized events the same way when fed byte by byte", () => {
    const text = "data: a\n\ndata: " + "z".repeat(100) + "\ndata: more\n\ndata: b\n\n";
    const bytes = String.UTF8.encode(text);
    const p = new SseParser(40);
    const out: SseEvent[] = [];
    for (let i = 0; i < bytes.byteLength; i++) appendAll(out, p.feed(bytes.slice(i, i + 1)));
    expect(show(out)).toBe(
      "event=|id=|retry=-1|data=a|raw=data: a<LF><LF>\n" +
      "event=|id=|retry=-1|data=b|raw=data: b<LF><LF>");
    expect(p.error()).toBe("event exceeds maxEventBytes 40");
  });
});

describe("formatSseEvent", () => {
  it("writes event, id and one data line per input line", () => {
    expect(formatSseEvent("hello")).toBe("data: hello\n\n");
    expect(formatSseEvent("a\nb\r\nc\rd", "delta", "42")).toBe("event: delta\nid: 42\ndata: a\ndata: b\ndata: c\ndata: d\n\n");
    expect(formatSseEvent("")).toBe("data: \n\n");
    expect(formatSseEvent("x", "bad\nevent", "i\r\nd")).toBe("event: badevent\nid: id\ndata: x\n\n");
  });

  it("round-trips through the parser", () => {
    const texts = ["{\"k\":1}", "multi\nline\n\ndata", " leading space", "", "[DONE]", "中文 😀"];
    for (let i = 0; i < texts.length; i++) {
      const evs = whole(formatSseEvent(texts[i], "ev", "1"));
      expect(evs.length).toBe(1);
      expect(evs[0].data).toBe(texts[i]);
      expect(evs[0].event).toBe("ev");
      expect(evs[0].id).toBe("1");
    }
  });
});
