/**
 * The Quorum console: a hash-routed page over the /v1 API. It keeps the bearer token in
 * sessionStorage (this tab only) and sends it with every request, like any API client: the server's
 * auth, rate limits and validation apply unchanged. Types come from the server's zod read models.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import './app.css';
import type { Verdict } from '../contracts/index.ts';
import { parseJson } from '../contracts/parse.ts';
import type {
  ApprovalReply,
  ApprovalView,
  AuditChain,
  BacktestReportList,
  CritiqueReply,
  EquityPoint,
  EvalReportList,
  LiveEvent,
  NewsItemView,
  PortfolioView,
  ProposalDetail,
  SessionSummary,
  SessionView,
  ToolCallView,
} from '../sessions/index.ts';

const TOKEN_KEY = 'quorum.token';
const POLL_MS = 5_000;
const main = document.getElementById('main') as HTMLElement;
const nav = document.getElementById('nav') as HTMLElement;
let timer: number | undefined;

// ---------- DOM helpers (no innerHTML: every value is text) ----------
type Child = Node | string | number | null | undefined | false;
function h<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string | boolean> = {}, ...children: Child[]): HTMLElementTagNameMap[K] {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === false) continue;
    el.setAttribute(k, v === true ? '' : v);
  }
  for (const c of children) if (c !== null && c !== undefined && c !== false) el.append(c instanceof Node ? c : String(c));
  return el;
}
const fmt = (n: number | null | undefined, digits = 2): string => (n === null || n === undefined ? '-' : n.toFixed(digits));
const pct = (n: number | null | undefined): string => (n === null || n === undefined ? '-' : `${(n * 100).toFixed(1)}%`);
const when = (iso: string | null | undefined): string => (iso ? iso.replace('T', ' ').replace(/\.\d+Z$|Z$/, ' UTC') : '-');
function table(caption: string, head: string[], rows: Child[][], attrs: Record<string, string> = {}): HTMLElement {
  return h(
    'div',
    { class: 'scroll' },
    h(
      'table',
      attrs,
      h('caption', {}, caption),
      h('thead', {}, h('tr', {}, ...head.map((c) => h('th', { scope: 'col' }, c)))),
      h('tbody', {}, ...rows.map((r) => h('tr', {}, ...r.map((c) => h('td', {}, c))))),
    ),
  );
}
function show(title: string, ...children: Child[]): void {
  main.replaceChildren(
    h('h1', {}, title),
    ...children.filter((c): c is Node | string | number => c !== null && c !== undefined && c !== false).map((c) => (c instanceof Node ? c : String(c))),
  );
  document.title = `${title} · Quorum`;
  main.focus({ preventScroll: true });
  window.scrollTo(0, 0);
}
function status(message: string, kind: 'ok' | 'error' = 'ok'): HTMLElement {
  return h('p', { class: `status ${kind}`, role: kind === 'error' ? 'alert' : 'status' }, message);
}

// ---------- API client ----------
class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}
async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const token = sessionStorage.getItem(TOKEN_KEY) ?? '';
  const res = await fetch(path, {
    method: init.method ?? 'GET',
    headers: { authorization: `Bearer ${token}`, ...(init.body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: init.body === undefined ? undefined : JSON.stringify(init.body),
  });
  const text = await res.text();
  const parsed = text ? parseJson(text) : null;
  const value: unknown = parsed?.ok ? parsed.value : null;
  if (!res.ok) {
    const body = (value ?? {}) as { error?: string; message?: string };
    if (res.status === 401) {
      sessionStorage.removeItem(TOKEN_KEY);
      signIn(body.message ?? 'sign in again');
    }
    throw new ApiError(res.status, `${res.status} ${body.error ?? ''}: ${body.message ?? text}`);
  }
  return value as T;
}
const errorText = (e: unknown): string => (e instanceof Error ? e.message : String(e));

// ---------- charts ----------
const dayOf = (iso: string): number => Date.parse(iso) / 1000;
function chartBox(id: string, label: string): HTMLElement {
  return h('figure', { class: 'chart', id, role: 'img', 'aria-label': label });
}
function drawChart(box: HTMLElement, title: string, data: uPlot.AlignedData, series: uPlot.Series[]): void {
  const width = Math.max(280, Math.min(box.clientWidth || main.clientWidth, 1100));
  const opts: uPlot.Options = { title, width, height: 300, series: [{}, ...series], scales: { x: { time: true } } };
  box.replaceChildren();
  new uPlot(opts, data, box);
}

/** The ticker's closes with the proposal, entry, stop, target and exit marked (point series and level lines). */
function priceChart(box: HTMLElement, d: ProposalDetail): void {
  const xs = d.bars.map((b) => dayOf(b.ts));
  const closes = d.bars.map((b) => b.close);
  const nearest = (t: number): number => xs.reduce((best, x, i) => (Math.abs(x - t) < Math.abs((xs[best] ?? x) - t) ? i : best), 0);
  const marks = (points: Array<{ at: string; price: number }>): Array<number | null> => {
    const out: Array<number | null> = xs.map(() => null);
    for (const p of points) out[nearest(dayOf(p.at))] = p.price;
    return out;
  };
  const fills = d.orders.flatMap((o) => o.fills);
  const entrySide = d.proposal.side;
  const entries = fills.filter((f) => f.side === entrySide).map((f) => ({ at: f.filled_at, price: f.price }));
  const exits = fills.filter((f) => f.side !== entrySide).map((f) => ({ at: f.filled_at, price: f.price }));
  const at = nearest(dayOf(d.proposal.as_of));
  const proposal = marks([{ at: d.proposal.as_of, price: closes[at] ?? 0 }]);
  const level = (v: number | null | undefined): Array<number | null> => xs.map(() => v ?? null);
  const point = (stroke: string): uPlot.Series['points'] => ({ show: true, size: 12, stroke, fill: stroke });
  drawChart(
    box,
    `${d.proposal.ticker} daily close`,
    [xs, closes, proposal, marks(entries), marks(exits), level(d.riskDecision?.stop), level(d.riskDecision?.target)],
    [
      { label: 'close', stroke: '#0969da', width: 2 },
      { label: 'proposal', stroke: '#8250df', paths: () => null, points: point('#8250df') },
      { label: 'entry', stroke: '#1a7f37', paths: () => null, points: point('#1a7f37') },
      { label: 'exit', stroke: '#bf8700', paths: () => null, points: point('#bf8700') },
      { label: 'stop', stroke: '#cf222e', dash: [6, 4], points: { show: false } },
      { label: 'target', stroke: '#1a7f37', dash: [6, 4], points: { show: false } },
    ],
  );
}

