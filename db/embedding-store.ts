import { z } from 'zod';
import { QuorumError } from '../contracts/errors.ts';
import type { Db, Queryable } from './db.ts';

/** Vectors up to this size are kept inline in the row (STORAGE PLAIN); larger ones cannot fit a page. */
export const MAX_INLINE_DIMENSION = 1900;

export const EmbeddingStoreInfo = z.object({ model: z.string(), dimension: z.coerce.number().int().positive() });
export type EmbeddingStoreInfo = z.infer<typeof EmbeddingStoreInfo>;

/** The (model, dimension) the news store holds, or null before the first binding. */
export async function getEmbeddingStore(db: Db): Promise<EmbeddingStoreInfo | null> {
  const res = await db.query('SELECT model, dimension FROM embedding_store WHERE id = 1');
  return res.rows[0] ? EmbeddingStoreInfo.parse(res.rows[0]) : null;
}

async function columnDimension(q: Queryable): Promise<number> {
  // atttypmod of a vector(N) column is N.
  const res = await q.query(
    `SELECT a.atttypmod AS dim FROM pg_attribute a
      WHERE a.attrelid = 'news_items'::regclass AND a.attname = 'embedding'`,
  );
  return z.coerce.number().parse(res.rows[0]?.dim);
}

/**
 * Fixes the store's embedding model and dimension on first use, and refuses any other afterwards.
 * On first binding, if the column was created for another size and holds no vectors yet, it is
 * resized and its HNSW index rebuilt, in one transaction. A store never mixes two embedders.
 */
export async function bindEmbeddingStore(db: Db, wanted: EmbeddingStoreInfo): Promise<EmbeddingStoreInfo> {
  const current = await getEmbeddingStore(db);
  if (current) {
    if (current.model !== wanted.model || current.dimension !== wanted.dimension) {
      throw new QuorumError(
        'EMBEDDING_MISMATCH',
        `the news store holds embeddings of ${current.model} (${current.dimension}-d); refusing ${wanted.model} (${wanted.dimension}-d). ` +
          'Use a separate data directory or database for another embedder.',
        { stored: current, wanted },
      );
    }
    return current;
  }
  await db.transaction(async (tx) => {
    const used = await tx.query('SELECT 1 FROM news_items WHERE embedding IS NOT NULL LIMIT 1');
    const dim = await columnDimension(tx);
    if (dim !== wanted.dimension) {
      if (used.rows.length > 0) {
        throw new QuorumError('EMBEDDING_MISMATCH', `news_items already holds ${dim}-d vectors; refusing ${wanted.dimension}-d`, { dim, wanted });
      }
      await tx.exec(`DROP INDEX IF EXISTS news_items_embedding_hnsw_idx;
        ALTER TABLE news_items ALTER COLUMN embedding TYPE vector(${wanted.dimension});
        ALTER TABLE news_items ALTER COLUMN embedding SET STORAGE ${wanted.dimension <= MAX_INLINE_DIMENSION ? 'PLAIN' : 'EXTENDED'};
        CREATE INDEX news_items_embedding_hnsw_idx ON news_items USING hnsw (embedding vector_cosine_ops);`);
    }
    // Two first bindings may race: the loser inserts nothing and is checked against the winner below.
    await tx.query('INSERT INTO embedding_store (id, model, dimension) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING', [wanted.model, wanted.dimension]);
  });
  const bound = await getEmbeddingStore(db);
  if (bound && (bound.model !== wanted.model || bound.dimension !== wanted.dimension)) {
    throw new QuorumError(
      'EMBEDDING_MISMATCH',
      `the news store was just bound to ${bound.model} (${bound.dimension}-d); refusing ${wanted.model} (${wanted.dimension}-d)`,
      {
        stored: bound,
        wanted,
      },
    );
  }
  return wanted;
}
