import type { ReportData, ReportItem } from './report-data.ts';

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
const mdCell = (s: string): string => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const pct = (x: number): string => `${(x * 100).toFixed(1)}%`;
const money = (x: number): string => x.toLocaleString('en-US', { minimumFractionDigits: 2, maximumFractionDigits: 2 });

function orderText(item: ReportItem): string {
  if (item.orders.length === 0) return '-';
  return item.orders.map((o) => `${o.side} ${o.qty} ${o.status}${o.filledAvgPrice ? ` @ ${o.filledAvgPrice.toFixed(2)}` : ''}`).join('; ');
}

function riskText(item: ReportItem): string {
  if (!item.risk) return '-';
  const why = riskReason(item);
  return `${item.risk.action} ${item.risk.finalQty}/${item.risk.requestedQty}${why === '-' ? '' : ` (${why})`}`;
}

/**
 * Why risk did what it did, in a few words: on RESIZE the rules whose cap set the size; on DENY the
 * committee's decision when it asked for no trade (the size rules then fail only as a consequence),
 * else the rules that failed; '-' when the order went through as requested or nothing was decided.
 */
export function riskReason(item: Pick<ReportItem, 'risk' | 'verdict'>): string {
  const r = item.risk;
  if (!r) return '-';
  if (r.action === 'RESIZE') return `cut by ${r.limitedBy.join(', ') || 'a size cap'}`;
  if (r.action !== 'DENY') return '-';
  const failed = r.rules.filter((x) => !x.passed).map((x) => x.rule);
  if (failed.includes('DECISION_ALLOWED')) return `committee ${item.verdict?.decision ?? 'gave no order decision'}`;
  // MIN_NOTIONAL fails whenever another rule capped the size at zero: name it only when it is the cause.
  const causes = failed.length > 1 ? failed.filter((r) => r !== 'MIN_NOTIONAL') : failed;
  return `denied by ${causes.join(', ') || 'no rule (zero size)'}`;
}

export const CHART_WIDTH = 720;
export const CHART_HEIGHT = 260;

/**
 * An SVG line chart of equity (top) and P&L since the first point (bottom), or null with fewer than
 * two points (a chart needs history).
 */
export function equityChartSvg(points: ReadonlyArray<{ ts: string; equity: number }>): string | null {
  if (points.length < 2) return null;
  const w = CHART_WIDTH;
  const h = CHART_HEIGHT;
  const pad = { l: 100, r: 16, t: 16, b: 28 };
  const half = (h - pad.t - pad.b) / 2 - 8;
  const t0 = Date.parse(points[0]?.ts ?? '');
  const t1 = Date.parse(points[points.length - 1]?.ts ?? '');
  const xs = (ts: string): number => pad.l + ((Date.parse(ts) - t0) / Math.max(1, t1 - t0)) * (w - pad.l - pad.r);
  const eq = points.map((p) => p.equity);
  const base = eq[0] ?? 0;
  const pnl = eq.map((e) => e - base);
  const line = (values: number[], top: number): { d: string; min: number; max: number } => {
    const min = Math.min(...values);
    const max = Math.max(...values);
    const span = max - min || 1;
    const d = values
      .map((v, i) => `${i === 0 ? 'M' : 'L'}${xs(points[i]?.ts ?? '').toFixed(1)},${(top + half - ((v - min) / span) * half).toFixed(1)}`)
      .join(' ');
    return { d, min, max };
  };
  const e = line(eq, pad.t);
  const p = line(pnl, pad.t + half + 16);
  const label = (y: number, text: string): string => `<text x="${pad.l - 6}" y="${y}" text-anchor="end" font-size="11" fill="#555">${esc(text)}</text>`;
  return [
    `<svg id="equity-chart" xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" viewBox="0 0 ${w} ${h}" role="img" aria-label="Equity and P&amp;L">`,
    `<rect x="0" y="0" width="${w}" height="${h}" fill="#fff"/>`,
    `<path d="${e.d}" fill="none" stroke="#1f6feb" stroke-width="2"/>`,
    `<path d="${p.d}" fill="none" stroke="${(pnl[pnl.length - 1] ?? 0) >= 0 ? '#1a7f37' : '#cf222e'}" stroke-width="2"/>`,
    label(pad.t + 10, money(e.max)),
    label(pad.t + half, money(e.min)),
    label(pad.t + half + 26, `P&L ${money(p.max)}`),
    label(pad.t + 2 * half + 16, money(p.min)),
    `<text x="${pad.l}" y="${h - 8}" font-size="11" fill="#555">${esc(points[0]?.ts.slice(0, 10) ?? '')}</text>`,
    `<text x="${w - pad.r}" y="${h - 8}" font-size="11" fill="#555" text-anchor="end">${esc(points[points.length - 1]?.ts.slice(0, 10) ?? '')}</text>`,
    '</svg>',
  ].join('\n');
}

