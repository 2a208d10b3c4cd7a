// Prometheus text exposition (format 0.0.4), as prometheus_client writes it for vLLM.

export class Histogram {
  readonly counts: number[];
  sum = 0;
  count = 0;
  constructor(readonly buckets: number[]) {
    this.counts = buckets.map(() => 0);
  }
  observe(v: number): void {
    this.sum += v;
    this.count++;
    for (let i = 0; i < this.buckets.length; i++) if (v <= this.buckets[i]) this.counts[i]++;
  }
}

export type Labels = Record<string, string>;

const labelText = (labels: Labels): string =>
  `{${Object.entries(labels).map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;

/** prometheus_client prints floats Python-style: 3 → "3.0". */
const num = (v: number): string => (Number.isInteger(v) ? v.toFixed(1) : String(v));

export class PromWriter {
  private out: string[] = [];
  constructor(private readonly labels: Labels) {}

  gauge(name: string, help: string, value: number): this {
    this.out.push(`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name}${labelText(this.labels)} ${num(value)}`);
    return this;
  }

  /** Counters are exposed with the `_total` suffix; `series` adds extra labels per sample. */
  counter(name: string, help: string, series: Array<[Labels, number]> | number): this {
    this.out.push(`# HELP ${name}_total ${help}`, `# TYPE ${name}_total counter`);
    const rows = typeof series === 'number' ? [[{}, series] as [Labels, number]] : series;
    for (const [extra, v] of rows) this.out.push(`${name}_total${labelText({ ...this.labels, ...extra })} ${num(v)}`);
    return this;
  }

  histogram(name: string, help: string, h: Histogram): this {
    this.out.push(`# HELP ${name} ${help}`, `# TYPE ${name} histogram`);
    h.buckets.forEach((le, i) => this.out.push(`${name}_bucket${labelText({ ...this.labels, le: num(le) })} ${num(h.counts[i])}`));
    this.out.push(`${name}_bucket${labelText({ ...this.labels, le: '+Inf' })} ${num(h.count)}`);
    this.out.push(`${name}_count${labelText(this.labels)} ${num(h.count)}`);
    this.out.push(`${name}_sum${labelText(this.labels)} ${num(h.sum)}`);
    return this;
  }

  text(): string {
    return this.out.join('\n') + '\n';
  }
}
