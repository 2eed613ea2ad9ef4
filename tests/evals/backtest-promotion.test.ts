/**
 * The backtest's walk-forward retraining under the promotion rule of `quorum train` (settings
 * retrain.promotion, ml/promotion judgePromotion): a rule that refuses every candidate keeps the
 * first model trading to the end; a rule that allows every candidate trades exactly what `always`
 * trades (settings.training's search and early stopping off, so the candidates are the `always`
 * models; tests/cli/doors.test.ts runs the search, where each decision is the rule on its values). The
 * decisions are also in the database given to the backtest, actor `backtest`.
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
const TICKERS = ['KO'];
const FROM = '1995-01-03';
const TO = '1995-01-24';
const SETTINGS: Partial<BacktestSettings> = { retrainEveryDays: 5, proposalsPerDay: 2 };
const data = loadBundledPrices(TICKERS);

/** The base config with a promotion rule and settings.training's fixed values (no search, no early stopping): `rule` then trains what `always` trains. */
function withRule(maxWorsening: number): Config {
  const s = base.settings;
  return {
    ...base,
    settings: {
      ...s,
      retrain: { ...s.retrain, promotion: { metric: 'logLoss', maxWorsening } },
      training: { ...s.training, search: { ...s.training.search, candidates: 0 }, earlyStoppingRounds: null },
    },
  };
}

const trades = (run: BacktestRun) => run.result.strategies.find((s) => s.name === 'proposer')?.trades;

let always: BacktestRun;
let allowAll: BacktestRun;
let refuseAll: BacktestRun;
let store: TestDb;

beforeAll(async () => {
  // PostgreSQL when there is one (a PGlite migration costs seconds of CPU).
  store = hasPg ? await freshPostgres() : await freshPglite();
  const { db } = store;
  always = await runBacktest({ config: withRule(0), data, from: FROM, to: TO, critic: 'none', settings: SETTINGS });
  allowAll = await runBacktest({ config: withRule(1), data, from: FROM, to: TO, critic: 'none', settings: { ...SETTINGS, promotion: 'rule' } });
  // A database given to the backtest holds the decisions (actor backtest).
  refuseAll = await runBacktest({ config: withRule(-1), data, from: FROM, to: TO, critic: 'none', db, settings: { ...SETTINGS, promotion: 'rule' } });
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
    expect(trades(always)?.length).toBeGreaterThan(0);
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

  it("records each decision as actor backtest in the backtest's database, and the report lists the decisions and the models that traded", async () => {
    const decisions = refuseAll.result.promotions ?? [];
    const { db } = store;
    const stored = await db.query<{ decision: string; actor: string; who: string; candidate_version: string }>(
      `SELECT decision, actor, who, candidate_version FROM model_promotions WHERE model_id = 'backtest-walk-forward' ORDER BY id`,
    );
    expect(stored.rows).toEqual(decisions.map((d) => ({ decision: d.decision, actor: 'backtest', who: 'backtest', candidate_version: d.candidate.version })));
    const audited = await db.query<{ kind: string }>(`SELECT kind FROM audit_events WHERE kind IN ('model.promoted', 'model.promotion_refused') ORDER BY id`);
    expect(audited.rows.map((r) => r.kind)).toEqual(['model.promoted', 'model.promotion_refused', 'model.promotion_refused']);
    // The rule's own reading of the recorded values: worse by more than -1 in log loss.
    const rule = withRule(-1).settings.retrain.promotion;
    for (const d of decisions.slice(1)) expect(ruleAllows(rule, d.candidateValue ?? Number.NaN, d.incumbentValue ?? Number.NaN)).toBe(false);

    const metrics = computeMetrics(refuseAll.result, { resamples: 20, seed: 1 });
    const md = renderMarkdownSummary(refuseAll.result, metrics);
    expect(md).toContain('Retrain decisions (promotion rule):');
    for (const d of decisions) expect(md).toContain(`| ${d.date} | ${d.candidate.modelId} (${d.candidate.version}) |`);
    expect(md).toContain(
      `Models (which model traded each day):\n\n| model | trained through | used from | used to |\n|---|---|---|---|\n| ${always.models[0]?.modelId} |`,
    );
    const html = renderHtmlReport(refuseAll.result, metrics);
    expect(html).toContain('<table id="promotions">');
    await store.cleanup();
  });
});
