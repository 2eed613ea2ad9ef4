/**
 * The evidence block of one prompt, bounded. The agents choose their own tool calls, so what they
 * gather is only bounded by the tool schemas (e.g. four news searches at k = 10), and every later
 * agent reads the shared evidence again. To keep the committee within its prompt-token budget for
 * ANY choice, each prompt gets at most `maxNewsItemsPerPrompt` news items and
 * `maxEvidenceCharsPerPrompt` characters of rendered evidence blocks (settings.committee). Items are
 * ranked, kept while they fit, and the rest are dropped deterministically and counted. What an agent
 * may cite is exactly what its prompt showed, so a dropped item cannot be cited (runAgent drops and
 * counts such claims).
 *
 * Ranking, and why:
 *  1. the role's own tool results (not news) in call order: it asked for them, and they are small
 *     structured facts (indicators, portfolio);
 *  2. earlier agents' tool results (not news) in call order: the indicators and the portfolio are
 *     what the rules critic decides on, so an LLM should not judge without them either;
 *  3. news: the role's own searches first (it asked for them), then earlier agents'; within each,
 *     by the rank in its search, so every query keeps its best hits (round robin over the searches)
 *     rather than one query's near-ties filling the block; ties by retrieval score, then by id;
 *  4. the role's own results of CALLER_ONLY_TOOLS (raw bars, the explanation): they repeat what
 *     the indicators and the proposal block already say, so they go before nothing but errors;
 *  5. the role's own tool errors, last: they explain a failed call but carry no evidence (they are
 *     also in the node's tool-call record and its `toolErrors` count).
 * Tool errors and the results of CALLER_ONLY_TOOLS are shown only to the agent that made the call.
 */
import { renderEvidence, type EvidenceItemInput } from '../agents/index.ts';
import { boundText, type ToolOutcome } from '../tools/index.ts';

/**
 * Characters of a news item's text in a prompt: the headline and the lead sentence (~20 words), as
 * in a news brief. Every later agent reads each item again, so this decides how many items fit the
 * evidence limit (the rules critic reads the tool's data, not this text).
 */
export const NEWS_PROMPT_SNIPPET_CHARS = 120;
/** Characters of a headline in a prompt (the store keeps 300; real headlines are shorter). */
export const NEWS_PROMPT_TITLE_CHARS = 160;
/** Characters of a tool error's message in a prompt: enough to name the field and the reason. */
export const TOOL_ERROR_PROMPT_CHARS = 240;
/** Characters of a headline in a tool turn's "news already gathered" list (to avoid searching it again). */
export const SEEN_TITLE_CHARS = 100;
/** News items in that list at most (the best ranked ones of the agent's evidence so far). */
export const SEEN_MAX_ITEMS = 3;

/**
 * Tools whose results only the agent that called them reads: raw bars are summarised by the
 * indicators, and the explanation repeats the proposal block's attributions.
 */
export const CALLER_ONLY_TOOLS: ReadonlySet<string> = new Set(['bars', 'explain_proposal']);

/** The limits of one prompt's evidence block (settings.committee). */
export interface EvidenceLimits {
  maxNewsItems: number;
  maxChars: number;
}

/** What one prompt gets: the kept items (best first), what was left out, and the matching tool data. */
export interface EvidenceSelection {
  /** The evidence blocks of the prompt, in rank order; their ids are what the agent may cite. */
  items: EvidenceItemInput[];
  /** Ids of the items left out (rank order): over the news count or the character limit. */
  dropped: string[];
  /** What the kept items cost the prompt in characters (evidenceCost). */
  chars: number;
  /**
   * The tool outcomes the agent may see, restricted to the kept items (news hits filtered), so a
   * critic built from tool data (the rules baseline) judges on the same evidence the prompt shows.
   */
  outcomes: ToolOutcome[];
}

interface Candidate {
  item: EvidenceItemInput;
  /** The outcome it comes from (for the restricted outcomes). */
  outcome: number;
  news: boolean;
  /** Sort keys, compared in order: tier, group, rank, -score, call order, id. */
  tier: number;
  group: number;
  rank: number;
  score: number;
}

/** Characters between two rendered blocks (renderUserMessage joins parts with a blank line). */
const BLOCK_SEPARATOR_CHARS = 2;
/** Characters between two ids in the task line's list of ids the agent may cite. */
const ID_SEPARATOR_CHARS = 2;

/** What an item costs the prompt: its block, and its id again in the list of ids the agent may cite. */
export function evidenceCost(item: EvidenceItemInput): number {
  return renderEvidence(item).length + BLOCK_SEPARATOR_CHARS + item.id.length + ID_SEPARATOR_CHARS;
}

function compare(a: Candidate, b: Candidate): number {
  return (
    a.tier - b.tier ||
    a.group - b.group ||
    a.rank - b.rank ||
    b.score - a.score ||
    a.outcome - b.outcome ||
    (a.item.id < b.item.id ? -1 : a.item.id > b.item.id ? 1 : 0)
  );
}

