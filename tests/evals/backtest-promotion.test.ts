/**
 * The backtest's walk-forward retraining under the promotion rule of `quorum train` (settings
 * retrain.promotion, ml/promotion decidePromotion): a rule that refuses every candidate keeps the
 * first model trading to the end; a rule that allows every candidate trades exactly what `always`
 * trades; with settings.training's search the candidates differ from the incumbent's recipe and each
 * decision is the rule applied to the recorded metric values. The decisions are in the backtest's own
 * database, actor `backtest`.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig, type Config } from '../../config/index.ts';
import { runBacktest, type BacktestRun, type BacktestSettings } from '../../evals/backtest/engine.ts';
import { loadBundledPrices } from '../../evals/backtest/data.ts';
import { renderHtmlReport, renderMarkdownSummary } from '../../evals/backtest/report.ts';
import { computeMetrics } from '../../evals/backtest/metrics.ts';
import { freshPglite, freshPostgres, hasPg, type TestDb } from '../support/db.ts';
import { ruleAllows } from '../../ml/index.ts';

const base = loadConfig({ env: { QUORUM_SETTINGS__LOGGING__LEVEL: 'silent' } });
const TICKERS = ['GE', 'KO'];
const FROM = '1995-01-03';
const TO = '1995-01-24';
const SETTINGS: Partial<BacktestSettings> = { retrainEveryDays: 5, proposalsPerDay: 2 };
const data = loadBundledPrices(TICKERS);

/** The base config with a promotion rule and, unless `search`, settings.training's fixed values (no search, no early stopping). */
function withRule(maxWorsening: number, search = false): Config {
  const s = base.settings;
  return {
    ...base,
    settings: {
      ...s,
      retrain: { ...s.retrain, promotion: { metric: 'logLoss', maxWorsening } },
      // The search: two grid points, each with early stopping.
      training: search
        ? { ...s.training, search: { ...s.training.search, candidates: 2 } }
        : { ...s.training, search: { ...s.training.search, candidates: 0 }, earlyStoppingRounds: null },
    },
  };
}

const trades = (run: BacktestRun) => run.result.strategies.find((s) => s.name === 'proposer')?.trades;

let always: BacktestRun;
let allowAll: BacktestRun;
let refuseAll: BacktestRun;
let searched: BacktestRun;
let store: TestDb;

beforeAll(async () => {
  // PostgreSQL when there is one (a PGlite migration costs seconds of CPU).
  store = hasPg ? await freshPostgres() : await freshPglite();
  const { db } = store;
  always = await runBacktest({ config: withRule(0), data, from: FROM, to: TO, critic: 'none', settings: SETTINGS });
  allowAll = await runBacktest({ config: withRule(1), data, from: FROM, to: TO, critic: 'none', settings: { ...SETTINGS, promotion: 'rule' } });
  refuseAll = await runBacktest({ config: withRule(-1), data, from: FROM, to: TO, critic: 'none', settings: { ...SETTINGS, promotion: 'rule' } });
  // A database given to the backtest holds the decisions (actor backtest).
  searched = await runBacktest({ config: withRule(0, true), data, from: FROM, to: TO, critic: 'none', db, settings: { ...SETTINGS, promotion: 'rule' } });
}, 240_000);

describe('backtest --promotion rule', () => {
  it('always (the default) replaces the model on every retrain day and records no decisions', () => {
    expect(always.result.params.promotion).toBe('always');
    expect(always.result.promotions).toBeUndefined();
    expect(always.models.length).toBe(3);
  });

  it('a rule that allows everything trades exactly what always trades, each retrain promoted', () => {
    const decisions = allowAll.result.promotions ?? [];
    expect(decisions.map((d) => d.decision)).toEqual(['promoted', 'promoted', 'promoted']);
    expect(decisions.map((d) => d.date)).toEqual(always.models.map((m) => m.usedFrom));
    expect(decisions[0]?.incumbent).toBeNull();
    expect(decisions[0]?.reason).toBe('no production version of backtest-walk-forward');
    // Each later candidate was compared with the model it replaced, on its latest fold.
    for (const [k, d] of decisions.entries()) {
      if (k === 0) continue;
      expect(d.incumbent?.modelId).toBe(always.models[k - 1]?.modelId);
      expect(d.candidateValue).toEqual(expect.any(Number));
      expect(d.incumbentValue).toEqual(expect.any(Number));
    }
    expect(allowAll.result.models).toEqual(always.result.models);
    expect(trades(allowAll)).toEqual(trades(always));
    expect(allowAll.decisions.map((d) => d.orders)).toEqual(always.decisions.map((d) => d.orders));
  });

  it('a rule that refuses everything keeps the first model trading to the end', () => {
    const decisions = refuseAll.result.promotions ?? [];
    expect(decisions.map((d) => d.decision)).toEqual(['promoted', 'refused', 'refused']);
    for (const d of decisions.slice(1)) {
      expect(d.reason).toMatch(/^worse by the rule \(logLoss /);
      expect(d.incumbent?.modelId).toBe(always.models[0]?.modelId);
    }
    expect(refuseAll.result.models).toEqual([{ ...always.result.models[0], usedTo: TO }]);
    const first = always.models[0]?.modelId;
    expect(new Set(refuseAll.decisions.filter((d) => d.date > FROM).map((d) => d.modelId))).toEqual(new Set([first]));
    // The candidates were trained (their days differ from the first model's), never traded.
    expect(decisions.slice(1).map((d) => d.candidate.modelId)).toEqual(always.models.slice(1).map((m) => m.modelId));
  });

  it("with settings.training's search each decision is the rule on the recorded values, stored as actor backtest in the backtest's database", async () => {
    const rule = withRule(0, true).settings.retrain.promotion;
    const decisions = searched.result.promotions ?? [];
    expect(decisions).toHaveLength(3);
    for (const d of decisions.slice(1)) {
      expect(d.decision).toBe(ruleAllows(rule, d.candidateValue ?? Number.NaN, d.incumbentValue ?? Number.NaN) ? 'promoted' : 'refused');
    }
    // The models that traded are the promoted candidates, one after the other, covering every day.
    const promoted = decisions.filter((d) => d.decision === 'promoted').map((d) => d.candidate.modelId);
    expect(searched.result.models.map((m) => m.modelId)).toEqual(promoted);
    expect(searched.result.models[0]?.usedFrom).toBe(FROM);
    expect(searched.result.models.at(-1)?.usedTo).toBe(TO);
    const { db } = store;
    const stored = await db.query<{ decision: string; actor: string; who: string }>(
      `SELECT decision, actor, who FROM model_promotions WHERE model_id = 'backtest-walk-forward' ORDER BY id`,
    );
    expect(stored.rows).toEqual(decisions.map((d) => ({ decision: d.decision, actor: 'backtest', who: 'backtest' })));
    const audited = await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_events WHERE kind IN ('model.promoted', 'model.promotion_refused')`);
    expect(audited.rows[0]?.n).toBe(3);

    const metrics = computeMetrics(searched.result, { resamples: 20, seed: 1 });
    const md = renderMarkdownSummary(searched.result, metrics);
    expect(md).toContain('Retrain decisions (promotion rule):');
    for (const d of decisions) expect(md).toContain(`| ${d.date} | ${d.candidate.modelId} (${d.candidate.version}) |`);
    expect(md).toContain('Models (which model traded each day):');
    const html = renderHtmlReport(searched.result, metrics);
    expect(html).toContain('<table id="promotions">');
    await store.cleanup();
  });
});
