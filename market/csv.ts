/**
 * Price CSV import in the two shapes of the bundled data:
 *  - wide: `date` plus one close column per ticker (DowJones30.csv);
 *  - per ticker: `date` plus open/high/low/close[/adjclose]/volume columns (msft.csv, sp500-2000.csv),
 *    which needs the ticker from the caller (`--ticker`);
 *  - long: `date,ticker` plus the OHLCV columns, one row per ticker and day (StockNet's prices.csv),
 *    rows grouped by ticker or by date, each ticker's dates ascending.
 * Every error names the line (1-based, the header is line 1) and the column; nothing is returned
 * half-parsed, and `ingestPriceCsv` stores all bars in one transaction or none.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { QuorumError } from '../contracts/errors.ts';
import { Ticker } from '../contracts/common.ts';
import { parseWith } from '../contracts/parse.ts';
import type { Db } from '../db/index.ts';
import { Bar, upsertBars } from './bars.ts';
import { dailyBarTs } from './time.ts';

/**
 * Columns of the per-ticker and long shapes (case-insensitive); `adjclose` / `adj_close` are accepted and
 * ignored: `close` is the price traded (split-adjusted in Yahoo downloads), dividends are not folded in.
 */
export const OHLCV_COLUMNS = ['open', 'high', 'low', 'close', 'adjclose', 'adj_close', 'volume'] as const;
/** Cells that mean "no value for this ticker on this date" in the wide shape. */
export const MISSING_CELLS: ReadonlySet<string> = new Set(['', 'NA', 'NaN', 'null']);

export interface CsvImportOptions {
  /** Required for the per-ticker shape; refused for the wide shape. */
  ticker?: string;
  /** `source` column of the stored bars; default `csv:<file name>`. */
  source?: string;
}

export interface ParsedPrices {
  shape: 'wide' | 'ohlcv' | 'long';
  bars: Bar[];
  tickers: string[];
  firstDate: string;
  lastDate: string;
}

function fail(file: string, line: number, message: string, column?: string): never {
  throw new QuorumError('INPUT_INVALID', `${file}:${line}: ${column ? `column "${column}": ` : ''}${message}`, {
    file,
    line,
    ...(column ? { column } : {}),
  });
}

/** Splits one CSV line; double-quoted cells may contain commas and "" escapes. */
export function splitCsvLine(line: string): string[] {
  const cells: string[] = [];
  let cur = '';
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (quoted) {
      if (ch === '"' && line[i + 1] === '"') {
        cur += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else cur += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') {
      cells.push(cur.trim());
      cur = '';
    } else cur += ch;
  }
  cells.push(cur.trim());
  return cells;
}

const DATE_RE = /^\d{4}-\d{2}-\d{2}$/;

function parseNumber(cell: string, file: string, line: number, column: string): number {
  const n = cell === '' ? Number.NaN : Number(cell);
  if (!Number.isFinite(n)) fail(file, line, `expected a number, got "${cell}"`, column);
  return n;
}

/** Parses CSV text into validated bars (no I/O). `file` only labels error messages. */
export function parsePriceCsv(text: string, file: string, options: CsvImportOptions = {}): ParsedPrices {
  const lines = text.split(/\r?\n/);
  while (lines.length > 0 && lines[lines.length - 1]?.trim() === '') lines.pop();
  if (lines.length < 2) fail(file, 1, 'expected a header line and at least one data line');
  const header = splitCsvLine(lines[0] ?? '');
  const lower = header.map((h) => h.toLowerCase());
  const dateCol = lower.indexOf('date');
  if (dateCol < 0) fail(file, 1, 'missing column "date"');
  const dup = lower.find((h, i) => lower.indexOf(h) !== i);
  if (dup !== undefined) fail(file, 1, `duplicate column "${dup}"`);
  const tickerCol = lower.indexOf('ticker');
  const others = lower.filter((_, i) => i !== dateCol && i !== tickerCol);
  if (others.length === 0) fail(file, 1, 'no price columns after "date"');
  const isOhlcv = others.every((h) => (OHLCV_COLUMNS as readonly string[]).includes(h));
  const source = options.source ?? `csv:${path.basename(file)}`;
  if (tickerCol >= 0) {
    if (!isOhlcv) fail(file, 1, `a long file (date,ticker,…) takes only OHLCV columns (${OHLCV_COLUMNS.join(', ')}); got ${others.join(', ')}`);
    if (!lower.includes('close')) fail(file, 1, 'missing column "close" (long OHLCV shape)');
    if (options.ticker) fail(file, 1, 'a long file (a "ticker" column) takes no --ticker');
    return parseLong(lines, header, file, source);
  }

  let columns: Array<{ index: number; name: string }>;
  if (isOhlcv) {
    if (!lower.includes('close')) fail(file, 1, 'missing column "close" (per-ticker OHLCV shape)');
    if (!options.ticker) fail(file, 1, 'this is a per-ticker OHLCV file: pass the ticker (e.g. --ticker MSFT)');
    const t = parseWith(Ticker, options.ticker);
    if (!t.ok) fail(file, 1, `ticker "${options.ticker}": ${t.error}`);
    columns = [];
  } else {
    if (options.ticker) fail(file, 1, 'a wide file (one column per ticker) takes no --ticker');
    columns = header.map((name, index) => ({ index, name })).filter((c) => c.index !== dateCol);
    for (const c of columns) {
      const t = parseWith(Ticker, c.name);
      if (!t.ok) fail(file, 1, `not a ticker column: ${t.error}`, c.name);
    }
  }

  const bars: Bar[] = [];
  const tickers = new Set<string>();
  let prevDate = '';
  for (let li = 1; li < lines.length; li++) {
    const lineNo = li + 1;
    const raw = lines[li] ?? '';
    if (raw.trim() === '') fail(file, lineNo, 'empty line');
    const cells = splitCsvLine(raw);
    if (cells.length !== header.length) fail(file, lineNo, `expected ${header.length} fields, got ${cells.length}`);
    const date = cells[dateCol] ?? '';
    if (!DATE_RE.test(date) || Number.isNaN(Date.parse(date))) fail(file, lineNo, `expected a date like 1999-06-01, got "${date}"`, 'date');
    if (date === prevDate) fail(file, lineNo, `duplicate date ${date}`, 'date');
    if (date < prevDate) fail(file, lineNo, `date ${date} is before the previous line's ${prevDate} (dates must be ascending)`, 'date');
    prevDate = date;
    const ts = dailyBarTs(date);
    const cell = (name: string): string => cells[lower.indexOf(name)] ?? '';

    let candidates: Array<{ bar: unknown; column: string }>;
    if (isOhlcv) {
      const opt = (name: string): number | null => (lower.includes(name) ? parseNumber(cell(name), file, lineNo, header[lower.indexOf(name)] ?? name) : null);
      const ticker = options.ticker ?? '';
      candidates = [
        {
          column: header[lower.indexOf('close')] ?? 'close',
          bar: { ticker, timeframe: '1Day', ts, open: opt('open'), high: opt('high'), low: opt('low'), close: opt('close'), volume: opt('volume'), source },
        },
      ];
    } else {
      candidates = [];
      for (const c of columns) {
        const v = cells[c.index] ?? '';
        if (MISSING_CELLS.has(v)) continue;
        const close = parseNumber(v, file, lineNo, c.name);
        candidates.push({ column: c.name, bar: { ticker: c.name, timeframe: '1Day', ts, open: null, high: null, low: null, close, volume: null, source } });
      }
    }
    for (const cand of candidates) {
      const parsed = parseWith(Bar, cand.bar);
      if (!parsed.ok) fail(file, lineNo, parsed.error, cand.column);
      bars.push(parsed.value);
      tickers.add(parsed.value.ticker);
    }
  }
  const firstDate = splitCsvLine(lines[1] ?? '')[dateCol] ?? '';
  return { shape: isOhlcv ? 'ohlcv' : 'wide', bars, tickers: [...tickers].sort(), firstDate, lastDate: prevDate };
}

