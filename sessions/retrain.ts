/**
 * The scheduled retrain (settings retrain.cron): `quorum train` of the proposer's model into the data
 * dir, staging, then the promotion rule (ml/retrain.ts). The scheduler of `quorum session schedule`
 * and `quorum run` fires it; it is a croner job, so a test can fire it with `trigger()`.
 */
import path from 'node:path';
import { Cron } from 'croner';
import { PROJECT_ROOT, type Config, type Logger } from '../config/index.ts';
import { errorMessage } from '../contracts/errors.ts';
import type { Db } from '../db/index.ts';
import { readModelCard, retrain, type RetrainResult } from '../ml/index.ts';

/** The model id retrained: retrain.modelId, else the model id of models.yaml proposer.cardPath. */
export function retrainModelId(config: Config): string {
  return config.settings.retrain.modelId ?? readModelCard(path.resolve(PROJECT_ROOT, config.models.proposer.cardPath)).modelId;
}

/** One scheduled retrain: trains `<dataDir>/models/<id>/<version>/`, stages it and lets the rule decide. */
export async function runScheduledRetrain(db: Db, config: Config, log: Logger): Promise<RetrainResult> {
  const s = config.settings;
  const modelId = retrainModelId(config);
  log.info({ modelId }, 'scheduled retrain started');
  const result = await retrain(db, {
    training: s.training,
    promotion: s.retrain.promotion,
    modelId,
    outDir: path.join(config.dataDir, 'models', modelId),
    features: s.retrain.features,
    actor: 'schedule',
    reproduce: `scheduled retrain (settings retrain.cron ${s.retrain.cron ?? 'null'})`,
  });
  log.info(
    { modelId, version: result.trained.card.version, decision: result.decision?.decision, reason: result.decision?.reason },
    'scheduled retrain finished',
  );
  return result;
}

/**
 * The retrain job at retrain.cron in market.timezone (null when no cron is set). One at a time
 * (`protect`); a failure is logged and the job waits for its next firing.
 */
export function scheduleRetrain(db: Db, config: Config, log: Logger): Cron | null {
  const cron = config.settings.retrain.cron;
  if (!cron) return null;
  return new Cron(cron, { timezone: config.settings.market.timezone, protect: true }, async () => {
    try {
      await runScheduledRetrain(db, config, log);
    } catch (error) {
      log.error({ err: errorMessage(error) }, 'scheduled retrain failed');
    }
  });
}
