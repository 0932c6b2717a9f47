import { createHash } from 'node:crypto';

/** A seeded pseudo-random source: the same seed gives the same sequence on every machine. */
export interface Random {
  /** A number in [0, 1). */
  next(): number;
  /** An integer in [min, max], both included. */
  int(min: number, max: number): number;
  /** A number in [min, max). */
  between(min: number, max: number): number;
  chance(probability: number): boolean;
  pick<T>(choices: readonly T[]): T;
  /** A choice by weight: `weighted([['a', 3], ['b', 1]])` picks `a` three times as often as `b`. */
  weighted<T>(choices: readonly (readonly [T, number])[]): T;
  /** `count` distinct choices, in random order. */
  sample<T>(choices: readonly T[], count: number): T[];
}

/** mulberry32: 32 bits of state, fast, and good enough for simulated traffic (not for secrets). */
export function createRandom(seed: number): Random {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
  const int = (min: number, max: number) => min + Math.floor(next() * (max - min + 1));
  return {
    next,
    int,
    between: (min, max) => min + next() * (max - min),
    chance: (probability) => next() < probability,
    pick: (choices) => choices[Math.floor(next() * choices.length)]!,
    weighted(choices) {
      const total = choices.reduce((sum, [, weight]) => sum + weight, 0);
      let remaining = next() * total;
      for (const [choice, weight] of choices) {
        remaining -= weight;
        if (remaining < 0) return choice;
      }
      return choices[choices.length - 1]![0];
    },
    sample(choices, count) {
      const pool = [...choices];
      for (let i = pool.length - 1; i > 0; i--) {
        const j = int(0, i);
        [pool[i], pool[j]] = [pool[j]!, pool[i]!];
      }
      return pool.slice(0, Math.min(count, pool.length));
    },
  };
}

/** A 32-bit seed from several parts (FNV-1a, then a murmur3 finalizer so near parts land far apart). */
export function seedOf(...parts: readonly (number | string)[]): number {
  let hash = 0x811c9dc5;
  for (const character of parts.join('\u0000')) {
    hash ^= character.codePointAt(0)!;
    hash = Math.imul(hash, 0x01000193);
  }
  hash ^= hash >>> 16;
  hash = Math.imul(hash, 0x85ebca6b);
  hash ^= hash >>> 13;
  hash = Math.imul(hash, 0xc2b2ae35);
  hash ^= hash >>> 16;
  return hash >>> 0;
}

/**
 * A version-4-shaped UUID, as Segment clients make anonymous ids, named by its parts (SHA-256 of
 * them). Not drawn from a `Random`: its 32 bits of state give hundreds of thousands of customers
 * the same stream now and then (a birthday collision), and two customers with one anonymous id
 * are one visitor linked to two users, which ingestion refuses.
 */
export function uuidOf(...parts: readonly (number | string)[]): string {
  const hex = [...createHash('sha256').update(parts.join('\u0000')).digest('hex').slice(0, 32)];
  hex[12] = '4';
  hex[16] = ((Number.parseInt(hex[16]!, 16) & 0x3) | 0x8).toString(16);
  const text = hex.join('');
  return `${text.slice(0, 8)}-${text.slice(8, 12)}-${text.slice(12, 16)}-${text.slice(16, 20)}-${text.slice(20)}`;
}
