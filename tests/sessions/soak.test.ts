/**
 * The soak (sessions/soak.ts): 12 trading days on the simulated clock with one injected crash a day,
 * in this process on PGlite (`quorum soak` as a user runs it: tests/cli/doors.test.ts). The CI budget is tight: the
 * proposer sees ten tickers, sessions judge the top 3, and the exit monitor runs hourly (the default
 * cron, every five minutes, is what `quorum soak` and bench/soak.bench.ts use).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createLogger, loadConfig } from '../../config/index.ts';
import { openDb } from '../../db/index.ts';
import { dayEvents, runSoak, soakDays, type SoakReport } from '../../sessions/soak.ts';

const FROM = '1999-05-03';
const TICKERS = ['AA', 'AXP', 'BA', 'C', 'GE', 'HD', 'IBM', 'INTC', 'MSFT', 'WMT'];
const HOURLY = '0 10-15 * * 1-5';

const dirs: string[] = [];
function tempDir(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'quorum-soak-'));
  dirs.push(dir);
  return dir;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('the soak', { concurrent: true }, () => {
  it('12 trading days with a crash each: no double order, nothing half-stored, positions equal the fills', { timeout: 180_000 }, async () => {
    const config = loadConfig({ env: { QUORUM_DATA_DIR: tempDir(), QUORUM_SETTINGS__SESSIONS__EXIT_MONITOR_CRON: HOURLY } });
    const log = createLogger({ ...config, settings: { ...config.settings, logging: { level: 'silent' } } });
    const report: SoakReport = await runSoak({ config, log, from: FROM, days: 12, seed: 7, topN: 3, tickers: TICKERS });
    const summary = JSON.stringify({ ...report, crashes: report.crashes.map((c) => `${c.day} ${c.point} ${c.during}`) }, null, 1);
    expect(report.errors, summary).toEqual([]);
    expect(report.days).toBe(12);
    expect(report.crashesSurvived, summary).toBe(12);
    expect(new Set(report.crashes.map((c) => c.day)).size).toBe(12);
    // Two slots a day, every one completed, also those a crash interrupted.
    expect(report.sessions, summary).toMatchObject({ run: 24, completed: 24, failed: 0 });
    expect(report.sessions.takenOver, summary).toBeGreaterThan(0);
    expect(report.exitMonitorRuns).toBeGreaterThanOrEqual(12 * 6);
    expect(report.orders, summary).toBeGreaterThan(0);
    expect(report.fills, summary).toBeGreaterThan(0);
    expect(report.invariants.doubleOrders, summary).toBe(0);
    expect(report.invariants.doubleJudgements, summary).toBe(0);
    expect(report.invariants.lost, summary).toEqual(Object.fromEntries(Object.keys(report.invariants.lost).map((k) => [k, 0])));
    expect(report.invariants.positionsMatchFills, summary).toBe(true);
    expect(report.ok).toBe(true);

    // Orders from every default slot reach the broker and fill, and no order of a scheduled session is
    // denied for market hours (the default slots lie inside them, early closes included).
    const db = await openDb(config);
    try {
      const bySlot = await db.query(
        `SELECT substr(s.slot, 12, 5) AS at, count(DISTINCT o.id)::int AS orders, count(DISTINCT o.id) FILTER (WHERE o.filled_qty > 0)::int AS filled
           FROM sessions s JOIN order_intents i ON i.session_id = s.id JOIN orders o ON o.intent_id = i.id
          WHERE s.kind = 'scheduled' GROUP BY 1 ORDER BY 1`,
      );
      const rows = z.array(z.object({ at: z.string(), orders: z.number(), filled: z.number() })).parse(bySlot.rows);
      expect(rows.map((r) => r.at)).toEqual(['10:00', '12:30']);
      for (const r of rows) expect(r.filled, JSON.stringify(rows)).toBeGreaterThan(0);
      const marketHours = await db.query(
        `SELECT count(*)::int AS n FROM risk_rule_results r JOIN risk_decisions d ON d.id = r.decision_id JOIN proposals p ON p.id = d.proposal_id
           JOIN sessions s ON s.id = p.session_id WHERE s.kind = 'scheduled' AND r.rule = 'MARKET_HOURS' AND NOT r.passed`,
      );
      expect(marketHours.rows).toEqual([{ n: 0 }]);
    } finally {
      await db.close();
    }
  });

  it('days are NYSE trading days from --from: weekends and Memorial Day 1999 skipped', () => {
    expect(soakDays('1999-05-28', 3)).toEqual(['1999-05-28', '1999-06-01', '1999-06-02']);
    expect(soakDays('1999-05-29', 1)).toEqual(['1999-06-01']);
  });

  it("a day's events: the schedule's slots, the exit monitor inside market hours (13:00 on an early close), then the close", () => {
    const config = loadConfig({ env: {} });
    const full = dayEvents(config, '1999-11-24');
    expect(full.filter((e) => e.kind === 'session').map((e) => e.slot)).toEqual(['1999-11-24T10:00 America/New_York', '1999-11-24T12:30 America/New_York']);
    expect(full.filter((e) => e.kind === 'exits')).toHaveLength(78);
    expect(full[full.length - 1]).toMatchObject({ kind: 'close', at: '1999-11-24T21:00:00.000Z' });
    // The day after Thanksgiving closes at 13:00: the exit monitor's last slot is 12:55.
    const early = dayEvents(config, '1999-11-26').filter((e) => e.kind === 'exits');
    expect(early).toHaveLength(42);
    expect(early[early.length - 1]?.at).toBe('1999-11-26T17:55:00.000Z');
  });
});