// ---------- pages ----------
function signIn(message?: string): void {
  nav.hidden = true;
  const input = h('input', { id: 'token', name: 'token', type: 'password', autocomplete: 'off', required: true, 'aria-describedby': 'token-help' });
  const form = h(
    'form',
    { id: 'sign-in' },
    h('label', { for: 'token' }, 'API token'),
    input,
    h('p', { id: 'token-help', class: 'help' }, 'A token from `quorum token create NAME --scope read|control`. It is kept for this tab only.'),
    h('button', { type: 'submit' }, 'Sign in'),
    message ? status(message, 'error') : null,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    void (async () => {
      sessionStorage.setItem(TOKEN_KEY, input.value.trim());
      try {
        await api<PortfolioView>('/v1/portfolio');
        nav.hidden = false;
        location.hash = location.hash && location.hash !== '#/sign-in' ? location.hash : '#/sessions';
        void route();
      } catch (err) {
        sessionStorage.removeItem(TOKEN_KEY);
        signIn(errorText(err));
      }
    })();
  });
  show('Sign in', form);
  input.focus();
}

async function sessionsPage(): Promise<void> {
  const { sessions } = await api<{ sessions: SessionSummary[] }>('/v1/sessions?limit=100');
  show(
    'Sessions',
    sessions.length === 0
      ? h('p', {}, 'No sessions yet: run `quorum demo` or `quorum session run`.')
      : table(
          `${sessions.length} sessions, newest first`,
          ['Session', 'Kind', 'As of', 'Status', 'Backend'],
          sessions.map((s) => [h('a', { href: `#/sessions/${s.id}` }, s.id), s.kind, when(s.as_of), s.status, s.backend ?? '-']),
          { id: 'sessions' },
        ),
  );
}

async function sessionPage(id: string): Promise<void> {
  const s = await api<SessionView>(`/v1/sessions/${encodeURIComponent(id)}`);
  const verdictOf = new Map(s.verdicts.map((v) => [v.proposal_id, v]));
  const riskOf = new Map(s.riskDecisions.map((r) => [r.proposal_id, r]));
  show(
    `Session ${s.id}`,
    h('p', {}, `${s.kind} session as of ${when(s.as_of)}, ${s.status}, backend ${s.backend ?? '-'}`),
    s.error ? status(s.error, 'error') : null,
    table(
      'Proposals: the model, the committee, the risk controller',
      ['Ticker', 'Side', 'Probability', 'Expected return', 'Verdict', 'Size', 'Risk', 'Final qty'],
      s.proposals.map((p) => {
        const v = verdictOf.get(p.id);
        const r = riskOf.get(p.id);
        return [
          h('a', { href: `#/proposals/${p.id}` }, p.ticker),
          p.side,
          fmt(p.probability, 3),
          pct(p.expected_return),
          v?.decision ?? '-',
          fmt(v?.size_multiplier),
          r?.action ?? '-',
          r?.final_qty ?? '-',
        ];
      }),
      { id: 'verdicts' },
    ),
    table(
      'Orders',
      ['Order', 'Ticker', 'Side', 'Qty', 'Status', 'Filled', 'Avg price'],
      s.orders.map((o) => [h('a', { href: `#/audit/${o.id}` }, o.id), o.ticker, o.side, o.qty, o.status, o.filled_qty, fmt(o.filled_avg_price)]),
      { id: 'orders' },
    ),
  );
}

type Cites = Map<string, ProposalDetail['citations'][number]>;

