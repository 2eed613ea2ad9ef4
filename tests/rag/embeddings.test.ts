import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { QuorumError } from '../../contracts/errors.ts';
import { parseJson } from '../../contracts/parse.ts';
import { getEmbeddingStore } from '../../db/index.ts';
import { companyMatcher, createOllamaEmbedder, createUseLiteEmbedder, searchNews, storeNews, USE_LITE_MODEL, type NewsDraft } from '../../rag/index.ts';
import { BACKENDS } from '../support/db.ts';

/**
 * A routing/fault double of Ollama's POST /api/embed: deterministic bag-of-words vectors (each
 * word hashed into one of DIM buckets), so texts sharing words are close. It records requests.
 */
const DIM = 16;
const EmbedRequest = z.object({ model: z.string(), input: z.array(z.string()) }).passthrough();

function bagOfWords(text: string, dim: number): number[] {
  const v = new Array<number>(dim).fill(0);
  for (const w of text.toLowerCase().match(/[a-z]+/g) ?? []) v[createHash('sha1').update(w).digest()[0]! % dim]! += 1;
  return v.every((x) => x === 0) ? v.map((_, i) => (i === 0 ? 1 : 0)) : v;
}

interface EmbedServer {
  url: string;
  requests: Array<z.infer<typeof EmbedRequest>>;
  /** Fault: vectors of this size instead of DIM. */
  wrongDim: number | null;
  close(): Promise<void>;
}

