/**
 * MUST-SHOW: a whole committee run through the real ChatOllama client (@langchain/ollama) against
 * the Ollama-API test server (node-llama-cpp + a tiny random-weight GGUF) ends in a schema-valid
 * Verdict with a stored transcript, on PGlite and on PostgreSQL. Nothing here asserts what the
 * random model says: only structure, routing and what is stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOllamaBackend, ollamaOptionsFromConfig } from '../../agents/index.ts';
import { loadConfig, type Config } from '../../config/index.ts';
import { AgentOpinion, Verdict, parseJson } from '../../contracts/index.ts';
import { runCommittee } from '../../graph/index.ts';
import { writeTinyGguf } from '../support/gguf.ts';
import { TOOL_CALL_HEADER, startOllamaTestServer, type OllamaTestServer } from '../support/ollama-server.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';
import { loadMsft, makeProposal, storeProposal } from '../support/committee.ts';

const base = loadConfig({ env: {} });
const E2E_GGUF_SEED = 3;
/** Seven sequential generations by a CPU model on a shared 2-core machine. */
const E2E_TIMEOUT_MS = 300_000;
let server: OllamaTestServer;

beforeAll(async () => {
  // One model load for the file, shared by both database backends. Seed 3's random weights happen to
  // close their JSON strings early (~250 tokens an answer), which keeps five agents x two databases
  // within a minute on 2 cores; what the model says is never asserted.
  server = await startOllamaTestServer({ ggufPath: writeTinyGguf(undefined, { seed: E2E_GGUF_SEED }), models: ['mistral'] });
});
afterAll(async () => {
  await server?.close();
});

function e2eConfig(): Config {
  return {
    ...base,
    models: { ...base.models, ollama: { ...base.models.ollama, baseUrl: server.url }, llm: { ...base.models.llm, maxOutputTokens: 2048 } },
  };
}

describe.each(BACKENDS)('committee through the real ChatOllama client on $name', ({ open, available }) => {
  let t: TestDb | null = null;
  afterAll(async () => {
    await t?.cleanup();
  });

  it.skipIf(!available)(
    'ends in a schema-valid Verdict with every node stored, the tool calls the model chose run and stored',
    async () => {
      t = await open();
      await loadMsft(t.db);
      const proposal = makeProposal({ id: 'prop-ollama-e2e' });
      await storeProposal(t.db, proposal);
      const config = e2eConfig();
      // A random-weight model never decides to call a tool: the header makes the server answer tool
      // requests with one grammar-bound call (see ollama-server.ts); everything else is the real client.
      const backend = createOllamaBackend({ ...ollamaOptionsFromConfig(config.models), headers: { [TOOL_CALL_HEADER]: 'required' } });
      const before = server.requests.length;

      const res = await runCommittee({ db: t.db, config, proposal, backend, databaseUrl: t.url });

      expect(Verdict.safeParse(res.verdict).success).toBe(true);
      expect(res.verdict.backend).toBe('ollama');
      expect(res.verdict.model).toBe('mistral');
      expect(res.verdict.sizeMultiplier).toBeLessThanOrEqual(1);
      for (const o of res.opinions) expect(AgentOpinion.safeParse(o).success).toBe(true);
      // Five agents at one debate round, each one streamed /api/chat request (plus a repair when needed),
      // and the tool turns of the analyst and the risk agent with Ollama's native `tools`.
      const chats = server.requests.slice(before).filter((r) => r.path === '/api/chat');
      expect(chats.length).toBe(res.stats.llmCalls);
      expect(res.stats.llmCalls).toBeGreaterThanOrEqual(7);
      const body = (r: (typeof chats)[number]) => r.body as { stream?: boolean; format?: unknown; tools?: Array<{ function: { name: string } }> };
      const toolTurns = chats.filter((r) => body(r).tools !== undefined);
      expect(toolTurns.map((r) => body(r).tools?.map((x) => x.function.name))).toEqual([config.agents.analyst.tools, config.agents.risk.tools]);
      expect(res.stats.toolTurnCalls).toBe(2);
      expect(chats.filter((r) => body(r).tools === undefined).every((r) => body(r).stream === true && typeof body(r).format === 'object')).toBe(true);
      expect(res.stats.promptTokens).toBeGreaterThan(0);

      // The calls the model chose were run and stored with the arguments it chose.
      for (const node of ['analyst', 'risk'] as const) {
        const record = res.toolCalls.find((x) => x.node === node);
        expect(record?.choice).toBe('agent');
        expect(record?.calls.length).toBe(1);
        const rows = await t.db.query<{ id: string; tool: string; args: unknown }>(`SELECT id, tool, args FROM tool_calls WHERE run_id = $1 AND agent = $2`, [
          res.runId,
          node,
        ]);
        expect(rows.rows).toEqual(record?.calls.map((c) => ({ id: c.callId, tool: c.tool, args: c.args })));
        expect(config.agents[node].tools).toContain(rows.rows[0]?.tool);
        const turn = await t.db.query<{ content: string; tokens_prompt: number | null }>(
          `SELECT content, tokens_prompt FROM agent_messages WHERE run_id = $1 AND agent = $2 AND message_role = 'assistant'`,
          [res.runId, `${node}:ollama:tools`],
        );
        expect(turn.rows[0]?.tokens_prompt).toBeGreaterThan(0);
        const answered = parseJson(turn.rows[0]?.content ?? '');
        expect(answered.ok && answered.value).toEqual({ calls: [{ tool: rows.rows[0]?.tool, arguments: rows.rows[0]?.args }] });
      }

      const nodes = await t.db.query<{ node: string }>(`SELECT DISTINCT node FROM agent_messages WHERE run_id = $1 ORDER BY node`, [res.runId]);
      expect(nodes.rows.map((r) => r.node)).toEqual(['analyst', 'bear', 'bull', 'committee', 'risk']);
      const last = await t.db.query<{ tokens_prompt: number; prompt_version: string }>(
        `SELECT tokens_prompt, prompt_version FROM agent_messages WHERE run_id = $1 AND node = 'committee' AND output IS NOT NULL`,
        [res.runId],
      );
      expect(last.rows[0]?.prompt_version).toBe(res.verdict.promptVersion);
      const stored = await t.db.query<{ payload: unknown }>('SELECT payload FROM verdicts WHERE run_id = $1', [res.runId]);
      expect(Verdict.parse(stored.rows[0]?.payload)).toEqual(res.verdict);
      const run = await t.db.query('SELECT status FROM committee_runs WHERE id = $1', [res.runId]);
      expect(run.rows[0]).toEqual({ status: 'completed' });
    },
    E2E_TIMEOUT_MS,
  );
});
