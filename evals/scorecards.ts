/**
 * Per-agent scorecards: how well each agent's stance forecast the move that followed, and how well
 * the committee's confidence was calibrated.
 *
 * An opinion is read as a forecast of an up move over the proposal's horizon. `support` of a buy
 * (or `oppose` of a sell) says "up" with the opinion's confidence c: P(up) = 0.5 + c/2; the reverse
 * says "down": P(up) = 0.5 - c/2; `neutral` is P(up) = 0.5. The outcome is 1 when the close at the
 * horizon's end is above the as-of close. The Brier score is the mean squared gap between P(up) and
 * the outcome: 0 for a perfect forecaster, 0.25 for one that always says 0.5, 1 for one certainly wrong.
 *
 * The committee's confidence is its confidence that its decision is right: an APPROVE or REDUCE is
 * right when the trade's direction paid (the directional return was > 0), a REJECT when it did not.
 * ABSTAIN decides nothing and is left out. The reliability table bins confidence and sets each bin's
 * mean confidence against the share of decisions that were right; the expected calibration error
 * (ECE) is the count-weighted mean gap.
 */
import { z } from 'zod';
import { AgentRole, Stance } from '../contracts/index.ts';

export const ScoredOpinion = z.object({ role: AgentRole, stance: Stance, confidence: z.number().min(0).max(1) }).strict();
export type ScoredOpinion = z.infer<typeof ScoredOpinion>;

/** One judged proposal with what happened after it. */
export const ScoredCritique = z
  .object({
    proposalId: z.string().min(1),
    side: z.enum(['buy', 'sell']),
    opinions: z.array(ScoredOpinion),
    decision: z.enum(['APPROVE', 'REDUCE', 'REJECT', 'ABSTAIN']),
    /** The committee's confidence in its decision, 0..1. */
    confidence: z.number().min(0).max(1),
    /** Close at the horizon's end / close at as-of - 1 (the raw move, not the trade's direction). */
    forwardReturn: z.number().finite(),
  })
  .strict();
export type ScoredCritique = z.infer<typeof ScoredCritique>;

/** A forecast probability and the outcome (1 or 0). */
export interface Forecast {
  p: number;
  y: 0 | 1;
}

/** P(up) of a stance with `confidence` on a proposal of `side`. */
export function upProbability(side: 'buy' | 'sell', stance: Stance, confidence: number): number {
  if (stance === 'neutral') return 0.5;
  const saysUp = (stance === 'support') === (side === 'buy');
  const c = Math.min(1, Math.max(0, confidence));
  return saysUp ? 0.5 + c / 2 : 0.5 - c / 2;
}

/** Mean of (p - y)^2; null without forecasts. */
export function brierScore(forecasts: readonly Forecast[]): number | null {
  if (forecasts.length === 0) return null;
  return forecasts.reduce((a, f) => a + (f.p - f.y) ** 2, 0) / forecasts.length;
}

export const ReliabilityBin = z
  .object({
    lo: z.number(),
    hi: z.number(),
    n: z.number().int().min(0),
    meanConfidence: z.number().nullable(),
    observed: z.number().nullable(),
  })
  .strict();
export type ReliabilityBin = z.infer<typeof ReliabilityBin>;

/**
 * The reliability table of `forecasts` over `bins` equal-width bins of [0, 1] (the last bin
 * includes 1), and the expected calibration error: sum over bins of n_b/n * |mean p - observed|.
 */
export function reliabilityTable(forecasts: readonly Forecast[], bins = 5): { bins: ReliabilityBin[]; ece: number | null } {
  const k = Math.max(1, Math.floor(bins));
  const rows: ReliabilityBin[] = [];
  let ece = 0;
  for (let b = 0; b < k; b++) {
    const lo = b / k;
    const hi = (b + 1) / k;
    const inBin = forecasts.filter((f) => f.p >= lo && (b === k - 1 ? f.p <= hi : f.p < hi));
    const n = inBin.length;
    const meanConfidence = n === 0 ? null : inBin.reduce((a, f) => a + f.p, 0) / n;
    const observed = n === 0 ? null : inBin.filter((f) => f.y === 1).length / n;
    if (meanConfidence !== null && observed !== null) ece += (n / forecasts.length) * Math.abs(meanConfidence - observed);
    rows.push({ lo, hi, n, meanConfidence, observed });
  }
  return { bins: rows, ece: forecasts.length === 0 ? null : ece };
}

