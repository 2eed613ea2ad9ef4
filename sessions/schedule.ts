import { Cron } from 'croner';
import { isTradingDay, utcToNewYork } from '../market/index.ts';

/** A firing of the session schedule: its instant and its slot name (one session per slot). */
export interface Slot {
  at: string;
  slot: string;
}

/** `YYYY-MM-DDTHH:MM <timezone>`: the same name on every machine for the same firing. */
export function slotName(at: Date, timezone: string): string {
  const ny = utcToNewYork(at);
  const hh = String(Math.floor(ny.minutes / 60)).padStart(2, '0');
  const mm = String(ny.minutes % 60).padStart(2, '0');
  return `${ny.date}T${hh}:${mm} ${timezone}`;
}

/**
 * The next `n` firings of the cron expressions after `from`, on NYSE trading days only (weekends,
 * holidays and historical closures skipped), in time order. Cron handles the time zone and DST.
 */
export function nextSlots(expressions: readonly string[], timezone: string, from: Date, n: number): Slot[] {
  const out: Slot[] = [];
  for (const expr of expressions) {
    const cron = new Cron(expr, { timezone, paused: true });
    let cursor: Date | null = from;
    let guard = 0;
    let found = 0;
    while (found < n && guard++ < n * 20) {
      cursor = cron.nextRun(cursor);
      if (!cursor) break;
      if (!isTradingDay(utcToNewYork(cursor).date)) continue;
      out.push({ at: cursor.toISOString(), slot: slotName(cursor, timezone) });
      found++;
    }
    cron.stop();
  }
  return out.sort((a, b) => a.at.localeCompare(b.at)).slice(0, n);
}

/**
 * Runs `fire` at every firing of the expressions on trading days. Returns a stop function.
 * (croner rather than our own timer loop: it is kept and handles time zones and DST.)
 */
export function scheduleSlots(expressions: readonly string[], timezone: string, fire: (slot: Slot) => void | Promise<void>): () => void {
  const jobs = expressions.map(
    (expr) =>
      new Cron(expr, { timezone, protect: true }, async (self: Cron) => {
        const at = self.currentRun() ?? new Date();
        if (!isTradingDay(utcToNewYork(at).date)) return;
        await fire({ at: at.toISOString(), slot: slotName(at, timezone) });
      }),
  );
  return () => {
    for (const j of jobs) j.stop();
  };
}
