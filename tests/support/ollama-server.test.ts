import { ChatOllama, OllamaEmbeddings } from '@langchain/ollama';
import { tool } from '@langchain/core/tools';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { parseJson } from '../../contracts/index.ts';
import { writeTinyGguf } from './gguf.ts';
import { TOOL_CALL_HEADER, startOllamaTestServer, type OllamaTestServer } from './ollama-server.ts';

let server: OllamaTestServer;

beforeAll(async () => {
  server = await startOllamaTestServer({ ggufPath: writeTinyGguf(), defaultMaxTokens: 64 });
});
afterAll(async () => {
  await server.close();
});

async function post(path: string, body: unknown): Promise<Response> {
  return fetch(`${server.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
}

function ndjson(text: string): Array<Record<string, unknown>> {
  return text
    .trim()
    .split('\n')
    .map((line) => {
      const parsed = parseJson(line);
      if (!parsed.ok) throw new Error(parsed.error);
      return parsed.value as Record<string, unknown>;
    });
}

const FORMAT = { type: 'object', properties: { ok: { type: 'boolean' }, n: { type: 'integer' } }, required: ['ok', 'n'], additionalProperties: false };

describe('Ollama-API test server', () => {
  it('lists its model on /api/tags and describes it on /api/show', async () => {
    const tags = (await (await fetch(`${server.url}/api/tags`)).json()) as { models: Array<{ name: string }> };
    expect(tags.models.map((m) => m.name)).toEqual(['quorum-tiny:latest']);
    const show = await post('/api/show', { model: 'quorum-tiny' });
    expect(show.status).toBe(200);
    expect(await show.json()).toMatchObject({ details: { family: 'llama', format: 'gguf' } });
  });

  it('streams /api/chat as NDJSON ending with done and token counts, and the text follows `format`', async () => {
    const res = await post('/api/chat', { model: 'any', messages: [{ role: 'user', content: 'hi' }], format: FORMAT });
    expect(res.headers.get('content-type')).toBe('application/x-ndjson');
    const lines = ndjson(await res.text());
    const last = lines.at(-1);
    expect(last).toMatchObject({ done: true, done_reason: 'stop' });
    expect(last?.prompt_eval_count).toBeGreaterThan(0);
    expect(last?.eval_count).toBeGreaterThan(0);
    const text = lines.map((l) => (l.message as { content: string }).content).join('');
    const parsed = parseJson(text);
    expect(parsed.ok && z.object({ ok: z.boolean(), n: z.number().int() }).strict().safeParse(parsed.value).success).toBe(true);
  });

  it('answers /api/chat in one object when stream is false', async () => {
    const res = await post('/api/chat', { model: 'any', stream: false, messages: [{ role: 'user', content: 'hi' }], options: { num_predict: 5 } });
    const body = (await res.json()) as { done: boolean; eval_count: number; message: { role: string; content: string } };
    expect(body.done).toBe(true);
    expect(body.message.role).toBe('assistant');
    expect(body.eval_count).toBeLessThanOrEqual(5);
  });

  it('serves /api/generate streaming and not', async () => {
    const streamed = ndjson(await (await post('/api/generate', { model: 'any', prompt: 'hello', format: FORMAT })).text());
    expect(streamed.at(-1)).toMatchObject({ done: true });
    const text = streamed.map((l) => l.response as string).join('');
    expect(parseJson(text).ok).toBe(true);
    const single = (await (await post('/api/generate', { model: 'any', prompt: 'hello', stream: false, options: { num_predict: 3 } })).json()) as {
      response: string;
      done: boolean;
    };
    expect(single.done).toBe(true);
    expect(typeof single.response).toBe('string');
  });

  it('embeds through the real OllamaEmbeddings client (/api/embed with input: string[])', async () => {
    const before = server.requests.length;
    const embeddings = new OllamaEmbeddings({ baseUrl: server.url, model: 'nomic-embed-text' });
    const vectors = await embeddings.embedDocuments(['Microsoft beats estimates', 'Apple misses']);
    expect(vectors).toHaveLength(2);
    expect(vectors[0]).toHaveLength(64);
    expect(vectors[0]?.every(Number.isFinite)).toBe(true);
    const req = server.requests[before];
    expect(req?.path).toBe('/api/embed');
    expect((req?.body as { input: unknown }).input).toEqual(['Microsoft beats estimates', 'Apple misses']);
  });

  it('answers with a tool call the real ChatOllama client parses, when tools are bound and the header asks for it', async () => {
    const bars = tool(async () => 'ok', {
      name: 'bars',
      description: 'Daily bars of a ticker',
      schema: z.object({ ticker: z.string().max(10), days: z.number().int() }),
    });
    const chat = new ChatOllama({ baseUrl: server.url, model: 'any', headers: { [TOOL_CALL_HEADER]: 'required' }, numPredict: 256 });
    const before = server.requests.length;
    const message = await chat.bindTools([bars]).invoke('Fetch bars for MSFT');
    expect(message.tool_calls).toHaveLength(1);
    expect(message.tool_calls?.[0]?.name).toBe('bars');
    expect(Object.keys(message.tool_calls?.[0]?.args ?? {}).sort()).toEqual(['days', 'ticker']);
    const sent = server.requests[before]?.body as { tools: Array<{ function: { name: string } }> };
    expect(sent.tools.map((t) => t.function.name)).toEqual(['bars']);
  });

  it('fills only the required arguments of a forced tool call, so the call passes the tool schema the grammar cannot enforce', async () => {
    // `pattern`, `minimum` and `maximum` are not in the grammar: random text in `ticker` or `limit` would be refused.
    const schema = z
      .object({
        query: z.string().min(1).max(40),
        ticker: z
          .string()
          .regex(/^[A-Z]{1,5}$/)
          .optional(),
        limit: z.number().int().min(1).max(5).optional(),
      })
      .strict();
    const search = tool(async () => 'ok', { name: 'search', description: 'Search news', schema });
    const chat = new ChatOllama({ baseUrl: server.url, model: 'any', headers: { [TOOL_CALL_HEADER]: 'required' }, numPredict: 256 });
    const message = await chat.bindTools([search]).invoke('Search the news');
    expect(message.tool_calls).toHaveLength(1);
    expect(Object.keys(message.tool_calls?.[0]?.args ?? {})).toEqual(['query']);
    expect(schema.safeParse(message.tool_calls?.[0]?.args).success).toBe(true);
  });

  it('puts the offered tools into the model context, as an Ollama chat template does', async () => {
    const messages = [
      { role: 'system', content: 'Choose tools.' },
      { role: 'user', content: 'Fetch bars for MSFT' },
    ];
    const tools = [
      {
        type: 'function',
        function: { name: 'bars', description: 'Daily bars of a ticker', parameters: { type: 'object', properties: { ticker: { type: 'string' } } } },
      },
    ];
    const promptTokens = async (body: Record<string, unknown>): Promise<number> => {
      const res = await post('/api/chat', { model: 'any', messages, stream: false, options: { num_predict: 1 }, ...body });
      return ((await res.json()) as { prompt_eval_count: number }).prompt_eval_count;
    };
    const without = await promptTokens({});
    const withTools = await promptTokens({ tools });
    expect(withTools - without).toBeGreaterThan(JSON.stringify(tools).length / 4);
  });

  it('refuses a malformed request with 400 naming the field', async () => {
    const res = await post('/api/chat', { model: 'any', messages: 'hello' });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { error: string }).error).toContain('messages');
  });
});
