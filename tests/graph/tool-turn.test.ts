/**
 * The agents' tool-request turn through the committee graph, with scripted models for routing and
 * faults: the calls an agent chooses are run through the registry and stored with the arguments it
 * chose; an unknown tool, a tool the role may not use, wrong argument types and calls over the limit
 * become typed tool errors the agent sees; a tool turn that times out or cannot be read falls back to
 * the configured defaults with the reason stored. Every run still ends in a schema-valid Verdict.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScriptedBackend, type ScriptedStep, type ToolScript } from '../../agents/index.ts';
import { loadConfig, type Config } from '../../config/index.ts';
import { Verdict, parseJson } from '../../contracts/index.ts';
import { runCommittee, type CommitteeResult } from '../../graph/index.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';
import { loadMsft, makeProposal, storeProposal } from '../support/committee.ts';

const base = loadConfig({ env: {} });
const withCommittee = (patch: Partial<Config['settings']['committee']>): Config => ({
  ...base,
  settings: { ...base.settings, committee: { ...base.settings.committee, ...patch } },
});

const OPINION: ScriptedStep = { text: JSON.stringify({ stance: 'neutral', confidence: 0.5, summary: 'scripted', claims: [] }) };
const COMMITTEE: ScriptedStep = { text: JSON.stringify({ decision: 'REDUCE', sizeMultiplier: 0.5, confidence: 0.6, reasons: [], dissent: [] }) };
const answers = { analyst: [OPINION], bull: [OPINION], bear: [OPINION], risk: [OPINION], committee: [COMMITTEE] };
const calls = (...list: Array<[string, unknown]>): ScriptedStep => ({
  text: JSON.stringify({ calls: list.map(([tool, args]) => ({ tool, arguments: args })) }),
});

type CallRow = {
  agent: string;
  tool: string;
  args: unknown;
  ok: boolean;
  error_code: string | null;
};

describe.each(BACKENDS)('tool-request turns on $name', ({ open, available }) => {
  let t: TestDb | null = null;
  let n = 0;
  beforeAll(async () => {
    if (!available) return;
    t = await open();
    await loadMsft(t.db);
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  async function run(
    tools: ToolScript,
    config: Config = base,
  ): Promise<{ res: CommitteeResult; rows: CallRow[]; backend: ReturnType<typeof createScriptedBackend> }> {
    if (!t) throw new Error('no database');
    const id = `prop-tools-${++n}`;
    const proposal = makeProposal({ id, featureSnapshotId: `fs-${id}` });
    await storeProposal(t.db, proposal);
    const backend = createScriptedBackend(answers, 'scripted', tools);
    const res = await runCommittee({ db: t.db, config, proposal, backend, databaseUrl: t.url });
    expect(Verdict.safeParse(res.verdict).success).toBe(true);
    const rows = await t.db.query<CallRow>('SELECT agent, tool, args, ok, error_code FROM tool_calls WHERE run_id = $1 ORDER BY created_at, id', [res.runId]);
    return { res, rows: rows.rows, backend };
  }

  /** The user message of the agent's opinion call (what it was given as evidence). */
  const opinionPrompt = (backend: ReturnType<typeof createScriptedBackend>, role: string): string =>
    backend.calls.find((c) => c.role === role)?.request.messages.find((m) => m.role === 'user')?.content ?? '';

  it.skipIf(!available)('runs the calls the agent chose, with its arguments, and stores the tool turn with its tokens', async () => {
    const { res, rows, backend } = await run({ analyst: [calls(['bars', { limit: 7 }], ['indicators', {}])], risk: [calls(['portfolio', {}])] });
    expect(rows.map((r) => [r.agent, r.tool, r.args, r.ok])).toEqual([
      ['analyst', 'bars', { limit: 7 }, true],
      ['analyst', 'indicators', {}, true],
      ['risk', 'portfolio', {}, true],
    ]);
    expect(res.toolCalls.find((x) => x.node === 'analyst')).toMatchObject({
      choice: 'agent',
      reason: null,
      calls: [
        { tool: 'bars', args: { limit: 7 }, ok: true },
        { tool: 'indicators', ok: true },
      ],
    });
    // The agent was offered exactly its allowed tools, each with a JSON schema of its arguments.
    const turn = backend.toolCalls.find((c) => c.role === 'risk')?.request;
    expect(turn?.tools.map((x) => x.name)).toEqual(['portfolio', 'news_search']);
    expect(turn?.tools.every((x) => x.parameters.type === 'object' && x.parameters.additionalProperties === false)).toBe(true);
    expect(turn?.maxCalls).toBe(base.settings.committee.maxToolCallsPerAgent);

    const stored = await t!.db.query<{ message_role: string; tokens_prompt: number | null; output: unknown }>(
      `SELECT message_role, tokens_prompt, output FROM agent_messages WHERE run_id = $1 AND agent = 'analyst:scripted:tools' ORDER BY id`,
      [res.runId],
    );
    expect(stored.rows.map((r) => r.message_role)).toEqual(['system', 'user', 'assistant']);
    const last = stored.rows[2];
    expect(last?.tokens_prompt).toBeGreaterThan(0);
    expect(last?.output).toMatchObject({ toolTurn: true, choice: 'agent', calls: [{ tool: 'bars', args: { limit: 7 } }, { tool: 'indicators' }] });
    // Node stats count the tool turn as an LLM call with its prompt tokens.
    const analyst = res.stats.nodes.find((s) => s.node === 'analyst');
    expect(analyst).toMatchObject({ llmCalls: 2, toolTurnCalls: 1, toolCalls: 2, toolErrors: 0 });
    expect(analyst?.promptTokens).toBeGreaterThan(last?.tokens_prompt ?? 0);
    expect(res.stats.llmCalls).toBe(7);
  });

  it.skipIf(!available)('turns an unknown tool, a tool of another role and wrong argument types into typed tool errors the agent sees', async () => {
    const { res, rows, backend } = await run({
      analyst: [calls(['place_order', { qty: 1000 }], ['portfolio', {}], ['bars', { limit: 'ten' }], ['indicators', { asOf: '2030-01-01' }])],
      risk: [calls(['bars', { limit: 5 }])],
    });
    expect(rows.map((r) => [r.agent, r.tool, r.ok, r.error_code])).toEqual([
      ['analyst', 'place_order', false, 'TOOL_UNKNOWN'],
      ['analyst', 'portfolio', false, 'FORBIDDEN'],
      ['analyst', 'bars', false, 'TOOL_INPUT_INVALID'],
      // The point in time is set by the graph: an agent cannot pass one.
      ['analyst', 'indicators', false, 'TOOL_INPUT_INVALID'],
      ['risk', 'bars', false, 'FORBIDDEN'],
    ]);
    expect(rows[0]?.args).toEqual({ qty: 1000 });
    const prompt = opinionPrompt(backend, 'analyst');
    expect(prompt.match(/kind="tool-error"/g)?.length).toBe(4);
    expect(prompt).toContain('TOOL_UNKNOWN');
    expect(res.stats.nodes.find((s) => s.node === 'analyst')?.toolErrors).toBe(4);
    expect(res.stats.toolErrors).toBe(5);
    expect(res.verdict.decision).toBe('REDUCE');
  });

  it.skipIf(!available)('runs at most maxToolCallsPerAgent calls, refuses the next ones as typed errors and ignores the rest', async () => {
    const ten = Array.from({ length: 10 }, (): [string, unknown] => ['indicators', {}]);
    const { res, rows } = await run({ analyst: [calls(...ten)] }, withCommittee({ maxToolCallsPerAgent: 2 }));
    const analyst = rows.filter((r) => r.agent === 'analyst');
    expect(analyst.map((r) => [r.ok, r.error_code])).toEqual([
      [true, null],
      [true, null],
      [false, 'FORBIDDEN'],
      [false, 'FORBIDDEN'],
    ]);
    expect(res.toolCalls.find((x) => x.node === 'analyst')?.ignored).toBe(6);
  });

  it.skipIf(!available)('falls back to the configured defaults when the tool turn times out, and stores why', async () => {
    const { res, rows } = await run({ analyst: [{ hang: true }] }, withCommittee({ nodeTimeoutMs: 1_000 }));
    expect(rows.filter((r) => r.agent === 'analyst').map((r) => r.tool)).toEqual(['bars', 'indicators', 'news_search', 'explain_proposal']);
    const record = res.toolCalls.find((x) => x.node === 'analyst');
    expect(record?.choice).toBe('fallback');
    expect(record?.reason).toMatch(/^LLM_TIMEOUT/);
    const out = await t!.db.query<{ output: unknown }>(
      `SELECT output FROM agent_messages WHERE run_id = $1 AND agent = 'analyst:scripted:tools' AND output IS NOT NULL`,
      [res.runId],
    );
    expect(out.rows[0]?.output).toMatchObject({ choice: 'fallback', reason: expect.stringMatching(/^LLM_TIMEOUT/) });
    // The agent still answered within its node's budget (the tool turn gets at most half of it).
    expect(res.opinions.find((o) => o.role === 'analyst')?.summary).toBe('scripted');
  });

  it.skipIf(!available)('falls back to the defaults when the tool-call answer cannot be read or the backend fails', async () => {
    const { res, rows } = await run({
      analyst: [{ text: '{"calls": [{"tool": "bars", "arguments": {"limit": ' }],
      risk: [{ error: new Error('connection reset') }],
    });
    expect(rows.map((r) => [r.agent, r.tool])).toEqual([
      ['analyst', 'bars'],
      ['analyst', 'indicators'],
      ['analyst', 'news_search'],
      ['analyst', 'explain_proposal'],
      ['risk', 'portfolio'],
    ]);
    const reasons = Object.fromEntries(res.toolCalls.map((x) => [x.node, x.reason]));
    expect(reasons.analyst).toMatch(/^LLM_OUTPUT_INVALID: the tool-call answer could not be read: invalid JSON/);
    expect(reasons.risk).toMatch(/^LLM_UNAVAILABLE: connection reset/);
    // The unreadable answer is kept in the transcript as the model wrote it.
    const answer = await t!.db.query<{ content: string }>(
      `SELECT content FROM agent_messages WHERE run_id = $1 AND agent = 'analyst:scripted:tools' AND message_role = 'assistant'`,
      [res.runId],
    );
    expect(parseJson(answer.rows[0]?.content ?? '').ok).toBe(false);
  });

  it.skipIf(!available)('lets an agent call no tool at all', async () => {
    const { res, rows } = await run({ analyst: [calls()], risk: [calls()] });
    expect(rows).toEqual([]);
    expect(res.toolCalls.map((x) => [x.node, x.choice, x.calls.length])).toEqual([
      ['analyst', 'agent', 0],
      ['risk', 'agent', 0],
    ]);
  });
});
