import { z } from 'zod';
import { QuorumError } from '../contracts/errors.ts';
import type { Db, Queryable } from '../db/index.ts';
import type { ModelCard } from './card.ts';

/** Lifecycle stages of a registered model (`archived` is where a replaced production model goes). */
export const ModelStage = z.enum(['research', 'staging', 'production', 'archived']);
export type ModelStage = z.infer<typeof ModelStage>;

export const RegisteredModel = z.object({
  id: z.string(),
  version: z.string(),
  stage: ModelStage,
  path: z.string(),
  sha256: z.string(),
  createdAt: z.string(),
});
export type RegisteredModel = z.infer<typeof RegisteredModel>;

const Row = z.object({ id: z.string(), version: z.string(), stage: ModelStage, path: z.string(), sha256: z.string(), created_at: z.coerce.date() });

/** Registers (or re-registers, keeping its stage) a model version with its card. */
export async function registerModel(q: Queryable, card: ModelCard, cardPath: string, stage: ModelStage = 'research'): Promise<void> {
  await q.query(
    `INSERT INTO models (id, version, stage, path, sha256, card) VALUES ($1, $2, $3, $4, $5, $6)
     ON CONFLICT (id, version) DO UPDATE SET path = EXCLUDED.path, sha256 = EXCLUDED.sha256, card = EXCLUDED.card`,
    [card.modelId, card.version, stage, cardPath, card.sha256, JSON.stringify(card)],
  );
}

/** Moves a version to `stage`; promoting to production archives the previous production version, atomically. */
export async function setModelStage(db: Db, id: string, version: string, stage: ModelStage): Promise<void> {
  await db.transaction(async (tx) => {
    const found = await tx.query('SELECT 1 FROM models WHERE id = $1 AND version = $2', [id, version]);
    if (found.rows.length === 0) throw new QuorumError('NOT_FOUND', `model ${id}@${version} is not registered`, { id, version });
    if (stage === 'production') {
      await tx.query(`UPDATE models SET stage = 'archived' WHERE id = $1 AND stage = 'production' AND version <> $2`, [id, version]);
    }
    await tx.query(`UPDATE models SET stage = $3, promoted_at = now() WHERE id = $1 AND version = $2`, [id, version, stage]);
  });
}

/** Registered models, newest first. */
export async function listModels(q: Queryable): Promise<RegisteredModel[]> {
  const res = await q.query('SELECT id, version, stage, path, sha256, created_at FROM models ORDER BY created_at DESC, id, version');
  return res.rows.map((r) => {
    const p = Row.parse(r);
    return { id: p.id, version: p.version, stage: p.stage, path: p.path, sha256: p.sha256, createdAt: p.created_at.toISOString() };
  });
}
