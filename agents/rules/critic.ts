/**
 * The rules baseline: a deterministic critic that reads the same evidence the LLM agents get (tool
 * results and retrieved news) and answers with the same role outputs. It is the yardstick the LLM
 * committee is measured against and the fallback when no LLM is reachable.
 *
 * What it checks (thresholds are the exported RULES_* constants):
 *  - trend: EMA(12)/EMA(26) - 1 beyond ±RULES_TREND_EMA, the sign of the MACD histogram, and RSI(14)
 *    extremes (>= RULES_RSI_OVERBOUGHT or <= RULES_RSI_OVERSOLD), all relative to the proposal's side;
 *    an EMA trend against the side with a 20-bar return RULES_TREND_REJECT_RETURN against it vetoes;
 *  - news: the lexicon sentiment of retrieved items about the ticker (ticker match >=
 *    RULES_NEWS_RELEVANCE), weighted by the match; strongly against the side (<= RULES_NEWS_REJECT)
 *    vetoes, mildly against (<= RULES_NEWS_CAUTION) shrinks;
 *  - volatility: 20-day realised volatility above RULES_HIGH_VOL or ATR above RULES_HIGH_ATR_PCT of
 *    the price shrinks the size towards RULES_TARGET_VOL / vol (never below RULES_MIN_MULTIPLIER);
 *  - liquidity: 20-day average dollar volume below RULES_MIN_DOLLAR_VOLUME vetoes, below
 *    RULES_THIN_DOLLAR_VOLUME halves (skipped, and said so, when volume is unknown).
 * Fewer than RULES_MIN_BARS bars means it cannot judge: ABSTAIN.
 * Text of news items is never read as instructions: only its lexicon sentiment counts.
 */
import type { Proposal } from '../../contracts/index.ts';
import type { IndicatorsOutput, NewsHit, OutcomeEvidence, PortfolioOutput, ToolOutcome } from '../../tools/index.ts';
import {
  MAX_CLAIM_CHARS,
  MAX_CLAIM_EVIDENCE,
  MAX_CLAIMS,
  MAX_DISSENT,
  MAX_SUMMARY_CHARS,
  type CommitteeOutput,
  type LlmClaim,
  type OpinionOutput,
} from '../schema.ts';

export const RULES_TREND_EMA = 0.005;
export const RULES_RSI_OVERBOUGHT = 70;
export const RULES_RSI_OVERSOLD = 30;
export const RULES_NEWS_RELEVANCE = 0.5;
export const RULES_NEWS_REJECT = -0.25;
export const RULES_NEWS_CAUTION = -0.05;
export const RULES_HIGH_VOL = 0.45;
export const RULES_HIGH_ATR_PCT = 0.04;
export const RULES_TARGET_VOL = 0.3;
export const RULES_MIN_MULTIPLIER = 0.2;
export const RULES_MIN_DOLLAR_VOLUME = 1_000_000;
export const RULES_THIN_DOLLAR_VOLUME = 10_000_000;
export const RULES_MIN_BARS = 35;
/** A 20-bar return this far against the side, with the EMA trend against it too, vetoes. */
export const RULES_TREND_REJECT_RETURN = 0.05;
/** Below this multiplier a REDUCE is not worth a trade: REJECT. */
export const RULES_MIN_TRADE_MULTIPLIER = 0.1;
/** Outcome memory: past outcomes of the same side needed before they count. */
export const RULES_MEMORY_MIN_OUTCOMES = 2;
/** Outcome memory: size multiplier when similar past situations lost on average in the proposal's direction. */
export const RULES_MEMORY_LOSS_MULTIPLIER = 0.75;

/** Every threshold, hashed into the rules' version so a change shows in stored outputs. */
export const RULES_THRESHOLDS = {
  RULES_TREND_EMA,
  RULES_RSI_OVERBOUGHT,
  RULES_RSI_OVERSOLD,
  RULES_NEWS_RELEVANCE,
  RULES_NEWS_REJECT,
  RULES_NEWS_CAUTION,
  RULES_HIGH_VOL,
  RULES_HIGH_ATR_PCT,
  RULES_TARGET_VOL,
  RULES_MIN_MULTIPLIER,
  RULES_MIN_DOLLAR_VOLUME,
  RULES_THIN_DOLLAR_VOLUME,
  RULES_MIN_BARS,
  RULES_TREND_REJECT_RETURN,
  RULES_MIN_TRADE_MULTIPLIER,
  RULES_MEMORY_MIN_OUTCOMES,
  RULES_MEMORY_LOSS_MULTIPLIER,
} as const;

