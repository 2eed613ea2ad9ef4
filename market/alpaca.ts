/**
 * Alpaca market data and calendar through the official SDK (@alpacahq/alpaca-trade-api 4.x).
 * The SDK has no base-URL option, so `baseUrls` rewrites request origins through its `fetchApi` hook:
 * that is how tests point the real SDK at a local server speaking Alpaca's API.
 */
import { Alpaca, TimeFrame } from '@alpacahq/alpaca-trade-api';
import { z } from 'zod';
import { QuorumError, errorMessage } from '../contracts/errors.ts';
import { parseWith } from '../contracts/parse.ts';
import type { Db } from '../db/index.ts';
import { Bar, upsertBars } from './bars.ts';
import { TradingCalendar, type Session } from './calendar.ts';
import { dailyBarTs, newYorkToUtc, utcToNewYork } from './time.ts';

/** Real Alpaca hosts, rewritten when `baseUrls` is given. */
export const ALPACA_DATA_HOST = 'https://data.alpaca.markets';
export const ALPACA_PAPER_HOST = 'https://paper-api.alpaca.markets';
export const ALPACA_LIVE_HOST = 'https://api.alpaca.markets';

export interface AlpacaDataOptions {
  keyId: string;
  secret: string;
  /** Replace the data and trading hosts (e.g. a local test server). */
  baseUrls?: { data?: string; trading?: string };
  /** Per-request timeout; default the SDK's. */
  timeoutMs?: number;
}

/** Builds the SDK client; with `baseUrls`, requests to the Alpaca hosts go to those origins instead. */
export function createAlpacaDataClient(options: AlpacaDataOptions): Alpaca {
  const rewrite = options.baseUrls;
  const fetchApi = rewrite
    ? (input: string | URL | Request, init?: RequestInit): Promise<Response> => {
        let url = typeof input === 'string' ? input : input instanceof URL ? input.href : input.url;
        if (rewrite.data && url.startsWith(ALPACA_DATA_HOST)) url = rewrite.data.replace(/\/$/, '') + url.slice(ALPACA_DATA_HOST.length);
        for (const host of [ALPACA_PAPER_HOST, ALPACA_LIVE_HOST]) {
          if (rewrite.trading && url.startsWith(host)) url = rewrite.trading.replace(/\/$/, '') + url.slice(host.length);
        }
        return fetch(url, init);
      }
    : undefined;
  return new Alpaca({
    keyId: options.keyId,
    secret: options.secret,
    paper: true,
    retry: false,
    rateLimit: false,
    ...(fetchApi ? { fetchApi } : {}),
    ...(options.timeoutMs ? { timeoutMs: options.timeoutMs } : {}),
  });
}

/** Alpaca's canonical bar as the SDK returns it (outside data: lenient, then mapped to our Bar). */
const AlpacaBar = z
  .object({
    timestamp: z.coerce.date(),
    open: z.number(),
    high: z.number(),
    low: z.number(),
    close: z.number(),
    volume: z.number(),
  })
  .passthrough();

/**
 * Daily bars of `tickers` in [from, to] (New York dates), paginated by the SDK (next_page_token).
 * Alpaca stamps a daily bar with its start (midnight New York); we store the session close like the
 * CSV importer, so point-in-time reads treat both sources alike.
 */
export async function fetchAlpacaDailyBars(client: Alpaca, tickers: readonly string[], from: string, to: string): Promise<Bar[]> {
  let result: Record<string, unknown[]>;
  try {
    result = await client.marketData.getStockBars({
      symbols: [...tickers],
      timeframe: TimeFrame.Day,
      start: new Date(newYorkToUtc(from, 0, 0)),
      end: new Date(newYorkToUtc(to, 23, 59)),
      adjustment: 'all',
    });
  } catch (error) {
    throw new QuorumError('BROKER_ERROR', `Alpaca bars request failed: ${errorMessage(error)}`, { tickers }, { cause: error });
  }
  const bars: Bar[] = [];
  for (const ticker of tickers) {
    for (const [i, raw] of (result[ticker] ?? []).entries()) {
      const a = parseWith(AlpacaBar, raw);
      if (!a.ok) throw new QuorumError('INPUT_INVALID', `Alpaca bar ${ticker}[${i}]: ${a.error}`, { ticker, index: i });
      const date = utcToNewYork(a.value.timestamp).date;
      const bar = parseWith(Bar, {
        ticker,
        timeframe: '1Day',
        ts: dailyBarTs(date),
        open: a.value.open,
        high: a.value.high,
        low: a.value.low,
        close: a.value.close,
        volume: a.value.volume,
        source: 'alpaca',
      });
      if (!bar.ok) throw new QuorumError('INPUT_INVALID', `Alpaca bar ${ticker} ${date}: ${bar.error}`, { ticker, date });
      bars.push(bar.value);
    }
  }
  return bars;
}

/** Fetches and stores Alpaca daily bars in one transaction. */
export async function ingestAlpacaBars(
  db: Db,
  client: Alpaca,
  tickers: readonly string[],
  from: string,
  to: string,
): Promise<{ tickers: string[]; bars: number; perTicker: Record<string, number> }> {
  const bars = await fetchAlpacaDailyBars(client, tickers, from, to);
  const perTicker: Record<string, number> = {};
  for (const b of bars) perTicker[b.ticker] = (perTicker[b.ticker] ?? 0) + 1;
  const n = await db.transaction((tx) => upsertBars(tx, bars));
  return { tickers: [...tickers], bars: n, perTicker };
}

const AlpacaCalendarDay = z
  .object({
    date: z.union([z.date(), z.string()]),
    open: z.string().regex(/^\d{2}:\d{2}$/),
    close: z.string().regex(/^\d{2}:\d{2}$/),
  })
  .passthrough();

/** Alpaca's market calendar (`/v2/calendar`) for [from, to] as a TradingCalendar (rules outside the range). */
export async function fetchAlpacaCalendar(client: Alpaca, from: string, to: string): Promise<TradingCalendar> {
  let days: unknown[];
  try {
    days = await client.trading.calendar.legacyCalendar({ start: new Date(`${from}T00:00:00Z`), end: new Date(`${to}T00:00:00Z`) });
  } catch (error) {
    throw new QuorumError('BROKER_ERROR', `Alpaca calendar request failed: ${errorMessage(error)}`, {}, { cause: error });
  }
  const sessions: Session[] = days.map((raw, i) => {
    const d = parseWith(AlpacaCalendarDay, raw);
    if (!d.ok) throw new QuorumError('INPUT_INVALID', `Alpaca calendar day ${i}: ${d.error}`, { index: i });
    const date = d.value.date instanceof Date ? d.value.date.toISOString().slice(0, 10) : d.value.date.slice(0, 10);
    const [oh, om] = d.value.open.split(':').map(Number) as [number, number];
    const [ch, cm] = d.value.close.split(':').map(Number) as [number, number];
    return { date, open: newYorkToUtc(date, oh, om), close: newYorkToUtc(date, ch, cm), earlyClose: ch * 60 + cm < 16 * 60 };
  });
  return TradingCalendar.withSessions(sessions, from, to, 'alpaca');
}
