import { z } from 'zod';
import { lastBar } from '../market/index.ts';
import { defineTool } from './registry.ts';
import type { PortfolioOutput } from './schema.ts';

// One row per open position (or one row with null position columns when there is none), each
// with the latest equity at the as-of time and the trading state: one query instead of three.
const BookRow = z.object({
  ticker: z.string().nullable(),
  qty: z.number().nullable(),
  avg_price: z.number().nullable(),
  equity: z.number().nullable(),
  cash: z.number().nullable(),
  state: z.string().nullable(),
});
const BOOK_SQL = `SELECT p.ticker, p.qty, p.avg_price, e.equity, e.cash, s.state
  FROM (SELECT 1) one
  LEFT JOIN positions p ON p.qty <> 0
  LEFT JOIN LATERAL (SELECT equity, cash FROM equity_history WHERE ts <= $1 ORDER BY ts DESC LIMIT 1) e ON true
  LEFT JOIN trading_state s ON s.id = 1
  ORDER BY p.ticker`;

/**
 * A read-only view of the book and the hard limits. It only SELECTs: the committee can see the
 * limits, never change them (the risk controller applies them after the verdict).
 */
export const portfolioTool = defineTool({
  name: 'portfolio',
  description: 'Read-only: positions, equity, trading state and the hard limits (positions, % of equity per position and sector).',
  input: z.object({}).strict(),
  async run(ctx) {
    const book = (await ctx.db.query(BOOK_SQL, [ctx.asOf])).rows.map((r) => BookRow.parse(r));
    const first = book[0];
    const eq = first && first.equity !== null && first.cash !== null ? { equity: first.equity, cash: first.cash } : null;
    const positions: PortfolioOutput['positions'] = [];
    for (const row of book) {
      if (row.ticker === null || row.qty === null || row.avg_price === null) continue;
      const bar = await lastBar(ctx.db, row.ticker, ctx.asOf);
      const lastPrice = bar?.close ?? null;
      positions.push({
        ticker: row.ticker,
        qty: row.qty,
        avgPrice: row.avg_price,
        lastPrice,
        pctOfEquity: eq && eq.equity > 0 && lastPrice !== null ? Number(((Math.abs(row.qty) * lastPrice * 100) / eq.equity).toFixed(3)) : null,
        sector: ctx.sectors[row.ticker] ?? null,
      });
    }
    const proposalSector = ctx.sectors[ctx.proposal.ticker] ?? null;
    const inSector = positions.filter((p) => proposalSector !== null && p.sector === proposalSector);
    const sectorPct =
      proposalSector === null || inSector.some((p) => p.pctOfEquity === null) || !eq ? null : inSector.reduce((a, p) => a + (p.pctOfEquity ?? 0), 0);
    const r = ctx.riskRules;
    return {
      asOf: ctx.asOf,
      equity: eq?.equity ?? null,
      cash: eq?.cash ?? null,
      tradingState: first?.state ?? 'HALTED',
      positions,
      limits: {
        maxPositions: r.maxPositions,
        maxPositionPct: r.maxPositionPct,
        maxSectorPct: r.maxSectorPct,
        maxGrossExposurePct: r.maxGrossExposurePct,
        riskPerTradePct: r.riskPerTradePct,
        allowShort: r.allowShort,
      },
      openPositions: positions.length,
      proposalSector,
      sectorPct,
    };
  },
});