/** What a live session refreshed, in one line (null for a session at a past time). */
export function inputsText(s: ReportData['session']): string | null {
  const i = s.inputs;
  if (!i) return null;
  const bars = `bars from ${i.bars.source === 'alpaca' ? 'the Alpaca data API' : 'the stored data'} (${i.bars.stored} new, newest ${i.bars.newest ?? 'none'}${i.bars.error ? `; failed: ${i.bars.error}` : ''})`;
  const news =
    i.news.feeds === 0
      ? 'news: no feeds configured'
      : `news from ${i.news.feeds} feed(s) (${i.news.inserted} new, newest ${i.news.newest ?? 'none'}${i.news.errors.length ? `; failed: ${i.news.errors.join('; ')}` : ''})`;
  return `${bars}; ${news}`;
}

/** The line saying why a session traded nothing or failed, or null. */
export function outcomeText(s: ReportData['session']): string | null {
  if (s.status === 'skipped') return `Traded nothing: ${s.error ?? 'no reason stored'}`;
  if (s.status === 'failed') return `Failed: ${s.error ?? 'no reason stored'}`;
  return null;
}

/** The report as Markdown. */
export function renderMarkdown(d: ReportData): string {
  const out: string[] = [];
  const s = d.session;
  out.push(`# Quorum session ${s.id}`, '');
  out.push(`- as of: ${s.asOf}`, `- kind: ${s.kind}, status: ${s.status}`, `- judged by: ${s.backend ?? 'unknown'}`, `- generated: ${d.generatedAt}`);
  const inputs = inputsText(s);
  if (inputs) out.push(`- inputs: ${inputs}`);
  const outcome = outcomeText(s);
  out.push('', ...(outcome ? [`**${outcome}**`, ''] : []));
  out.push('## Verdicts', '', '| ticker | side | p | exp. return | verdict | size x | confidence | risk | orders |', '|---|---|---|---|---|---|---|---|---|');
  for (const i of d.items) {
    const v = i.verdict;
    out.push(
      `| ${i.ticker} | ${i.side} | ${i.probability.toFixed(3)} | ${pct(i.expectedReturn)} | ${v?.decision ?? 'not judged (outside top N)'} | ${v ? v.sizeMultiplier.toFixed(2) : '-'} | ${v ? v.confidence.toFixed(2) : '-'} | ${riskText(i)} | ${mdCell(orderText(i))} |`,
    );
  }
  for (const i of d.items) {
    out.push('', `### ${i.ticker} (${i.side})`, '');
    if (i.verdict?.abstainReason) out.push(`ABSTAIN: ${i.verdict.abstainReason}`, '');
    for (const r of i.verdict?.reasons ?? []) out.push(`- ${r}`);
    if (i.cited.length) {
      out.push('', 'Cited news:', '');
      for (const c of i.cited) out.push(`- \`${c.id}\` ${c.publishedAt} (${c.source}): ${mdCell(c.title)}`);
    }
    if (i.debate.length) {
      out.push('', 'Debate:', '');
      for (const m of i.debate) out.push(`- **${m.agent}** (round ${m.round}): ${mdCell(m.summary)}`);
    }
    if (i.risk) {
      out.push(
        '',
        `Risk: ${i.risk.action}, qty ${i.risk.finalQty} of ${i.risk.requestedQty}${i.risk.stop ? `, stop ${i.risk.stop.toFixed(2)}` : ''}${i.risk.target ? `, target ${i.risk.target.toFixed(2)}` : ''}`,
        '',
      );
      out.push('| rule | passed | detail |', '|---|---|---|');
      for (const r of i.risk.rules) out.push(`| ${r.rule} | ${r.passed ? 'yes' : '**no**'} | ${mdCell(r.detail)} |`);
    }
  }
  out.push('', '## Tokens and latency per agent', '', '| agent | calls | prompt tokens | completion tokens | latency (ms) |', '|---|---|---|---|---|');
  for (const u of d.usage) out.push(`| ${u.agent} | ${u.calls} | ${u.promptTokens} | ${u.completionTokens} | ${u.latencyMs.toFixed(0)} |`);
  out.push('', '## Equity and P&L', '');
  out.push(d.equity.length >= 2 ? `![equity](equity-${s.id}.svg)` : 'No equity history yet: the chart appears after two or more readings.');
  return `${out.join('\n')}\n`;
}

