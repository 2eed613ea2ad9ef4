/**
 * MUST-SHOW: a whole committee run through the real ChatOllama client (@langchain/ollama) against
 * the Ollama-API test server (node-llama-cpp + a tiny random-weight GGUF) ends in a schema-valid
 * Verdict with a stored transcript, on PGlite and on PostgreSQL. Nothing here asserts what the
 * random model says: only structure, routing and what is stored.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createOllamaBackend, ollamaOptionsFromConfig } from '../../agents/index.ts';
import { loadConfig, type Config } from '../../config/index.ts';
import { AgentOpinion, Verdict } from '../../contracts/index.ts';
import { runCommittee } from '../../graph/index.ts';
import { writeTinyGguf } from '../support/gguf.ts';
import { startOllamaTestServer, type OllamaTestServer } from '../support/ollama-server.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';
import { loadMsft, makeProposal, storeProposal } from '../support/committee.ts';

const base = loadConfig({ env: {} });
const E2E_GGUF_SEED = 3;
/** Five sequential generations by a CPU model on a shared 2-core machine. */
const E2E_TIMEOUT_MS = 240_000;
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

  it.skipIf(!available)('ends in a schema-valid Verdict with every node stored', async () => {
    t = await open();
    await loadMsft(t.db);
    const proposal = makeProposal({ id: 'prop-ollama-e2e' });
    await storeProposal(t.db, proposal);
    const config = e2eConfig();
    const backend = createOllamaBackend(ollamaOptionsFromConfig(config.models));
    const before = server.requests.length;

    const res = await runCommittee({ db: t.db, config, proposal, backend, databaseUrl: t.url });

    expect(Verdict.safeParse(res.verdict).success).toBe(true);
    expect(res.verdict.backend).toBe('ollama');
    expect(res.verdict.model).toBe('mistral');
    expect(res.verdict.sizeMultiplier).toBeLessThanOrEqual(1);
    for (const o of res.opinions) expect(AgentOpinion.safeParse(o).success).toBe(true);
    // Five agents at one debate round, each one streamed /api/chat request (plus a repair when needed).
    const chats = server.requests.slice(before).filter((r) => r.path === '/api/chat');
    expect(chats.length).toBe(res.stats.llmCalls);
    expect(res.stats.llmCalls).toBeGreaterThanOrEqual(5);
    expect(chats.every((r) => (r.body as { stream?: boolean }).stream === true && typeof (r.body as { format?: unknown }).format === 'object')).toBe(true);
    expect(res.stats.promptTokens).toBeGreaterThan(0);

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
  }, E2E_TIMEOUT_MS);
});
