import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { createUseLiteEmbedder, searchNews, type Embedder } from '../../rag/index.ts';
import { cachedBarsReader, defaultToolRegistry, INDICATOR_LOOKBACK_BARS, ToolOutcome, type ToolContext } from '../../tools/index.ts';
import type { Db } from '../../db/index.ts';
import { barsAsOf } from '../../market/index.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';
import { loadMsft, makeProposal, storeProposal, storeTestNews } from '../support/committee.ts';

const config = loadConfig({ env: {} });
const proposal = makeProposal();
const RUN_ID = 'cr_tools_test';

async function prepare(t: TestDb): Promise<void> {
  await loadMsft(t.db);
  await storeProposal(t.db, proposal);
  await t.db.query(`INSERT INTO committee_runs (id, proposal_id, thread_id, backend) VALUES ($1, $2, 'thread-tools', 'test')`, [RUN_ID, proposal.id]);
}

function ctxOf(t: TestDb, extra: Partial<ToolContext> = {}): ToolContext {
  return {
    db: t.db,
    runId: RUN_ID,
    agent: 'analyst',
    proposal,
    asOf: proposal.asOf,
    maxResultChars: config.settings.committee.maxToolResultChars,
    riskRules: config.riskRules,
    sectors: config.settings.market.sectors,
    ...extra,
  };
}

const ToolCallRow = (row: unknown) =>
  row as { tool: string; ok: boolean; error_code: string | null; result_digest: string; result_chars: number; latency_ms: number; args: unknown };

let embedder: Embedder;
beforeAll(() => {
  embedder = createUseLiteEmbedder();
});

