/**
 * The eval runner: every scenario through the real committee graph (same tools, same validation,
 * same transcript) once per seed, on the eval's own database, then scored.
 */
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import { RoleName, loadRolePrompts, loadToolTurnPrompt, type RolePrompt } from '../agents/index.ts';
import type { Config } from '../config/index.ts';
import { IsoDateTime, QuorumError, Verdict } from '../contracts/index.ts';
import type { Db } from '../db/index.ts';
import { DbCheckpointSaver, judgeOf, runCommittee, type CommitteeBackend, type CommitteeResult, type Judge } from '../graph/index.ts';
import type { CassetteBackend } from './cassette.ts';
import type { NewsSearcher } from '../tools/index.ts';
import { ingestScenarioNews, scenarioNewsSearcher, stageScenario } from './fixture.ts';
import { searchNews as storeSearch, type CompanyMatcher, type Embedder } from '../rag/index.ts';
import { ScenarioRef, scenarioProposal, scenarioRef, type Scenario } from './scenario.ts';
import { MetricReport, RunRecord, scoreReport } from './scorers.ts';
import { EvalScorecards, evalScorecards } from './scorecards.ts';

export interface EvalOptions {
  /** The eval's own database (migrated; its bars, positions and equity are replaced per scenario). */
  db: Db;
  config: Config;
  scenarios: readonly Scenario[];
  /** The backend for one seed (an LLM backend, or the rules baseline). Called once per seed. */
  backendFor: (seed: number) => CommitteeBackend | Promise<CommitteeBackend>;
  /** Seeds; stability is measured across them. Default: models.yaml llm.seed. */
  seeds?: readonly number[];
  /** Role prompts (default: agents.yaml's); a prompt variant is evaluated by passing it here. */
  prompts?: Readonly<Record<RoleName, RolePrompt>>;
  /**
   * Answer news searches from the real news store and point-in-time search (rag's searchNews) with
   * this embedder, the scenario's items stored as `quorum ingest news` stores them. Without it: a
   * scenario-only searcher with the same as-of and ticker filters.
   */
  newsStore?: { embedder: Embedder; matcher?: CompanyMatcher };
  /** Wraps each scenario's searcher (faults in tests: a search that leaks the future). */
  wrapSearch?: (search: NewsSearcher) => NewsSearcher;
  /** Run without any news (the news-ablated run: how much the news decides). */
  ablateNews?: boolean;
  /** Called after each run (progress). */
  onRun?: (run: RunRecord, scenario: Scenario) => void;
}

/** The outcome of one eval: every run and the metrics. */
export const EvalResult = z
  .object({
    backend: z.string(),
    model: z.string(),
    seeds: z.array(z.number().int()),
    scenarios: z.number().int(),
    /** The scenario set: each id and its content hash (what a baseline is compared on). */
    scenarioSet: z.array(ScenarioRef).default([]),
    /** The run had its news removed (a news ablation). */
    newsAblated: z.boolean().default(false),
    promptVersions: z.record(z.string(), z.string()),
    startedAt: IsoDateTime,
    finishedAt: IsoDateTime,
    runs: z.array(RunRecord),
    metrics: MetricReport,
    /** Per-agent scorecards over the scenarios with a realised outcome (null in a report written before them). */
    scorecards: EvalScorecards.nullable().default(null),
  })
  .strict();
export type EvalResult = z.infer<typeof EvalResult>;

/** The judge's LLM backend when it is a cassette (record or replay), else null. */
function cassetteOf(judge: Judge): CassetteBackend | null {
  const llm = judge.llm;
  return llm !== null && 'misses' in llm && Array.isArray((llm as CassetteBackend).misses) ? (llm as CassetteBackend) : null;
}

/** The model label of a backend (the committee's model). */
export function backendLabel(b: CommitteeBackend): { backend: string; model: string } {
  const judge = judgeOf(b);
  return { backend: judge.name, model: judge.model('committee') };
}

/** The prompt versions a run uses, per role, and the tool-request turn's (`tool-request`, the same for every backend). */
function promptVersions(judge: Judge, prompts: Readonly<Record<RoleName, RolePrompt>>): Record<string, string> {
  const roles = RoleName.options.map((r) => [r, judge.prompt(r, prompts).version]);
  return Object.fromEntries([...roles, ['tool-request', loadToolTurnPrompt().version]]);
}

async function givenToolEvidence(db: Db, runId: string): Promise<string[]> {
  const res = await db.query('SELECT id FROM tool_calls WHERE run_id = $1 ORDER BY id', [runId]);
  return res.rows.map((r) => `tool:${z.object({ id: z.string() }).parse(r).id}`);
}

