/**
 * The bounded evidence block of one prompt (graph/evidence.ts): ranking, the news-count and
 * character limits, determinism, who sees what, and the tool data a rules critic gets.
 */
import { describe, expect, it } from 'vitest';
import { evidenceCost, selectEvidence } from '../../graph/index.ts';
import { ToolOutcome, type NewsHit } from '../../tools/index.ts';

const AS_OF = '2001-06-01T20:00:00.000Z';

function hit(id: string, score: number): NewsHit {
  return {
    evidenceId: `news:${id}`,
    newsId: id,
    title: `headline ${id}`,
    snippet: `text of ${id}`,
    publishedAt: '2001-05-30T14:00:00.000Z',
    source: 'wire',
    tickerMatch: 1,
    tickers: ['MSFT'],
    sentiment: 0,
    score,
  };
}

function search(agent: string, callId: string, hits: NewsHit[]): ToolOutcome {
  return ToolOutcome.parse({
    ok: true,
    callId,
    evidenceId: `tool:${callId}`,
    agent,
    tool: 'news_search',
    data: { query: 'q', asOf: AS_OF, ticker: 'MSFT', hits },
    text: '{}',
    truncated: false,
    latencyMs: 1,
  });
}

function explain(agent: string, callId: string): ToolOutcome {
  const data = {
    proposalId: 'p',
    ticker: 'MSFT',
    side: 'buy',
    probability: 0.6,
    expectedReturn: 0.01,
    horizonDays: 5,
    model: 'm@1',
    method: 'occlusion',
    base: null,
    attributions: [],
  };
  return ToolOutcome.parse({
    ok: true,
    callId,
    evidenceId: `tool:${callId}`,
    agent,
    tool: 'explain_proposal',
    data,
    text: JSON.stringify(data),
    truncated: false,
    latencyMs: 1,
  });
}

function portfolio(agent: string, callId: string): ToolOutcome {
  const limits = { maxPositions: 12, maxPositionPct: 10, maxSectorPct: 30, maxGrossExposurePct: 100, riskPerTradePct: 0.5, allowShort: false };
  const data = {
    asOf: AS_OF,
    equity: null,
    cash: null,
    tradingState: 'ACTIVE',
    positions: [],
    limits,
    openPositions: 0,
    proposalSector: 'Technology',
    sectorPct: null,
  };
  return ToolOutcome.parse({
    ok: true,
    callId,
    evidenceId: `tool:${callId}`,
    agent,
    tool: 'portfolio',
    data,
    text: JSON.stringify(data),
    truncated: false,
    latencyMs: 1,
  });
}

function failure(agent: string, callId: string): ToolOutcome {
  return ToolOutcome.parse({
    ok: false,
    callId,
    evidenceId: `tool:${callId}`,
    agent,
    tool: 'news_search',
    error: { code: 'TOOL_INPUT_INVALID', message: `bad k ${'x'.repeat(900)}`, field: 'k' },
    text: '{}',
    latencyMs: 1,
  });
}

const WIDE = { maxNewsItems: 100, maxChars: 100_000 };

describe('selectEvidence', () => {
  const outcomes = [
    search('analyst', 'a1', [hit('a1r1', 0.9), hit('a1r2', 0.8), hit('a1r3', 0.7)]),
    search('analyst', 'a2', [hit('a2r1', 0.5), hit('a1r2', 0.95), hit('a2r3', 0.4)]),
    explain('analyst', 'a3'),
    failure('analyst', 'a4'),
    portfolio('risk', 'r1'),
    search('risk', 'r2', [hit('r2r1', 0.3), hit('r2r2', 0.2)]),
  ];

  it('ranks own results, then shared results, then news (own searches first, by rank across searches, then score), then caller-only results and own errors', () => {
    expect(selectEvidence(outcomes, 'analyst', WIDE).items.map((i) => i.id)).toEqual([
      'tool:r1',
      'news:a1r1',
      'news:a2r1',
      'news:a1r2',
      'news:a1r3',
      'news:a2r3',
      'news:r2r1',
      'news:r2r2',
      'tool:a3',
      'tool:a4',
    ]);
    expect(selectEvidence(outcomes, 'risk', WIDE).items.map((i) => i.id)).toEqual([
      'tool:r1',
      'news:r2r1',
      'news:r2r2',
      'news:a1r1',
      'news:a2r1',
      'news:a1r2',
      'news:a1r3',
      'news:a2r3',
    ]);
  });

  it('shows tool errors and caller-only results only to the agent that made the call, with the error message bounded', () => {
    const committee = selectEvidence(outcomes, 'committee', WIDE).items;
    expect(committee.map((i) => i.id)).not.toContain('tool:a3');
    expect(committee.map((i) => i.id)).not.toContain('tool:a4');
    const error = selectEvidence(outcomes, 'analyst', WIDE).items.find((i) => i.id === 'tool:a4');
    expect(error?.kind).toBe('tool-error');
    expect(error?.text.length).toBeLessThan(400);
  });

  it('keeps at most maxNewsItems news items and drops the lowest ranked, counted', () => {
    const sel = selectEvidence(outcomes, 'committee', { maxNewsItems: 3, maxChars: 100_000 });
    // Rank 1 of each search first (by score), then rank 2: no single search fills the block.
    expect(sel.items.map((i) => i.id)).toEqual(['tool:r1', 'news:a1r1', 'news:a2r1', 'news:r2r1']);
    expect(sel.dropped).toEqual(['news:a1r2', 'news:r2r2', 'news:a1r3', 'news:a2r3']);
  });

  it('keeps the evidence within maxChars (blocks and their ids), skipping what does not fit, deterministically', () => {
    const all = selectEvidence(outcomes, 'committee', WIDE);
    const limit = all.items.slice(0, 3).reduce((a, i) => a + evidenceCost(i), 0) + 10;
    const sel = selectEvidence(outcomes, 'committee', { maxNewsItems: 100, maxChars: limit });
    expect(sel.items.map((i) => i.id)).toEqual(all.items.slice(0, 3).map((i) => i.id));
    expect(sel.chars).toBeLessThanOrEqual(limit);
    expect(sel.items.length + sel.dropped.length).toBe(all.items.length);
    expect(selectEvidence([...outcomes], 'committee', { maxNewsItems: 100, maxChars: limit })).toEqual(sel);
  });

  it('gives a rules critic only the tool data of the kept items', () => {
    const sel = selectEvidence(outcomes, 'committee', { maxNewsItems: 2, maxChars: 100_000 });
    const hits = sel.outcomes.flatMap((o) => (o.ok && o.tool === 'news_search' ? o.data.hits.map((h) => h.evidenceId) : []));
    expect(new Set(hits)).toEqual(new Set(['news:a1r1', 'news:a2r1']));
    expect(sel.outcomes.some((o) => o.tool === 'portfolio')).toBe(true);
    expect(sel.outcomes.some((o) => !o.ok)).toBe(false);
  });
});
