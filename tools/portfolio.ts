import { z } from 'zod';
import { lastBar } from '../market/index.ts';
import { defineTool } from './registry.ts';
import type { PortfolioOutput } from './schema.ts';

const PositionRow = z.object({ ticker: z.string(), qty: z.number(), avg_price: z.number() });
const EquityRow = z.object({ equity: z.number(), cash: z.number() });
const StateRow = z.object({ state: z.string() });

/**
 * A read-only view of the book and the hard limits. It only SELECTs: the committee can see the
 * limits, never change them (the risk controller applies them after the verdict).
 */
export const portfolioTool = defineTool({
  name: 'portfolio',
  description: 'Read-only: positions, equity, trading state and the hard limits (positions, % of equity per position and sector).',
  input: z.object({}).strict(),
  async run(ctx) {
    const [posRes, eqRes, stRes] = await Promise.all([
      ctx.db.query('SELECT ticker, qty, avg_price FROM positions WHERE qty <> 0 ORDER BY ticker'),
      ctx.db.query('SELECT equity, cash FROM equity_history WHERE ts <= $1 ORDER BY ts DESC LIMIT 1', [ctx.asOf]),
      ctx.db.query('SELECT state FROM trading_state WHERE id = 1'),
    ]);
    const eq = eqRes.rows[0] ? EquityRow.parse(eqRes.rows[0]) : null;
    const positions: PortfolioOutput['positions'] = [];
    for (const row of posRes.rows.map((r) => PositionRow.parse(r))) {
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
      tradingState: stRes.rows[0] ? StateRow.parse(stRes.rows[0]).state : 'HALTED',
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
