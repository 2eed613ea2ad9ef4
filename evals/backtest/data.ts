/**
 * The backtest's prices: the bundled real CSVs (data/samples/prices), held in memory and read only
 * through a point-in-time view (`PriceView`) that never hands out a bar after the day asked for.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { QuorumError } from '../../contracts/errors.ts';
import { checkTradingDateIn, dailyBarTs, parsePriceCsv, utcToNewYork, type Bar } from '../../market/index.ts';
import { SAMPLE_PRICES_DIR } from '../fixture.ts';

/** The universe: daily closes of the Dow 30, 1990-12-31..2001-01-02 (close only). */
export const DOW30_FILE = path.join(SAMPLE_PRICES_DIR, 'DowJones30.csv');
/** The S&P 500 index, daily OHLCV, from 2000-01-03. */
export const SP500_FILE = path.join(SAMPLE_PRICES_DIR, 'sp500-2000.csv');
/** The Dow Jones Industrial Average, daily close, 1980-2012. */
export const DJIA_FILE = path.join(SAMPLE_PRICES_DIR, 'DJIA8012.csv');

/** Benchmark index closes by name (null when the file is not loaded). */
export interface IndexSeries {
  sp500: readonly Bar[] | null;
  djia: readonly Bar[] | null;
}

/** Prices of a backtest: the universe's bars per ticker (oldest first) and the benchmark indices. */
export interface PriceData {
  bars: ReadonlyMap<string, readonly Bar[]>;
  indices: IndexSeries;
  /** Where the prices came from, one line each (for the report's notes). */
  sources: string[];
}

function readCsv(file: string, ticker?: string): Bar[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new QuorumError('INPUT_INVALID', `cannot read ${file}: ${(error as Error).message}`, { file }, { cause: error });
  }
  return parsePriceCsv(text, file, ticker ? { ticker } : {}).bars;
}

/** Groups bars by ticker, each ticker's bars oldest first. */
export function groupBars(bars: readonly Bar[]): Map<string, Bar[]> {
  const by = new Map<string, Bar[]>();
  for (const b of bars) {
    const list = by.get(b.ticker) ?? [];
    list.push(b);
    by.set(b.ticker, list);
  }
  for (const list of by.values()) list.sort((a, b) => (a.ts < b.ts ? -1 : a.ts > b.ts ? 1 : 0));
  return by;
}

/**
 * Loads the bundled Dow 30 closes (only `tickers` when given) and both benchmark indices. An unknown
 * ticker is refused naming the field.
 */
export function loadBundledPrices(tickers?: readonly string[]): PriceData {
  const all = groupBars(readCsv(DOW30_FILE));
  let bars: Map<string, Bar[]> = all;
  if (tickers && tickers.length > 0) {
    const unknown = tickers.filter((t) => !all.has(t));
    if (unknown.length > 0) {
      throw new QuorumError(
        'INPUT_INVALID',
        `--tickers: ${unknown.join(', ')} not in ${path.basename(DOW30_FILE)} (it has ${[...all.keys()].sort().join(' ')})`,
        {
          field: 'tickers',
        },
      );
    }
    bars = new Map(tickers.map((t) => [t, all.get(t) ?? []]));
  }
  return {
    bars,
    indices: { sp500: readCsv(SP500_FILE, 'SPX'), djia: readCsv(DJIA_FILE, 'DJI') },
    sources: [
      `universe: ${path.basename(DOW30_FILE)} (Debian r-cran-fbasics DowJones30, daily closes, appears split/dividend adjusted)`,
      `S&P 500: ${path.basename(SP500_FILE)} (npm vega-datasets, price index, from 2000-01-03)`,
      `DJIA: ${path.basename(DJIA_FILE)} (Debian r-cran-aer DJIA8012, price index, 1980-2012)`,
    ],
  };
}

/** The New York date of a daily bar. */
export function barDate(bar: Bar): string {
  return utcToNewYork(bar.ts).date;
}

/**
 * The point-in-time view of a universe: the trading days (every date on which some ticker has a bar),
 * and for each ticker how many of its bars are dated on or before each day. Every read names the day
 * it is made on and returns nothing later.
 */
export class PriceView {
  /** Trading days, ascending (New York dates). */
  readonly days: readonly string[];
  readonly tickers: readonly string[];
  private readonly bars: ReadonlyMap<string, readonly Bar[]>;
  /** ticker -> for each day index, the number of that ticker's bars dated on or before the day. */
  private readonly known: ReadonlyMap<string, Int32Array>;
  /** ticker -> for each day index, the index of its bar dated exactly that day, or -1. */
  private readonly exact: ReadonlyMap<string, Int32Array>;

