/**
 * The backtest report: one self-contained HTML page (inline CSS and SVG, no scripts, no external
 * assets) and a Markdown summary for the terminal and the README. Both are pure functions of the
 * result and its metrics, so the same run renders the same bytes. The look follows the session report
 * (sessions/report-render.ts).
 */
import { drawdownSeries } from './metrics.ts';
import type { BacktestMetrics, BacktestResult, Metric, StrategyMetrics, StrategyName, StrategyRun } from './schema.ts';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;').replace(/'/g, '&#39;');
const mdCell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\r?\n/g, ' ');

/** Line colour per strategy (GitHub's palette, as in the session report). */
export const STRATEGY_COLOURS: Readonly<Record<StrategyName, string>> = {
  proposer: '#1f6feb',
  committee: '#1a7f37',
  buy_and_hold: '#9a6700',
  sp500: '#8250df',
  djia: '#cf222e',
};

type MetricKey = 'cagr' | 'sharpe' | 'sortino' | 'maxDrawdown' | 'hitRate' | 'turnover' | 'exposure' | 'vetoPrecision';

const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const ratio = (x: number): string => x.toFixed(2);
const perYear = (x: number): string => `${x.toFixed(1)}×`;

/** The metric columns, in report order, with how each is written. */
const COLUMNS: ReadonlyArray<{ key: MetricKey; title: string; fmt: (x: number) => string }> = [
  { key: 'cagr', title: 'CAGR', fmt: pct },
  { key: 'sharpe', title: 'Sharpe', fmt: ratio },
  { key: 'sortino', title: 'Sortino', fmt: ratio },
  { key: 'maxDrawdown', title: 'max drawdown', fmt: pct },
  { key: 'hitRate', title: 'hit rate', fmt: pct },
  { key: 'turnover', title: 'turnover / yr', fmt: perYear },
  { key: 'exposure', title: 'exposure', fmt: pct },
  { key: 'vetoPrecision', title: 'veto precision', fmt: pct },
];

/** `value [lo, hi]`, `value` when the interval is undefined, `n/a` when the metric is. */
export function formatMetric(m: Metric, fmt: (x: number) => string): string {
  if (m.value === null) return 'n/a';
  if (m.lo === null || m.hi === null) return fmt(m.value);
  return `${fmt(m.value)} [${fmt(m.lo)}, ${fmt(m.hi)}]`;
}

function paramLines(r: BacktestResult): Array<[string, string]> {
  const p = r.params;
  return [
    ['initial equity', p.initialEquity.toLocaleString('en-US')],
    ['commission', `${p.commissionBps} bps per side`],
    ['slippage', `${p.slippageBps} bps per side`],
    ['fills', p.fill === 'next_open' ? 'next open' : p.fill],
    ['proposals per day', String(p.proposalsPerDay)],
    ['horizon', `${p.horizonDays} trading days`],
    ['retrain every', `${p.retrainEveryDays} trading days (first after ${p.minTrainDays})`],
    ['universe', `${p.universe.length} tickers: ${p.universe.join(' ')}`],
    ['seed', String(p.seed)],
    ...(p.promotion
      ? [['promotion', p.promotion === 'rule' ? 'rule (settings retrain.promotion)' : 'always (every retrained model trades)'] as [string, string]]
      : []),
  ];
}

function intervalCaption(m: BacktestMetrics): string {
  return `${Math.round(m.confidence * 100)}% percentile intervals from ${m.resamples} bootstrap resamples (stationary blocks of mean ${m.blockLength} days for the daily series; trades and vetoes iid), seed ${m.seed}; Sharpe and Sortino annualised over 252 days with a risk-free rate of ${pct(m.riskFreeRate)}.`;
}

function metricsOf(m: BacktestMetrics, name: StrategyName): StrategyMetrics | undefined {
  return m.byStrategy[name];
}

// ---- charts -------------------------------------------------------------------------------------

