// Small client-side helpers for the simulator tests: JSON posts, an SSE reader, a strict Prometheus text parser.

export function post(url: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body), signal });
}

export interface SseEvent {
  event?: string;
  id?: string;
  comments: string[];
  data: string;
  /** performance.now() when the event was parsed. */
  at: number;
}

/** Parse an event stream as it arrives (so arrival times are meaningful). */
export async function readSse(res: Response, onEvent?: (e: SseEvent) => void): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buf = '';
  const flush = (block: string) => {
    const e: SseEvent = { comments: [], data: '', at: performance.now() };
    const data: string[] = [];
    for (const line of block.split('\n')) {
      if (line.startsWith(':')) e.comments.push(line.slice(1));
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''));
      else if (line.startsWith('event:')) e.event = line.slice(6).trim();
      else if (line.startsWith('id:')) e.id = line.slice(3).trim();
    }
    e.data = data.join('\n');
    events.push(e);
    onEvent?.(e);
  };
  for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
    buf += decoder.decode(chunk, { stream: true });
    let i: number;
    while ((i = buf.indexOf('\n\n')) >= 0) {
      flush(buf.slice(0, i));
      buf = buf.slice(i + 2);
    }
  }
  if (buf.trim()) flush(buf);
  return events;
}

export const jsonEvents = (events: SseEvent[]): any[] => events.filter((e) => e.data && e.data !== '[DONE]').map((e) => JSON.parse(e.data));

export interface Sample { labels: Record<string, string>; value: number }
export interface Family { type: string; help: string; samples: Map<string, Sample[]> }

/**
 * Parse Prometheus text format 0.0.4 strictly: every sample must belong to a family declared by
 * `# TYPE` (histograms through _bucket/_sum/_count), and every line must be well formed.
 */
export function parseProm(text: string): Map<string, Family> {
  const families = new Map<string, Family>();
  const sampleRe = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)$/;
  const labelRe = /^([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"$/;
  for (const line of text.split('\n')) {
    if (line === '') continue;
    let m: RegExpExecArray | null;
    if ((m = /^# HELP (\S+) (.*)$/.exec(line))) {
      families.set(m[1], { type: '', help: m[2], samples: new Map(), ...families.get(m[1]) });
      continue;
    }
    if ((m = /^# TYPE (\S+) (counter|gauge|histogram|summary|untyped)$/.exec(line))) {
      const f = families.get(m[1]) ?? { type: '', help: '', samples: new Map() };
      f.type = m[2];
      families.set(m[1], f);
      continue;
    }
    m = sampleRe.exec(line);
    if (!m) throw new Error(`bad line: ${line}`);
    const [, name, labelText, valueText] = m;
    const value = valueText === '+Inf' ? Infinity : Number(valueText);
    if (Number.isNaN(value)) throw new Error(`bad value: ${line}`);
    const labels: Record<string, string> = {};
    if (labelText) {
      for (const part of labelText.split(/,(?=[a-zA-Z_])/)) {
        const l = labelRe.exec(part);
        if (!l) throw new Error(`bad label ${part} in ${line}`);
        labels[l[1]] = l[2];
      }
    }
    const family = families.get(name) ?? families.get(name.replace(/_(bucket|sum|count)$/, ''));
    if (!family || !family.type) throw new Error(`sample without TYPE: ${line}`);
    const list = family.samples.get(name) ?? [];
    list.push({ labels, value });
    family.samples.set(name, list);
  }
  return families;
}

/** The single value of a sample (optionally filtered by labels). */
export function promValue(families: Map<string, Family>, family: string, sample = family, match: Record<string, string> = {}): number {
  const f = families.get(family);
  const s = f?.samples.get(sample)?.filter((x) => Object.entries(match).every(([k, v]) => x.labels[k] === v));
  if (!s || s.length !== 1) throw new Error(`expected one ${sample} ${JSON.stringify(match)}, found ${s?.length ?? 0}`);
  return s[0].value;
}

export async function waitFor(cond: () => boolean | Promise<boolean>, timeoutMs = 5000, what = 'condition'): Promise<void> {
  const end = performance.now() + timeoutMs;
  while (!(await cond())) {
    if (performance.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 2));
  }
}