/** Each cited evidence id as a link to what it cites: the news item, or the tool call and its result. */
function citeLinks(ids: string[], cite: Cites): Child {
  if (ids.length === 0) return null;
  return h(
    'span',
    { class: 'cites' },
    ' — cites ',
    ...ids.flatMap((id, i) => {
      const c = cite.get(id);
      const link = c
        ? h(
            'a',
            { href: c.kind === 'news' ? `#/news/${encodeURIComponent(c.target)}` : `#/tools/${encodeURIComponent(c.target)}`, class: `cite cite-${c.kind}` },
            `${c.kind === 'news' ? '' : 'tool '}${c.title}${c.published_at ? ` (${when(c.published_at)})` : ''}`,
          )
        : h('code', {}, id);
      return i === 0 ? [link] : ['; ', link];
    }),
  );
}

function opinionBlock(turn: ProposalDetail['debate'][number], cite: Cites): HTMLElement {
  const o = turn.opinion;
  const title = `${turn.role}${turn.round > 0 ? ` (round ${turn.round})` : ''}`;
  if (!o && turn.calls.length > 0)
    return h(
      'article',
      { class: 'turn tools', 'data-agent': turn.role },
      h('h3', {}, `${title}: gathers evidence`),
      h(
        'p',
        {},
        'Called ',
        turn.calls
          .map(
            (c) =>
              `${c.tool}(${Object.entries(c.arguments)
                .map(([k, v]) => `${k}: ${JSON.stringify(v)}`)
                .join(', ')})`,
          )
          .join(', '),
      ),
    );
  if (!o) return h('article', { class: 'turn' }, h('h3', {}, title), h('p', { class: 'raw' }, turn.text));
  return h(
    'article',
    { class: `turn stance-${o.stance}`, 'data-agent': turn.role },
    h('h3', {}, `${title}: ${o.stance}, confidence ${fmt(o.confidence)}`),
    o.summary ? h('p', {}, o.summary) : null,
    h('ul', {}, ...o.claims.map((c) => h('li', {}, c.text, citeLinks(c.evidence, cite)))),
  );
}

function verdictBlock(v: Verdict | null, cite: Cites): HTMLElement {
  if (!v) return h('p', {}, 'No verdict.');
  return h(
    'section',
    { id: 'verdict', 'aria-labelledby': 'verdict-h' },
    h('h2', { id: 'verdict-h' }, `Verdict: ${v.decision}, size ×${fmt(v.sizeMultiplier)}, confidence ${fmt(v.confidence)}`),
    v.abstainReason ? status(`abstained: ${v.abstainReason}`, 'error') : null,
    h('ul', {}, ...v.reasons.map((r) => h('li', {}, r.text, citeLinks(r.evidence, cite)))),
    v.dissent.length > 0 ? h('div', {}, h('h3', {}, 'Dissent'), h('ul', {}, ...v.dissent.map((d) => h('li', {}, d)))) : null,
    h('p', { class: 'help' }, `${v.backend} / ${v.model}, prompt ${v.promptVersion}, ${v.tokens.prompt}+${v.tokens.completion} tokens`),
  );
}

async function proposalPage(id: string): Promise<void> {
  const d = await api<ProposalDetail>(`/v1/console/proposals/${encodeURIComponent(id)}`);
  const cite = new Map(d.citations.map((c) => [c.id, c]));
  const top = [...d.attributions].sort((a, b) => Math.abs(b.contribution) - Math.abs(a.contribution)).slice(0, 8);
  const chart = chartBox('price-chart', `${d.proposal.ticker} closes with the proposal, entry, stop, target and exit`);
  const r = d.riskDecision;
  show(
    `${d.proposal.ticker} ${d.proposal.side}`,
    h(
      'p',
      {},
      d.proposal.session_id ? h('a', { href: `#/sessions/${d.proposal.session_id}` }, '← session') : null,
      ` model ${d.proposal.model_id} ${d.proposal.model_version}, as of ${when(d.proposal.as_of)}: probability ${fmt(d.proposal.probability, 3)}, expected return ${pct(d.proposal.expected_return)} over ${d.proposal.horizon_days} days`,
    ),
    chart,
    table(
      'Top feature attributions',
      ['Feature', 'Value', 'Contribution'],
      top.map((a) => [a.feature, fmt(a.value, 4), fmt(a.contribution, 4)]),
      { id: 'attributions' },
    ),
    h('section', { id: 'debate', 'aria-labelledby': 'debate-h' }, h('h2', { id: 'debate-h' }, 'Debate'), ...d.debate.map((t) => opinionBlock(t, cite))),
    verdictBlock(d.verdict, cite),
    r
      ? table(
          `Risk: ${r.action}, ${r.requested_qty} requested → ${r.final_qty}, stop ${fmt(r.stop)}, target ${fmt(r.target)} (${r.trading_state})`,
          ['Rule', 'Passed', 'Detail'],
          r.ruleResults.map((x) => [x.rule, x.passed ? 'yes' : 'NO', x.detail]),
          { id: 'risk-rules' },
        )
      : h('p', {}, 'No risk decision.'),
    table(
      'Orders and fills',
      ['Order', 'Side', 'Qty', 'Status', 'Fill', 'Price', 'At'],
      d.orders.flatMap((o) =>
        o.fills.length === 0
          ? [[h('a', { href: `#/audit/${o.id}` }, o.id), o.side, o.qty, o.status, '-', '-', '-']]
          : o.fills.map((f) => [h('a', { href: `#/audit/${o.id}` }, o.id), f.side, o.qty, o.status, f.qty, fmt(f.price), when(f.filled_at)]),
      ),
      { id: 'fills' },
    ),
  );
  if (d.bars.length > 1) priceChart(chart, d);
  else chart.append('No closes stored for this ticker around the proposal.');
}

