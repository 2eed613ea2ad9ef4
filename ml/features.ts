/**
 * Technical features, point in time: the value at bar t is computed only from bars 0..t (every
 * indicator here is causal, and callers pass only bars with ts <= asOf). Prices are normalised
 * (ratios, fractions of the close) so one model serves tickers of any price level.
 */
import { createHash } from 'node:crypto';
import { ADX, ATR, EMA, MACD, RSI } from 'technicalindicators';
import { z } from 'zod';
import { QuorumError } from '../contracts/errors.ts';
import type { Db, Queryable } from '../db/index.ts';
import { barsAsOf, type Bar } from '../market/index.ts';

/** Parameters of the feature set; changing any of them changes the version hash. */
export const FEATURE_PARAMS = {
  returns: [1, 5, 20],
  emaFast: 20,
  emaSlow: 50,
  rsi: 14,
  macd: { fast: 12, slow: 26, signal: 9 },
  bollinger: { period: 20, stdDev: 2 },
  volatilityDays: 20,
  annualisation: 252,
  atr: 14,
  adx: 14,
  volumeZDays: 20,
} as const;

/** Features every ticker has (close prices suffice), in model order. */
export const CLOSE_FEATURES = ['ret_1', 'ret_5', 'ret_20', 'ema20_ema50', 'rsi14', 'macd_line', 'macd_signal', 'macd_hist', 'bb_pctb', 'vol_20'] as const;
/** Features that need open/high/low/volume; absent (null) for close-only tickers. */
export const OHLCV_FEATURES = ['atr14_pct', 'adx14', 'volume_z20'] as const;
export const FEATURE_NAMES = [...CLOSE_FEATURES, ...OHLCV_FEATURES] as const;
export type FeatureName = (typeof FEATURE_NAMES)[number];

/** Bumped when the computation changes without a parameter change. */
const CODE_REVISION = 2;

function versionHash(): string {
  const canonical = JSON.stringify({ name: 'technical', params: FEATURE_PARAMS, features: FEATURE_NAMES, rev: CODE_REVISION });
  return createHash('sha256').update(canonical).digest('hex').slice(0, 12);
}

/** The feature set: name, parameters, ordered names and a version hash of all of them. */
export const FEATURE_SET = Object.freeze({
  name: 'technical',
  params: FEATURE_PARAMS,
  features: FEATURE_NAMES,
  closeFeatures: CLOSE_FEATURES,
  ohlcvFeatures: OHLCV_FEATURES,
  version: versionHash(),
});

/** Warm-up: bars needed before every close feature is defined (MACD slow + signal, EMA50). */
export const WARMUP_BARS = Math.max(FEATURE_PARAMS.emaSlow, FEATURE_PARAMS.macd.slow + FEATURE_PARAMS.macd.signal) + 1;

/** Feature columns of one bar series; NaN where a feature is undefined (warm-up, no OHLCV). */
export interface FeatureColumns {
  ts: string[];
  columns: Record<FeatureName, Float64Array>;
}

/** Writes an end-aligned indicator output into `col` (technicalindicators drops the warm-up prefix). */
function place(col: Float64Array, out: ReadonlyArray<number | undefined>, offset = 0, n = col.length - offset): void {
  const start = offset + n - out.length;
  for (let k = 0; k < out.length; k++) {
    const v = out[k];
    if (v !== undefined && Number.isFinite(v)) col[start + k] = v;
  }
}

