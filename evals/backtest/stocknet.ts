/**
 * The second backtest universe: StockNet's 30 large US stocks, daily OHLCV 2013-01-02..2014-12-31
 * (data/samples/stocknet-2014/prices.csv, long shape). 2013 is the walk-forward models' first training
 * window; 2014 is the replay. No index file covers these years: the benchmark is the universe's own
 * equal-weight buy-and-hold.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../config/index.ts';
import { QuorumError } from '../../contracts/errors.ts';
import { parsePriceCsv } from '../../market/index.ts';
import { groupBars, type PriceData } from './data.ts';

export const STOCKNET_PRICES_FILE = path.join(PROJECT_ROOT, 'data/samples/stocknet-2014/prices.csv');

/** Loads the StockNet prices (only `tickers` when given; an unknown ticker is refused naming the field). */
export function loadStocknetPrices(tickers?: readonly string[]): PriceData {
  const all = groupBars(parsePriceCsv(readFileSync(STOCKNET_PRICES_FILE, 'utf8'), STOCKNET_PRICES_FILE).bars);
  let bars = all;
  if (tickers && tickers.length > 0) {
    const unknown = tickers.filter((t) => !all.has(t));
    if (unknown.length > 0) {
      throw new QuorumError('INPUT_INVALID', `--tickers: ${unknown.join(', ')} not in the StockNet universe (it has ${[...all.keys()].sort().join(' ')})`, {
        field: 'tickers',
      });
    }
    bars = new Map(tickers.map((t) => [t, all.get(t) ?? []]));
  }
  return {
    bars,
    indices: { sp500: null, djia: null },
    sources: [
      `universe: ${path.basename(path.dirname(STOCKNET_PRICES_FILE))}/prices.csv (StockNet, Xu & Cohen ACL 2018, Yahoo daily OHLCV as downloaded in 2017; close split-adjusted, dividends not)`,
    ],
  };
}