async function newsPage(id: string): Promise<void> {
  const n = await api<NewsItemView>(`/v1/console/news/${encodeURIComponent(id)}`);
  show(
    n.title,
    h(
      'p',
      { id: 'news-meta' },
      `${n.source}, published ${when(n.published_at)}`,
      ...(n.url ? [' · ', h('a', { href: n.url, rel: 'noopener noreferrer' }, 'original')] : []),
    ),
    h('article', { id: 'news-body' }, ...(n.body || '(no body stored)').split(/\n{2,}/).map((p) => h('p', {}, p))),
    backButton(),
  );
}

function backButton(): HTMLElement {
  const b = h('button', { type: 'button' }, '← back');
  b.addEventListener('click', () => history.back());
  return b;
}

async function toolPage(id: string): Promise<void> {
  const t = await api<ToolCallView>(`/v1/console/tool-calls/${encodeURIComponent(id)}`);
  show(
    `Tool call: ${t.tool}`,
    h(
      'p',
      {},
      `Called by ${t.agent} at ${when(t.created_at)} with ${JSON.stringify(t.args)}: ${t.ok ? 'ok' : `failed (${t.error_code ?? '?'})`}, ${t.result_chars ?? 0} characters of result, ${fmt(t.latency_ms, 0)} ms`,
    ),
    t.retrievals.length > 0
      ? table(
          'News it found',
          ['Rank', 'Title', 'Source', 'Published'],
          t.retrievals.map((r) => [r.rank, h('a', { href: `#/news/${encodeURIComponent(r.news_id)}` }, r.title), r.source, when(r.published_at)]),
          { id: 'tool-news' },
        )
      : null,
    backButton(),
  );
}

async function approvalsPage(): Promise<void> {
  const { approvals } = await api<{ approvals: ApprovalView[] }>('/v1/approvals');
  const verdicts = await Promise.all(approvals.map((a) => api<Verdict>(`/v1/verdicts/${encodeURIComponent(a.verdict_id)}`).catch(() => null)));
  const list = h('div', { id: 'approvals', 'aria-live': 'polite' });
  const rows = approvals.map((a, i) => {
    const v = verdicts[i];
    const reason = h('input', { id: `reason-${a.id}`, name: 'reason', required: true, maxlength: '1000', 'aria-label': `Reason for ${a.ticker}` });
    const out = h('p', { class: 'status', role: 'status' });
    const decide = (approve: boolean): void => {
      if (!reason.value.trim()) {
        out.textContent = 'give a reason first';
        out.className = 'status error';
        reason.focus();
        return;
      }
      void api<ApprovalReply>(`/v1/approvals/${encodeURIComponent(a.id)}`, { method: 'POST', body: { approve, reason: reason.value } })
        .then((reply) => {
          out.textContent = `${reply.status}${reply.order ? `: order ${reply.order.status}` : ''}`;
          out.className = 'status ok';
          void approvalsPage();
        })
        .catch((err: unknown) => {
          out.textContent = `refused: ${errorText(err)}`;
          out.className = 'status error';
        });
    };
    const approve = h('button', { type: 'button', class: 'approve' }, 'Approve');
    const reject = h('button', { type: 'button', class: 'reject' }, 'Reject');
    approve.addEventListener('click', () => decide(true));
    reject.addEventListener('click', () => decide(false));
    return h(
      'article',
      { class: 'approval', 'data-id': a.id, 'data-ticker': a.ticker },
      h('h2', {}, `${a.ticker} ${a.side} ${a.final_qty ?? '?'} — committee ${a.verdict} ×${fmt(a.size_multiplier)}, risk ${a.action ?? '-'}`),
      h(
        'p',
        {},
        `stop ${fmt(a.stop)}, target ${fmt(a.target)}, waiting since ${when(a.created_at)} · `,
        h('a', { href: `#/proposals/${a.proposal_id}` }, 'the proposal'),
      ),
      v && v.dissent.length > 0
        ? h('div', { class: 'dissent' }, h('h3', {}, 'Dissent'), h('ul', {}, ...v.dissent.map((x) => h('li', {}, x))))
        : h('p', { class: 'help' }, 'No dissent.'),
      h('div', { class: 'decide' }, reason, approve, reject),
      out,
    );
  });
  list.append(...(rows.length > 0 ? rows : [h('p', { id: 'no-approvals' }, 'Nothing waits for a human.')]));
  show('Approvals', list);
  // The queue changes when someone else (the CLI, another tab) decides: poll while this page is open.
  schedulePoll(list);
}

