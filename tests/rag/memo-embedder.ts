import type { Embedder } from '../../rag/index.ts';

/**
 * The real embedder, with its vectors remembered by text: the second backend of a
 * `describe.each(BACKENDS)` reuses the first one's USE-lite vectors instead of recomputing them.
 */
export function memoEmbedder(inner: Embedder): Embedder & { calls: number } {
  const cache = new Map<string, number[]>();
  const self = {
    model: inner.model,
    dimension: inner.dimension,
    calls: 0,
    async embed(texts: readonly string[]): Promise<number[][]> {
      const missing = [...new Set(texts.filter((t) => !cache.has(t)))];
      if (missing.length > 0) {
        self.calls++;
        const vectors = await inner.embed(missing);
        missing.forEach((t, i) => cache.set(t, vectors[i] ?? []));
      }
      return texts.map((t) => cache.get(t) ?? []);
    },
  };
  return self;
}
