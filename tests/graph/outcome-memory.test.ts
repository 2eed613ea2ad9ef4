/**
 * Outcome memory in a committee run (ADR 0035), on PGlite with the real embedder and the real MSFT
 * bars. Rules baseline: the analyst calls past_outcomes, which returns only outcomes known before the
 * as-of; the agents cite them as `outcome:<id>`, and every such citation resolves to an
 * outcome_retrievals row of the run (the audit chain's link); losing past outcomes shrink the size,
 * never enlarge it; without memory the run calls no past_outcomes.
 * LLM backend, through the real ChatOllama client and the llama.cpp-backed Ollama test server: an
 * agent choosing its tools is offered past_outcomes and its call is run and stored (the random
 * model's choice is scripted by the server's tool-name header); the committee's reflection on an
 * outcome is grammar-constrained, stored and retrieved with it, and an invalid reply stores the
 * record whole with a null reflection and the reason.
 * Backtest: a judged proposal's outcome is recorded when its committee-book position closed (a stop,
 * target, time or reversal exit: the exit, days held and realised move) or when its horizon passed,
 * whichever came first, known from that day's close. Property: whatever the horizon and the close,
 * it is never stored before that day, never visible as of that close, and visible from the next day's.
 * Live sessions (settings memory.enabled), in-process with the paper exchange over HTTP: a session
 * judges an MSFT proposal and its order fills; the exit monitor's time exit closes the position; a
 * later session first records the outcome (from the fills: exit reason, days held, realised move,
 * known from the closing fill's time) and its analyst retrieves it. Before the close nothing is recorded.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createOllamaBackend,
  createScriptedBackend,
  ollamaOptionsFromConfig,
  reflectOnOutcome,
  type ChatBackend,
  type ScriptedStep,
} from '../../agents/index.ts';
import { createLogger, loadConfig, type Config } from '../../config/index.ts';
import { runExitMonitor, startPaperExchange, type RunningPaperExchange } from '../../execution/index.ts';
import { ingestPriceCsv } from '../../market/index.ts';
import { Verdict } from '../../contracts/index.ts';
import { PriceView, loadBundledPrices } from '../../evals/backtest/data.ts';
import { proposerVerdict } from '../../evals/backtest/engine.ts';
import { createBacktestMemory } from '../../evals/backtest/memory.ts';
import type { LotClose } from '../../evals/backtest/broker.ts';
import { runCommittee } from '../../graph/index.ts';
import { dailyBarTs } from '../../market/index.ts';
import {
  createUseLiteEmbedder,
  recordOutcome,
  searchOutcomes,
  situationText,
  storeOutcome,
  outcomeId,
  MAX_REFLECTION_CHARS,
  type OutcomeRecordInput,
} from '../../rag/index.ts';
import { buildSessionEnv, outcomeReflector, recordKnownOutcomes, runSession, type BuiltEnv, type SessionOutcome } from '../../sessions/index.ts';
import { readRunOutcomeRetrievals, readRunToolCalls } from '../../sessions/committee-views.ts';
import { freshPglite, type TestDb } from '../support/db.ts';
import { writeTinyGguf } from '../support/gguf.ts';
import { TOOL_CALL_HEADER, TOOL_NAME_HEADER, startOllamaTestServer, type OllamaTestServer } from '../support/ollama-server.ts';
import { MSFT_CSV, loadMsft, makeProposal, storeProposal } from '../support/committee.ts';
import { memoEmbedder } from '../rag/memo-embedder.ts';

const config = loadConfig({ env: {} });
const embedder = memoEmbedder(createUseLiteEmbedder());
const AS_OF = '2001-06-01T20:00:00.000Z';
let t: TestDb;

beforeAll(async () => {
  t = await freshPglite();
  await loadMsft(t.db);
  const past = makeProposal({ id: 'prop-past' });
  // Three earlier MSFT buys that lost, known before the as-of; one more known only after it.
  const known = [
    ['2001-05-01T20:00:00.000Z', '2001-05-08T20:00:00.000Z', -0.03],
    ['2001-05-08T20:00:00.000Z', '2001-05-15T20:00:00.000Z', -0.02],
    ['2001-05-15T20:00:00.000Z', '2001-05-22T20:00:00.000Z', -0.04],
    ['2001-05-28T20:00:00.000Z', '2001-06-04T20:00:00.000Z', 0.05],
  ] as const;
  for (const [i, [asOf, knownAt, ret]] of known.entries()) {
    await storeOutcome(t.db, embedder, {
      proposalId: `prop-past-${i}`,
      ticker: 'MSFT',
      side: 'buy',
      asOf,
      knownAt,
      decision: 'APPROVE',
      sizeMultiplier: 1,
      confidence: 0.6,
      forwardReturn: ret,
      horizonDays: 5,
      endedBy: 'horizon',
      situation: situationText(past),
      reflection: null,
    });
  }
}, 120_000);
afterAll(async () => {
  await t?.cleanup();
});

describe('outcome memory in a committee run', () => {
  it('retrieves only outcomes known before the as-of, cites them as outcome:<id>, each citation resolving to the run', async () => {
    const search = (q: Parameters<typeof searchOutcomes>[2]) => searchOutcomes(t.db, embedder, q);
    const withMemory = makeProposal({ id: 'prop-mem-1', featureSnapshotId: 'fs-mem-1', asOf: AS_OF });
    await storeProposal(t.db, withMemory);
    const res = await runCommittee({ db: t.db, config, proposal: withMemory, backend: 'rules', searchOutcomes: search });
    const calls = await readRunToolCalls(t.db, res.runId);
    expect(calls.filter((c) => c.tool === 'past_outcomes').map((c) => [c.agent, c.ok])).toEqual([['analyst', true]]);
    const retrieved = await readRunOutcomeRetrievals(t.db, res.runId);
    expect(new Set(retrieved.map((r) => r.outcome_id))).toEqual(new Set([0, 1, 2].map((i) => outcomeId(`prop-past-${i}`))));
    expect(retrieved.every((r) => Date.parse(String(r.known_at)) < Date.parse(AS_OF))).toBe(true);

    const cited = [...res.opinions.flatMap((o) => o.claims), ...res.verdict.reasons].flatMap((c) => c.evidence).filter((e) => e.startsWith('outcome:'));
    expect(cited.length).toBeGreaterThan(0);
    const ids = new Set(retrieved.map((r) => `outcome:${r.outcome_id}`));
    for (const c of cited) expect(ids.has(c)).toBe(true);

    // The same proposal without memory: no past_outcomes call, and memory only ever shrank the size.
    const plain = makeProposal({ id: 'prop-mem-2', featureSnapshotId: 'fs-mem-2', asOf: AS_OF });
    await storeProposal(t.db, plain);
    const without = await runCommittee({ db: t.db, config, proposal: plain, backend: 'rules' });
    expect((await readRunToolCalls(t.db, without.runId)).some((c) => c.tool === 'past_outcomes')).toBe(false);
    expect(res.verdict.sizeMultiplier).toBeLessThanOrEqual(without.verdict.sizeMultiplier);
    if (without.verdict.decision === 'APPROVE' || without.verdict.decision === 'REDUCE')
      expect(res.verdict.sizeMultiplier).toBeCloseTo(Math.round(without.verdict.sizeMultiplier * 0.75 * 100) / 100, 2);
  }, 120_000);
});

describe('outcome memory with an LLM backend (llama.cpp-backed Ollama test server)', () => {
  let server: OllamaTestServer;
  let llm: Config;
  const search = (q: Parameters<typeof searchOutcomes>[2]) => searchOutcomes(t.db, embedder, q);
  beforeAll(async () => {
    // Seed 3's random weights close their JSON strings early (tests/graph/ollama-e2e.test.ts).
    server = await startOllamaTestServer({ ggufPath: writeTinyGguf(undefined, { seed: 3 }), models: ['mistral'] });
    llm = { ...config, models: { ...config.models, ollama: { ...config.models.ollama, baseUrl: server.url } } };
  }, 120_000);
  afterAll(async () => {
    await server?.close();
  });

  it('an agent choosing its tools is offered past_outcomes, and the call it chose is run, stored and not doubled', async () => {
    const ollama = createOllamaBackend({
      ...ollamaOptionsFromConfig(llm.models),
      headers: { [TOOL_CALL_HEADER]: 'required', [TOOL_NAME_HEADER]: 'past_outcomes' },
    });
    // The tool turns go to the model over HTTP; the opinions are scripted (what they say is not the point here).
    const opinion: ScriptedStep = { text: JSON.stringify({ stance: 'neutral', confidence: 0.5, summary: 'scripted', claims: [] }) };
    const verdict: ScriptedStep = { text: JSON.stringify({ decision: 'REJECT', sizeMultiplier: 0, confidence: 0.6, reasons: [], dissent: [] }) };
    const scripted = createScriptedBackend({ analyst: [opinion], bull: [opinion], bear: [opinion], risk: [opinion], committee: [verdict] });
    const requestTools = ollama.requestTools?.bind(ollama);
    if (!requestTools) throw new Error('the Ollama backend has no tool turn');
    const backend: ChatBackend = { name: 'ollama', model: (role) => ollama.model(role), complete: (r) => scripted.complete(r), requestTools };
    const proposal = makeProposal({ id: 'prop-mem-llm', featureSnapshotId: 'fs-mem-llm', asOf: AS_OF });
    await storeProposal(t.db, proposal);
    const before = server.requests.length;
    const res = await runCommittee({ db: t.db, config: llm, proposal, backend, searchOutcomes: search });
    expect(Verdict.safeParse(res.verdict).success).toBe(true);
    // Both tool turns (analyst, risk) were offered past_outcomes beside the role's own tools.
    const turns = server.requests.slice(before).filter((r) => r.path === '/api/chat');
    const offered = turns.map((r) => (r.body as { tools?: Array<{ function: { name: string } }> }).tools?.map((x) => x.function.name));
    expect(offered).toEqual([
      [...llm.agents.analyst.tools, 'past_outcomes'],
      [...llm.agents.risk.tools, 'past_outcomes'],
    ]);
    // The model's call was run once per agent (the analyst's memory call is its own, not added again).
    const calls = await readRunToolCalls(t.db, res.runId);
    expect(calls.map((c) => [c.agent, c.tool, c.ok])).toEqual([
      ['analyst', 'past_outcomes', true],
      ['risk', 'past_outcomes', true],
    ]);
    expect(res.toolCalls.map((x) => [x.node, x.choice])).toEqual([
      ['analyst', 'agent'],
      ['risk', 'agent'],
    ]);
    const retrieved = await readRunOutcomeRetrievals(t.db, res.runId);
    expect(new Set(retrieved.map((r) => r.outcome_id))).toEqual(new Set([0, 1, 2].map((i) => outcomeId(`prop-past-${i}`))));
    expect(retrieved.every((r) => Date.parse(String(r.known_at)) < Date.parse(AS_OF))).toBe(true);
  }, 240_000);

  const outcome = (id: string): OutcomeRecordInput => ({
    proposalId: id,
    ticker: 'MSFT',
    side: 'buy',
    asOf: '2001-04-02T20:00:00.000Z',
    knownAt: '2001-04-06T20:00:00.000Z',
    decision: 'APPROVE',
    sizeMultiplier: 1,
    confidence: 0.7,
    forwardReturn: -0.05,
    horizonDays: 5,
    endedBy: 'closed',
    exit: { reason: 'stop', daysHeld: 3 },
    situation: situationText(makeProposal()),
    reflection: null,
  });

  it("stores the committee's reflection on an outcome and retrieves it with the outcome", async () => {
    const ollama = createOllamaBackend(ollamaOptionsFromConfig(llm.models));
    const reflect = outcomeReflector(ollama, llm);
    if (!reflect) throw new Error('an LLM backend reflects');
    expect(outcomeReflector('rules', llm)).toBeUndefined();
    const before = server.requests.length;
    const id = await recordOutcome(t.db, embedder, outcome('prop-reflect-ok'), reflect);
    // One call, held to the reflection schema (a grammar on the server).
    const asked = server.requests.slice(before).filter((r) => r.path === '/api/chat');
    expect(asked).toHaveLength(1);
    expect((asked[0]?.body as { format?: { properties?: { reflection?: { maxLength?: number } } } }).format?.properties?.reflection?.maxLength).toBe(200);
    const row = await t.db.query<{ reflection: string | null; reflection_error: string | null }>(
      'SELECT reflection, reflection_error FROM outcomes WHERE id = $1',
      [id],
    );
    expect(row.rows[0]?.reflection_error).toBeNull();
    const text = row.rows[0]?.reflection ?? '';
    expect(text.length).toBeGreaterThan(0);
    expect(text.length).toBeLessThanOrEqual(MAX_REFLECTION_CHARS);
    const hits = await searchOutcomes(t.db, embedder, { query: situationText(makeProposal()), asOf: new Date('2001-04-07T00:00:00Z'), ticker: 'MSFT', k: 10 });
    expect(hits.find((h) => h.id === id)?.reflection).toBe(text);
  }, 120_000);

  it('an invalid reply stores the whole record with a null reflection and the reason', async () => {
    const ollama = createOllamaBackend(ollamaOptionsFromConfig(llm.models));
    // Four tokens cannot finish the JSON object: the reply fails the schema.
    const id = await recordOutcome(t.db, embedder, outcome('prop-reflect-bad'), async (text) => {
      const r = await reflectOnOutcome({ backend: ollama, outcome: text, timeoutMs: 60_000, maxOutputTokens: 4 });
      return { reflection: r.reflection, error: r.error };
    });
    const row = await t.db.query(
      'SELECT ended_by, exit_reason, days_held, decision, forward_return, reflection, reflection_error FROM outcomes WHERE id = $1',
      [id],
    );
    expect(row.rows[0]).toMatchObject({
      ended_by: 'closed',
      exit_reason: 'stop',
      days_held: 3,
      decision: 'APPROVE',
      forward_return: -0.05,
      reflection: null,
      reflection_error: expect.stringMatching(/^LLM_OUTPUT_INVALID: /),
    });
  }, 120_000);
});

const view = new PriceView(loadBundledPrices(['IBM']).bars);
const FIRST = 300;

describe('outcome memory recorded by the backtest (bundled IBM prices)', () => {
  it('records a closed position from its close and a passed horizon from its end, never visible before', async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 40 }),
        fc.integer({ min: 2, max: 8 }),
        fc.option(
          fc.record({
            after: fc.integer({ min: 1, max: 12 }),
            reason: fc.constantFrom('stop', 'target', 'time', 'reversal') as fc.Arbitrary<LotClose['reason']>,
          }),
        ),
        fc.constantFrom('buy', 'sell') as fc.Arbitrary<'buy' | 'sell'>,
        async (offset, horizonDays, close, side) => {
          const dayIdx = FIRST + offset;
          const id = `prop-bt-mem-${++n}`;
          const proposal = makeProposal({ id, ticker: 'IBM', side, horizonDays, asOf: dailyBarTs(view.days[dayIdx] ?? '') });
          // The lot fills the next day and closes `after` days later (or never, within the test).
          const closes: LotClose[] = close
            ? [
                {
                  ref: `committee-${id}`,
                  ticker: 'IBM',
                  side: side === 'buy' ? 'long' : 'short',
                  entryIdx: dayIdx + 1,
                  entryPrice: 100,
                  exitIdx: dayIdx + close.after,
                  exitDate: view.days[dayIdx + close.after] ?? '',
                  exitPrice: 104,
                  reason: close.reason,
                },
              ]
            : [];
          const memory = createBacktestMemory(t.db, embedder, { closes: () => closes });
          memory.judged(proposal, proposerVerdict(proposal, proposal.asOf), dayIdx);
          const closedFirst = close !== null && close.after <= horizonDays;
          const knownIdx = closedFirst ? dayIdx + close.after : dayIdx + horizonDays;
          for (let i = dayIdx; i <= dayIdx + 13; i++) {
            await memory.settle(view, i);
            const row = await t.db.query<{ known_at: Date; ended_by: string; exit_reason: string | null; days_held: number | null; forward_return: number }>(
              'SELECT known_at, ended_by, exit_reason, days_held, forward_return FROM outcomes WHERE id = $1',
              [outcomeId(id)],
            );
            if (i < knownIdx) {
              expect(row.rows).toEqual([]);
              continue;
            }
            expect(new Date(row.rows[0]?.known_at ?? 0).toISOString()).toBe(dailyBarTs(view.days[knownIdx] ?? ''));
            if (closedFirst) {
              expect(row.rows[0]).toMatchObject({ ended_by: 'closed', exit_reason: close.reason, days_held: close.after - 1 });
              expect(row.rows[0]?.forward_return).toBeCloseTo(0.04, 10);
            } else expect(row.rows[0]).toMatchObject({ ended_by: 'horizon', exit_reason: null, days_held: null });
          }
          const at = async (idx: number): Promise<string[]> =>
            (await searchOutcomes(t.db, embedder, { query: 'IBM', asOf: new Date(dailyBarTs(view.days[idx] ?? '')), ticker: 'IBM', k: 10 })).map((h) => h.id);
          expect(await at(knownIdx)).not.toContain(outcomeId(id));
          expect(await at(knownIdx + 1)).toContain(outcomeId(id));
          expect(memory.stored).toBe(1);
          expect(memory.closed).toBe(closedFirst ? 1 : 0);
        },
      ),
      { numRuns: 8 },
    );
  }, 120_000);
});

const sessionConfig = loadConfig({
  env: {
    QUORUM_MODELS__LLM__BACKEND: 'rules',
    QUORUM_SETTINGS__LOGGING__LEVEL: 'silent',
    QUORUM_SETTINGS__MEMORY__ENABLED: 'true',
    // A time exit two bars after the fill, so the position closes before its five-day horizon.
    QUORUM_SETTINGS__EXECUTION__EXITS__MAXHOLDINGDAYS: '2',
  },
});

describe('outcome memory across live sessions (PGlite, paper exchange over HTTP)', () => {
  let t: TestDb;
  let exchange: RunningPaperExchange;
  let built: BuiltEnv;

  beforeAll(async () => {
    t = await freshPglite();
    await ingestPriceCsv(t.db, MSFT_CSV, { ticker: 'MSFT' });
    exchange = await startPaperExchange({
      db: t.db,
      settings: sessionConfig.settings.execution.paperExchange,
      port: 0,
      initialNow: '2001-05-03T16:30:00.000Z',
    });
    built = await buildSessionEnv(t.db, sessionConfig, createLogger(sessionConfig), { exchangeClock: true, paperExchangeUrl: exchange.url });
  }, 120_000);
  afterAll(async () => {
    await built?.close();
    await exchange?.close();
    await t?.cleanup();
  });

  const session = (asOf: string): Promise<SessionOutcome> =>
    runSession(built.env, { asOf, kind: 'manual', slot: `memory ${asOf}`, topN: 1, tickers: ['MSFT'] });
  const runOf = async (s: SessionOutcome): Promise<string> => {
    const r = await t.db.query<{ run_id: string }>('SELECT run_id FROM verdicts WHERE proposal_id = $1', [s.judged[0]?.proposal.id]);
    const id = r.rows[0]?.run_id;
    if (!id) throw new Error('no committee run');
    return id;
  };

  it("records a closed position's outcome from its close and a later session's committee retrieves it, never before", async () => {
    const first = await session('2001-05-03T16:30:00.000Z');
    const judged = first.judged[0];
    expect(judged?.order?.status).toBe('accepted');
    if (!judged) throw new Error('nothing judged');
    // The first session's own committee searched memory and found nothing: nothing was known yet.
    const firstRun = await runOf(first);
    expect((await readRunToolCalls(t.db, firstRun)).filter((c) => c.tool === 'past_outcomes').map((c) => [c.agent, c.ok])).toEqual([['analyst', true]]);
    expect(await readRunOutcomeRetrievals(t.db, firstRun)).toEqual([]);

    // The exit monitor's time exit on 2001-05-08; the closing order fills at that day's close.
    const clock = built.env.exchangeClock;
    if (!clock || !built.env.embedder) throw new Error('no exchange clock or embedder');
    await clock.startSession('2001-05-08T16:30:00.000Z');
    expect((await runExitMonitor({ db: t.db, broker: built.env.broker, config: sessionConfig, asOf: '2001-05-08T16:30:00.000Z' })).map((a) => a.kind)).toEqual([
      'time_exit',
    ]);
    await clock.advanceBars(1);

    // Just before the close, nothing is known: the horizon has not passed and the position is open.
    expect(await recordKnownOutcomes(t.db, { embedder: built.env.embedder, asOf: '2001-05-08T19:59:59.000Z' })).toEqual({ closed: 0, horizon: 0, pending: 1 });
    expect((await t.db.query('SELECT id FROM outcomes')).rows).toEqual([]);

    // A later session records it before judging, and its committee's analyst retrieves it.
    const later = await session('2001-05-15T16:30:00.000Z');
    expect(later.judged).toHaveLength(1);
    const row = await t.db.query<{
      known_at: Date;
      ended_by: string;
      exit_reason: string;
      days_held: number;
      forward_return: number;
      reflection: string | null;
    }>('SELECT known_at, ended_by, exit_reason, days_held, forward_return, reflection FROM outcomes WHERE id = $1', [outcomeId(judged.proposal.id)]);
    const fills = await t.db.query<{ side: string; price: number; filled_at: Date }>(
      `SELECT side, price, filled_at FROM fills WHERE ticker = 'MSFT' ORDER BY filled_at`,
    );
    const [entry, exit] = fills.rows;
    if (!entry || !exit) throw new Error('expected an entry and an exit fill');
    // Known from the closing fill (2001-05-08's close), held over 05-04, 05-07 and 05-08, the move it realised.
    expect(row.rows[0]).toMatchObject({ ended_by: 'closed', exit_reason: 'time', days_held: 3, reflection: null });
    expect(row.rows[0]?.known_at.toISOString()).toBe(exit.filled_at.toISOString());
    expect(exit.filled_at.toISOString()).toBe('2001-05-08T20:00:00.000Z');
    expect(row.rows[0]?.forward_return).toBeCloseTo(exit.price / entry.price - 1, 10);
    const retrieved = await readRunOutcomeRetrievals(t.db, await runOf(later));
    expect(retrieved.map((r) => r.outcome_id)).toEqual([outcomeId(judged.proposal.id)]);
    expect(Date.parse(String(retrieved[0]?.known_at))).toBeLessThan(Date.parse('2001-05-15T16:30:00.000Z'));
    const audit = await t.db.query<{ payload: unknown }>(`SELECT payload FROM audit_events WHERE kind = 'session.outcomes' ORDER BY id`);
    expect(audit.rows.map((r) => r.payload)).toEqual([
      { closed: 0, horizon: 0, pending: 0 },
      { closed: 1, horizon: 0, pending: 0 },
    ]);
  }, 240_000);
});