/** Chart size, the same as the session report's equity chart. */
export const CHART_WIDTH = 720;
export const CHART_HEIGHT = 300;
const PAD = { l: 64, r: 16, t: 16, b: 28 };
const LEGEND_ROW = 16;

const dayMs = (date: string): number => Date.parse(`${date}T00:00:00Z`);

/** Round tick values covering [min, max]: steps of 1, 2 or 5 times a power of ten. */
export function niceTicks(min: number, max: number, target = 5): number[] {
  if (!Number.isFinite(min) || !Number.isFinite(max)) return [];
  if (max - min < 1e-12) return [min];
  const raw = (max - min) / target;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((s) => s * mag >= raw) ?? 10) * mag;
  const ticks: number[] = [];
  const first = Math.ceil(min / step - 1e-9);
  // Multiples of the step (no accumulated rounding); `|| 0` turns -0 into 0 for the label.
  for (let i = first; i * step <= max + step * 1e-9; i++) ticks.push(Number((i * step).toPrecision(12)) || 0);
  return ticks;
}

interface Series {
  name: StrategyName;
  label: string;
  points: Array<{ t: number; v: number }>;
}

/**
 * One SVG line chart: a path per series, a date axis with a tick at each 1 January, a value axis with
 * round ticks, and a legend. `id` names the element for tests and CSS.
 */
function lineChart(id: string, title: string, series: readonly Series[], fmt: (x: number) => string, floorZero: boolean): string {
  const all = series.flatMap((s) => s.points);
  const w = CHART_WIDTH;
  const legendH = series.length * LEGEND_ROW + 8;
  const h = CHART_HEIGHT + legendH;
  const plotBottom = CHART_HEIGHT - PAD.b;
  const t0 = Math.min(...all.map((p) => p.t));
  const t1 = Math.max(...all.map((p) => p.t));
  let vMin = Math.min(...all.map((p) => p.v));
  let vMax = Math.max(...all.map((p) => p.v));
  if (floorZero) vMax = 0;
  if (vMax - vMin < 1e-12) {
    // A flat chart still needs a visible range.
    vMin -= 0.05;
    vMax += floorZero ? 0 : 0.05;
  }
  const x = (t: number): number => PAD.l + ((t - t0) / Math.max(1, t1 - t0)) * (w - PAD.l - PAD.r);
  const y = (v: number): number => PAD.t + ((vMax - v) / (vMax - vMin)) * (plotBottom - PAD.t);
  const out: string[] = [
    `<svg id="${esc(id)}" class="chart" xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(title)}">`,
    `<rect x="0" y="0" width="${w}" height="${h}" fill="#fff"/>`,
  ];
  for (const v of niceTicks(vMin, vMax)) {
    const yy = y(v).toFixed(1);
    out.push(`<line x1="${PAD.l}" x2="${w - PAD.r}" y1="${yy}" y2="${yy}" stroke="#eaeef2"/>`);
    out.push(`<text x="${PAD.l - 6}" y="${(y(v) + 4).toFixed(1)}" text-anchor="end" font-size="11" fill="#555">${esc(fmt(v))}</text>`);
  }
  const firstYear = new Date(t0).getUTCFullYear();
  const lastYear = new Date(t1).getUTCFullYear();
  const yearTicks: number[] = [];
  for (let yr = firstYear + 1; yr <= lastYear; yr++) yearTicks.push(Date.UTC(yr, 0, 1));
  for (const t of yearTicks) {
    const xx = x(t).toFixed(1);
    out.push(`<line class="year-tick" x1="${xx}" x2="${xx}" y1="${PAD.t}" y2="${plotBottom + 4}" stroke="#eaeef2"/>`);
    out.push(`<text x="${xx}" y="${plotBottom + 16}" text-anchor="middle" font-size="11" fill="#555">${new Date(t).getUTCFullYear()}</text>`);
  }
  if (yearTicks.length === 0) {
    // Less than a calendar year: label the ends instead.
    out.push(`<text x="${PAD.l}" y="${plotBottom + 16}" font-size="11" fill="#555">${esc(new Date(t0).toISOString().slice(0, 10))}</text>`);
    out.push(
      `<text x="${w - PAD.r}" y="${plotBottom + 16}" text-anchor="end" font-size="11" fill="#555">${esc(new Date(t1).toISOString().slice(0, 10))}</text>`,
    );
  }
  out.push(`<line x1="${PAD.l}" x2="${w - PAD.r}" y1="${plotBottom}" y2="${plotBottom}" stroke="#8c959f"/>`);
  out.push(`<line x1="${PAD.l}" x2="${PAD.l}" y1="${PAD.t}" y2="${plotBottom}" stroke="#8c959f"/>`);
  for (const s of series) {
    const d = s.points.map((p, i) => `${i === 0 ? 'M' : 'L'}${x(p.t).toFixed(1)},${y(p.v).toFixed(1)}`).join(' ');
    out.push(`<path class="series" data-strategy="${esc(s.name)}" d="${d}" fill="none" stroke="${STRATEGY_COLOURS[s.name]}" stroke-width="1.5"/>`);
  }
  series.forEach((s, i) => {
    const ly = CHART_HEIGHT + 4 + i * LEGEND_ROW;
    out.push(
      `<g class="legend-item"><line x1="${PAD.l}" x2="${PAD.l + 24}" y1="${ly + 6}" y2="${ly + 6}" stroke="${STRATEGY_COLOURS[s.name]}" stroke-width="3"/>` +
        `<text x="${PAD.l + 30}" y="${ly + 10}" font-size="12" fill="#1f2328">${esc(s.label)}</text></g>`,
    );
  });
  out.push('</svg>');
  return out.join('\n');
}

