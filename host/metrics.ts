import { MetricType } from "./abi.ts";

// Envoy's default histogram buckets (source/common/stats/histogram_impl.h).
const BUCKETS = [0.5, 1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000, 30000, 60000, 300000, 600000, 1800000, 3600000];

export interface Metric {
  name: string;
  type: MetricType;
  value: bigint; // counter / gauge
  counts: number[]; // histogram: per bucket (non-cumulative), last slot = +Inf
  sum: number;
  samples: number;
}

/**
 * Stats store shared by every VM of the host, keyed by name like Envoy's: two VMs (workers) that
 * define the same counter add into one stat. Wasm-defined metrics live in Envoy's custom
 * "wasmcustom" namespace, which its Prometheus output strips, so names appear as the plugin gave them.
 */
export class MetricsRegistry {
  private metrics = new Map<string, Metric>();

  define(name: string, type: MetricType): Metric {
    const key = `${type}:${name}`;
    let m = this.metrics.get(key);
    if (!m) {
      m = { name, type, value: 0n, counts: new Array(BUCKETS.length + 1).fill(0), sum: 0, samples: 0 };
      this.metrics.set(key, m);
    }
    return m;
  }

  get(name: string): Metric | undefined {
    for (const m of this.metrics.values()) if (m.name === name) return m;
    return undefined;
  }

  /** Value of a counter or gauge, or the sample count of a histogram. */
  value(name: string): number | undefined {
    const m = this.get(name);
    if (!m) return undefined;
    return m.type === MetricType.Histogram ? m.samples : Number(m.value);
  }

  static record(m: Metric, v: number): void {
    let i = BUCKETS.findIndex((b) => v <= b);
    if (i < 0) i = BUCKETS.length;
    m.counts[i]++;
    m.sum += v;
    m.samples++;
  }

  prometheusText(): string {
    const byName = [...this.metrics.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    let out = "";
    for (const m of byName) {
      const name = m.name.replace(/[^a-zA-Z0-9_:]/g, "_");
      if (m.type === MetricType.Histogram) {
        out += `# TYPE ${name} histogram\n`;
        let cum = 0;
        BUCKETS.forEach((b, i) => {
          cum += m.counts[i];
          out += `${name}_bucket{le="${b}"} ${cum}\n`;
        });
        out += `${name}_bucket{le="+Inf"} ${m.samples}\n${name}_sum{} ${m.sum}\n${name}_count{} ${m.samples}\n`;
      } else {
        out += `# TYPE ${name} ${m.type === MetricType.Counter ? "counter" : "gauge"}\n${name}{} ${m.value}\n`;
      }
    }
    return out;
  }
}
