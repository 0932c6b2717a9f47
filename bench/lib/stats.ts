/** The value below which `share` (0..1) of the sorted values fall (nearest rank). */
export function percentile(sorted: ArrayLike<number>, share: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil(share * sorted.length) - 1));
  return sorted[rank]!;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  if (sorted.length === 0) return Number.NaN;
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}

export interface LatencySummary {
  count: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
  mean: number;
}

/** Latencies in milliseconds, summarized. */
export function summarize(values: readonly number[]): LatencySummary {
  const sorted = Float64Array.from(values).sort();
  const sum = sorted.reduce((total, value) => total + value, 0);
  return {
    count: sorted.length,
    p50: percentile(sorted, 0.5),
    p90: percentile(sorted, 0.9),
    p99: percentile(sorted, 0.99),
    p999: percentile(sorted, 0.999),
    max: sorted.length ? sorted[sorted.length - 1]! : Number.NaN,
    mean: sorted.length ? sum / sorted.length : Number.NaN,
  };
}

/**
 * A mergeable latency histogram in the spirit of HdrHistogram: values in microseconds, exact below
 * 1,024 µs, then 128 sub-buckets per power of two (under 1 % error). Workers send their counts; the
 * parent merges them.
 */
export class Histogram {
  private static readonly SUB_BITS = 7;
  counts = new Map<number, number>();
  total = 0;
  maxMicros = 0;
  sumMicros = 0;

  record(milliseconds: number): void {
    const micros = Math.max(0, Math.round(milliseconds * 1000));
    const bucket = Histogram.bucketOf(micros);
    this.counts.set(bucket, (this.counts.get(bucket) ?? 0) + 1);
    this.total += 1;
    this.sumMicros += micros;
    if (micros > this.maxMicros) this.maxMicros = micros;
  }

  merge(other: { counts: [number, number][]; total: number; maxMicros: number; sumMicros: number }): void {
    for (const [bucket, count] of other.counts) this.counts.set(bucket, (this.counts.get(bucket) ?? 0) + count);
    this.total += other.total;
    this.sumMicros += other.sumMicros;
    this.maxMicros = Math.max(this.maxMicros, other.maxMicros);
  }

  toJSON() {
    return { counts: [...this.counts], total: this.total, maxMicros: this.maxMicros, sumMicros: this.sumMicros };
  }

  /** Milliseconds at `share` (0..1): the upper edge of the bucket holding that rank. */
  at(share: number): number {
    if (this.total === 0) return Number.NaN;
    const rank = Math.max(1, Math.ceil(share * this.total));
    let seen = 0;
    for (const bucket of [...this.counts.keys()].sort((a, b) => a - b)) {
      seen += this.counts.get(bucket)!;
      if (seen >= rank) return Math.min(Histogram.upperOf(bucket), this.maxMicros) / 1000;
    }
    return this.maxMicros / 1000;
  }

  summary(): LatencySummary {
    return {
      count: this.total,
      p50: this.at(0.5),
      p90: this.at(0.9),
      p99: this.at(0.99),
      p999: this.at(0.999),
      max: this.maxMicros / 1000,
      mean: this.total ? this.sumMicros / this.total / 1000 : Number.NaN,
    };
  }

  private static bucketOf(micros: number): number {
    if (micros < 1 << 10) return micros;
    const exponent = Math.floor(Math.log2(micros));
    const shift = exponent - Histogram.SUB_BITS;
    return (exponent << 16) | ((micros >> shift) & ((1 << Histogram.SUB_BITS) - 1));
  }

  private static upperOf(bucket: number): number {
    if (bucket < 1 << 10) return bucket;
    const exponent = bucket >> 16;
    const sub = bucket & 0xffff;
    const shift = exponent - Histogram.SUB_BITS;
    return ((1 << Histogram.SUB_BITS) + sub + 1) * 2 ** shift - 1;
  }
}

/** Milliseconds on CLOCK_MONOTONIC: the same clock in every process of the machine (Linux), so latencies can span processes. */
export function monotonicMs(): number {
  return Number(process.hrtime.bigint()) / 1e6;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, Math.max(0, ms)));
}
