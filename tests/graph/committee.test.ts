import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScriptedBackend, type ScriptedStep } from '../../agents/index.ts';
import { loadConfig, type Config } from '../../config/index.ts';
import { AgentOpinion, Verdict } from '../../contracts/index.ts';
import { DbCheckpointSaver, runCommittee, type CommitteeEvent } from '../../graph/index.ts';
import type { Db } from '../../db/index.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';
import { loadMsft, makeProposal, storeProposal } from '../support/committee.ts';

const base = loadConfig({ env: {} });

/** The bundled config with committee settings changed (config objects are frozen). */
export function withCommittee(patch: Partial<Config['settings']['committee']>): Config {
  return { ...base, settings: { ...base.settings, committee: { ...base.settings.committee, ...patch } } };
}

const OPINION = (stance: string): ScriptedStep => ({ text: JSON.stringify({ stance, confidence: 0.6, summary: `${stance} view`, claims: [] }) });
const COMMITTEE = (decision: string, size: number): ScriptedStep => ({
  text: JSON.stringify({ decision, sizeMultiplier: size, confidence: 0.7, reasons: [], dissent: [] }),
});

function script(overrides: Partial<Record<'analyst' | 'bull' | 'bear' | 'risk' | 'committee', ScriptedStep[]>> = {}) {
  return createScriptedBackend({
    analyst: [OPINION('support')],
    bull: [OPINION('support')],
    bear: [OPINION('oppose')],
    risk: [OPINION('neutral')],
    committee: [COMMITTEE('REDUCE', 0.5)],
    ...overrides,
  });
}

const count = (calls: ReadonlyArray<{ role: string }>, role: string): number => calls.filter((c) => c.role === role).length;

