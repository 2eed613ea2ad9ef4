/** Number formatting for rule details: short, fixed, and the same on every machine. */

const SCALES = [1, 10, 100, 1000, 10_000];
const ZEROS = ['', '0', '00', '000', '0000'];

/**
 * `n` with `digits` (0-4) decimals, like toFixed but about twice as fast (every decision formats some
 * fifty numbers into its rule details); non-finite values print as-is (NaN, Infinity) so bad input shows.
 */
export function num(n: number, digits = 2): string {
  if (!Number.isFinite(n)) return String(n);
  const scale = SCALES[digits];
  const magnitude = Math.abs(n);
  if (scale === undefined || magnitude >= 1e12) return n.toFixed(digits);
  const scaled = Math.round(magnitude * scale);
  const whole = Math.floor(scaled / scale);
  const sign = n < 0 && scaled !== 0 ? '-' : '';
  if (digits === 0) return `${sign}${whole}`;
  const frac = String(scaled - whole * scale);
  return `${sign}${whole}.${ZEROS[digits - frac.length] ?? ''}${frac}`;
}

/** A percentage, e.g. `3.10%`. */
export function pct(n: number, digits = 2): string {
  return `${num(n, digits)}%`;
}

/** A signed quantity, e.g. `+100` or `-20`. */
export function signed(n: number): string {
  return n > 0 ? `+${n}` : String(n);
}

/** A cap for the detail text: `none` when a rule does not limit the quantity. */
export function cap(n: number): string {
  return n === Number.POSITIVE_INFINITY ? 'none' : String(n);
}

/** RuleResult.detail holds at most this many characters (contracts/risk-decision.ts). */
export const MAX_DETAIL_CHARS = 500;

/** Shortens over-long details (ids are unbounded strings) so a decision always fits its schema. */
export function clipDetails<T extends { detail: string }>(results: T[]): T[] {
  for (const r of results) if (r.detail.length > MAX_DETAIL_CHARS) r.detail = `${r.detail.slice(0, MAX_DETAIL_CHARS - 1)}…`;
  return results;
}
