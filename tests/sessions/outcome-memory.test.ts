/**
 * Outcome memory in live sessions (settings memory.enabled; ADR 0035), in-process on PGlite with the
 * paper exchange over HTTP, the rules committee and the real embedder. A session judges an MSFT
 * proposal and its order fills; the exit monitor's time exit closes the position; a session first
 * records the outcomes known by its as-of (here the closed position, rebuilt from the fills: its exit
 * reason, days held and realised move, known from the closing fill's time) and its committee's
 * analyst then retrieves it with past_outcomes. Before the close nothing is recorded.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createLogger, loadConfig } from '../../config/index.ts';
import { runExitMonitor, startPaperExchange, type RunningPaperExchange } from '../../execution/index.ts';
import { ingestPriceCsv } from '../../market/index.ts';
import { outcomeId } from '../../rag/index.ts';
import { buildSessionEnv, recordKnownOutcomes, runSession, type BuiltEnv, type SessionOutcome } from '../../sessions/index.ts';
import { readRunOutcomeRetrievals, readRunToolCalls } from '../../sessions/committee-views.ts';
import { freshPglite, type TestDb } from '../support/db.ts';
import { MSFT_CSV } from '../support/committee.ts';

const config = loadConfig({
  env: {
    QUORUM_MODELS__LLM__BACKEND: 'rules',
    QUORUM_SETTINGS__LOGGING__LEVEL: 'silent',
    QUORUM_SETTINGS__MEMORY__ENABLED: 'true',
    // A time exit two bars after the fill, so the position closes before its five-day horizon.
    QUORUM_SETTINGS__EXECUTION__EXITS__MAXHOLDINGDAYS: '2',
  },
});

describe('outcome memory across live sessions (PGlite)', () => {
  let t: TestDb;
  let exchange: RunningPaperExchange;
  let built: BuiltEnv;

  beforeAll(async () => {
    t = await freshPglite();
    await ingestPriceCsv(t.db, MSFT_CSV, { ticker: 'MSFT' });
    exchange = await startPaperExchange({ db: t.db, settings: config.settings.execution.paperExchange, port: 0, initialNow: '2001-05-03T16:30:00.000Z' });
    built = await buildSessionEnv(t.db, config, createLogger(config), { exchangeClock: true, paperExchangeUrl: exchange.url });
  }, 120_000);
  afterAll(async () => {
    await built?.close();
    await exchange?.close();
    await t?.cleanup();
  });

  const session = (asOf: string): Promise<SessionOutcome> =>
    runSession(built.env, { asOf, kind: 'manual', slot: `memory ${asOf}`, topN: 1, tickers: ['MSFT'] });
  const runOf = async (s: SessionOutcome): Promise<string> => {
    const r = await t.db.query<{ run_id: string }>('SELECT run_id FROM verdicts WHERE proposal_id = $1', [s.judged[0]?.proposal.id]);
    const id = r.rows[0]?.run_id;
    if (!id) throw new Error('no committee run');
    return id;
  };

  it("records a closed position's outcome from its close and a later session's committee retrieves it, never before", async () => {
    const first = await session('2001-05-03T16:30:00.000Z');
    const judged = first.judged[0];
    expect(judged?.order?.status).toBe('accepted');
    if (!judged) throw new Error('nothing judged');
    // The first session's own committee searched memory and found nothing: nothing was known yet.
    const firstRun = await runOf(first);
    expect((await readRunToolCalls(t.db, firstRun)).filter((c) => c.tool === 'past_outcomes').map((c) => [c.agent, c.ok])).toEqual([['analyst', true]]);
    expect(await readRunOutcomeRetrievals(t.db, firstRun)).toEqual([]);

    // The exit monitor's time exit on 2001-05-08; the closing order fills at that day's close.
    const clock = built.env.exchangeClock;
    if (!clock || !built.env.embedder) throw new Error('no exchange clock or embedder');
    await clock.startSession('2001-05-08T16:30:00.000Z');
    expect((await runExitMonitor({ db: t.db, broker: built.env.broker, config, asOf: '2001-05-08T16:30:00.000Z' })).map((a) => a.kind)).toEqual(['time_exit']);
    await clock.advanceBars(1);

    // Just before the close, nothing is known: the horizon has not passed and the position is open.
    expect(await recordKnownOutcomes(t.db, { embedder: built.env.embedder, asOf: '2001-05-08T19:59:59.000Z' })).toEqual({ closed: 0, horizon: 0, pending: 1 });
    expect((await t.db.query('SELECT id FROM outcomes')).rows).toEqual([]);

    // A later session records it before judging, and its committee's analyst retrieves it.
    const later = await session('2001-05-15T16:30:00.000Z');
    expect(later.judged).toHaveLength(1);
    const row = await t.db.query<{
      known_at: Date;
      ended_by: string;
      exit_reason: string;
      days_held: number;
      forward_return: number;
      reflection: string | null;
    }>('SELECT known_at, ended_by, exit_reason, days_held, forward_return, reflection FROM outcomes WHERE id = $1', [outcomeId(judged.proposal.id)]);
    const fills = await t.db.query<{ side: string; price: number; filled_at: Date }>(
      `SELECT side, price, filled_at FROM fills WHERE ticker = 'MSFT' ORDER BY filled_at`,
    );
    const [entry, exit] = fills.rows;
    if (!entry || !exit) throw new Error('expected an entry and an exit fill');
    // Known from the closing fill (2001-05-08's close), held over 05-04, 05-07 and 05-08, the move it realised.
    expect(row.rows[0]).toMatchObject({ ended_by: 'closed', exit_reason: 'time', days_held: 3, reflection: null });
    expect(row.rows[0]?.known_at.toISOString()).toBe(exit.filled_at.toISOString());
    expect(exit.filled_at.toISOString()).toBe('2001-05-08T20:00:00.000Z');
    expect(row.rows[0]?.forward_return).toBeCloseTo(exit.price / entry.price - 1, 10);
    const retrieved = await readRunOutcomeRetrievals(t.db, await runOf(later));
    expect(retrieved.map((r) => r.outcome_id)).toEqual([outcomeId(judged.proposal.id)]);
    expect(Date.parse(String(retrieved[0]?.known_at))).toBeLessThan(Date.parse('2001-05-15T16:30:00.000Z'));
    const audit = await t.db.query<{ payload: unknown }>(`SELECT payload FROM audit_events WHERE kind = 'session.outcomes' ORDER BY id`);
    expect(audit.rows.map((r) => r.payload)).toEqual([
      { closed: 0, horizon: 0, pending: 0 },
      { closed: 1, horizon: 0, pending: 0 },
    ]);
  }, 240_000);
});