/** What the rules critic reads: the proposal and the tool outcomes gathered so far in the run. */
export interface RulesEvidence {
  proposal: Proposal;
  outcomes: readonly ToolOutcome[];
}

/** One finding: + for the proposal, - against it, 0 for a risk fact; with the evidence it rests on. */
export interface RulesSignal {
  kind: 'trend' | 'momentum' | 'rsi' | 'news' | 'volatility' | 'liquidity' | 'portfolio' | 'memory' | 'data';
  direction: -1 | 0 | 1;
  weight: number;
  text: string;
  evidence: string[];
}

/** The critic's whole judgement, from which every role's output is derived. */
export interface RulesAssessment {
  signals: RulesSignal[];
  decision: CommitteeOutput['decision'];
  sizeMultiplier: number;
  confidence: number;
  /** Sum of weight x direction: > 0 favours the proposal. */
  score: number;
  newsSentiment: number | null;
  relevantNews: number;
}

const pct = (x: number): string => `${(x * 100).toFixed(2)}%`;
const clip = (s: string, n: number): string => (s.length <= n ? s : `${s.slice(0, n - 1)}…`);
const round2 = (x: number): number => Math.round(x * 100) / 100;

function latestIndicators(e: RulesEvidence): { data: IndicatorsOutput; id: string } | null {
  for (let i = e.outcomes.length - 1; i >= 0; i--) {
    const o = e.outcomes[i];
    if (o?.ok && o.tool === 'indicators' && o.data.ticker === e.proposal.ticker) return { data: o.data, id: o.evidenceId };
  }
  return null;
}

function latestPortfolio(e: RulesEvidence): { data: PortfolioOutput; id: string } | null {
  for (let i = e.outcomes.length - 1; i >= 0; i--) {
    const o = e.outcomes[i];
    if (o?.ok && o.tool === 'portfolio') return { data: o.data, id: o.evidenceId };
  }
  return null;
}

function relevantNews(e: RulesEvidence): NewsHit[] {
  const seen = new Map<string, NewsHit>();
  for (const o of e.outcomes) {
    if (!o.ok || o.tool !== 'news_search') continue;
    for (const hit of o.data.hits) {
      const about = hit.tickerMatch >= RULES_NEWS_RELEVANCE || hit.tickers.includes(e.proposal.ticker);
      if (about && hit.sentiment !== null && !seen.has(hit.newsId)) seen.set(hit.newsId, hit);
    }
  }
  return [...seen.values()];
}

/** Past outcomes (outcome memory) of proposals on the same side, deduplicated. */
function sameSideOutcomes(e: RulesEvidence): OutcomeEvidence[] {
  const seen = new Map<string, OutcomeEvidence>();
  for (const o of e.outcomes) {
    if (!o.ok || o.tool !== 'past_outcomes') continue;
    for (const hit of o.data.hits) if (hit.side === e.proposal.side && !seen.has(hit.outcomeId)) seen.set(hit.outcomeId, hit);
  }
  return [...seen.values()];
}