  constructor(bars: ReadonlyMap<string, readonly Bar[]>) {
    this.bars = bars;
    this.tickers = [...bars.keys()].sort();
    const dates = new Set<string>();
    const datesOf = new Map<string, string[]>();
    for (const [ticker, list] of bars) {
      const ds = list.map(barDate);
      datesOf.set(ticker, ds);
      for (const d of ds) dates.add(d);
    }
    this.days = [...dates].sort();
    const known = new Map<string, Int32Array>();
    const exact = new Map<string, Int32Array>();
    for (const ticker of this.tickers) {
      const ds = datesOf.get(ticker) ?? [];
      const k = new Int32Array(this.days.length);
      const e = new Int32Array(this.days.length).fill(-1);
      let j = 0;
      this.days.forEach((day, i) => {
        while (j < ds.length && (ds[j] ?? '') <= day) {
          if (ds[j] === day) e[i] = j;
          j++;
        }
        k[i] = j;
      });
      known.set(ticker, k);
      exact.set(ticker, e);
    }
    this.known = known;
    this.exact = exact;
  }

  /** Index of `date` among the trading days, or -1. */
  indexOf(date: string): number {
    let lo = 0;
    let hi = this.days.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const d = this.days[mid] ?? '';
      if (d === date) return mid;
      if (d < date) lo = mid + 1;
      else hi = mid - 1;
    }
    return -1;
  }

  /** The bars of `ticker` dated on or before day `i` (the last `limit` of them), oldest first. */
  barsUpTo(ticker: string, i: number, limit?: number): readonly Bar[] {
    const n = this.known.get(ticker)?.[i] ?? 0;
    const list = this.bars.get(ticker) ?? [];
    return list.slice(limit === undefined ? 0 : Math.max(0, n - limit), n);
  }

  /** The bar of `ticker` dated exactly day `i`, or null (no trading in it that day). */
  barOn(ticker: string, i: number): Bar | null {
    const j = this.exact.get(ticker)?.[i] ?? -1;
    return j >= 0 ? (this.bars.get(ticker)?.[j] ?? null) : null;
  }

  /** The last close of `ticker` on or before day `i`, or null. */
  closeAt(ticker: string, i: number): number | null {
    const n = this.known.get(ticker)?.[i] ?? 0;
    return n > 0 ? (this.bars.get(ticker)?.[n - 1]?.close ?? null) : null;
  }

  /** Bars of `ticker` dated after day `i` up to day `j` (both indices into `days`): the ones a fill or exit after `i` sees. */
  barsBetween(ticker: string, i: number, j: number): readonly Bar[] {
    const a = this.known.get(ticker)?.[i] ?? 0;
    const b = this.known.get(ticker)?.[j] ?? 0;
    return (this.bars.get(ticker) ?? []).slice(a, b);
  }
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

/** Parses a `YYYY-MM-DD` flag value that is a real calendar date; the error names the flag. */
export function parseDateFlag(value: string, field: 'from' | 'to'): string {
  const ms = DATE_RE.test(value) ? Date.parse(`${value}T00:00:00Z`) : Number.NaN;
  if (!Number.isFinite(ms) || new Date(ms).toISOString().slice(0, 10) !== value) {
    throw new QuorumError('INPUT_INVALID', `--${field}: expected a date like 1995-01-03, got "${value}"`, { field });
  }
  return value;
}

/** The trading-day indices a backtest runs over. */
export interface BacktestRange {
  fromIdx: number;
  toIdx: number;
  from: string;
  to: string;
}

/**
 * Checks a requested range against the data with the date check every command uses
 * (market/checkTradingDateIn over the view's days): both dates valid trading days, from <= to, and
 * both inside the data, `from` with at least `minTrainDays` trading days of bars before it for the
 * first training window. Errors name the field (`from`, `to`) and give the available range.
 */
export function resolveRange(view: PriceView, fromRaw: string, toRaw: string, minTrainDays: number): BacktestRange {
  const from = parseDateFlag(fromRaw, 'from');
  const to = parseDateFlag(toRaw, 'to');
  if (view.days.length === 0) throw new QuorumError('INPUT_INVALID', 'no prices loaded', { field: 'tickers' });
  const times = view.days.map((d) => dailyBarTs(d));
  const options = {
    purpose: 'backtest',
    warmupBars: minTrainDays + 1,
    warmupReason: `the first model's ${minTrainDays} training days and the day itself`,
  } as const;
  checkTradingDateIn(times, from, { ...options, field: 'from', label: '--from' });
  checkTradingDateIn(times, to, { ...options, field: 'to', label: '--to' });
  if (from > to) throw new QuorumError('INPUT_INVALID', `--to ${to} is before --from ${from}`, { field: 'to' });
  const fromIdx = view.indexOf(from);
  const toIdx = view.indexOf(to);
  // A trading day of the calendar on which no ticker of the universe has a bar (a gap in the data).
  if (fromIdx < 0) throw new QuorumError('INPUT_INVALID', `--from ${from}: no bar of the universe is dated that day`, { field: 'from' });
  if (toIdx < 0) throw new QuorumError('INPUT_INVALID', `--to ${to}: no bar of the universe is dated that day`, { field: 'to' });
  return { fromIdx, toIdx, from, to };
}
