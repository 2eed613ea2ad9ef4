/**
 * The prompt-token worst case of one committee run, for the budget test and the committee bench:
 * many distinct news items about the ticker (headlines and bodies at their stored maximum), a
 * proposal with the default number of attributions at full float precision, tool turns that ask for
 * the most calls with the largest arguments the schemas allow (and as many again over the limit,
 * with the longest tool names), and answers at the longest the validation accepts, each claim
 * citing the most evidence ids.
 */
import {
  createScriptedBackend,
  MAX_CLAIM_CHARS,
  MAX_CLAIM_EVIDENCE,
  MAX_CLAIMS,
  MAX_DISSENT,
  MAX_SUMMARY_CHARS,
  UTF16_UNITS_PER_CHAR,
  type RoleName,
  type ScriptedBackend,
  type ScriptedStep,
  type ScriptedToolCall,
} from '../../agents/index.ts';
import type { Proposal } from '../../contracts/index.ts';
import type { Db } from '../../db/index.ts';
import type { Embedder } from '../../rag/index.ts';
import { MAX_TOOL_BARS } from '../../tools/bars.ts';
import { MAX_NEWS_K } from '../../tools/news-search.ts';
import { makeProposal, storeTestNews } from './committee.ts';
import { mulberry32 } from '../../contracts/random.ts';

/** Longest headline the tools pass on (tools/news-search.ts cuts titles at 300). */
const MAX_TITLE = 300;
/** Longest tool name a tool-turn answer may carry (agents/tool-turn.ts reads names up to 200). */
const MAX_TOOL_NAME = 200;
/** Longest query the tool turn's JSON schema allows (the zod bound, in characters). */
const MAX_QUERY = 150;

const WORDS = (
  'revenue profit loss lawsuit court appeal antitrust Windows Office Xbox server chip Intel Dell PC sales growth decline ' +
  'forecast guidance analyst upgrade downgrade CEO Gates Ballmer merger acquisition partner license software developer ' +
  'internet browser Netscape AOL Sun Oracle IBM Linux security virus patch release delay launch price margin dividend ' +
  'buyback share investor fund Nasdaq rally slump quarter fiscal Europe Japan regulator fine settlement judge ruling ' +
  'breakup remedy consumer enterprise hardware mouse keyboard console network MSN Hotmail search advertising cable wireless'
).split(' ');

/** Stores `n` distinct news items about MSFT (seeded random words, so no two are near-duplicates). */
export async function storeManyNews(db: Db, embedder: Embedder, n: number, seed = 42): Promise<string[]> {
  const rand = mulberry32(seed);
  const text = (lead: string, len: number): string => {
    let s = lead;
    while (s.length < len) s += ` ${WORDS[Math.floor(rand() * WORDS.length)] ?? 'news'}`;
    return s.slice(0, len);
  };
  const items = Array.from({ length: n }, (_, i) => ({
    title: text(`Microsoft ${i}:`, MAX_TITLE),
    body: text(`Microsoft ${i}:`, 2_000),
    publishedAt: new Date(Date.parse('2001-05-31T14:00:00Z') - i * 3_600_000).toISOString(),
    tickers: ['MSFT'],
  }));
  return storeTestNews(db, embedder, items);
}

/** A proposal with five attributions (settings.proposer.topAttributions) at full float precision. */
export function worstProposal(id: string): Proposal {
  const attributions = ['ret_20', 'rsi_14', 'macd_hist_pct', 'realized_vol_20', 'dollar_volume_z_20'].map((feature, i) => ({
    feature,
    value: 0.123456789012345 * (i + 1),
    contribution: -0.0123456789012345 / (i + 1),
  }));
  return makeProposal({ id, featureSnapshotId: `fs-${id}`, attributions, probability: 0.6234567890123456, expectedReturn: 0.0123456789012345 });
}

const fill = (prefix: string, n: number): string => (prefix + ' lorem ipsum dolor sit amet'.repeat(Math.ceil(n / 27) + 1)).slice(0, n);

/** The allowed ids of a prompt (its last line lists them). */
export function allowedIds(request: { messages: ReadonlyArray<{ content: string }> }): string[] {
  const line = /Evidence ids you may cite: ([^\n]+)\.$/m.exec(request.messages.at(-1)?.content ?? '')?.[1] ?? '';
  return line.startsWith('(none') ? [] : line.split(', ');
}

