/**
 * The committee's prompt-token budget holds for ANY tool choice: on the default config at one
 * debate round, with many matching news items, tool turns that ask for the most calls at the
 * largest k (and more over the limit) and answers at their longest, a proposal costs at most 8 LLM
 * calls and 8,000 prompt tokens (the bench's estimate: ceil(chars / 4) of every message, plus the
 * tools' JSON schemas in tool turns), even counting every evidence block as full. Evidence left out
 * of a prompt is counted, and a claim citing it is dropped and counted.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScriptedBackend, type ChatBackend, type CompletionRequest, type ScriptedStep } from '../../agents/index.ts';
import { loadConfig } from '../../config/index.ts';
import { Verdict } from '../../contracts/index.ts';
import { runCommittee, type CommitteeResult } from '../../graph/index.ts';
import { createUseLiteEmbedder, searchNews, type NewsSearchQuery } from '../../rag/index.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';
import { loadMsft, storeProposal } from '../support/committee.ts';
import { allowedIds, heavyResultsToolScript, longestAnswer, storeManyNews, worstBackend, worstProposal, worstToolScript } from '../support/worst-case.ts';
import { memoEmbedder } from '../rag/memo-embedder.ts';

const config = loadConfig({ env: {} });
const committee = config.settings.committee;
const CALLS_BUDGET = 8;
const TOKENS_BUDGET = 8_000;
const NEWS_ITEMS = 60;
const embedder = memoEmbedder(createUseLiteEmbedder());

/** Prompt tokens if every evidence block had been filled to the last character (the estimate's 4 characters a token). */
function fullBlockBound(res: CommitteeResult): number {
  const slack = res.stats.nodes.reduce((a, n) => a + (committee.maxEvidenceCharsPerPrompt - n.evidenceChars), 0);
  return res.stats.promptTokens + Math.ceil(slack / 4);
}