describe.each(BACKENDS)('committee graph on $name', ({ open, available }) => {
  let t: TestDb | null = null;
  let n = 0;
  // One database per backend (creating PGlite is the slow part); each test judges its own proposal.
  beforeAll(async () => {
    if (!available) return;
    t = await open();
    await loadMsft(t.db);
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  async function setup() {
    if (!t) throw new Error('no database');
    const id = `prop-graph-${++n}`;
    const proposal = makeProposal({ id, featureSnapshotId: `fs-${id}` });
    await storeProposal(t.db, proposal);
    return { db: t.db, url: t.url, proposal };
  }

  it.skipIf(!available)('runs the rules baseline end to end and stores the whole transcript', async () => {
    const { db, url, proposal } = await setup();
    const events: CommitteeEvent[] = [];
    const res = await runCommittee({ db, config: base, proposal, backend: 'rules', databaseUrl: url, onEvent: (e) => events.push(e) });
    expect(Verdict.parse(res.verdict).proposalId).toBe(proposal.id);
    expect(res.backend).toBe('rules');
    expect(res.verdict.backend).toBe('rules');
    expect(res.opinions.map((o) => o.role).sort()).toEqual(['analyst', 'bear', 'bull', 'risk']);
    for (const o of res.opinions) AgentOpinion.parse(o);
    expect(res.stats.llmCalls).toBe(0);

    const run = await db.query('SELECT status, backend, thread_id FROM committee_runs WHERE id = $1', [res.runId]);
    expect(run.rows[0]).toEqual({ status: 'completed', backend: 'rules', thread_id: res.threadId });
    const nodes = await db.query<{ node: string; n: number }>(
      'SELECT node, count(*)::int AS n FROM agent_messages WHERE run_id = $1 GROUP BY node ORDER BY node',
      [res.runId],
    );
    expect(nodes.rows.map((r) => r.node)).toEqual(['analyst', 'bear', 'bull', 'committee', 'risk']);
    const withOutput = await db.query<{ agent: string }>(
      'SELECT agent FROM agent_messages WHERE run_id = $1 AND output IS NOT NULL AND prompt_version IS NOT NULL ORDER BY agent',
      [res.runId],
    );
    // Five opinions/verdict, and the tool turns of the analyst and the risk agent (agents.yaml toolTurn).
    expect(withOutput.rows.map((r) => r.agent)).toEqual([
      'analyst:rules',
      'analyst:rules:tools',
      'bear:rules',
      'bull:rules',
      'committee:rules',
      'risk:rules',
      'risk:rules:tools',
    ]);
    // The yardstick chooses deterministically: its tool turns ask for the configured defaults, with no LLM call.
    expect(res.toolCalls.map((t) => [t.node, t.choice])).toEqual([
      ['analyst', 'agent'],
      ['risk', 'agent'],
    ]);
    expect(res.stats.toolTurnCalls).toBe(0);
    const tools = await db.query<{ agent: string; tool: string }>('SELECT agent, tool FROM tool_calls WHERE run_id = $1 ORDER BY agent, tool', [res.runId]);
    expect(tools.rows).toEqual([
      { agent: 'analyst', tool: 'bars' },
      { agent: 'analyst', tool: 'explain_proposal' },
      { agent: 'analyst', tool: 'indicators' },
      { agent: 'analyst', tool: 'news_search' },
      { agent: 'risk', tool: 'portfolio' },
    ]);
    const v = await db.query<{ payload: unknown; decision: string }>('SELECT payload, decision FROM verdicts WHERE run_id = $1', [res.runId]);
    expect(Verdict.parse(v.rows[0]?.payload)).toEqual(res.verdict);
    expect(events[0]?.type).toBe('run_started');
    expect(events.at(-1)?.type).toBe('run_finished');
    expect(
      events
        .filter((e) => e.type === 'node_finished')
        .map((e) => (e.type === 'node_finished' ? e.node : ''))
        .sort(),
    ).toEqual(['analyst', 'bear', 'bull', 'committee', 'risk']);
  });

  it.skipIf(!available)('runs bull and bear once per debate round and counts calls and tokens', async () => {
    const { db, url, proposal } = await setup();
    const backend = script();
    const res = await runCommittee({ db, config: withCommittee({ debateRounds: 2 }), proposal, backend, databaseUrl: url });
    expect(count(backend.calls, 'bull')).toBe(2);
    expect(count(backend.calls, 'bear')).toBe(2);
    // 7 opinion/verdict calls + the tool turns of the analyst and the risk agent.
    expect(res.stats.llmCalls).toBe(9);
    expect(res.stats.toolTurnCalls).toBe(2);
    expect(backend.toolCalls.map((c) => c.role)).toEqual(['analyst', 'risk']);
    expect(res.stats.promptTokens).toBeGreaterThan(0);
    expect(res.verdict.decision).toBe('REDUCE');
    expect(res.verdict.sizeMultiplier).toBe(0.5);
    // Round 2 agents see round 1's opinions.
    const bull2 = backend.calls.filter((c) => c.role === 'bull')[1];
    expect(bull2?.request.messages.map((m) => m.content).join('\n')).toContain('<opinion role="bear" round="1">');
    const rounds = await db.query<{ round: number }>(`SELECT DISTINCT round FROM agent_messages WHERE run_id = $1 AND node = 'bear' ORDER BY round`, [
      res.runId,
    ]);
    expect(rounds.rows.map((r) => r.round)).toEqual([1, 2]);
  });

  it.skipIf(!available)('goes straight from the analyst to risk with zero debate rounds', async () => {
    const { db, url, proposal } = await setup();
    const backend = script();
    const res = await runCommittee({ db, config: withCommittee({ debateRounds: 0 }), proposal, backend, databaseUrl: url });
    expect(count(backend.calls, 'bull') + count(backend.calls, 'bear')).toBe(0);
    expect(res.stats.llmCalls).toBe(5);
    expect(res.stats.toolTurnCalls).toBe(2);
  });

  it.skipIf(!available)('resumes a run killed after the bull/bear round without calling any finished node again', async () => {
    const { db, url, proposal } = await setup();
    const kill = new AbortController();
    const steps: Record<string, ScriptedStep> = {
      analyst: OPINION('support'),
      bull: OPINION('support'),
      bear: OPINION('oppose'),
      committee: COMMITTEE('REDUCE', 0.5),
    };
    // The first risk call kills the run: bull and bear have finished, risk and committee have not.
    const backend = createScriptedBackend(({ role, index }) => {
      if (role === 'risk' && index === 0) {
        kill.abort(new Error('killed after the debate round'));
        return { hang: true };
      }
      return steps[role] ?? OPINION('neutral');
    });
    const threadId = 'thread-resume-1';
    await expect(runCommittee({ db, config: base, proposal, backend, databaseUrl: url, threadId, signal: kill.signal })).rejects.toThrow();
    const interrupted = await db.query(`SELECT status FROM committee_runs WHERE thread_id = $1`, [threadId]);
    expect(interrupted.rows[0]).toEqual({ status: 'interrupted' });
    expect(count(backend.calls, 'committee')).toBe(0);
    const before = { analyst: count(backend.calls, 'analyst'), bull: count(backend.calls, 'bull'), bear: count(backend.calls, 'bear') };
    expect(before).toEqual({ analyst: 1, bull: 1, bear: 1 });
    expect({ analyst: count(backend.toolCalls, 'analyst'), risk: count(backend.toolCalls, 'risk') }).toEqual({ analyst: 1, risk: 1 });

    const events: CommitteeEvent[] = [];
    const res = await runCommittee({ db, config: base, proposal, backend, databaseUrl: url, threadId, onEvent: (e) => events.push(e) });
    expect(res.resumed).toBe(true);
    expect({ analyst: count(backend.calls, 'analyst'), bull: count(backend.calls, 'bull'), bear: count(backend.calls, 'bear') }).toEqual(before);
    expect(count(backend.calls, 'committee')).toBe(1);
    expect(events.filter((e) => e.type === 'node_finished').map((e) => (e.type === 'node_finished' ? e.node : ''))).not.toContain('analyst');
    // The resumed nodes read the state the killed run stored (on PGlite, rebuilt from delta checkpoints):
    // the committee sees the bull's and the bear's opinions and the analyst's tool evidence.
    const committeePrompt =
      backend.calls
        .find((c) => c.role === 'committee')
        ?.request.messages.map((m) => m.content)
        .join('\n') ?? '';
    expect(committeePrompt).toContain('<opinion role="bull" round="1">');
    expect(committeePrompt).toContain('<opinion role="bear" round="1">');
    expect(committeePrompt).toMatch(/<evidence id="tool:[^"]+" kind="tool">\ntitle: indicators/);
    expect(res.opinions.map((o) => o.role).sort()).toEqual(['analyst', 'bear', 'bull', 'risk']);
    expect(res.verdict.decision).toBe('REDUCE');
    const verdicts = await db.query(`SELECT count(*)::int AS n FROM verdicts WHERE proposal_id = $1`, [proposal.id]);
    expect(verdicts.rows[0]).toEqual({ n: 1 });
    const finished = await db.query(`SELECT status FROM committee_runs WHERE thread_id = $1`, [threadId]);
    expect(finished.rows[0]).toEqual({ status: 'completed' });
    // The analyst's tool turn and tools ran once: resuming did not repeat them either. The risk
    // node was killed after its tool turn and before its answer, so it ran again, tool turn included.
    const tools = await db.query(`SELECT count(*)::int AS n FROM tool_calls WHERE run_id = $1 AND agent = 'analyst'`, [res.runId]);
    expect(tools.rows[0]).toEqual({ n: 4 });
    expect({ analyst: count(backend.toolCalls, 'analyst'), risk: count(backend.toolCalls, 'risk') }).toEqual({ analyst: 1, risk: 2 });
    const turns = await db.query(`SELECT count(*)::int AS n FROM agent_messages WHERE run_id = $1 AND agent = 'analyst:scripted:tools'`, [res.runId]);
    expect(turns.rows[0]).toEqual({ n: 3 });
    expect(res.stats.toolTurnCalls).toBe(2);

    // A finished thread answers from its checkpoint: no call at all, no tool turn either.
    const callsSoFar = backend.calls.length;
    const turnsSoFar = backend.toolCalls.length;
    const again = await runCommittee({ db, config: base, proposal, backend, databaseUrl: url, threadId });
    expect(again.verdict).toEqual(res.verdict);
    expect(backend.calls.length).toBe(callsSoFar);
    expect(backend.toolCalls.length).toBe(turnsSoFar);
    expect(again.toolCalls).toEqual(res.toolCalls);
  });

  it.skipIf(!available)(
    "stores a node's messages and tool calls with its checkpoint writes: a failed write keeps neither, and the resumed run stores them once",
    async () => {
      const { db, proposal } = await setup();
      const backend = script({ analyst: [OPINION('support'), OPINION('support')] });
      // The statement that stores the analyst's checkpoint writes fails once (a database fault).
      let failed = false;
      const faulty: Db = {
        kind: db.kind,
        exec: (sql) => db.exec(sql),
        transaction: (fn) => db.transaction(fn),
        close: () => db.close(),
        query: async (sql, params) => {
          if (
            !failed &&
            sql.includes('INSERT INTO graph_checkpoint_task_writes') &&
            count(backend.calls, 'analyst') === 1 &&
            count(backend.calls, 'bull') === 0
          ) {
            failed = true;
            throw new Error('injected fault: checkpoint writes not stored');
          }
          return db.query(sql, params);
        },
      };
      const threadId = 'thread-unit-1';
      await expect(runCommittee({ db: faulty, config: base, proposal, backend, checkpointer: new DbCheckpointSaver(faulty), threadId })).rejects.toThrow(
        /injected fault/,
      );
      expect(failed).toBe(true);
      const run = await db.query<{ id: string; status: string }>(`SELECT id, status FROM committee_runs WHERE thread_id = $1`, [threadId]);
      expect(run.rows[0]?.status).toBe('failed');
      const runId = run.rows[0]?.id;
      const stored = async () => {
        const m = await db.query<{ agent: string; n: number }>(
          `SELECT agent, count(*)::int AS n FROM agent_messages WHERE run_id = $1 AND node = 'analyst' GROUP BY agent ORDER BY agent`,
          [runId],
        );
        const c = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM tool_calls WHERE run_id = $1 AND agent = 'analyst'`, [runId]);
        return { messages: m.rows, calls: c.rows[0]?.n };
      };
      // The analyst answered, but its writes were not stored: neither were its messages and calls.
      expect(await stored()).toEqual({ messages: [], calls: 0 });

      const res = await runCommittee({ db, config: base, proposal, backend, checkpointer: new DbCheckpointSaver(db), threadId });
      expect(res.resumed).toBe(true);
      expect(res.verdict.decision).toBe('REDUCE');
      expect(count(backend.calls, 'analyst')).toBe(2);
      // One conversation and one tool turn (system, user, assistant each) and its four calls: once.
      expect(await stored()).toEqual({
        messages: [
          { agent: 'analyst:scripted', n: 3 },
          { agent: 'analyst:scripted:tools', n: 3 },
        ],
        calls: 4,
      });
    },
  );

  it.skipIf(!available)(
    "stores the verdict and closes the run with the committee node's writes: a failed write keeps neither, and the resumed run stores one verdict",
    async () => {
      const { db, proposal } = await setup();
      const backend = script({ committee: [COMMITTEE('REDUCE', 0.5), COMMITTEE('REDUCE', 0.5)] });
      let failed = false;
      const faulty: Db = {
        kind: db.kind,
        exec: (sql) => db.exec(sql),
        transaction: (fn) => db.transaction(fn),
        close: () => db.close(),
        query: async (sql, params) => {
          if (!failed && sql.includes('INSERT INTO verdicts')) {
            failed = true;
            throw new Error('injected fault: verdict not stored');
          }
          return db.query(sql, params);
        },
      };
      const threadId = 'thread-unit-verdict';
      await expect(runCommittee({ db: faulty, config: base, proposal, backend, checkpointer: new DbCheckpointSaver(faulty), threadId })).rejects.toThrow(
        /injected fault/,
      );
      const run = await db.query<{ id: string; status: string }>(`SELECT id, status FROM committee_runs WHERE thread_id = $1`, [threadId]);
      expect(run.rows[0]?.status).toBe('failed');
      const runId = run.rows[0]?.id;
      const stored = async () => ({
        verdicts: (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM verdicts WHERE run_id = $1`, [runId])).rows[0]?.n,
        messages: (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM agent_messages WHERE run_id = $1 AND node = 'committee'`, [runId])).rows[0]?.n,
      });
      expect(await stored()).toEqual({ verdicts: 0, messages: 0 });
      const res = await runCommittee({ db, config: base, proposal, backend, checkpointer: new DbCheckpointSaver(db), threadId });
      expect(res.verdict.decision).toBe('REDUCE');
      expect(count(backend.calls, 'committee')).toBe(2);
      expect(await stored()).toEqual({ verdicts: 1, messages: 3 });
      const closed = await db.query<{ status: string; stats: { llmCalls: number } }>(`SELECT status, stats FROM committee_runs WHERE id = $1`, [runId]);
      expect(closed.rows[0]?.status).toBe('completed');
      expect(closed.rows[0]?.stats.llmCalls).toBe(res.stats.llmCalls);
    },
  );

  it.skipIf(!available)('turns a committee that misses its node timeout into an ABSTAIN verdict', async () => {
    const { db, url, proposal } = await setup();
    const backend = script({ committee: [{ hang: true }] });
    const res = await runCommittee({ db, config: withCommittee({ nodeTimeoutMs: 400 }), proposal, backend, databaseUrl: url });
    expect(res.verdict.decision).toBe('ABSTAIN');
    expect(res.verdict.sizeMultiplier).toBe(0);
    expect(res.verdict.abstainReason).toContain('LLM_TIMEOUT');
    expect(res.stats.nodes.find((n) => n.node === 'committee')?.timedOut).toBe(true);
    const stored = await db.query('SELECT decision FROM verdicts WHERE run_id = $1', [res.runId]);
    expect(stored.rows[0]).toEqual({ decision: 'ABSTAIN' });
  });

  it.skipIf(!available)('lets a timed-out critic abstain while the committee still decides', async () => {
    const { db, url, proposal } = await setup();
    const backend = script({ risk: [{ hang: true }] });
    const res = await runCommittee({ db, config: withCommittee({ nodeTimeoutMs: 400 }), proposal, backend, databaseUrl: url });
    const risk = res.opinions.find((o) => o.role === 'risk');
    expect(risk?.confidence).toBe(0);
    expect(risk?.summary).toContain('ABSTAIN');
    expect(res.verdict.decision).toBe('REDUCE');
  });

  it.skipIf(!available)('ends in ABSTAIN, not an exception, when the committee answers garbage twice', async () => {
    const { db, url, proposal } = await setup();
    const backend = script({ committee: [{ text: '{"decision": "APPROVE", "sizeMultiplier": ' }, { text: 'not json at all' }] });
    const res = await runCommittee({ db, config: base, proposal, backend, databaseUrl: url });
    expect(res.verdict.decision).toBe('ABSTAIN');
    expect(res.verdict.sizeMultiplier).toBe(0);
    expect(count(backend.calls, 'committee')).toBe(2);
    const msgs = await db.query<{ message_role: string }>(`SELECT message_role FROM agent_messages WHERE run_id = $1 AND node = 'committee' ORDER BY id`, [
      res.runId,
    ]);
    expect(msgs.rows.map((r) => r.message_role)).toEqual(['system', 'user', 'assistant', 'user', 'assistant']);
  });

  it.skipIf(!available)('runs several committees at once without a given checkpointer, on a database whose checkpoint tables do not exist yet', async () => {
    // A database of its own: the default checkpointer's tables (PostgresSaver's setup()) are created
    // by these runs, all at once. Each run used to open and set up a saver of its own, and the
    // concurrent setups collided in the catalog.
    const own = await open();
    try {
      const proposals = Array.from({ length: 5 }, (_, i) => makeProposal({ id: `prop-concurrent-${i}`, featureSnapshotId: `fs-concurrent-${i}` }));
      for (const p of proposals) await storeProposal(own.db, p);
      const backend = script();
      const results = await Promise.all(proposals.map((proposal) => runCommittee({ db: own.db, config: base, proposal, backend, databaseUrl: own.url })));
      expect(results.map((r) => r.verdict.decision)).toEqual(['REDUCE', 'REDUCE', 'REDUCE', 'REDUCE', 'REDUCE']);
      expect(count(backend.calls, 'committee')).toBe(5);
      const runs = await own.db.query<{ status: string; n: number }>(`SELECT status, count(*)::int AS n FROM committee_runs GROUP BY status`);
      expect(runs.rows).toEqual([{ status: 'completed', n: 5 }]);
      const verdicts = await own.db.query<{ n: number }>('SELECT count(DISTINCT run_id)::int AS n FROM verdicts');
      expect(verdicts.rows[0]).toEqual({ n: 5 });
      if (own.db.kind === 'postgres') {
        // The runs checkpointed through LangGraph's PostgresSaver, in the database's own schema.
        const threads = await own.db.query<{ n: number }>('SELECT count(DISTINCT thread_id)::int AS n FROM checkpoints');
        expect(threads.rows[0]).toEqual({ n: 5 });
      }
    } finally {
      await own.cleanup();
    }
  });

  it.skipIf(!available)('keeps concurrent runs on one config apart: each node works for its own run (one compiled graph, the run in its context)', async () => {
    const a = await setup();
    const b = await setup();
    const approve = createScriptedBackend(
      {
        analyst: [OPINION('support')],
        bull: [OPINION('support')],
        bear: [OPINION('oppose')],
        risk: [OPINION('neutral')],
        committee: [COMMITTEE('APPROVE', 1)],
      },
      'approver',
    );
    const reject = createScriptedBackend(
      { analyst: [OPINION('oppose')], bull: [OPINION('support')], bear: [OPINION('oppose')], risk: [OPINION('oppose')], committee: [COMMITTEE('REJECT', 0)] },
      'rejecter',
    );
    const eventsA: CommitteeEvent[] = [];
    const eventsB: CommitteeEvent[] = [];
    const [ra, rb] = await Promise.all([
      runCommittee({ db: a.db, config: base, proposal: a.proposal, backend: approve, databaseUrl: a.url, onEvent: (e) => eventsA.push(e) }),
      runCommittee({ db: b.db, config: base, proposal: b.proposal, backend: reject, databaseUrl: b.url, onEvent: (e) => eventsB.push(e) }),
    ]);
    expect([ra.verdict.decision, ra.verdict.proposalId, ra.verdict.backend]).toEqual(['APPROVE', a.proposal.id, 'approver']);
    expect([rb.verdict.decision, rb.verdict.proposalId, rb.verdict.backend]).toEqual(['REJECT', b.proposal.id, 'rejecter']);
    expect(count(approve.calls, 'committee') + count(reject.calls, 'committee')).toBe(2);
    expect(approve.calls.every((c) => c.request.messages.some((m) => m.content.includes(a.proposal.ticker)))).toBe(true);
    // Each run's events and transcript are its own.
    expect(new Set(eventsA.map((e) => e.runId))).toEqual(new Set([ra.runId]));
    expect(new Set(eventsB.map((e) => e.runId))).toEqual(new Set([rb.runId]));
    const agents = await a.db.query<{ run_id: string; agents: string[] }>(
      `SELECT run_id, array_agg(DISTINCT split_part(agent, ':', 2) ORDER BY split_part(agent, ':', 2)) AS agents FROM agent_messages WHERE run_id = ANY($1) GROUP BY run_id ORDER BY run_id`,
      [[ra.runId, rb.runId]],
    );
    expect(Object.fromEntries(agents.rows.map((r) => [r.run_id, r.agents]))).toEqual({ [ra.runId]: ['approver'], [rb.runId]: ['rejecter'] });
  });

  it.skipIf(!available)('refuses a proposal that is not stored, naming it', async () => {
    if (!t) throw new Error('no database');
    await expect(
      runCommittee({ db: t.db, config: base, proposal: makeProposal({ id: 'missing-prop' }), backend: 'rules', databaseUrl: t.url }),
    ).rejects.toThrow(/missing-prop/);
  });
});