/** Every item `agent` may see, unranked and unbounded (deduplicated by evidence id, best rank kept). */
function candidates(outcomes: readonly ToolOutcome[], agent: string): Candidate[] {
  const byId = new Map<string, Candidate>();
  const add = (c: Candidate): void => {
    const prev = byId.get(c.item.id);
    if (!prev || compare(c, prev) < 0) byId.set(c.item.id, c);
  };
  outcomes.forEach((o, i) => {
    const own = o.agent === agent;
    if (!own && (!o.ok || CALLER_ONLY_TOOLS.has(o.tool))) return;
    if (!o.ok) {
      const text = JSON.stringify({ error: o.error.code, message: boundText(o.error.message, TOOL_ERROR_PROMPT_CHARS).text, field: o.error.field });
      add({ item: { id: o.evidenceId, kind: 'tool-error', title: o.tool.slice(0, 100), text }, outcome: i, news: false, tier: 4, group: 0, rank: i, score: 0 });
    } else if (o.tool === 'past_outcomes' && o.data.hits.length > 0) {
      o.data.hits.forEach((h, rank) => {
        const text = `${boundText(h.summary, NEWS_PROMPT_SNIPPET_CHARS * 2).text}${h.reflection ? `\nreflection then: ${boundText(h.reflection, NEWS_PROMPT_SNIPPET_CHARS).text}` : ''}`;
        const item: EvidenceItemInput = { id: h.evidenceId, kind: 'outcome', title: `past outcome: ${h.ticker} ${h.side} ${h.decision}`, text, at: h.knownAt };
        add({ item, outcome: i, news: false, tier: 2, group: own ? 0 : 1, rank, score: h.similarity });
      });
    } else if (o.tool === 'news_search' && o.data.hits.length > 0) {
      o.data.hits.forEach((h, rank) => {
        const text = `${boundText(h.snippet, NEWS_PROMPT_SNIPPET_CHARS).text}\n(${h.source}; tickers ${h.tickers.join(',') || 'none'}; sentiment ${h.sentiment?.toFixed(2) ?? 'n/a'})`;
        const item: EvidenceItemInput = { id: h.evidenceId, kind: 'news', title: boundText(h.title, NEWS_PROMPT_TITLE_CHARS).text, text, at: h.publishedAt };
        add({ item, outcome: i, news: true, tier: 2, group: own ? 0 : 1, rank, score: h.score });
      });
    } else {
      const item: EvidenceItemInput =
        o.tool === 'news_search'
          ? { id: o.evidenceId, kind: 'tool', title: 'news_search', text: `no news found for "${o.data.query}" up to ${o.data.asOf}` }
          : { id: o.evidenceId, kind: 'tool', title: o.tool, text: o.text };
      add({ item, outcome: i, news: false, tier: CALLER_ONLY_TOOLS.has(o.tool) ? 3 : own ? 0 : 1, group: 0, rank: i, score: 0 });
    }
  });
  return [...byId.values()].sort(compare);
}

/**
 * The bounded evidence block `agent` gets from `outcomes`: items in rank order (see the module
 * comment) kept while the news count and the character limit allow; an item that does not fit is
 * dropped and a later, smaller one may still fit. Deterministic for the same outcomes.
 */
export function selectEvidence(outcomes: readonly ToolOutcome[], agent: string, limits: EvidenceLimits): EvidenceSelection {
  const items: EvidenceItemInput[] = [];
  const dropped: string[] = [];
  const keptOutcomes = new Set<number>();
  const keptIds = new Set<string>();
  let chars = 0;
  let news = 0;
  for (const c of candidates(outcomes, agent)) {
    const size = evidenceCost(c.item);
    if ((c.news && news >= limits.maxNewsItems) || chars + size > limits.maxChars) {
      dropped.push(c.item.id);
      continue;
    }
    items.push(c.item);
    keptIds.add(c.item.id);
    keptOutcomes.add(c.outcome);
    chars += size;
    if (c.news) news += 1;
  }
  const visible: ToolOutcome[] = [];
  outcomes.forEach((o, i) => {
    if (o.ok && o.tool === 'news_search' && o.data.hits.length > 0) {
      const hits = o.data.hits.filter((h) => keptIds.has(h.evidenceId));
      if (hits.length > 0) visible.push({ ...o, data: { ...o.data, hits } });
    } else if (o.ok && o.tool === 'past_outcomes' && o.data.hits.length > 0) {
      const hits = o.data.hits.filter((h) => keptIds.has(h.evidenceId));
      if (hits.length > 0) visible.push({ ...o, data: { ...o.data, hits } });
    } else if (keptOutcomes.has(i)) {
      visible.push(o);
    }
  });
  return { items, dropped, chars, outcomes: visible };
}