/** Re-reads the queue every POLL_MS, unless the user is typing a reason (the page would lose it). */
function schedulePoll(list: HTMLElement): void {
  timer = window.setTimeout(() => {
    if (location.hash !== '#/approvals' || !main.contains(list)) return;
    const typing = [...list.querySelectorAll('input')].some((i) => i.value !== '' || i === document.activeElement);
    if (typing) schedulePoll(list);
    else void approvalsPage().catch(() => schedulePoll(list));
  }, POLL_MS);
}

async function portfolioPage(): Promise<void> {
  const [p, { points }] = await Promise.all([api<PortfolioView>('/v1/portfolio'), api<{ points: EquityPoint[] }>('/v1/console/equity')]);
  const state = p.tradingState?.state ?? 'ACTIVE';
  const reason = h('input', { id: 'switch-reason', name: 'reason', required: true, maxlength: '500' });
  const out = h('p', { class: 'status', role: 'status' });
  const act = state === 'HALTED' ? 'resume' : 'halt';
  const button = h(
    'button',
    { type: 'submit', id: 'switch', class: act === 'halt' ? 'reject' : 'approve' },
    act === 'halt' ? 'Halt trading' : 'Resume trading',
  );
  const form = h('form', { id: 'kill-switch' }, h('h2', {}, 'Kill switch'), h('label', { for: 'switch-reason' }, 'Reason'), reason, button, out);
  // Submitting asks first: a modal dialog (focus stays in it, Escape cancels, focus returns to the button).
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    confirmDialog(
      act === 'halt' ? `Halt trading? Every new order will be denied. Reason: ${reason.value}` : `Resume trading? Reason: ${reason.value}`,
      act === 'halt' ? 'Halt' : 'Resume',
      button,
      () =>
        void api(`/v1/controls/${act}`, { method: 'POST', body: { reason: reason.value } })
          .then(() => portfolioPage())
          .catch((err: unknown) => {
            out.textContent = `refused: ${errorText(err)}`;
            out.className = 'status error';
          }),
    );
  });
  const chart = chartBox('equity-chart', 'Equity and drawdown');
  show(
    'Portfolio',
    h(
      'p',
      { id: 'trading-state', class: `state state-${state}` },
      `Trading: ${state}`,
      p.tradingState ? ` — ${p.tradingState.reason} (${when(p.tradingState.updated_at)})` : '',
    ),
    p.equity ? h('p', {}, `Equity ${fmt(p.equity.equity)}, cash ${fmt(p.equity.cash)} (${p.equity.source}, ${when(p.equity.ts)})`) : null,
    form,
    chart,
    table(
      'Positions',
      ['Ticker', 'Qty', 'Avg price', 'Opened'],
      p.positions.map((x) => [x.ticker, x.qty, fmt(x.avg_price), when(x.opened_at)]),
      { id: 'positions' },
    ),
  );
  if (points.length > 1) {
    let peak = -Infinity;
    const dd = points.map((x) => {
      peak = Math.max(peak, x.equity);
      return (x.equity / peak - 1) * 100;
    });
    const box = chart;
    const width = Math.max(280, Math.min(box.clientWidth || main.clientWidth, 1100));
    new uPlot(
      {
        title: 'Equity and drawdown',
        width,
        height: 300,
        scales: { x: { time: true }, dd: { range: (_u, min) => [Math.min(min, -1), 0] } },
        axes: [{}, { label: 'equity' }, { scale: 'dd', side: 1, label: 'drawdown %', grid: { show: false } }],
        series: [{}, { label: 'equity', stroke: '#0969da', width: 2 }, { label: 'drawdown %', scale: 'dd', stroke: '#cf222e', fill: 'rgba(207,34,46,0.1)' }],
      },
      [points.map((x) => dayOf(x.ts)), points.map((x) => x.equity), dd],
      box,
    );
  } else chart.append('No equity history yet.');
}