/** Computes every feature for every bar of one ticker (bars oldest first). */
export function computeFeatureColumns(bars: readonly Bar[]): FeatureColumns {
  const n = bars.length;
  const P = FEATURE_PARAMS;
  const close = bars.map((b) => b.close);
  const col = (): Float64Array => new Float64Array(n).fill(Number.NaN);
  const c = Object.fromEntries(FEATURE_NAMES.map((f) => [f, col()])) as Record<FeatureName, Float64Array>;

  const retCols = [c.ret_1, c.ret_5, c.ret_20];
  P.returns.forEach((k, j) => {
    const target = retCols[j];
    if (!target) return;
    for (let i = k; i < n; i++) target[i] = (close[i] ?? Number.NaN) / (close[i - k] ?? Number.NaN) - 1;
  });

  if (n > 0) {
    const fast = col();
    const slow = col();
    place(fast, EMA.calculate({ period: P.emaFast, values: close }));
    place(slow, EMA.calculate({ period: P.emaSlow, values: close }));
    for (let i = 0; i < n; i++) c.ema20_ema50[i] = (fast[i] ?? Number.NaN) / (slow[i] ?? Number.NaN) - 1;

    // technicalindicators rounds RSI to 2 decimals; scaled to 0..1.
    place(
      c.rsi14,
      RSI.calculate({ period: P.rsi, values: close }).map((v) => v / 100),
    );

    const macd = MACD.calculate({
      values: close,
      fastPeriod: P.macd.fast,
      slowPeriod: P.macd.slow,
      signalPeriod: P.macd.signal,
      SimpleMAOscillator: false,
      SimpleMASignal: false,
    });
    const off = n - macd.length;
    macd.forEach((m, k) => {
      const px = close[off + k] ?? Number.NaN;
      if (m.MACD !== undefined) c.macd_line[off + k] = m.MACD / px;
      if (m.signal !== undefined) c.macd_signal[off + k] = m.signal / px;
      if (m.histogram !== undefined) c.macd_hist[off + k] = m.histogram / px;
    });

    // Bollinger %b over a rolling window (population stdev, as technicalindicators' BollingerBands):
    // computed here in O(n) because the library's version recomputes each window (the slowest feature).
    const B = P.bollinger.period;
    let bs = 0;
    let bs2 = 0;
    for (let i = 0; i < n; i++) {
      const x = close[i] ?? 0;
      bs += x;
      bs2 += x * x;
      if (i >= B) {
        const y = close[i - B] ?? 0;
        bs -= y;
        bs2 -= y * y;
      }
      if (i >= B - 1) {
        const mid = bs / B;
        const sd = Math.sqrt(Math.max(0, bs2 / B - mid * mid));
        const width = 2 * P.bollinger.stdDev * sd;
        c.bb_pctb[i] = width > 1e-12 * mid ? (x - (mid - P.bollinger.stdDev * sd)) / width : 0.5;
      }
    }
  }

  // Realised volatility: sample stdev of the last `volatilityDays` log returns, annualised.
  const W = P.volatilityDays;
  const lr = new Float64Array(n).fill(Number.NaN);
  for (let i = 1; i < n; i++) lr[i] = Math.log((close[i] ?? Number.NaN) / (close[i - 1] ?? Number.NaN));
  let s = 0;
  let s2 = 0;
  for (let i = 1; i < n; i++) {
    const x = lr[i] ?? 0;
    s += x;
    s2 += x * x;
    if (i > W) {
      const y = lr[i - W] ?? 0;
      s -= y;
      s2 -= y * y;
    }
    if (i >= W) {
      const variance = Math.max(0, (s2 - (s * s) / W) / (W - 1));
      c.vol_20[i] = Math.sqrt(variance * P.annualisation);
    }
  }

  // OHLCV features on the longest suffix of bars that all have high, low and volume.
  let start = n;
  while (start > 0) {
    const b = bars[start - 1];
    if (!b || b.high === null || b.low === null || b.volume === null) break;
    start--;
  }
  const m = n - start;
  if (m > 0) {
    const sub = bars.slice(start);
    const high = sub.map((b) => b.high ?? Number.NaN);
    const low = sub.map((b) => b.low ?? Number.NaN);
    const cl = sub.map((b) => b.close);
    const atr = ATR.calculate({ high, low, close: cl, period: P.atr });
    const aOff = m - atr.length;
    atr.forEach((v, k) => {
      c.atr14_pct[start + aOff + k] = v / (cl[aOff + k] ?? Number.NaN);
    });
    place(
      c.adx14,
      ADX.calculate({ high, low, close: cl, period: P.adx }).map((o) => o.adx / 100),
      start,
      m,
    );
    const V = P.volumeZDays;
    for (let i = V - 1; i < m; i++) {
      let vs = 0;
      let vs2 = 0;
      for (let j = i - V + 1; j <= i; j++) {
        const v = sub[j]?.volume ?? 0;
        vs += v;
        vs2 += v * v;
      }
      const mean = vs / V;
      const sd = Math.sqrt(Math.max(0, (vs2 - V * mean * mean) / (V - 1)));
      c.volume_z20[start + i] = sd > 0 ? ((sub[i]?.volume ?? 0) - mean) / sd : 0;
    }
  }
  return { ts: bars.map((b) => b.ts), columns: c };
}

/** One ticker's features at the snapshot time. */
export const FeatureRow = z
  .object({
    /** The bar the features belong to (the last bar at or before asOf). */
    barTs: z.string(),
    values: z.record(z.string(), z.number().nullable()),
  })
  .strict();