/** The report as one self-contained HTML page (the SVG chart inline). */
export function renderHtml(d: ReportData): string {
  const s = d.session;
  const rows = d.items
    .map((i) => {
      const v = i.verdict;
      return `<tr data-ticker="${esc(i.ticker)}"><td>${esc(i.ticker)}</td><td>${esc(i.side)}</td><td>${i.probability.toFixed(3)}</td><td>${pct(i.expectedReturn)}</td>
<td class="decision ${esc((v?.decision ?? 'none').toLowerCase())}">${esc(v?.decision ?? 'not judged')}</td><td>${v ? v.sizeMultiplier.toFixed(2) : '-'}</td><td>${v ? v.confidence.toFixed(2) : '-'}</td>
<td>${esc(riskText(i))}</td><td>${esc(orderText(i))}</td></tr>`;
    })
    .join('\n');
  const details = d.items
    .map((i) => {
      const rules = (i.risk?.rules ?? [])
        .map((r) => `<tr class="${r.passed ? 'pass' : 'fail'}"><td>${esc(r.rule)}</td><td>${r.passed ? 'yes' : 'no'}</td><td>${esc(r.detail)}</td></tr>`)
        .join('');
      const debate = i.debate.map((m) => `<li><b>${esc(m.agent)}</b> (round ${m.round}): ${esc(m.summary)}</li>`).join('');
      const reasons = (i.verdict?.reasons ?? []).map((r) => `<li>${esc(r)}</li>`).join('');
      const cited = i.cited.map((c) => `<li><code>${esc(c.id)}</code> ${esc(c.publishedAt)} (${esc(c.source)}): ${esc(c.title)}</li>`).join('');
      return `<section><h3>${esc(i.ticker)} (${esc(i.side)})</h3>${i.verdict?.abstainReason ? `<p class="abstain">ABSTAIN: ${esc(i.verdict.abstainReason)}</p>` : ''}
<ul>${reasons}</ul>${cited ? `<h4>Cited news</h4><ul class="cited">${cited}</ul>` : ''}${debate ? `<h4>Debate</h4><ul>${debate}</ul>` : ''}${rules ? `<h4>Risk rules</h4><table class="rules"><tr><th>rule</th><th>passed</th><th>detail</th></tr>${rules}</table>` : ''}</section>`;
    })
    .join('\n');
  const usage = d.usage
    .map(
      (u) => `<tr><td>${esc(u.agent)}</td><td>${u.calls}</td><td>${u.promptTokens}</td><td>${u.completionTokens}</td><td>${u.latencyMs.toFixed(0)}</td></tr>`,
    )
    .join('');
  const inputs = inputsText(s);
  const outcome = outcomeText(s);
  const chart = equityChartSvg(d.equity) ?? '<p id="no-equity">No equity history yet: the chart appears after two or more readings.</p>';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Quorum session ${esc(s.id)}</title>
<style>
body{font-family:DejaVu Sans,Arial,sans-serif;margin:24px;color:#1f2328;max-width:1100px}
table{border-collapse:collapse;margin:8px 0}td,th{border:1px solid #d0d7de;padding:4px 8px;font-size:13px;text-align:left}
th{background:#f6f8fa}.approve{color:#1a7f37;font-weight:bold}.reduce{color:#9a6700;font-weight:bold}.reject,.abstain{color:#cf222e;font-weight:bold}
tr.fail td{background:#ffebe9}h1{font-size:22px}section{margin:16px 0}
</style></head><body>
<h1>Quorum session ${esc(s.id)}</h1>
<p>As of <b>${esc(s.asOf)}</b> · ${esc(s.kind)} · ${esc(s.status)} · judged by <b>${esc(s.backend ?? 'unknown')}</b> · generated ${esc(d.generatedAt)}</p>
${inputs === null ? '' : `<p id="inputs">Inputs: ${esc(inputs)}</p>`}
${outcome === null ? '' : `<p id="outcome" class="reject">${esc(outcome)}</p>`}
<h2>Verdicts</h2>
<table id="verdicts"><tr><th>ticker</th><th>side</th><th>p</th><th>exp. return</th><th>verdict</th><th>size ×</th><th>confidence</th><th>risk</th><th>orders</th></tr>
${rows}
</table>
<h2>Equity and P&amp;L</h2>
${chart}
<h2>Tokens and latency per agent</h2>
<table id="usage"><tr><th>agent</th><th>calls</th><th>prompt tokens</th><th>completion tokens</th><th>latency (ms)</th></tr>${usage}</table>
<h2>Details</h2>
${details}
</body></html>
`;
}