/**
 * The longest valid answer of `role` (ASCII strings at the validation bound), every claim citing
 * `cite` (at most MAX_CLAIM_EVIDENCE ids), or the first claim `firstClaimCites` when given.
 */
export function longestAnswer(role: RoleName, cite: readonly string[], firstClaimCites?: readonly string[]): ScriptedStep {
  const summary = MAX_SUMMARY_CHARS * UTF16_UNITS_PER_CHAR;
  const claim = MAX_CLAIM_CHARS * UTF16_UNITS_PER_CHAR;
  const claims = Array.from({ length: MAX_CLAIMS }, (_, i) => ({
    text: fill(`claim ${i}`, claim),
    evidence: (i === 0 && firstClaimCites ? firstClaimCites : cite).slice(0, MAX_CLAIM_EVIDENCE),
  }));
  if (role === 'committee') {
    const dissent = Array.from({ length: MAX_DISSENT }, (_, i) => fill(`dissent ${i}`, claim));
    return { text: JSON.stringify({ decision: 'REDUCE', sizeMultiplier: 0.5, confidence: 0.6, reasons: claims, dissent }) };
  }
  return { text: JSON.stringify({ stance: role === 'bear' ? 'oppose' : 'support', confidence: 0.6, summary: fill(role, summary), claims }) };
}

const QUERIES = [
  'earnings guidance revenue outlook',
  'antitrust appeal court ruling',
  'product launch Windows Xbox',
  'analyst downgrade price target',
  'litigation settlement fine',
  'management change CEO',
  'partnership acquisition merger',
  'security virus patch',
];

/** The worst tool choice: per agent `max` news searches at the largest k and `max` more calls over the limit. */
export function worstToolScript(max: number): (call: ScriptedToolCall) => ScriptedStep {
  return (call) => {
    const offset = call.role === 'risk' ? 4 : 0;
    const searches = Array.from({ length: max }, (_, i) => ({
      tool: 'news_search',
      arguments: { query: fill(`MSFT ${QUERIES[(offset + i) % QUERIES.length] ?? 'news'}`, MAX_QUERY), k: MAX_NEWS_K },
    }));
    const overLimit = Array.from({ length: max }, (_, i) => ({ tool: `${'x'.repeat(MAX_TOOL_NAME - 1)}${i}`, arguments: {} }));
    return { text: JSON.stringify({ calls: [...searches, ...overLimit] }) };
  };
}

/**
 * Another heavy choice: the analyst's largest own results (the most bars, the indicators, the
 * explanation) plus a search at the largest k, then invalid arguments over the limit; the risk
 * agent the portfolio and searches.
 */
export function heavyResultsToolScript(max: number): (call: ScriptedToolCall) => ScriptedStep {
  return (call) => {
    const invalid = Array.from({ length: max }, () => ({ tool: 'news_search', arguments: { query: 'x'.repeat(1_000), k: 'many' } }));
    const calls =
      call.role === 'risk'
        ? [
            { tool: 'portfolio', arguments: {} },
            ...Array.from({ length: max - 1 }, (_, i) => ({
              tool: 'news_search',
              arguments: { query: fill(`MSFT ${QUERIES[i] ?? 'risk'}`, MAX_QUERY), k: MAX_NEWS_K },
            })),
          ]
        : [
            { tool: 'bars', arguments: { limit: MAX_TOOL_BARS } },
            { tool: 'indicators', arguments: {} },
            { tool: 'explain_proposal', arguments: {} },
            { tool: 'news_search', arguments: { query: fill('MSFT news outlook', MAX_QUERY), k: MAX_NEWS_K } },
          ];
    return { text: JSON.stringify({ calls: [...calls.slice(0, max), ...invalid] }) };
  };
}

/** A scripted backend answering at the longest, citing the first ids it was given, with `tools` as its tool turns. */
export function worstBackend(tools: (call: ScriptedToolCall) => ScriptedStep): ScriptedBackend {
  return createScriptedBackend(({ role, request }) => longestAnswer(role, allowedIds(request)), 'scripted', tools);
}
