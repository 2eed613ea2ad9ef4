import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { PROJECT_ROOT, createLogger, loadConfig } from '../../config/index.ts';
import { listModels } from '../../ml/registry.ts';
import { listPromotions, proposerCardPath } from '../../ml/promotion.ts';
import { readModelCard } from '../../ml/card.ts';
import { scheduleRetrain } from '../../sessions/retrain.ts';
import { freshPglite, freshPostgres, hasPg, type TestDb } from '../support/db.ts';
import { loadDow } from '../ml/dow-fixture.ts';

describe('the scheduled retrain', () => {
  let t: TestDb | null = null;
  afterEach(async () => {
    await t?.cleanup();
    t = null;
  });

  it('fires at retrain.cron: the new version enters staging, the rule promotes it, a retrain on the same data is refused, both audited', async () => {
    t = await (hasPg ? freshPostgres() : freshPglite());
    await loadDow(t.db, ['AA', 'KO'], '1994-01-01', '1995-12-31');
    const dataDir = mkdtempSync(path.join(tmpdir(), 'quorum-retrain-'));
    const loaded = loadConfig({ env: { QUORUM_DATA_DIR: dataDir, QUORUM_SETTINGS__RETRAIN__CRON: '30 17 * * 5' } });
    const s = loaded.settings;
    // A small search (2 candidates of up to 20 trees) keeps the test fast; the path is the production one.
    const config = {
      ...loaded,
      settings: { ...s, training: { ...s.training, folds: 3, minSamplesLeaf: 20, search: { ...s.training.search, candidates: 2, trees: [10, 20] } } },
    };
    const log = createLogger({ secrets: loaded.secrets, settings: { logging: { level: 'silent' } } });
    const job = scheduleRetrain(t.db, config, log);
    if (!job) throw new Error('no retrain job with retrain.cron set');
    try {
      // The schedule: Fridays 17:30 New York (after the close).
      const next = job.nextRun(new Date('2026-12-07T12:00:00Z'));
      expect(next?.toISOString()).toBe('2026-12-11T22:30:00.000Z');
      await job.trigger();
      const models = await listModels(t.db);
      expect(models).toHaveLength(1);
      const first = models[0];
      if (!first) throw new Error('nothing registered');
      // The proposer's model id (models.yaml proposer.cardPath), written into the data dir by version.
      expect(first).toMatchObject({ id: 'default', stage: 'production' });
      expect(first.path).toBe(path.join(dataDir, 'models', 'default', first.version, 'model-card.json'));
      const card = readModelCard(first.path);
      expect(card.search?.candidates).toHaveLength(2);
      expect(card.hyperparameters.trees).toBe(card.search?.chosen.bestTrees);
      // The proposer now runs the promoted version instead of the configured card.
      expect(await proposerCardPath(t.db, path.join(PROJECT_ROOT, 'models/default/model-card.json'))).toBe(first.path);

      await job.trigger();
      const decisions = await listPromotions(t.db, { modelId: 'default' });
      expect(decisions.map((d) => [d.decision, d.actor, d.candidateVersion])).toEqual([
        ['refused', 'schedule', first.version],
        ['promoted', 'schedule', first.version],
      ]);
      expect(decisions[1]?.reason).toBe('no production version of default');
      expect(decisions[0]?.reason).toBe('this version is already in production');
      expect(decisions[0]?.who).toMatch(/.+@.+/);
      const audit = await t.db.query<{ kind: string }>(`SELECT kind FROM audit_events WHERE entity = 'model' ORDER BY id`);
      expect(audit.rows.map((r) => r.kind)).toEqual(['model.promoted', 'model.promotion_refused']);
      await expect(t.db.query(`UPDATE model_promotions SET reason = 'x'`)).rejects.toThrow(/append-only/);
    } finally {
      job.stop();
    }
  });
});
