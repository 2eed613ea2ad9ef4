/**
 * Seeded randomness (the backtest's bootstrap, modelled eval series, the soak's crash points, generated test data): the same seed gives the same numbers on every
 * machine. mulberry32 (32-bit state, period 2^32) is ample for a few million draws per report and
 * needs no dependency; it is not for cryptography.
 */

/** A generator of uniform numbers in [0, 1). */
export type Rng = () => number;

/** mulberry32 seeded with `seed` (any integer; only its low 32 bits count). */
export function mulberry32(seed: number): Rng {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A 32-bit seed for one named stream derived from a base seed (FNV-1a over the name, mixed with the
 * seed), so each strategy and metric draws from its own stream: adding a strategy to a run does not
 * change another strategy's intervals.
 */
export function streamSeed(seed: number, name: string): number {
  let h = (0x811c9dc5 ^ (seed >>> 0)) >>> 0;
  for (let i = 0; i < name.length; i++) {
    h ^= name.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  // A final avalanche so nearby names and seeds give unrelated states.
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b) >>> 0;
  h ^= h >>> 13;
  return h >>> 0;
}

/** A uniform integer in [0, n). */
export function randomIndex(rng: Rng, n: number): number {
  return Math.min(n - 1, Math.floor(rng() * n));
}