export const AgentScore = z
  .object({
    role: AgentRole,
    /** Opinions scored (a role that did not run, or abstained on a disabled node, has fewer). */
    n: z.number().int().min(0),
    brier: z.number().nullable(),
    /** Brier of always saying 0.5, on the same outcomes (0.25): the score to beat. */
    uninformedBrier: z.number().nullable(),
    /** Mean P(up) the role gave, and the share of up moves. */
    meanUpProbability: z.number().nullable(),
    upRate: z.number().nullable(),
  })
  .strict();
export type AgentScore = z.infer<typeof AgentScore>;

export const Scorecards = z
  .object({
    /** Proposals judged and resolved (their horizon ended inside the data). */
    n: z.number().int().min(0),
    /** Proposals judged whose horizon had not ended by the last day (left out). */
    unresolved: z.number().int().min(0),
    agents: z.array(AgentScore),
    committee: z
      .object({
        /** Decisions scored (ABSTAIN left out). */
        n: z.number().int().min(0),
        brier: z.number().nullable(),
        ece: z.number().nullable(),
        bins: z.array(ReliabilityBin),
      })
      .strict(),
  })
  .strict();
export type Scorecards = z.infer<typeof Scorecards>;

/** True when the decision was right: a trade whose direction paid, or a veto of one that did not. */
export function decisionRight(c: Pick<ScoredCritique, 'side' | 'decision' | 'forwardReturn'>): boolean | null {
  if (c.decision === 'ABSTAIN') return null;
  const directional = c.side === 'buy' ? c.forwardReturn : -c.forwardReturn;
  return c.decision === 'REJECT' ? directional <= 0 : directional > 0;
}

/** The scorecards of `critiques`. */
export function scorecards(critiques: readonly ScoredCritique[], options: { bins?: number; unresolved?: number } = {}): Scorecards {
  const bins = options.bins ?? 5;
  const agents: AgentScore[] = AgentRole.options.map((role) => {
    const forecasts: Forecast[] = [];
    for (const c of critiques) {
      const y: 0 | 1 = c.forwardReturn > 0 ? 1 : 0;
      for (const o of c.opinions) if (o.role === role) forecasts.push({ p: upProbability(c.side, o.stance, o.confidence), y });
    }
    const n = forecasts.length;
    return {
      role,
      n,
      brier: brierScore(forecasts),
      uninformedBrier: brierScore(forecasts.map((f) => ({ p: 0.5, y: f.y }))),
      meanUpProbability: n === 0 ? null : forecasts.reduce((a, f) => a + f.p, 0) / n,
      upRate: n === 0 ? null : forecasts.filter((f) => f.y === 1).length / n,
    };
  });
  const decided: Forecast[] = [];
  for (const c of critiques) {
    const right = decisionRight(c);
    if (right !== null) decided.push({ p: c.confidence, y: right ? 1 : 0 });
  }
  const table = reliabilityTable(decided, bins);
  return {
    n: critiques.length,
    unresolved: options.unresolved ?? 0,
    agents,
    committee: { n: decided.length, brier: brierScore(decided), ece: table.ece, bins: table.bins },
  };
}

const num = (x: number | null, digits = 3): string => (x === null ? 'n/a' : x.toFixed(digits));

/** The scorecards as Markdown (two tables). */
export function renderScorecardsMarkdown(s: Scorecards): string {
  const lines = [
    `### Agent scorecards (${s.n} resolved proposal(s)${s.unresolved > 0 ? `; ${s.unresolved} whose horizon ends after the last day left out` : ''})`,
    '',
    'Brier score of each stance as P(up) over the horizon (0 perfect, 0.25 = always 0.5).',
    '',
    '| agent | n | Brier | Brier of 0.5 | mean P(up) | up rate |',
    '|---|---:|---:|---:|---:|---:|',
    ...s.agents.map((a) => `| ${a.role} | ${a.n} | ${num(a.brier)} | ${num(a.uninformedBrier)} | ${num(a.meanUpProbability)} | ${num(a.upRate)} |`),
    '',
    `Committee confidence: ${s.committee.n} decision(s) scored (ABSTAIN left out), Brier ${num(s.committee.brier)}, ECE ${num(s.committee.ece)}.`,
    '',
    '| confidence | n | mean confidence | right |',
    '|---|---:|---:|---:|',
    ...s.committee.bins.map((b) => `| ${b.lo.toFixed(1)}-${b.hi.toFixed(1)} | ${b.n} | ${num(b.meanConfidence)} | ${num(b.observed)} |`),
    '',
  ];
  return lines.join('\n');
}