/** The long shape: `date,ticker,<OHLCV>` rows; every error names its line and column. */
function parseLong(lines: readonly string[], header: readonly string[], file: string, source: string): ParsedPrices {
  const lower = header.map((h) => h.toLowerCase());
  const col = (name: string): number => lower.indexOf(name);
  const bars: Bar[] = [];
  const lastDate = new Map<string, string>();
  let first = '';
  let last = '';
  for (let li = 1; li < lines.length; li++) {
    const lineNo = li + 1;
    const raw = lines[li] ?? '';
    if (raw.trim() === '') fail(file, lineNo, 'empty line');
    const cells = splitCsvLine(raw);
    if (cells.length !== header.length) fail(file, lineNo, `expected ${header.length} fields, got ${cells.length}`);
    const date = cells[col('date')] ?? '';
    if (!DATE_RE.test(date) || Number.isNaN(Date.parse(date))) fail(file, lineNo, `expected a date like 2014-06-02, got "${date}"`, 'date');
    const rawTicker = cells[col('ticker')] ?? '';
    const t = parseWith(Ticker, rawTicker.toUpperCase());
    if (!t.ok) fail(file, lineNo, `"${rawTicker}": ${t.error}`, 'ticker');
    const ticker = t.value;
    const prev = lastDate.get(ticker);
    if (prev === date) fail(file, lineNo, `duplicate date ${date} for ${ticker}`, 'date');
    if (prev !== undefined && date < prev)
      fail(file, lineNo, `date ${date} is before ${ticker}'s previous ${prev} (each ticker's dates must be ascending)`, 'date');
    lastDate.set(ticker, date);
    if (first === '' || date < first) first = date;
    if (date > last) last = date;
    const opt = (name: string): number | null => (col(name) >= 0 ? parseNumber(cells[col(name)] ?? '', file, lineNo, header[col(name)] ?? name) : null);
    const parsed = parseWith(Bar, {
      ticker,
      timeframe: '1Day',
      ts: dailyBarTs(date),
      open: opt('open'),
      high: opt('high'),
      low: opt('low'),
      close: opt('close'),
      volume: opt('volume'),
      source,
    });
    if (!parsed.ok) fail(file, lineNo, parsed.error, 'close');
    bars.push(parsed.value);
  }
  return { shape: 'long', bars, tickers: [...lastDate.keys()].sort(), firstDate: first, lastDate: last };
}

export interface IngestResult {
  file: string;
  shape: 'wide' | 'ohlcv' | 'long';
  tickers: string[];
  bars: number;
  firstDate: string;
  lastDate: string;
}

/** Reads, validates and stores a price CSV in one transaction: all bars or none. */
export async function ingestPriceCsv(db: Db, file: string, options: CsvImportOptions = {}): Promise<IngestResult> {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new QuorumError('INPUT_INVALID', `cannot read ${file}: ${(error as Error).message}`, { file }, { cause: error });
  }
  const parsed = parsePriceCsv(text, file, options);
  const n = await db.transaction((tx) => upsertBars(tx, parsed.bars));
  return { file, shape: parsed.shape, tickers: parsed.tickers, bars: n, firstDate: parsed.firstDate, lastDate: parsed.lastDate };
}