async function startEmbedServer(): Promise<EmbedServer> {
  const state: EmbedServer = { url: '', requests: [], wrongDim: null, close: async () => undefined };
  const server: Server = createServer((req, res) => {
    let raw = '';
    req.on('data', (c: Buffer) => (raw += c.toString()));
    req.on('end', () => {
      const json = parseJson(raw);
      const body = json.ok ? EmbedRequest.safeParse(json.value) : null;
      if (req.url !== '/api/embed' || !body?.success) {
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not found"}');
        return;
      }
      state.requests.push(body.data);
      const embeddings = body.data.input.map((t) => bagOfWords(t, state.wrongDim ?? DIM));
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ model: body.data.model, embeddings }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}

const draft = (n: number, title: string, body: string): NewsDraft => ({
  source: 'test',
  guid: `g${n}`,
  url: `https://example.com/${n}`,
  title,
  body,
  publishedAt: new Date(`2024-03-0${n}T12:00:00Z`),
  tickers: [],
  metadata: {},
});
const drafts = [
  draft(1, 'Crude oil prices fall', 'Oil fell as crude stocks rose.'),
  draft(2, 'Bank raises dividend', 'The bank lifted its dividend.'),
  draft(3, 'Grain exports climb', 'Wheat and corn exports rose.'),
];

describe('Ollama embedder (through @langchain/ollama against a localhost /api/embed double)', () => {
  let srv: EmbedServer;
  beforeAll(async () => {
    srv = await startEmbedServer();
  });
  afterAll(async () => srv.close());

  it('learns the dimension with one probe, then sends batches of batchSize to the configured model', async () => {
    srv.requests.length = 0;
    const e = await createOllamaEmbedder({ baseUrl: srv.url, model: 'nomic-embed-text', batchSize: 2 });
    expect(e).toMatchObject({ model: 'ollama:nomic-embed-text', dimension: DIM });
    const vectors = await e.embed(['a', 'b', 'c', 'd', 'e']);
    expect(vectors).toHaveLength(5);
    expect(vectors[2]).toEqual(bagOfWords('c', DIM));
    expect(srv.requests.map((r) => [r.model, r.input.length])).toEqual([
      ['nomic-embed-text', 1],
      ['nomic-embed-text', 2],
      ['nomic-embed-text', 2],
      ['nomic-embed-text', 1],
    ]);
  });

  it('refuses vectors of another size than the one it was built for', async () => {
    const e = await createOllamaEmbedder({ baseUrl: srv.url, model: 'm', dimension: DIM });
    srv.wrongDim = DIM + 1;
    try {
      const error = await e.embed(['x']).catch((err: unknown) => err);
      expect(QuorumError.is(error, 'EMBEDDING_MISMATCH')).toBe(true);
    } finally {
      srv.wrongDim = null;
    }
  });

  it('reports an unreachable server as LLM_UNAVAILABLE', async () => {
    const closed = await startEmbedServer();
    await closed.close();
    const error = await createOllamaEmbedder({ baseUrl: closed.url, model: 'm', maxRetries: 0 }).catch((err: unknown) => err);
    expect(QuorumError.is(error, 'LLM_UNAVAILABLE')).toBe(true);
  });
});

describe('USE-lite embedder', () => {
  it('gives 512-d vectors, the same vector (up to rounding) for the same text, and related texts closer than unrelated ones', async () => {
    const e = createUseLiteEmbedder({ batchSize: 2 });
    const [oil, oil2, deal, again] = await e.embed([
      'crude oil prices fall',
      'oil price drops',
      'company acquires a stake in a rival',
      'crude oil prices fall',
    ]);
    const cos = (a: number[], b: number[]): number => a.reduce((s, x, i) => s + x * (b[i] ?? 0), 0);
    expect(oil).toHaveLength(512);
    // Batch composition changes float rounding, not the vector.
    expect(cos(oil!, again!)).toBeCloseTo(1, 5);
    expect(cos(oil!, oil2!)).toBeGreaterThan(cos(oil!, deal!));
  });

  it("gives the same vectors from two worker threads as in-process, each at its text's place", async () => {
    const texts = Array.from({ length: 24 }, (_, i) => `${'crude oil prices fall '.repeat((i % 5) + 1)}${i % 2 === 0 ? 'after the cut' : 'on supply'} ${i}`);
    const pooled = await createUseLiteEmbedder({ batchSize: 4, workers: 2, poolMinTexts: 1 }).embed(texts);
    const local = await createUseLiteEmbedder({ batchSize: 4, workers: 1 }).embed(texts);
    const cos = (a: number[], b: number[]): number => a.reduce((s, x, i) => s + x * (b[i] ?? 0), 0);
    expect(pooled).toHaveLength(texts.length);
    for (const i of texts.keys()) expect(cos(pooled[i]!, local[i]!)).toBeCloseTo(1, 5);
    expect(cos(pooled[0]!, pooled[1]!)).toBeLessThan(0.999);
  });

  it("embeds in order of length but returns each vector at its text's place", async () => {
    const texts = ['a much longer sentence about a company that acquires a stake in a rival bank', 'oil', 'crude oil prices fall', 'ok'];
    const batched = await createUseLiteEmbedder({ batchSize: 2 }).embed(texts);
    const alone = createUseLiteEmbedder({ batchSize: 1 });
    const cos = (a: number[], b: number[]): number => a.reduce((s, x, i) => s + x * (b[i] ?? 0), 0);
    for (const [i, text] of texts.entries()) {
      const [own] = await alone.embed([text]);
      expect(cos(batched[i]!, own!)).toBeCloseTo(1, 5);
    }
    expect(cos(batched[0]!, batched[1]!)).toBeLessThan(0.99);
  });
});

describe.each(BACKENDS)('embedding store binding on $name', ({ open, available }) => {
  let srv: EmbedServer;
  beforeAll(async () => {
    srv = await startEmbedServer();
  });
  afterAll(async () => srv.close());

  it.skipIf(!available)('a fresh store takes the Ollama model and dimension, stores and searches with it, and refuses USE-lite afterwards', async () => {
    const t = await open();
    try {
      const ollama = await createOllamaEmbedder({ baseUrl: srv.url, model: 'nomic-embed-text', dimension: DIM });
      expect(await storeNews(t.db, ollama, drafts, companyMatcher({}))).toMatchObject({ inserted: 3 });
      expect(await getEmbeddingStore(t.db)).toEqual({ model: 'ollama:nomic-embed-text', dimension: DIM });
      const hits = await searchNews(t.db, ollama, { query: 'crude oil', asOf: '2024-03-31', k: 1 });
      expect(hits.map((h) => h.title)).toEqual(['Crude oil prices fall']);

      const use = createUseLiteEmbedder();
      const stored = await storeNews(t.db, use, [draft(4, 'Another', 'item')], companyMatcher({})).catch((e: unknown) => e);
      expect(QuorumError.is(stored, 'EMBEDDING_MISMATCH')).toBe(true);
      const searched = await searchNews(t.db, use, { query: 'crude', asOf: '2024-03-31' }).catch((e: unknown) => e);
      expect(QuorumError.is(searched, 'EMBEDDING_MISMATCH')).toBe(true);
      expect(use.model).toBe(USE_LITE_MODEL);
    } finally {
      await t.cleanup();
    }
  });
});