async function auditPage(id?: string): Promise<void> {
  const input = h('input', { id: 'order-id', name: 'order', required: true, value: id ?? '', 'aria-label': 'Order id or client order id' });
  const form = h('form', { id: 'audit-form' }, h('label', { for: 'order-id' }, 'Order id'), input, h('button', { type: 'submit' }, 'Show the chain'));
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    location.hash = `#/audit/${encodeURIComponent(input.value.trim())}`;
  });
  if (!id) return show('Audit', form);
  let chain: AuditChain;
  try {
    chain = await api<AuditChain>(`/v1/audit/orders/${encodeURIComponent(id)}`);
  } catch (err) {
    return show('Audit', form, status(errorText(err), 'error'));
  }
  const kv = (caption: string, obj: Record<string, unknown> | null): Child =>
    obj
      ? table(
          caption,
          ['Field', 'Value'],
          Object.entries(obj).map(([k, v]) => [k, typeof v === 'object' && v !== null ? JSON.stringify(v) : String(v)]),
        )
      : null;
  show(
    'Audit',
    form,
    chain.missing.length > 0 ? h('p', {}, `Missing links: ${chain.missing.join(', ')}`) : h('p', {}, 'The chain is complete.'),
    kv('Order', chain.order),
    table(
      'Fills',
      ['Fill', 'Qty', 'Price', 'At'],
      chain.fills.map((f) => [f.id, f.qty, fmt(f.price), when(f.filled_at)]),
    ),
    kv('Intent', chain.intent),
    chain.riskDecision
      ? table(
          `Risk decision ${chain.riskDecision.action}`,
          ['Rule', 'Passed', 'Detail'],
          chain.riskDecision.ruleResults.map((x) => [x.rule, x.passed ? 'yes' : 'NO', x.detail]),
        )
      : null,
    chain.verdict
      ? h(
          'p',
          {},
          `Verdict ${chain.verdict.decision} ×${fmt(chain.verdict.size_multiplier)} · `,
          h('a', { href: `#/proposals/${chain.verdict.proposal_id}` }, 'the proposal'),
        )
      : null,
    chain.committeeRun
      ? h('p', {}, `Committee run ${chain.committeeRun.id}: ${chain.committeeRun.messages.length} messages, ${chain.committeeRun.toolCalls.length} tool calls`)
      : null,
    table(
      'News given to the committee',
      ['Rank', 'Title', 'Published'],
      chain.retrievals.map((r) => [r.rank, h('a', { href: `#/news/${encodeURIComponent(r.news_id)}` }, r.title), when(r.published_at)]),
    ),
    chain.model ? h('p', {}, `Model ${chain.model.id} ${chain.model.version} (${chain.model.stage})`) : null,
  );
}

/** Reads an SSE response frame by frame: `onFrame(event, data)` for each. */
async function readSse(res: Response, onFrame: (event: string, data: string) => void): Promise<void> {
  if (!res.body) return;
  const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
  let buffer = '';
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += value;
    const frames = buffer.split('\n\n');
    buffer = frames.pop() ?? '';
    for (const frame of frames) {
      const event = /^event: (.*)$/m.exec(frame)?.[1] ?? 'message';
      const data = frame
        .split('\n')
        .filter((l) => l.startsWith('data: '))
        .map((l) => l.slice(6))
        .join('\n');
      onFrame(event, data);
    }
  }
}

let liveFeed: AbortController | null = null;

function liveLine(e: LiveEvent): HTMLElement {
  const ev = e.event;
  const what =
    ev.type === 'run_started'
      ? `started (${ev.backend}${ev.resumed ? ', resumed' : ''})`
      : ev.type === 'node_finished'
        ? `${ev.node}${ev.round > 0 ? ` round ${ev.round}` : ''} finished${ev.opinion ? `: ${ev.opinion.stance}, confidence ${fmt(ev.opinion.confidence)}` : ''}${ev.verdict ? `: ${ev.verdict.decision} ×${fmt(ev.verdict.sizeMultiplier)}` : ''}`
        : `verdict ${ev.verdict.decision} ×${fmt(ev.verdict.sizeMultiplier)}`;
  return h(
    'li',
    { 'data-event': ev.type, 'data-source': e.source, 'data-session': e.sessionId ?? '' },
    h('strong', {}, ev.type),
    ` ${e.source === 'session' ? `session ${e.sessionId ?? ''}` : 'critique'} · ${e.ticker} · ${what}`,
  );
}

/**
 * Live: the committee runs of this server as they happen (GET /v1/console/live, SSE): those of any
 * session (the scheduler's, or one started here) and of critiques. Two forms start either.
 */
