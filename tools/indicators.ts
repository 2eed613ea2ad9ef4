import { ATR, EMA, MACD, RSI } from 'technicalindicators';
import { z } from 'zod';
import { Ticker } from '../contracts/index.ts';
import type { Bar } from '../market/index.ts';
import { readBars } from './bars.ts';
import { defineTool } from './registry.ts';
import type { IndicatorsOutput } from './schema.ts';

/** Bars read to compute the indicators: enough for MACD(12,26,9) and EMA(26) to settle. */
export const INDICATOR_LOOKBACK_BARS = 120;
const TRADING_DAYS = 252;

const last = <T>(xs: readonly T[]): T | undefined => xs[xs.length - 1];
const round = (x: number | null | undefined, digits = 6): number | null =>
  x === null || x === undefined || !Number.isFinite(x) ? null : Number(x.toFixed(digits));

/**
 * Indicators at the last bar of `bars` (which must already be point-in-time). Pure, deterministic.
 * For close-only data ATR is the mean absolute close-to-close change, labelled `close-to-close`.
 */
export function computeIndicators(ticker: string, asOf: string, bars: readonly Bar[]): IndicatorsOutput {
  const closes = bars.map((b) => b.close);
  const lastClose = last(closes) ?? null;
  const ema12 = closes.length >= 26 ? last(EMA.calculate({ period: 12, values: closes })) : undefined;
  const ema26 = closes.length >= 26 ? last(EMA.calculate({ period: 26, values: closes })) : undefined;
  const macd =
    closes.length >= 35
      ? last(MACD.calculate({ values: closes, fastPeriod: 12, slowPeriod: 26, signalPeriod: 9, SimpleMAOscillator: false, SimpleMASignal: false }))
      : undefined;
  const rsi = closes.length >= 15 ? last(RSI.calculate({ period: 14, values: closes })) : undefined;

  let atr: number | undefined;
  let atrMethod: IndicatorsOutput['atrMethod'] = null;
  const ohlc = bars.every((b) => b.high !== null && b.low !== null);
  if (bars.length >= 15 && ohlc) {
    atr = last(ATR.calculate({ period: 14, high: bars.map((b) => b.high ?? b.close), low: bars.map((b) => b.low ?? b.close), close: closes }));
    atrMethod = 'true-range';
  } else if (closes.length >= 15) {
    const w = closes.slice(-15);
    const diffs = w.slice(1).map((c, i) => Math.abs(c - (w[i] ?? c)));
    atr = diffs.reduce((a, b) => a + b, 0) / diffs.length;
    atrMethod = 'close-to-close';
  }

  let realizedVol20: number | null = null;
  let return20: number | null = null;
  if (closes.length >= 21) {
    const window = closes.slice(-21);
    const rets = window.slice(1).map((c, i) => Math.log(c / (window[i] ?? c)));
    const mean = rets.reduce((a, b) => a + b, 0) / rets.length;
    const variance = rets.reduce((a, r) => a + (r - mean) ** 2, 0) / (rets.length - 1);
    realizedVol20 = Math.sqrt(variance * TRADING_DAYS);
    return20 = (window[20] ?? 0) / (window[0] ?? 1) - 1;
  }

  const recent = bars.slice(-20);
  const avgDollarVolume20 =
    recent.length > 0 && recent.every((b) => b.volume !== null) ? recent.reduce((a, b) => a + b.close * (b.volume ?? 0), 0) / recent.length : null;

  return {
    ticker,
    asOf,
    barsUsed: bars.length,
    lastClose,
    lastBarAt: last(bars)?.ts ?? null,
    emaRatio: ema12 !== undefined && ema26 !== undefined ? round(ema12 / ema26 - 1) : null,
    macdHistPct: macd?.histogram !== undefined && lastClose ? round(macd.histogram / lastClose) : null,
    rsi14: round(rsi, 2),
    atrPct: atr !== undefined && lastClose ? round(atr / lastClose) : null,
    atrMethod,
    realizedVol20: round(realizedVol20),
    return20: round(return20),
    avgDollarVolume20: round(avgDollarVolume20, 0),
  };
}

export const IndicatorsInput = z.object({ ticker: Ticker.optional() }).strict();

/** Trend, momentum, volatility and liquidity indicators computed from bars up to the as-of time. */
export const indicatorsTool = defineTool({
  name: 'indicators',
  description: 'Indicators at the as-of time: emaRatio (EMA12/EMA26-1), macdHistPct, rsi14, atrPct, realizedVol20, return20, avgDollarVolume20.',
  input: IndicatorsInput,
  async run(ctx, input) {
    const ticker = input.ticker ?? ctx.proposal.ticker;
    const bars = await readBars(ctx, ticker, INDICATOR_LOOKBACK_BARS);
    return computeIndicators(ticker, ctx.asOf, bars);
  },
});