export type FeatureRow = z.infer<typeof FeatureRow>;

/** What a feature snapshot stores (payload of feature_snapshots). */
export const FeatureSnapshotPayload = z.object({ rows: z.record(z.string(), FeatureRow) }).strict();

export interface FeatureSnapshot {
  id: string;
  featureSet: string;
  featureSetVersion: string;
  asOf: string;
  rows: Record<string, FeatureRow>;
}

/** The feature values of the last bar in `cols` (null where undefined). */
export function lastRow(cols: FeatureColumns): FeatureRow | null {
  const i = cols.ts.length - 1;
  const ts = cols.ts[i];
  if (ts === undefined) return null;
  const values: Record<string, number | null> = {};
  for (const f of FEATURE_NAMES) {
    const v = cols.columns[f][i] ?? Number.NaN;
    values[f] = Number.isFinite(v) ? v : null;
  }
  return { barTs: ts, values };
}

function snapshotId(version: string, asOf: string, rows: Record<string, FeatureRow>): string {
  const h = createHash('sha256').update(JSON.stringify({ version, asOf, rows })).digest('hex');
  return `fs_${h.slice(0, 20)}`;
}

/** Stores a snapshot (idempotent: the id is a hash of its content). */
export async function storeFeatureSnapshot(q: Queryable, snap: FeatureSnapshot): Promise<void> {
  await q.query(
    `INSERT INTO feature_snapshots (id, feature_set, feature_set_version, as_of, tickers, feature_names, payload)
     VALUES ($1, $2, $3, $4, $5, $6, $7) ON CONFLICT (id) DO NOTHING`,
    [snap.id, snap.featureSet, snap.featureSetVersion, snap.asOf, Object.keys(snap.rows), [...FEATURE_NAMES], JSON.stringify({ rows: snap.rows })],
  );
}

export interface ComputeFeaturesOptions {
  asOf: string;
  tickers: readonly string[];
  /** Store the snapshot in feature_snapshots (default true). */
  store?: boolean;
}

/**
 * A feature snapshot at `asOf` from bars the caller already holds (oldest first, per ticker): each
 * ticker's features are those of its last bar, and a bar after `asOf` is refused (LOOK_AHEAD). Pure:
 * `computeFeatures` reads the bars from the database and calls it; the backtest passes its
 * point-in-time window. Tickers without bars are left out.
 */
export function featureSnapshotFromBars(asOf: string, barsByTicker: Readonly<Record<string, readonly Bar[]>>): FeatureSnapshot {
  const asOfMs = Date.parse(asOf);
  if (!Number.isFinite(asOfMs)) throw new QuorumError('INPUT_INVALID', `asOf: not a timestamp: "${asOf}"`, { field: 'asOf' });
  const iso = new Date(asOfMs).toISOString();
  const rows: Record<string, FeatureRow> = {};
  for (const ticker of Object.keys(barsByTicker).sort()) {
    const row = lastRow(computeFeatureColumns(barsByTicker[ticker] ?? []));
    if (row) {
      if (Date.parse(row.barTs) > asOfMs) throw new QuorumError('LOOK_AHEAD', `bar ${row.barTs} of ${ticker} is after ${iso}`, { ticker });
      rows[ticker] = row;
    }
  }
  return { id: snapshotId(FEATURE_SET.version, iso, rows), featureSet: FEATURE_SET.name, featureSetVersion: FEATURE_SET.version, asOf: iso, rows };
}

/**
 * Features of `tickers` at `asOf`, point in time: reads only bars with ts <= asOf (the whole history up
 * to then, so values equal those the training set saw for the same bar). Tickers without bars are left out.
 */
export async function computeFeatures(db: Db, options: ComputeFeaturesOptions): Promise<FeatureSnapshot> {
  const asOfMs = Date.parse(options.asOf);
  if (!Number.isFinite(asOfMs)) throw new QuorumError('INPUT_INVALID', `asOf: not a timestamp: "${options.asOf}"`, { field: 'asOf' });
  const asOf = new Date(asOfMs).toISOString();
  const bars: Record<string, Bar[]> = {};
  for (const ticker of [...options.tickers].sort()) bars[ticker] = await barsAsOf(db, { ticker, asOf });
  const snap = featureSnapshotFromBars(asOf, bars);
  if (options.store ?? true) await storeFeatureSnapshot(db, snap);
  return snap;
}