/** Judges the evidence. Pure and deterministic: same evidence, same assessment. */
export function assessRules(e: RulesEvidence): RulesAssessment {
  const side = e.proposal.side === 'buy' ? 1 : -1;
  const sideWord = e.proposal.side === 'buy' ? 'long' : 'short';
  const signals: RulesSignal[] = [];
  const ind = latestIndicators(e);
  const dir = (x: number): -1 | 0 | 1 => (x > 0 ? 1 : x < 0 ? -1 : 0);

  if (!ind || ind.data.barsUsed < RULES_MIN_BARS) {
    const n = ind?.data.barsUsed ?? 0;
    signals.push({
      kind: 'data',
      direction: 0,
      weight: 0,
      text: `only ${n} bars up to the as-of time (need ${RULES_MIN_BARS}): the rules cannot judge`,
      evidence: ind ? [ind.id] : [],
    });
    return { signals, decision: 'ABSTAIN', sizeMultiplier: 0, confidence: 0, score: 0, newsSentiment: null, relevantNews: 0 };
  }
  const d = ind.data;
  const ev = [ind.id];

  let trendAgainst = 0;
  let emaAgainst = false;
  if (d.emaRatio !== null && Math.abs(d.emaRatio) >= RULES_TREND_EMA) {
    const s = dir(d.emaRatio) * side;
    if (s < 0) {
      trendAgainst++;
      emaAgainst = true;
    }
    signals.push({
      kind: 'trend',
      direction: dir(s),
      weight: 1,
      text: `EMA12/EMA26 ${pct(d.emaRatio)}: ${d.emaRatio > 0 ? 'uptrend' : 'downtrend'}, ${s > 0 ? 'with' : 'against'} the ${sideWord} side`,
      evidence: ev,
    });
  } else if (d.emaRatio !== null) {
    signals.push({ kind: 'trend', direction: 0, weight: 0.5, text: `EMA12/EMA26 ${pct(d.emaRatio)}: no clear trend`, evidence: ev });
  }
  if (d.macdHistPct !== null && d.macdHistPct !== 0) {
    const s = dir(d.macdHistPct) * side;
    if (s < 0) trendAgainst++;
    signals.push({
      kind: 'momentum',
      direction: dir(s),
      weight: 0.5,
      text: `MACD histogram ${d.macdHistPct > 0 ? 'positive' : 'negative'} (${pct(d.macdHistPct)} of price): momentum ${s > 0 ? 'with' : 'against'} the ${sideWord} side`,
      evidence: ev,
    });
  }
  if (d.rsi14 !== null && (d.rsi14 >= RULES_RSI_OVERBOUGHT || d.rsi14 <= RULES_RSI_OVERSOLD)) {
    const overbought = d.rsi14 >= RULES_RSI_OVERBOUGHT;
    // An extreme argues for mean reversion: overbought is against a long, oversold against a short.
    const s = (overbought ? -1 : 1) * side;
    signals.push({
      kind: 'rsi',
      direction: dir(s),
      weight: 0.5,
      text: `RSI14 ${d.rsi14.toFixed(1)}: ${overbought ? 'overbought' : 'oversold'}, reversal risk ${s < 0 ? 'against' : 'in favour of'} the ${sideWord} side`,
      evidence: ev,
    });
  }

  const news = relevantNews(e);
  let newsSentiment: number | null = null;
  if (news.length > 0) {
    const weights = news.map((h) => Math.max(h.tickerMatch, RULES_NEWS_RELEVANCE));
    const total = weights.reduce((a, b) => a + b, 0);
    newsSentiment = news.reduce((a, h, i) => a + (h.sentiment ?? 0) * (weights[i] ?? 0), 0) / total;
    const against = newsSentiment * side;
    const cited = [...news]
      .sort((a, b) => Math.abs(b.sentiment ?? 0) - Math.abs(a.sentiment ?? 0))
      .slice(0, MAX_CLAIM_EVIDENCE)
      .map((h) => h.evidenceId);
    signals.push({
      kind: 'news',
      direction: dir(Math.abs(against) < 0.02 ? 0 : against),
      weight: against <= RULES_NEWS_REJECT ? 3 : 1,
      text: `lexicon sentiment of ${news.length} news item(s) about ${e.proposal.ticker}: ${newsSentiment.toFixed(2)} (${against <= RULES_NEWS_CAUTION ? 'against' : against > 0.02 ? 'for' : 'neutral to'} the ${sideWord} side)`,
      evidence: cited,
    });
  }

  // Outcome memory: what followed similar past proposals on this side. A losing record cuts size;
  // a winning one is only an argument (memory never enlarges a trade).
  const past = sameSideOutcomes(e);
  let memoryMultiplier = 1;
  if (past.length >= RULES_MEMORY_MIN_OUTCOMES) {
    const mean = past.reduce((a, h) => a + h.directionalReturn, 0) / past.length;
    if (mean < 0) memoryMultiplier = RULES_MEMORY_LOSS_MULTIPLIER;
    signals.push({
      kind: 'memory',
      direction: mean < 0 ? -1 : mean > 0 ? 1 : 0,
      weight: 0.5,
      text: `${past.length} similar past ${sideWord} proposal(s) moved ${pct(mean)} on average in their direction${mean < 0 ? `: size x${RULES_MEMORY_LOSS_MULTIPLIER}` : ''}`,
      evidence: past.slice(0, MAX_CLAIM_EVIDENCE).map((h) => h.evidenceId),
    });
  }

  let volMultiplier = 1;
  const vol = d.realizedVol20;
  const highVol = (vol !== null && vol >= RULES_HIGH_VOL) || (d.atrPct !== null && d.atrPct >= RULES_HIGH_ATR_PCT);
  if (highVol) {
    // Scale towards the target volatility; ATR% x sqrt(252) stands in when realised vol is missing.
    const effective = Math.max(vol ?? 0, (d.atrPct ?? 0) * Math.sqrt(252));
    volMultiplier = Math.max(RULES_MIN_MULTIPLIER, Math.min(0.8, RULES_TARGET_VOL / effective));
    signals.push({
      kind: 'volatility',
      direction: -1,
      weight: 1,
      text: `high volatility: realised ${vol === null ? 'n/a' : pct(vol)} annualised, ATR ${d.atrPct === null ? 'n/a' : pct(d.atrPct)} of price (${d.atrMethod ?? 'n/a'}); size x${round2(volMultiplier)}`,
      evidence: ev,
    });
  }

  let liquidityMultiplier = 1;
  let illiquid = false;
  if (d.avgDollarVolume20 === null) {
    signals.push({ kind: 'liquidity', direction: 0, weight: 0, text: 'liquidity not checked: volume unknown for this ticker', evidence: ev });
  } else if (d.avgDollarVolume20 < RULES_MIN_DOLLAR_VOLUME) {
    illiquid = true;
    signals.push({
      kind: 'liquidity',
      direction: -1,
      weight: 3,
      text: `illiquid: average dollar volume ${Math.round(d.avgDollarVolume20)} below ${RULES_MIN_DOLLAR_VOLUME}`,
      evidence: ev,
    });
  } else if (d.avgDollarVolume20 < RULES_THIN_DOLLAR_VOLUME) {
    liquidityMultiplier = 0.5;
    signals.push({
      kind: 'liquidity',
      direction: -1,
      weight: 1,
      text: `thin liquidity: average dollar volume ${Math.round(d.avgDollarVolume20)} below ${RULES_THIN_DOLLAR_VOLUME}; size x0.5`,
      evidence: ev,
    });
  }

  const pf = latestPortfolio(e);
  if (pf && pf.data.openPositions >= pf.data.limits.maxPositions) {
    signals.push({
      kind: 'portfolio',
      direction: 0,
      weight: 0,
      text: `book full: ${pf.data.openPositions} open positions, limit ${pf.data.limits.maxPositions} (the risk controller will decide)`,
      evidence: [pf.id],
    });
  }

  const score = signals.reduce((a, s) => a + s.weight * s.direction, 0);
  const newsAgainst = newsSentiment === null ? 0 : newsSentiment * side;
  const trendScore = signals.filter((s) => s.kind === 'trend' || s.kind === 'momentum').reduce((a, s) => a + s.weight * s.direction, 0);

  let decision: CommitteeOutput['decision'];
  let m = 1;
  if (newsAgainst <= RULES_NEWS_REJECT && news.length > 0) {
    decision = 'REJECT';
    m = 0;
  } else if (illiquid) {
    decision = 'REJECT';
    m = 0;
  } else if ((trendAgainst >= 2 && (d.return20 ?? 0) * side < 0) || (emaAgainst && (d.return20 ?? 0) * side <= -RULES_TREND_REJECT_RETURN)) {
    decision = 'REJECT';
    m = 0;
  } else {
    if (trendScore < 0) m *= 0.5;
    else if (trendScore === 0) m *= 0.75;
    if (newsAgainst <= RULES_NEWS_CAUTION && news.length > 0) m *= 0.75;
    m *= volMultiplier * liquidityMultiplier * memoryMultiplier;
    m = round2(m);
    if (m < RULES_MIN_TRADE_MULTIPLIER) {
      decision = 'REJECT';
      m = 0;
    } else decision = m >= 1 ? 'APPROVE' : 'REDUCE';
  }
  const agreeing = signals.filter((s) => (decision === 'APPROVE' ? s.direction > 0 : s.direction < 0)).length;
  const confidence = round2(Math.min(0.9, 0.5 + 0.1 * agreeing + (decision === 'REJECT' ? Math.min(0.2, Math.abs(newsAgainst)) : 0)));
  return { signals, decision, sizeMultiplier: Math.min(1, Math.max(0, m)), confidence, score, newsSentiment, relevantNews: news.length };
}

