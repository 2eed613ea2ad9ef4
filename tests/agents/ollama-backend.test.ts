import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CommitteeOutput, OpinionOutput, createOllamaBackend, ollamaOptionsFromConfig, roleJsonSchemaForCall, runAgent } from '../../agents/index.ts';
import { loadConfig } from '../../config/index.ts';
import { AgentOpinion, Verdict } from '../../contracts/index.ts';
import { writeTinyGguf } from '../support/gguf.ts';
import { startOllamaTestServer, type OllamaTestServer } from '../support/ollama-server.ts';
import { bundledPrompts, sampleEvidence, sampleProposal } from '../support/agents.ts';

const prompts = bundledPrompts();
const proposal = sampleProposal();
const evidence = sampleEvidence();
let server: OllamaTestServer;

beforeAll(async () => {
  // One model load for the whole file, behind an Ollama-API server on localhost.
  server = await startOllamaTestServer({ ggufPath: writeTinyGguf(), models: ['mistral', 'committee-model'] });
});
afterAll(async () => {
  await server.close();
});

function backendFor(overrides: { roles?: Record<string, string>; model?: string } = {}) {
  const models = loadConfig({ env: {} }).models;
  return createOllamaBackend({
    ...ollamaOptionsFromConfig(models),
    baseUrl: server.url,
    maxOutputTokens: 2048,
    roles: { committee: 'committee-model' },
    ...overrides,
  });
}

describe('ollama backend: the real ChatOllama client against the Ollama-API test server', () => {
  it('gives a schema-valid analyst opinion and sends the JSON schema as `format`, streaming, with seed and context size', async () => {
    const before = server.requests.length;
    const r = await runAgent({ role: 'analyst', backend: backendFor(), prompt: prompts.analyst, proposal, evidence, round: 0 });
    expect(r.abstainReason).toBeNull();
    expect(OpinionOutput.safeParse(r.output).success).toBe(true);
    expect(AgentOpinion.safeParse(r.opinion).success).toBe(true);
    expect(r.opinion).toMatchObject({ backend: 'ollama', model: 'mistral', promptVersion: prompts.analyst.version });
    expect(r.tokens.prompt).toBeGreaterThan(100);
    expect(r.tokens.completion).toBeGreaterThan(0);

    const sent = server.requests.slice(before);
    expect(sent.map((q) => `${q.method} ${q.path}`)).toEqual(['POST /api/chat']);
    const body = sent[0]?.body as Record<string, unknown>;
    expect(body).toMatchObject({ model: 'mistral', stream: true, options: { seed: 42, num_ctx: 8192, temperature: 0, num_predict: 2048 } });
    expect(body.format).toEqual(
      roleJsonSchemaForCall(
        'analyst',
        evidence.map((e) => e.id),
      ),
    );
    expect((body.messages as Array<{ role: string }>).map((m) => m.role)).toEqual(['system', 'user']);
  });

  it('gives a schema-valid committee verdict from the per-role model of models.yaml', async () => {
    const before = server.requests.length;
    const r = await runAgent({ role: 'committee', backend: backendFor(), prompt: prompts.committee, proposal, evidence });
    expect(r.abstainReason).toBeNull();
    expect(CommitteeOutput.safeParse(r.output).success).toBe(true);
    expect(Verdict.safeParse(r.verdict).success).toBe(true);
    expect(r.verdict.model).toBe('committee-model');
    expect(r.verdict.sizeMultiplier).toBeLessThanOrEqual(1);
    expect((server.requests[before]?.body as { model: string }).model).toBe('committee-model');
  });

  it('abstains with LLM_TIMEOUT when the server stalls past the budget', async () => {
    server.faults.stallMs = 5_000;
    const generationsBefore = server.stats.generations;
    try {
      const r = await runAgent({ role: 'bull', backend: backendFor(), prompt: prompts.bull, proposal, evidence, timeoutMs: 200 });
      expect(r.abstainCode).toBe('LLM_TIMEOUT');
      expect(r.opinion.confidence).toBe(0);
      // The HTTP request itself was aborted: the server saw its client go away and generated nothing.
      await expect.poll(() => server.stats.disconnected).toBeGreaterThan(0);
      expect(server.stats.generations).toBe(generationsBefore);
    } finally {
      server.faults.stallMs = 0;
    }
  });

  it('abstains with LLM_UNAVAILABLE when the model is not served', async () => {
    const r = await runAgent({ role: 'risk', backend: backendFor({ model: 'not-pulled' }), prompt: prompts.risk, proposal, evidence });
    expect(r.abstainCode).toBe('LLM_UNAVAILABLE');
    expect(r.abstainReason).toContain('not-pulled');
  });

  it('abstains with LLM_UNAVAILABLE when nothing listens at the base URL', async () => {
    const backend = createOllamaBackend({ ...ollamaOptionsFromConfig(loadConfig({ env: {} }).models), baseUrl: 'http://127.0.0.1:9' });
    const r = await runAgent({ role: 'committee', backend, prompt: prompts.committee, proposal, evidence });
    expect(r.verdict).toMatchObject({ decision: 'ABSTAIN', sizeMultiplier: 0 });
    expect(r.abstainCode).toBe('LLM_UNAVAILABLE');
  });
});