const esc = (s: string): string => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The scorecards as an HTML section (ids `scorecards` and `calibration`). */
export function renderScorecardsHtml(s: Scorecards): string {
  const agents = s.agents
    .map(
      (a) =>
        `<tr data-role="${a.role}"><td>${a.role}</td><td>${a.n}</td><td>${num(a.brier)}</td><td>${num(a.uninformedBrier)}</td><td>${num(a.meanUpProbability)}</td><td>${num(a.upRate)}</td></tr>`,
    )
    .join('');
  const bins = s.committee.bins
    .map((b) => `<tr><td>${b.lo.toFixed(1)}-${b.hi.toFixed(1)}</td><td>${b.n}</td><td>${num(b.meanConfidence)}</td><td>${num(b.observed)}</td></tr>`)
    .join('');
  return `<h2>Agent scorecards</h2>
<p class="caption">${esc(`${s.n} resolved proposal(s)${s.unresolved > 0 ? `; ${s.unresolved} whose horizon ends after the last day left out` : ''}. Each stance is read as P(up) over the proposal's horizon (support of a buy = 0.5 + confidence/2); Brier 0 is perfect, 0.25 is always saying 0.5.`)}</p>
<table id="scorecards"><tr><th>agent</th><th>n</th><th>Brier</th><th>Brier of 0.5</th><th>mean P(up)</th><th>up rate</th></tr>${agents}</table>
<p class="caption">${esc(`Committee confidence (that its decision is right; ABSTAIN left out): ${s.committee.n} decision(s), Brier ${num(s.committee.brier)}, ECE ${num(s.committee.ece)}.`)}</p>
<table id="calibration"><tr><th>confidence</th><th>n</th><th>mean confidence</th><th>right</th></tr>${bins}</table>
`;
}

/**
 * The eval's scorecards: the runs of the scenarios that have a realised outcome (scenario
 * `realised`, written from the bundled bars), one scored critique per run (a scenario run with
 * several seeds counts once per seed). The others are counted, not scored.
 */
export const EvalScorecards = z
  .object({
    /** Scenarios of the run, and those with a realised outcome. */
    scenarios: z.number().int().min(0),
    withOutcome: z.number().int().min(0),
    scorecards: Scorecards,
  })
  .strict();
export type EvalScorecards = z.infer<typeof EvalScorecards>;

/** A run as the eval scorecards read it (evals/scorers.ts RunRecord has these fields). */
export interface ScorableRun {
  scenarioId: string;
  seed: number;
  decision: ScoredCritique['decision'];
  confidence: number | null;
  opinions: readonly ScoredOpinion[];
}

/** A scenario as the eval scorecards read it. */
export interface ScorableScenario {
  id: string;
  proposal: { side: 'buy' | 'sell' };
  realised?: { forwardReturn: number };
}

/** The scorecards of an eval's runs over the scenarios with a realised outcome. */
export function evalScorecards(scenarios: readonly ScorableScenario[], runs: readonly ScorableRun[]): EvalScorecards {
  const byId = new Map(scenarios.map((s) => [s.id, s]));
  const critiques: ScoredCritique[] = [];
  for (const r of runs) {
    const s = byId.get(r.scenarioId);
    if (!s?.realised || r.confidence === null) continue;
    critiques.push({
      proposalId: `${r.scenarioId}#${r.seed}`,
      side: s.proposal.side,
      opinions: [...r.opinions],
      decision: r.decision,
      confidence: r.confidence,
      forwardReturn: s.realised.forwardReturn,
    });
  }
  return { scenarios: scenarios.length, withOutcome: scenarios.filter((s) => s.realised).length, scorecards: scorecards(critiques) };
}
