import { describe, expect, it } from 'vitest';
import { QuorumError } from '../../contracts/errors.ts';
import { loadStocknetPrices } from '../../evals/backtest/index.ts';

describe('the StockNet backtest universe', () => {
  it('loads the real long-shape prices.csv: 30 tickers of OHLCV 2013-01-02..2014-12-31, split-adjusted closes, no index files, and refuses an unknown ticker naming the field', () => {
    const data = loadStocknetPrices();
    expect(data.bars.size).toBe(30);
    const aapl = data.bars.get('AAPL') ?? [];
    expect(aapl).toHaveLength(504);
    expect(aapl[0]).toMatchObject({ ts: '2013-01-02T21:00:00.000Z' });
    expect(aapl.at(-1)).toMatchObject({ ts: '2014-12-31T21:00:00.000Z' });
    expect(aapl.every((b) => b.open !== null && b.high !== null && b.low !== null && b.volume !== null)).toBe(true);
    expect(data.indices).toEqual({ sp500: null, djia: null });
    // AAPL's 7:1 split of 2014-06-09 is already in the close: no 85% overnight drop.
    const split = aapl.findIndex((b) => b.ts === '2014-06-09T20:00:00.000Z');
    expect(split).toBeGreaterThan(0);
    expect(Math.abs((aapl[split]?.close ?? 0) / (aapl[split - 1]?.close ?? 1) - 1)).toBeLessThan(0.05);
    expect([...loadStocknetPrices(['KO', 'AAPL']).bars.keys()]).toEqual(['KO', 'AAPL']);
    const error = (() => {
      try {
        loadStocknetPrices(['AAPL', 'IBM']);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(QuorumError.is(error, 'INPUT_INVALID')).toBe(true);
    expect((error as QuorumError).details.field).toBe('tickers');
    expect((error as QuorumError).message).toContain('IBM not in the StockNet universe');
  });
});