function normalised(run: StrategyRun): Series {
  const base = run.days[0]?.equity ?? 0;
  return {
    name: run.name,
    label: run.label,
    points: run.days.map((d) => ({ t: dayMs(d.date), v: base > 0 ? d.equity / base : 0 })),
  };
}

/** SVG of every strategy's equity, normalised to 1 on its first day. */
export function equityCurvesSvg(result: BacktestResult): string {
  return lineChart('equity-curves', 'Equity, normalised to 1 at the start', result.strategies.map(normalised), (v) => v.toFixed(2), false);
}

/** SVG of every strategy's drawdown from its running peak (0 down to the deepest fall). */
export function drawdownsSvg(result: BacktestResult): string {
  const series = result.strategies.map((run): Series => {
    const dd = drawdownSeries(run.days.map((d) => d.equity));
    return { name: run.name, label: run.label, points: run.days.map((d, i) => ({ t: dayMs(d.date), v: dd[i] ?? 0 })) };
  });
  return lineChart('drawdowns', 'Drawdown from the running peak', series, (v) => `${(v * 100).toFixed(0)}%`, true);
}

// ---- pages --------------------------------------------------------------------------------------

const fmtMetricValue = (v: number | null): string => (v === null ? 'n/a' : v.toFixed(5));

/** The retrain decisions under `promotion: rule`, as table rows: day, candidate, incumbent, the metric of each, the decision. */
function promotionRows(result: BacktestResult): string[][] {
  return (result.promotions ?? []).map((p) => [
    p.date,
    `${p.candidate.modelId} (${p.candidate.version})`,
    p.incumbent ? `${p.incumbent.modelId} (${p.incumbent.version})` : 'none',
    `${p.metric} ${fmtMetricValue(p.candidateValue)} vs ${fmtMetricValue(p.incumbentValue)}`,
    p.decision,
    p.reason,
  ]);
}
const PROMOTION_HEAD = ['retrain day', 'candidate', 'incumbent', 'metric (candidate vs incumbent)', 'decision', 'reason'];

/** When each book's circuit breakers held it in REDUCING. */
function breakerRows(result: BacktestResult): string[][] {
  return (result.breakers ?? []).map((e) => [e.strategy, e.from, e.to, String(e.evenings), e.rules.join(', '), e.reason]);
}
const BREAKER_HEAD = ['strategy', 'REDUCING from', 'to', 'evenings', 'rules', 'why'];

