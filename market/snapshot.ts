import { MarketSnapshot } from '../contracts/market.ts';
import { QuorumError } from '../contracts/errors.ts';
import { parseOrThrow } from '../contracts/parse.ts';
import type { Settings } from '../config/index.ts';
import type { Queryable } from '../db/index.ts';
import { barsAsOf, type Bar } from './bars.ts';
import { NYSE, type TradingCalendar } from './calendar.ts';

/** ATR period (Wilder). */
export const ATR_PERIOD = 14;
/** Days averaged for the dollar volume. */
export const DOLLAR_VOLUME_DAYS = 20;

/**
 * Average true range over the last `period` bars (simple mean of true ranges). When a bar lacks
 * high/low (close-only data), its true range falls back to the close-to-close move |C_t - C_t-1|: a
 * proxy that understates intraday range, used only so that close-only tickers still get a stop distance.
 */
export function averageTrueRange(bars: readonly Bar[], period = ATR_PERIOD): number | null {
  if (bars.length < period + 1) return null;
  let sum = 0;
  for (let i = bars.length - period; i < bars.length; i++) {
    const b = bars[i];
    const prev = bars[i - 1];
    if (!b || !prev) return null;
    const tr =
      b.high !== null && b.low !== null
        ? Math.max(b.high - b.low, Math.abs(b.high - prev.close), Math.abs(b.low - prev.close))
        : Math.abs(b.close - prev.close);
    sum += tr;
  }
  const atr = sum / period;
  return atr > 0 ? atr : null;
}

/** Mean of close × volume over the last `days` bars, or null when any of them has no volume. */
export function averageDollarVolume(bars: readonly Bar[], days = DOLLAR_VOLUME_DAYS): number | null {
  const recent = bars.slice(-days);
  if (recent.length === 0 || recent.some((b) => b.volume === null)) return null;
  return recent.reduce((s, b) => s + b.close * (b.volume ?? 0), 0) / recent.length;
}

/**
 * The point-in-time market facts the risk controller needs about `ticker` at `asOf`: only bars with
 * ts <= asOf are read. Throws NOT_FOUND when the ticker has no bar by then.
 */
export async function marketSnapshot(
  q: Queryable,
  ticker: string,
  asOf: string,
  settings: Pick<Settings, 'market'>,
  calendar: TradingCalendar = NYSE,
): Promise<MarketSnapshot> {
  const bars = await barsAsOf(q, { ticker, asOf, limit: Math.max(ATR_PERIOD + 1, DOLLAR_VOLUME_DAYS) });
  const last = bars[bars.length - 1];
  if (!last) throw new QuorumError('NOT_FOUND', `no bar for ${ticker} at or before ${asOf}`, { ticker, asOf });
  return parseOrThrow(
    MarketSnapshot,
    {
      ticker,
      asOf: new Date(asOf).toISOString(),
      lastPrice: last.close,
      atr: averageTrueRange(bars),
      avgDollarVolume: averageDollarVolume(bars),
      sector: settings.market.sectors[ticker] ?? null,
      marketOpen: calendar.isMarketOpen(asOf),
    },
    `market snapshot of ${ticker}`,
  );
}
