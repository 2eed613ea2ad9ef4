import type { RiskDecision } from '../../contracts/index.ts';
import type { Settings } from '../../config/index.ts';
import type { Db } from '../../db/index.ts';
import { upsertBars, type Bar } from '../../market/index.ts';
import { recordRiskDecision } from '../../execution/index.ts';

/** Paper exchange settings for tests: no slippage or commission unless asked, fills at the next open. */
export function exchangeSettings(over: Partial<Settings['execution']['paperExchange']> = {}): Settings['execution']['paperExchange'] {
  return { port: 0, slippageBps: 0, commissionPerShare: 0, commissionBps: 0, startingCash: 100_000, fillMode: 'next-open', ...over };
}

/** Weekday dates from `start`, `n` of them. */
export function weekdays(start: string, n: number): string[] {
  const out: string[] = [];
  for (let t = Date.parse(`${start}T00:00:00Z`); out.length < n; t += 86_400_000) {
    const d = new Date(t);
    if (d.getUTCDay() !== 0 && d.getUTCDay() !== 6) out.push(d.toISOString().slice(0, 10));
  }
  return out;
}

/**
 * Daily OHLC bars from closes: open = previous close, high/low 0.5 beyond the body, stamped at the
 * close (21:00Z = 16:00 New York in winter).
 */
export function barsFromCloses(ticker: string, start: string, closes: readonly number[]): Bar[] {
  const days = weekdays(start, closes.length);
  return closes.map((close, i) => {
    const open = i === 0 ? close : (closes[i - 1] ?? close);
    return {
      ticker,
      timeframe: '1Day',
      ts: `${days[i]}T21:00:00.000Z`,
      open,
      high: Math.max(open, close) + 0.5,
      low: Math.min(open, close) - 0.5,
      close,
      volume: 1_000_000,
      source: 'test',
    };
  });
}

export async function loadBars(db: Db, bars: Bar[]): Promise<void> {
  await upsertBars(db, bars);
}

/** A risk decision as the controller would make it (ALLOW with a bracket unless told otherwise). */
export function decision(over: Partial<RiskDecision> = {}): RiskDecision {
  return {
    id: 'rd-1',
    proposalId: 'prop-1',
    verdictId: 'verdict-1',
    ticker: 'MSFT',
    side: 'buy',
    action: 'ALLOW',
    requestedQty: 10,
    finalQty: 10,
    entryPrice: 100,
    stop: 97,
    target: 110,
    tradingState: 'ACTIVE',
    rules: [{ rule: 'MAX_POSITIONS', passed: true, detail: 'open=0 limit=12' }],
    limitedBy: [],
    decidedAt: '2020-02-11T21:00:00.000Z',
    ...over,
  };
}

/** Stores the rows a risk decision references (feature snapshot, proposal, verdict) and the decision itself. */
export async function seedDecision(db: Db, d: RiskDecision): Promise<void> {
  await db.query(
    `INSERT INTO feature_snapshots (id, feature_set, feature_set_version, as_of, tickers, feature_names, payload)
     VALUES ('fs-test', 'test', '1', $1, ARRAY['MSFT'], ARRAY['f'], '{}') ON CONFLICT DO NOTHING`,
    [d.decidedAt],
  );
  await db.query(
    `INSERT INTO proposals (id, ticker, side, probability, expected_return, horizon_days, model_id, model_version, feature_snapshot_id, as_of, payload)
     VALUES ($1, $2, $3, 0.6, 0.01, 5, 'm', '1', 'fs-test', $4, '{}') ON CONFLICT DO NOTHING`,
    [d.proposalId, d.ticker, d.side, d.decidedAt],
  );
  await db.query(
    `INSERT INTO verdicts (id, proposal_id, decision, size_multiplier, confidence, backend, model, prompt_version, payload)
     VALUES ($1, $2, 'APPROVE', 1, 0.8, 'rules', 'rules', 'v1', '{}') ON CONFLICT DO NOTHING`,
    [d.verdictId, d.proposalId],
  );
  await recordRiskDecision(db, d);
}