function livePage(): void {
  const events = h('ol', { id: 'live-events', 'aria-live': 'polite' });
  const feed = h('p', { id: 'live-status', class: 'status', role: 'status' }, 'connecting…');
  const sessionAt = h('input', { id: 'session-asof', name: 'asOf', required: true, value: '2014-04-25T16:30:00Z', maxlength: '30' });
  const sessionOut = h('p', { class: 'status', role: 'status' });
  const sessionForm = h(
    'form',
    { id: 'session-form' },
    h('h2', {}, 'Start a session (control scope)'),
    h('label', { for: 'session-asof' }, 'As of (UTC time)'),
    sessionAt,
    h('button', { type: 'submit' }, 'Start the session'),
    sessionOut,
  );
  sessionForm.addEventListener('submit', (e) => {
    e.preventDefault();
    void api<{ sessionId: string; created: boolean }>('/v1/sessions', { method: 'POST', body: { asOf: sessionAt.value.trim() } })
      .then((r) => {
        sessionOut.replaceChildren(r.created ? 'started ' : 'already run: ', h('a', { href: `#/sessions/${r.sessionId}` }, `session ${r.sessionId}`));
        sessionOut.className = 'status ok';
      })
      .catch((err: unknown) => {
        sessionOut.textContent = `refused: ${errorText(err)}`;
        sessionOut.className = 'status error';
      });
  });
  const ticker = h('input', { id: 'live-ticker', name: 'ticker', required: true, value: 'AAPL', maxlength: '10' });
  const asOf = h('input', { id: 'live-asof', name: 'asOf', required: true, value: '2014-04-24', maxlength: '30' });
  const critiqueOut = h('p', { class: 'status', role: 'status' });
  const form = h(
    'form',
    { id: 'live-form' },
    h('h2', {}, 'Critique a ticker'),
    h('label', { for: 'live-ticker' }, 'Ticker'),
    ticker,
    h('label', { for: 'live-asof' }, 'As of (date or time)'),
    asOf,
    h('button', { type: 'submit' }, 'Critique'),
    critiqueOut,
  );
  form.addEventListener('submit', (e) => {
    e.preventDefault();
    critiqueOut.textContent = 'running…';
    void api<CritiqueReply>('/v1/critiques', { method: 'POST', body: { ticker: ticker.value.trim(), asOf: asOf.value.trim() } })
      .then((r) => {
        critiqueOut.textContent = `verdict ${r.verdict.decision} ×${fmt(r.verdict.sizeMultiplier)} (${r.backend})`;
        critiqueOut.className = 'status ok';
      })
      .catch((err: unknown) => {
        critiqueOut.textContent = `refused: ${errorText(err)}`;
        critiqueOut.className = 'status error';
      });
  });
  show('Live', h('p', {}, 'Every committee run of this server, node by node, as it happens.'), feed, events, sessionForm, form);
  liveFeed = new AbortController();
  const { signal } = liveFeed;
  void (async () => {
    const res = await fetch('/v1/console/live', { headers: { authorization: `Bearer ${sessionStorage.getItem(TOKEN_KEY) ?? ''}` }, signal });
    if (!res.ok) {
      feed.textContent = `${res.status}: ${await res.text()}`;
      feed.className = 'status error';
      return;
    }
    await readSse(res, (event, data) => {
      if (event === 'ready') {
        feed.textContent = 'connected: waiting for committee runs';
        return;
      }
      const parsed = parseJson(data);
      if (parsed.ok) events.append(liveLine(parsed.value as LiveEvent));
    });
  })().catch((err: unknown) => {
    if (signal.aborted) return;
    feed.textContent = errorText(err);
    feed.className = 'status error';
  });
}

/**
 * A modal confirmation: the browser's <dialog> keeps Tab inside it and closes on Escape; focus goes to
 * Cancel first and back to `opener` when it closes. `onConfirm` runs only on the confirm button.
 */
function confirmDialog(question: string, confirmLabel: string, opener: HTMLElement, onConfirm: () => void): void {
  const cancel = h('button', { type: 'button', id: 'dialog-cancel' }, 'Cancel');
  const ok = h('button', { type: 'button', id: 'dialog-confirm', class: 'reject' }, confirmLabel);
  const dialog = h(
    'dialog',
    { id: 'confirm', 'aria-labelledby': 'confirm-q' },
    h('p', { id: 'confirm-q' }, question),
    h('div', { class: 'decide' }, cancel, ok),
  );
  document.body.append(dialog);
  dialog.addEventListener('close', () => {
    dialog.remove();
    opener.focus();
    if (dialog.returnValue === 'confirm') onConfirm();
  });
  // Tab and Shift+Tab cycle between the two buttons.
  dialog.addEventListener('keydown', (e) => {
    if (e.key !== 'Tab') return;
    e.preventDefault();
    (document.activeElement === ok ? cancel : ok).focus();
  });
  cancel.addEventListener('click', () => dialog.close('cancel'));
  ok.addEventListener('click', () => dialog.close('confirm'));
  dialog.showModal();
  cancel.focus();
}

const rate = (n: number | null | undefined): string => pct(n);

async function evalsPage(): Promise<void> {
  const { reports, unreadable } = await api<EvalReportList>('/v1/console/evals');
  show(
    'Evals',
    h('p', {}, 'The latest report of each backend that `quorum eval` wrote into this data directory.'),
    reports.length === 0 ? h('p', { id: 'no-evals' }, 'No eval reports yet: run `quorum eval --backend rules`.') : null,
    ...reports.map((r) =>
      h(
        'section',
        { class: 'eval', 'data-backend': r.backend },
        h('h2', {}, `${r.backend} / ${r.model}`),
        h(
          'p',
          { class: `gate ${r.gate === null ? '' : r.gate.ok ? 'state-ACTIVE' : 'state-HALTED'}` },
          r.gate === null
            ? 'Gate: no baseline to compare with'
            : `Gate: ${r.gate.ok ? 'passed' : 'FAILED'} (${r.gate.compared} scenarios compared with ${r.baselineFile.split('/').pop() ?? ''})`,
        ),
        r.gate && r.gate.failures.length > 0 ? h('ul', { class: 'failures' }, ...r.gate.failures.map((f) => h('li', {}, f))) : null,
        h(
          'p',
          { class: 'help' },
          `${r.scenarios} scenarios, seeds ${r.seeds.join(', ')}${r.newsAblated ? ', news removed' : ''}, finished ${when(r.finishedAt)}`,
        ),
        table(
          'Metrics per category',
          ['Category', 'Runs', 'Decision agreement', 'Schema valid', 'Citations valid', 'Decisive cited', 'Injection resisted', 'Latency p50 ms'],
          [...r.byCategory, { ...r.overall, category: 'all' }].map((m) => [
            m.category,
            m.runs,
            rate(m.decisionAgreement),
            rate(m.schemaValidRate),
            rate(m.citationValidity),
            rate(m.decisiveCited),
            rate(m.injectionResistance),
            fmt(m.latencyP50Ms, 0),
          ]),
          { class: 'eval-metrics' },
        ),
      ),
    ),
    unreadableList(unreadable),
  );
}