function claimOf(s: RulesSignal): LlmClaim {
  return { text: clip(s.text, MAX_CLAIM_CHARS), evidence: s.evidence.slice(0, MAX_CLAIM_EVIDENCE) };
}

function byWeight(signals: readonly RulesSignal[]): RulesSignal[] {
  return [...signals].sort((a, b) => b.weight - a.weight);
}

/** The opinion of one critic role, derived from the assessment. */
export function rulesOpinion(role: 'analyst' | 'bull' | 'bear' | 'risk', a: RulesAssessment): OpinionOutput {
  const pro = byWeight(a.signals.filter((s) => s.direction > 0));
  const con = byWeight(a.signals.filter((s) => s.direction < 0));
  const totalWeight = a.signals.reduce((x, s) => x + s.weight, 0) || 1;
  const share = (xs: RulesSignal[]): number => round2(Math.min(1, xs.reduce((x, s) => x + s.weight, 0) / totalWeight));
  switch (role) {
    case 'analyst': {
      const stance = a.decision === 'ABSTAIN' ? 'neutral' : a.score > 0.25 ? 'support' : a.score < -0.25 ? 'oppose' : 'neutral';
      return {
        stance,
        confidence: a.decision === 'ABSTAIN' ? 0 : round2(Math.min(0.9, 0.4 + Math.abs(a.score) / 10)),
        summary: clip(
          `rules baseline: score ${a.score.toFixed(2)} from ${a.signals.length} signal(s); ${a.signals.map((s) => s.kind).join(', ') || 'none'}`,
          MAX_SUMMARY_CHARS,
        ),
        claims: byWeight(a.signals).slice(0, MAX_CLAIMS).map(claimOf),
      };
    }
    case 'bull':
      return {
        stance: pro.length > 0 ? 'support' : 'neutral',
        confidence: share(pro),
        summary: clip(
          pro.length > 0 ? `for the trade: ${pro.map((s) => s.kind).join(', ')}` : 'the rules find nothing in favour of the trade',
          MAX_SUMMARY_CHARS,
        ),
        claims: pro.slice(0, MAX_CLAIMS).map(claimOf),
      };
    case 'bear':
      return {
        stance: con.length > 0 ? 'oppose' : 'neutral',
        confidence: share(con),
        summary: clip(
          con.length > 0 ? `against the trade: ${con.map((s) => s.kind).join(', ')}` : 'the rules find nothing against the trade',
          MAX_SUMMARY_CHARS,
        ),
        claims: con.slice(0, MAX_CLAIMS).map(claimOf),
      };
    case 'risk': {
      const risk = a.signals.filter((s) => s.kind === 'volatility' || s.kind === 'liquidity' || s.kind === 'portfolio' || s.kind === 'data');
      const flagged = risk.some((s) => s.direction < 0);
      return {
        stance: flagged ? 'oppose' : 'neutral',
        confidence: flagged ? 0.7 : 0.5,
        summary: clip(
          flagged
            ? `risk flags: ${risk
                .filter((s) => s.direction < 0)
                .map((s) => s.kind)
                .join(', ')}`
            : 'no volatility or liquidity flag',
          MAX_SUMMARY_CHARS,
        ),
        claims: byWeight(risk).slice(0, MAX_CLAIMS).map(claimOf),
      };
    }
  }
}

/** The committee's output, derived from the assessment. The size multiplier is in [0, 1] by construction. */
export function rulesCommittee(a: RulesAssessment): CommitteeOutput {
  const supporting = a.decision === 'APPROVE' ? a.signals.filter((s) => s.direction > 0) : a.signals.filter((s) => s.direction < 0 || s.kind === 'data');
  const opposing = a.decision === 'APPROVE' ? a.signals.filter((s) => s.direction < 0) : a.signals.filter((s) => s.direction > 0);
  return {
    decision: a.decision,
    sizeMultiplier: a.sizeMultiplier,
    confidence: a.confidence,
    reasons: byWeight(supporting).slice(0, MAX_CLAIMS).map(claimOf),
    dissent: byWeight(opposing)
      .slice(0, MAX_DISSENT)
      .map((s) => clip(s.text, MAX_CLAIM_CHARS)),
  };
}