describe.each(BACKENDS)('prompt-token budget on $name', ({ open, available }) => {
  let t: TestDb | null = null;
  let n = 0;
  beforeAll(async () => {
    if (!available) return;
    t = await open();
    await loadMsft(t.db);
    await storeManyNews(t.db, embedder, NEWS_ITEMS);
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  /** Runs the committee; `retrieved` collects the id of every news hit the searches return, in order. */
  async function run(backend: ChatBackend, retrieved: string[] = []): Promise<CommitteeResult> {
    if (!t) throw new Error('no database');
    const db = t.db;
    const proposal = worstProposal(`prop-budget-${++n}`);
    await storeProposal(db, proposal);
    const search = async (q: NewsSearchQuery) => {
      const hits = await searchNews(db, embedder, q);
      retrieved.push(...hits.map((h) => `news:${h.id}`));
      return hits;
    };
    const res = await runCommittee({ db, config, proposal, backend, databaseUrl: t.url, searchNews: search });
    expect(Verdict.safeParse(res.verdict).success).toBe(true);
    return res;
  }

  it.skipIf(!available)('stays within 8 calls and 8,000 prompt tokens when both tool turns ask for the most news searches at the largest k', async () => {
    const backend = worstBackend(worstToolScript(committee.maxToolCallsPerAgent));
    const res = await run(backend);
    expect(config.settings.committee.debateRounds).toBe(1);
    // The choice was made and ran: 4 searches each at k = 10, 4 more refused over the limit.
    const turns = res.toolCalls.filter((x) => x.choice === 'agent');
    expect(turns.map((x) => x.node)).toEqual(['analyst', 'risk']);
    for (const turn of turns) {
      expect(turn.calls.filter((c) => c.tool === 'news_search' && c.ok)).toHaveLength(committee.maxToolCallsPerAgent);
      expect(turn.calls.filter((c) => c.errorCode === 'FORBIDDEN')).toHaveLength(committee.maxToolCallsPerAgent);
    }
    expect(res.stats.llmCalls).toBeLessThanOrEqual(CALLS_BUDGET);
    expect(res.stats.promptTokens).toBeLessThanOrEqual(TOKENS_BUDGET);
    expect(fullBlockBound(res)).toBeLessThanOrEqual(TOKENS_BUDGET);
    // Every agent node got a bounded block and left out the rest, counted.
    const agents = res.stats.nodes.filter((s) => s.node !== 'round_done');
    expect(agents.map((s) => s.node).sort()).toEqual(['analyst', 'bear', 'bull', 'committee', 'risk']);
    for (const s of agents) {
      expect(s.evidenceChars).toBeLessThanOrEqual(committee.maxEvidenceCharsPerPrompt);
      expect(s.evidenceDropped).toBeGreaterThan(0);
    }
    expect(res.stats.evidenceDropped).toBe(agents.reduce((a, s) => a + s.evidenceDropped, 0));
    // The prompt says how many were left out, and shows no more news than the limit.
    for (const call of backend.calls) {
      const user = call.request.messages.find((m) => m.role === 'user')?.content ?? '';
      expect(user).toMatch(/block\(s\); \d+ left out \(evidence limit\)/);
      expect((user.match(/kind="news"/g) ?? []).length).toBeLessThanOrEqual(committee.maxNewsItemsPerPrompt);
    }
  });

  it.skipIf(!available)('stays within the budget when the analyst asks for its largest own results and invalid arguments', async () => {
    const res = await run(worstBackend(heavyResultsToolScript(committee.maxToolCallsPerAgent)));
    const analyst = res.toolCalls.find((x) => x.node === 'analyst');
    expect(analyst?.calls.filter((c) => c.ok).map((c) => c.tool)).toEqual(['bars', 'indicators', 'explain_proposal', 'news_search']);
    expect(analyst?.calls.filter((c) => c.errorCode === 'FORBIDDEN')).toHaveLength(committee.maxToolCallsPerAgent);
    expect(res.stats.llmCalls).toBeLessThanOrEqual(CALLS_BUDGET);
    expect(res.stats.promptTokens).toBeLessThanOrEqual(TOKENS_BUDGET);
    expect(fullBlockBound(res)).toBeLessThanOrEqual(TOKENS_BUDGET);
  });

  it.skipIf(!available)('drops and counts a claim that cites a retrieved news item left out of the prompt', async () => {
    if (!t) throw new Error('no database');
    const db = t.db;
    let dropped: string | null = null;
    let shown: string[] = [];
    const retrieved: string[] = [];
    const scripted = createScriptedBackend(
      ({ role, request }): ScriptedStep => {
        if (role !== 'analyst' || dropped === null) return longestAnswer(role, allowedIds(request));
        // The first claim on the dropped item, the others on what the prompt showed.
        return longestAnswer(role, shown.slice(0, 1), [dropped]);
      },
      'scripted',
      worstToolScript(committee.maxToolCallsPerAgent),
    );
    const backend: ChatBackend = {
      name: scripted.name,
      model: (r) => scripted.model(r),
      requestTools: (req) => scripted.requestTools(req),
      async complete(req: CompletionRequest) {
        if (req.role === 'analyst') {
          // What the analyst's searches retrieved that its prompt did not show. (The retrievals rows
          // are stored with the node's checkpoint writes, after this call, so they are read below.)
          shown = allowedIds(req);
          dropped = retrieved.find((id) => !shown.includes(id)) ?? null;
        }
        return scripted.complete(req);
      },
    };
    const res = await run(backend, retrieved);
    expect(dropped).not.toBeNull();
    const stored = await db.query<{ news_id: string }>(`SELECT news_id FROM retrievals WHERE run_id = $1`, [res.runId]);
    expect(stored.rows.map((r) => `news:${r.news_id}`)).toContain(dropped);
    const prompt = scripted.calls.find((c) => c.role === 'analyst')?.request.messages.find((m) => m.role === 'user')?.content ?? '';
    expect(prompt).not.toContain(`${dropped}`);
    const analyst = res.opinions.find((o) => o.role === 'analyst');
    expect(analyst?.droppedClaims).toBe(1);
    expect(analyst?.claims).toHaveLength(3);
    expect(analyst?.claims.flatMap((c) => c.evidence)).not.toContain(dropped);
    expect(res.stats.nodes.find((s) => s.node === 'analyst')?.evidenceDropped).toBeGreaterThan(0);
    const outputs = await db.query<{ output: { droppedClaims?: number } | null }>(
      `SELECT output FROM agent_messages WHERE run_id = $1 AND agent LIKE 'analyst:%' AND agent NOT LIKE '%:tools' AND output IS NOT NULL`,
      [res.runId],
    );
    expect(outputs.rows.map((r) => r.output?.droppedClaims)).toContain(1);
  });
});