function htmlTable(id: string, head: readonly string[], rows: readonly string[][]): string {
  return `<table id="${id}"><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</table>`;
}

function mdTable(head: readonly string[], rows: readonly string[][]): string[] {
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.map(mdCell).join(' | ')} |`)];
}

/** The backtest as one self-contained HTML page. */
export function renderHtmlReport(result: BacktestResult, metrics: BacktestMetrics): string {
  const params = paramLines(result)
    .map(([k, v]) => `<tr><th>${esc(k)}</th><td>${esc(v)}</td></tr>`)
    .join('');
  const notes = result.notes.length ? `<h2>Notes</h2><ul id="notes">${result.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : '';
  const models = result.models.length
    ? `<table id="models"><tr><th>model</th><th>trained through</th><th>used from</th><th>used to</th></tr>${result.models
        .map((m) => `<tr><td>${esc(m.modelId)}</td><td>${esc(m.trainedThrough)}</td><td>${esc(m.usedFrom)}</td><td>${esc(m.usedTo)}</td></tr>`)
        .join('')}</table>`
    : '<p id="models">No model was trained (no strategy used the proposer).</p>';
  const head = `<tr><th>strategy</th>${COLUMNS.map((c) => `<th>${esc(c.title)}</th>`).join('')}<th>trades</th><th>vetoes</th><th>days</th></tr>`;
  const rows = result.strategies
    .map((run) => {
      const m = metricsOf(metrics, run.name);
      const cells = COLUMNS.map((c) => `<td class="${c.key}">${esc(m ? formatMetric(m[c.key], c.fmt) : 'n/a')}</td>`).join('');
      return `<tr data-strategy="${esc(run.name)}"><td><span class="swatch" style="background:${STRATEGY_COLOURS[run.name]}"></span>${esc(run.label)}</td>${cells}<td>${m?.trades ?? 0}</td><td>${m?.vetoes ?? 0}</td><td>${m?.days ?? 0}</td></tr>`;
    })
    .join('\n');
  const title = `Quorum backtest ${result.from} to ${result.to}`;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>${esc(title)}</title>
<style>
body{font-family:DejaVu Sans,Arial,sans-serif;margin:24px;color:#1f2328;max-width:1100px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d0d7de;padding:4px 8px;font-size:13px;text-align:left}
th{background:#f6f8fa}h1{font-size:22px}.caption{font-size:12px;color:#555;max-width:900px}
#metrics td{white-space:nowrap}.swatch{display:inline-block;width:10px;height:10px;margin-right:6px;border-radius:2px}
.chart{display:block;margin:8px 0 16px}
</style></head><body>
<h1>${esc(title)}</h1>
<p>Critic: <b>${esc(result.critic)}</b> · ${result.strategies.length} strategies · ${result.models.length} walk-forward models</p>
${notes}
<h2>Metrics</h2>
<table id="metrics">${head}
${rows}
</table>
<p class="caption">${esc(intervalCaption(metrics))} Max drawdown is negative (−25% = a fall of a quarter from a peak); turnover is the notional traded per year over equity; exposure is the mean gross exposure; veto precision is the share of vetoed proposals that would have lost, net of costs.</p>
<h2>Equity (normalised to 1 at the start)</h2>
${equityCurvesSvg(result)}
<h2>Drawdowns</h2>
${drawdownsSvg(result)}
<h2>Parameters</h2>
<table id="params">${params}</table>
<h2>Model schedule</h2>
${models}
${result.promotions ? `<h2>Retrain decisions (promotion rule)</h2>\n${htmlTable('promotions', PROMOTION_HEAD, promotionRows(result))}` : ''}
${result.breakers ? `<h2>Circuit breakers</h2>\n${result.breakers.length ? htmlTable('breakers', BREAKER_HEAD, breakerRows(result)) : '<p id="breakers">No book moved to REDUCING.</p>'}` : ''}
</body></html>
`;
}

/** The backtest as Markdown: range, critic, the metrics table with intervals, notes. */
export function renderMarkdownSummary(result: BacktestResult, metrics: BacktestMetrics): string {
  const out: string[] = [`# Quorum backtest ${result.from} to ${result.to}`, ''];
  out.push(`- critic: ${result.critic}`);
  for (const [k, v] of paramLines(result)) out.push(`- ${k}: ${mdCell(v)}`);
  out.push(`- walk-forward models: ${result.models.length}`, '');
  out.push(`| strategy | ${COLUMNS.map((c) => c.title).join(' | ')} | trades | vetoes | days |`);
  out.push(`|---|${COLUMNS.map(() => '---').join('|')}|---|---|---|`);
  for (const run of result.strategies) {
    const m = metricsOf(metrics, run.name);
    const cells = COLUMNS.map((c) => (m ? formatMetric(m[c.key], c.fmt) : 'n/a'));
    out.push(`| ${mdCell(run.label)} | ${cells.join(' | ')} | ${m?.trades ?? 0} | ${m?.vetoes ?? 0} | ${m?.days ?? 0} |`);
  }
  out.push('', intervalCaption(metrics));
  if (result.notes.length) {
    out.push('', 'Notes:', '');
    for (const n of result.notes) out.push(`- ${mdCell(n)}`);
  }
  if (result.models.length) {
    out.push('', 'Models (which model traded each day):', '');
    out.push(
      ...mdTable(
        ['model', 'trained through', 'used from', 'used to'],
        result.models.map((m) => [m.modelId, m.trainedThrough, m.usedFrom, m.usedTo]),
      ),
    );
  }
  if (result.promotions) out.push('', 'Retrain decisions (promotion rule):', '', ...mdTable(PROMOTION_HEAD, promotionRows(result)));
  if (result.breakers?.length) out.push('', 'Circuit breakers:', '', ...mdTable(BREAKER_HEAD, breakerRows(result)));
  return `${out.join('\n')}\n`;
}

/** One backtest's result and metrics, as `renderNewsComparison` compares them. */
export interface ComparedBacktest {
  result: BacktestResult;
  metrics: BacktestMetrics;
}

/**
 * The committee with the stored news and the same backtest with the news removed, side by side
 * (the proposer and buy-and-hold do not read news: they are the same in both). What the text
 * added is the difference; overlapping intervals say it is not measurable on this run.
 */
export function renderNewsComparison(withNews: ComparedBacktest, newsRemoved: ComparedBacktest): string {
  const a = metricsOf(withNews.metrics, 'committee');
  const b = metricsOf(newsRemoved.metrics, 'committee');
  const out: string[] = [`## What the news added (committee, ${withNews.result.critic})`, ''];
  if (!a || !b) return `${out.join('\n')}No committee strategy in these runs (critic none).\n`;
  out.push('| committee | with news | news removed |', '|---|---|---|');
  for (const c of COLUMNS) out.push(`| ${c.title} | ${formatMetric(a[c.key], c.fmt)} | ${formatMetric(b[c.key], c.fmt)} |`);
  out.push(`| trades | ${a.trades} | ${b.trades} |`, `| vetoes | ${a.vetoes} | ${b.vetoes} |`, '');
  const cagr = (m: StrategyMetrics): number | null => m.cagr.value;
  const ca = cagr(a);
  const cb = cagr(b);
  if (ca !== null && cb !== null) {
    const overlap = a.cagr.lo !== null && a.cagr.hi !== null && b.cagr.lo !== null && b.cagr.hi !== null && a.cagr.lo <= b.cagr.hi && b.cagr.lo <= a.cagr.hi;
    out.push(
      `CAGR with news minus without: ${((ca - cb) * 100).toFixed(2)} percentage points${overlap ? '; the intervals overlap: no measurable difference on this run' : ''}.`,
      '',
    );
  }
  return `${out.join('\n')}\n`;
}