describe.each(BACKENDS)('tools on $name', ({ open, available }) => {
  let shared: TestDb | null = null;
  let t: TestDb | null = null;
  // One migrated database per backend: the tests only add rows they look up by id.
  beforeAll(async () => {
    if (!available) return;
    shared = await open();
    await prepare(shared);
  });
  afterAll(async () => {
    await shared?.cleanup();
  });

  it.skipIf(!available)('returns only bars up to the as-of time and stores the call with a digest of the result', async () => {
    t = shared;
    if (!t) throw new Error('no database');
    const registry = defaultToolRegistry();
    const out = await registry.call(ctxOf(t), 'bars', { limit: 5 });
    expect(ToolOutcome.parse(out).ok).toBe(true);
    if (!out.ok || out.tool !== 'bars') throw new Error('expected bars');
    expect(out.data.bars).toHaveLength(5);
    expect(out.data.bars.every((b) => b.t <= '2001-06-01')).toBe(true);
    expect(out.data.bars.at(-1)?.t).toBe('2001-06-01');
    expect(out.evidenceId).toBe(`tool:${out.callId}`);
    const rows = await t.db.query('SELECT tool, ok, error_code, result_digest, result_chars, latency_ms, args FROM tool_calls WHERE id = $1', [out.callId]);
    const row = ToolCallRow(rows.rows[0]);
    expect(row.ok).toBe(true);
    expect(row.error_code).toBeNull();
    expect(row.result_digest).toBe(createHash('sha256').update(out.text).digest('hex'));
    expect(row.result_chars).toBe(out.text.length);
    expect(row.latency_ms).toBeGreaterThanOrEqual(0);
    expect(row.args).toEqual({ limit: 5 });
  });

  it.skipIf(!available)('answers an unknown tool with a typed TOOL_UNKNOWN result and stores it', async () => {
    t = shared;
    if (!t) throw new Error('no database');
    const out = await defaultToolRegistry().call(ctxOf(t), 'place_order', { qty: 1000 });
    expect(out.ok).toBe(false);
    if (out.ok) return;
    expect(out.error.code).toBe('TOOL_UNKNOWN');
    expect(out.error.message).toContain('place_order');
    const rows = await t.db.query('SELECT ok, error_code FROM tool_calls WHERE id = $1', [out.callId]);
    expect(rows.rows[0]).toEqual({ ok: false, error_code: 'TOOL_UNKNOWN' });
  });

  it.skipIf(!available)('answers bad arguments with TOOL_INPUT_INVALID naming the field', async () => {
    t = shared;
    if (!t) throw new Error('no database');
    const registry = defaultToolRegistry();
    const tooMany = await registry.call(ctxOf(t), 'bars', { limit: 5000 });
    expect(tooMany.ok === false && tooMany.error.code === 'TOOL_INPUT_INVALID' && tooMany.error.field).toBe('limit');
    const extra = await registry.call(ctxOf(t), 'indicators', { ticker: 'MSFT', asOf: '2030-01-01' });
    expect(extra.ok === false && extra.error.code).toBe('TOOL_INPUT_INVALID');
    expect(extra.ok === false && extra.error.message).toContain('asOf');
    const notObject = await registry.call(ctxOf(t), 'news_search', 'drop table bars');
    expect(notObject.ok === false && notObject.error.code).toBe('TOOL_INPUT_INVALID');
  });

  it.skipIf(!available)('bounds the result text to maxToolResultChars and says it cut', async () => {
    t = shared;
    if (!t) throw new Error('no database');
    const out = await defaultToolRegistry().call(ctxOf(t, { maxResultChars: 300 }), 'bars', { limit: 60 });
    if (!out.ok) throw new Error(out.error.message);
    expect(out.text.length).toBeLessThanOrEqual(300);
    expect(out.truncated).toBe(true);
    expect(out.text.endsWith('…[truncated]')).toBe(true);
  });

  it.skipIf(!available)('computes indicators from bars up to the as-of time only (a later bar changes nothing)', async () => {
    t = shared;
    if (!t) throw new Error('no database');
    const registry = defaultToolRegistry();
    const before = await registry.call(ctxOf(t), 'indicators', {});
    // A wild bar after as-of must not leak into the indicators.
    await t.db.query(`UPDATE bars SET close = close * 10, high = high * 10, volume = 1 WHERE ticker = 'MSFT' AND ts > $1`, [proposal.asOf]);
    const after = await registry.call(ctxOf(t), 'indicators', {});
    if (!before.ok || !after.ok || before.tool !== 'indicators' || after.tool !== 'indicators') throw new Error('expected indicators');
    expect(after.data).toEqual(before.data);
    expect(before.data.barsUsed).toBeGreaterThanOrEqual(35);
    expect(before.data.atrMethod).toBe('true-range');
    expect(before.data.avgDollarVolume20).toBeGreaterThan(1e9);
    expect(before.data.rsi14).toBeGreaterThan(0);
  });

  it.skipIf(!available)('explains the proposal with its attributions, largest first', async () => {
    t = shared;
    if (!t) throw new Error('no database');
    const out = await defaultToolRegistry().call(ctxOf(t), 'explain_proposal', {});
    if (!out.ok || out.tool !== 'explain_proposal') throw new Error('expected explain_proposal');
    expect(out.data.attributions.map((a) => a.feature)).toEqual(['ret_20', 'rsi_14']);
    expect(out.data.model).toBe('gbt-test@1');
  });

  it.skipIf(!available)('shows the portfolio and the limits without writing anything', async () => {
    t = shared;
    if (!t) throw new Error('no database');
    await t.db.query(`INSERT INTO positions (ticker, qty, avg_price) VALUES ('MSFT', 100, 60)`);
    await t.db.query(`INSERT INTO equity_history (ts, equity, cash, source) VALUES ('2001-05-31T20:00:00Z', 100000, 94000, 'test')`);
    const count = async () =>
      (await t!.db.query(`SELECT (SELECT count(*) FROM positions) + (SELECT count(*) FROM equity_history) + (SELECT count(*) FROM trading_state) AS n`))
        .rows[0];
    const rowsBefore = await count();
    const out = await defaultToolRegistry().call(ctxOf(t, { agent: 'risk' }), 'portfolio', {});
    if (!out.ok || out.tool !== 'portfolio') throw new Error('expected portfolio');
    expect(await count()).toEqual(rowsBefore);
    expect(out.data.limits.maxPositions).toBe(config.riskRules.maxPositions);
    expect(out.data.equity).toBe(100000);
    expect(out.data.positions[0]?.ticker).toBe('MSFT');
    expect(out.data.positions[0]?.pctOfEquity).toBeGreaterThan(0);
    expect(out.data.proposalSector).toBe('Technology');
    expect(out.data.tradingState).toBe('ACTIVE');
  });

  it.skipIf(!available)('lists every open position in ticker order with the last equity at or before the as-of time', async () => {
    t = shared;
    if (!t) throw new Error('no database');
    await t.db.query(`INSERT INTO positions (ticker, qty, avg_price) VALUES ('AAPL', 10, 20), ('IBM', 0, 100) ON CONFLICT (ticker) DO NOTHING`);
    await t.db.query(
      `INSERT INTO equity_history (ts, equity, cash, source) VALUES ('2001-06-01T19:00:00Z', 200000, 150000, 'test'), ('2001-06-02T20:00:00Z', 1, 1, 'test')`,
    );
    const out = await defaultToolRegistry().call(ctxOf(t, { agent: 'risk' }), 'portfolio', {});
    if (!out.ok || out.tool !== 'portfolio') throw new Error('expected portfolio');
    // IBM (qty 0) is not a position; the equity after the as-of time is not seen.
    expect(out.data.positions.map((p) => p.ticker)).toEqual(['AAPL', 'MSFT']);
    expect(out.data.openPositions).toBe(2);
    expect({ equity: out.data.equity, cash: out.data.cash }).toEqual({ equity: 200000, cash: 150000 });
  });

  it.skipIf(!available)("reads a run's bars once for bars and indicators, with the results of a direct read", async () => {
    t = shared;
    if (!t) throw new Error('no database');
    const db = t.db;
    let reads = 0;
    const counting: Db = {
      kind: db.kind,
      exec: (sql) => db.exec(sql),
      transaction: (fn) => db.transaction(fn),
      close: () => db.close(),
      query: (sql, params) => {
        if (sql.includes('FROM bars')) reads += 1;
        return db.query(sql, params);
      },
    };
    const readBars = cachedBarsReader(counting, proposal.asOf, INDICATOR_LOOKBACK_BARS);
    const registry = defaultToolRegistry();
    const cached = {
      bars: await registry.call(ctxOf(t, { readBars }), 'bars', { limit: 5 }),
      indicators: await registry.call(ctxOf(t, { readBars }), 'indicators', {}),
    };
    expect(reads).toBe(1);
    const direct = { bars: await registry.call(ctxOf(t), 'bars', { limit: 5 }), indicators: await registry.call(ctxOf(t), 'indicators', {}) };
    if (!cached.bars.ok || !direct.bars.ok || !cached.indicators.ok || !direct.indicators.ok) throw new Error('expected results');
    expect(cached.bars.data).toEqual(direct.bars.data);
    expect(cached.indicators.data).toEqual(direct.indicators.data);
    // More than was read: read again, still the most recent bars up to the as-of time.
    const longer = await readBars('MSFT', INDICATOR_LOOKBACK_BARS + 30);
    expect(reads).toBe(2);
    expect(longer).toEqual(await barsAsOf(db, { ticker: 'MSFT', asOf: proposal.asOf, limit: INDICATOR_LOOKBACK_BARS + 30 }));
  });

  it.skipIf(!available)('fails news_search as a typed error when no embedder is available', async () => {
    t = shared;
    if (!t) throw new Error('no database');
    const out = await defaultToolRegistry().call(ctxOf(t), 'news_search', { query: 'microsoft' });
    expect(out.ok === false && out.error.code).toBe('NOT_FOUND');
  });

  it.skipIf(!available)('searches news point-in-time, cites them as news:<id> and stores the retrievals', async () => {
    t = shared;
    if (!t) throw new Error('no database');
    const ids = await storeTestNews(t.db, embedder, [
      {
        title: 'Microsoft wins antitrust appeal',
        body: 'Microsoft shares rose after the appeals court ruling.',
        publishedAt: '2001-05-30T14:00:00Z',
        tickers: ['MSFT'],
      },
      {
        title: 'Microsoft launches Windows XP early',
        body: 'Microsoft said it would ship Windows XP ahead of plan.',
        publishedAt: '2001-06-20T14:00:00Z',
        tickers: ['MSFT'],
      },
      { title: 'Oil prices climb', body: 'Crude oil rose on supply worries.', publishedAt: '2001-05-29T14:00:00Z', tickers: ['XOM'] },
    ]);
    const searcher = (q: Parameters<typeof searchNews>[2]) => searchNews(t!.db, embedder, q);
    const out = await defaultToolRegistry().call(ctxOf(t, { searchNews: searcher }), 'news_search', { query: 'Microsoft news', k: 5 });
    if (!out.ok || out.tool !== 'news_search') throw new Error(out.ok ? 'wrong tool' : out.error.message);
    expect(out.data.hits.map((h) => h.newsId)).toEqual([ids[0]]);
    expect(ids[0]?.startsWith('news:')).toBe(true);
    expect(out.data.hits[0]?.evidenceId).toBe(ids[0]);
    expect(out.data.hits[0]?.sentiment).not.toBeNull();
    const rows = await t.db.query('SELECT news_id, rank, tool_call_id, ticker FROM retrievals WHERE run_id = $1', [RUN_ID]);
    expect(rows.rows).toEqual([{ news_id: ids[0], rank: 1, tool_call_id: out.callId, ticker: 'MSFT' }]);
  });
});