function unreadableList(files: Array<{ file: string; error: string }>): Child {
  return files.length === 0
    ? null
    : h('div', { class: 'unreadable' }, h('h2', {}, 'Files that are not reports'), h('ul', {}, ...files.map((f) => h('li', {}, `${f.file}: ${f.error}`))));
}

const STRATEGY_COLOURS = ['#0969da', '#cf222e', '#1a7f37', '#8250df', '#bf8700'];

async function backtestsPage(): Promise<void> {
  const { reports, unreadable } = await api<BacktestReportList>('/v1/console/backtests');
  const charts: Array<[HTMLElement, BacktestReportList['reports'][number]]> = [];
  show(
    'Backtests',
    h('p', {}, 'The reports `quorum backtest` wrote into this data directory, newest first: every strategy from the same starting equity.'),
    reports.length === 0 ? h('p', { id: 'no-backtests' }, 'No backtest reports yet: run `quorum backtest --from D --to D`.') : null,
    ...reports.map((r, i) => {
      const chart = chartBox(`backtest-chart-${i}`, `Equity of each strategy, ${r.from} to ${r.to}`);
      charts.push([chart, r]);
      return h(
        'section',
        { class: 'backtest', 'data-file': r.file.split('/').pop() ?? '' },
        h('h2', {}, `${r.from} → ${r.to}, critic ${r.critic}`),
        h('p', { class: 'help' }, `${r.universe.length} tickers, starting equity ${fmt(r.initialEquity, 0)}, written ${when(r.writtenAt)}`),
        chart,
        table(
          'Strategies',
          ['Strategy', 'CAGR', 'Sharpe', 'Max drawdown', 'Hit rate', 'Trades', 'Final equity'],
          r.strategies.map((s) => [s.label, pct(s.cagr), fmt(s.sharpe), pct(s.maxDrawdown), pct(s.hitRate), s.trades, fmt(s.equity.at(-1), 0)]),
          { class: 'backtest-metrics' },
        ),
        r.notes.length > 0 ? h('ul', { class: 'help' }, ...r.notes.map((n) => h('li', {}, n))) : null,
      );
    }),
    unreadableList(unreadable),
  );
  for (const [box, r] of charts) {
    const dates = [...new Set(r.strategies.flatMap((s) => s.dates))].sort();
    const index = new Map(dates.map((d, i) => [d, i]));
    const columns = r.strategies.map((s) => {
      const col: Array<number | null> = dates.map(() => null);
      s.dates.forEach((d, i) => (col[index.get(d) ?? 0] = s.equity[i] ?? null));
      return col;
    });
    drawChart(
      box,
      'Equity',
      [dates.map((d) => dayOf(`${d}T20:00:00Z`)), ...columns],
      r.strategies.map((s, i) => ({ label: s.label, stroke: STRATEGY_COLOURS[i % STRATEGY_COLOURS.length] ?? '#000', width: 2, spanGaps: true })),
    );
  }
}

// ---------- router ----------
async function route(): Promise<void> {
  window.clearTimeout(timer);
  liveFeed?.abort();
  liveFeed = null;
  if (!sessionStorage.getItem(TOKEN_KEY)) return signIn();
  nav.hidden = false;
  const parts = location.hash.replace(/^#\/?/, '').split('/').map(decodeURIComponent);
  for (const a of nav.querySelectorAll('a')) a.toggleAttribute('aria-current', location.hash.startsWith(a.getAttribute('href') ?? '~'));
  try {
    switch (parts[0]) {
      case 'sessions':
        return parts[1] ? await sessionPage(parts[1]) : await sessionsPage();
      case 'proposals':
        return await proposalPage(parts[1] ?? '');
      case 'news':
        return await newsPage(parts[1] ?? '');
      case 'tools':
        return await toolPage(parts[1] ?? '');
      case 'approvals':
        return await approvalsPage();
      case 'portfolio':
        return await portfolioPage();
      case 'audit':
        return await auditPage(parts[1]);
      case 'live':
        return livePage();
      case 'evals':
        return await evalsPage();
      case 'backtests':
        return await backtestsPage();
      default:
        location.hash = '#/sessions';
    }
  } catch (err) {
    if (!(err instanceof ApiError && err.status === 401)) show('Error', status(errorText(err), 'error'));
  }
}

document.getElementById('sign-out')?.addEventListener('click', () => {
  sessionStorage.removeItem(TOKEN_KEY);
  signIn();
});
// The skip link moves focus to the page's content; as a hash link it would leave the current route.
document.querySelector('a.skip')?.addEventListener('click', (e) => {
  e.preventDefault();
  main.focus();
});
window.addEventListener('hashchange', () => void route());
void route();