/** The scorers' record of one committee result. */
export async function recordOf(
  db: Db,
  s: Scenario,
  seed: number,
  result: CommitteeResult,
  latencyMs: number,
  retrievedNews: readonly string[] = [],
  /** Store id -> scenario id, when the news came from the real store. */
  storeIds: ReadonlyMap<string, string> = new Map(),
): Promise<RunRecord> {
  const asScenarioId = (id: string): string => storeIds.get(id) ?? id;
  const agentNodes = result.stats.nodes.filter((n) => n.node !== 'round_done');
  const tools = await givenToolEvidence(db, result.runId);
  return RunRecord.parse({
    scenarioId: s.id,
    category: s.category,
    seed,
    decision: result.verdict.decision,
    sizeMultiplier: result.verdict.sizeMultiplier,
    verdictValid: Verdict.safeParse(result.verdict).success,
    outputs: agentNodes.length,
    validOutputs: agentNodes.filter((n) => !n.abstained).length,
    abstainReason: result.verdict.abstainReason,
    verdictCitations: [...new Set(result.verdict.reasons.flatMap((r) => r.evidence.map(asScenarioId)))],
    opinionCitations: [...new Set(result.opinions.flatMap((o) => o.claims.flatMap((c) => c.evidence.map(asScenarioId))))],
    verdictText: result.verdict.reasons.map((r) => r.text).join('\n'),
    retrievedNews: [...new Set(retrievedNews.map(asScenarioId))],
    givenEvidence: [...s.news.filter((n) => !n.lookAhead).map((n) => n.id), ...tools],
    latencyMs,
    promptTokens: result.stats.promptTokens,
    completionTokens: result.stats.completionTokens,
    llmCalls: result.stats.llmCalls,
    toolTurnCalls: result.stats.toolTurnCalls,
    toolTurns: result.toolCalls.filter((t) => t.choice !== 'configured').length,
    toolTurnFallbacks: result.toolCalls.filter((t) => t.choice === 'fallback').length,
    toolErrors: result.stats.toolErrors,
    confidence: result.verdict.confidence,
    opinions: result.opinions.map((o) => ({ role: o.role, stance: o.stance, confidence: o.confidence })),
  });
}

/**
 * Runs every scenario once per seed and scores the runs. Scenarios run one after another (the
 * database holds one scenario's market at a time); a cassette miss in replay fails the eval.
 */
export async function runEvals(options: EvalOptions): Promise<EvalResult> {
  const { db, config, scenarios } = options;
  if (scenarios.length === 0) throw new QuorumError('INPUT_INVALID', 'no scenarios to run');
  const seeds = [...(options.seeds ?? [config.models.llm.seed])];
  if (seeds.length === 0) throw new QuorumError('INPUT_INVALID', 'seeds: at least one seed is required');
  const startedAt = new Date().toISOString();
  const backends = new Map<number, CommitteeBackend>();
  for (const seed of seeds) backends.set(seed, await options.backendFor(seed));
  const first = backends.get(seeds[0] as number) as CommitteeBackend;
  const prompts = options.prompts ?? loadRolePrompts(config.agents);
  const checkpointer = new DbCheckpointSaver(db, { deltas: true });
  const runs: RunRecord[] = [];

  for (const original of scenarios) {
    const s = options.ablateNews ? { ...original, news: [] } : original;
    const proposal = scenarioProposal(s);
    const store = options.newsStore;
    await stageScenario(db, s, proposal, { directNews: store === undefined });
    const storeIds = store ? await ingestScenarioNews(db, store.embedder, s, store.matcher) : new Map<string, string>();
    const base: NewsSearcher = store ? (query) => storeSearch(db, store.embedder, query) : scenarioNewsSearcher(s.news);
    const search = options.wrapSearch ? options.wrapSearch(base) : base;
    for (const seed of seeds) {
      const retrieved: string[] = [];
      const searchNews: NewsSearcher = async (query) => {
        const found = await search(query);
        retrieved.push(...found.map((f) => f.id));
        return found;
      };
      const backend = backends.get(seed) as CommitteeBackend;
      const cassette = cassetteOf(judgeOf(backend));
      const missesBefore = cassette ? cassette.misses.length : 0;
      const started = performance.now();
      const result = await runCommittee({
        db,
        config,
        proposal,
        backend,
        searchNews,
        checkpointer,
        threadId: `eval-${s.id}-seed${seed}-${randomUUID()}`,
        // The committee's Judge uses these for an LLM backend; the rules baseline has its own.
        prompts,
        // The verdict's clock is the scenario's: a rerun stores the same verdict.
        now: () => new Date(s.asOf),
      });
      const latencyMs = performance.now() - started;
      if (cassette && cassette.misses.length > missesBefore) {
        const miss = cassette.misses[missesBefore];
        throw new QuorumError(
          'NOT_FOUND',
          `cassette replay of scenario ${s.id} (seed ${seed}): no recorded answer for ${miss?.role ?? '?'} (request ${miss?.key.slice(0, 12) ?? '?'}…); the prompts, scenarios or code changed since ${cassette.cassette.recordedAt}: record the cassette again`,
          { scenario: s.id, seed, misses: cassette.misses.slice(missesBefore) },
        );
      }
      const record = await recordOf(db, s, seed, result, latencyMs, retrieved, storeIds);
      runs.push(record);
      options.onRun?.(record, s);
    }
  }

  const label = backendLabel(first);
  return EvalResult.parse({
    ...label,
    seeds,
    scenarios: scenarios.length,
    scenarioSet: scenarios.map(scenarioRef),
    newsAblated: options.ablateNews === true,
    promptVersions: promptVersions(judgeOf(first), prompts),
    startedAt,
    finishedAt: new Date().toISOString(),
    runs,
    metrics: scoreReport(scenarios, runs),
    scorecards: evalScorecards(scenarios, runs),
  });
}
