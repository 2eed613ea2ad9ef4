/**
 * What a sceptic asks of the eval: constant answers fail it, a REDUCE must reduce, every expectation
 * can fail, rates carry intervals, a baseline is compared only on the scenarios it shares with a run
 * and is never overwritten from a partial set, two reports diff scenario by scenario, and the
 * citation and text assertions (look-ahead items included) are scored.
 */
import { copyFileSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import {
  BEATS_CONSTANTS,
  CONSTANT_ANSWERS,
  DEFAULT_BASELINES_DIR,
  DEFAULT_SCENARIOS_DIR,
  assertionFailures,
  baselineFileName,
  compareReports,
  constantBaselines,
  constantRecord,
  costLine,
  costOf,
  decisionMeets,
  gateRun,
  loadScenarios,
  parseScenario,
  readBaseline,
  renderComparison,
  renderComparisonJunit,
  renderJunit,
  runEvals,
  runSuite,
  scenarioRef,
  scoreReport,
  wilsonInterval,
  type Baseline,
  type EvalResult,
  type RunRecord,
  type Scenario,
} from '../../evals/index.ts';
import { createUseLiteEmbedder } from '../../rag/index.ts';
import { freshPglite, type TestDb } from '../support/db.ts';

const config = loadConfig({ env: {} });
const scenarios = loadScenarios();
const committedFile = path.join(DEFAULT_BASELINES_DIR, baselineFileName('rules', 'rules-baseline.v1'));
const committed = readBaseline(committedFile) as Baseline;
const get = (id: string): Scenario => scenarios.find((s) => s.id === id) as Scenario;

/** One migrated PGlite for the runs of this file (each run restages its scenario). */
let t: TestDb;
beforeAll(async () => {
  t = await freshPglite();
});
afterAll(async () => {
  await t?.cleanup();
});

/** An eval result made of the given runs over `set` (as runEvals would report it). */
function resultOf(set: readonly Scenario[], runs: RunRecord[], fields: Partial<EvalResult> = {}): EvalResult {
  return {
    backend: 'rules',
    model: 'rules-baseline.v1',
    seeds: [0],
    scenarios: set.length,
    scenarioSet: set.map(scenarioRef),
    newsAblated: false,
    promptVersions: committed.promptVersions,
    startedAt: '2026-01-01T00:00:00.000Z',
    finishedAt: '2026-01-01T00:00:01.000Z',
    runs,
    metrics: scoreReport(set, runs),
    scorecards: null,
    ...fields,
  };
}

describe('constant answers', () => {
  it('each fails the committed rules gate, on its agreement and on not beating the constant answers', () => {
    const constants = constantBaselines(scenarios);
    expect(constants.map((c) => c.label)).toEqual(CONSTANT_ANSWERS.map((c) => c.label));
    for (const c of CONSTANT_ANSWERS) {
      const g = gateRun(
        committed,
        resultOf(
          scenarios,
          scenarios.map((s) => constantRecord(s, c)),
        ),
        scenarios,
      );
      expect(g.ok, c.label).toBe(false);
      expect(
        g.failures.some((f) => f.startsWith('decisionAgreement:')),
        c.label,
      ).toBe(true);
      expect(
        g.failures.some((f) => f.startsWith(BEATS_CONSTANTS)),
        c.label,
      ).toBe(true);
    }
    // The best constant answer stays well below the rules baseline's recorded agreement.
    const best = Math.max(...constants.map((c) => c.metrics.decisionAgreement ?? 0));
    expect(best).toBeLessThan(0.8);
    expect(committed.metrics.overall.decisionAgreement).toBeGreaterThan((wilsonInterval(Math.round(best * 42), 42)?.high ?? 1) + 0.02);
  });

  it('a REDUCE that reduces nothing is not a REDUCE, and a clean trend cut to half fails', () => {
    const e = get('spy-2013-05-15-clean-uptrend').expect;
    expect(decisionMeets(e, 'APPROVE', 1)).toBe(true);
    expect(decisionMeets(e, 'REDUCE', 1)).toBe(false);
    expect(decisionMeets(e, 'REDUCE', 0.75)).toBe(true);
    expect(decisionMeets(e, 'REDUCE', 0.5)).toBe(false);
    expect(decisionMeets(e, 'REJECT', 0)).toBe(false);
  });

  it('every bundled expectation fails at least one constant answer (a constant answer cites nothing)', () => {
    for (const s of scenarios) {
      const failed = CONSTANT_ANSWERS.filter((c) => {
        const r = constantRecord(s, c);
        return !decisionMeets(s.expect, r.decision, r.sizeMultiplier) || s.expect.decisive !== undefined || s.expect.mustCite !== undefined;
      });
      expect(failed.length, s.id).toBeGreaterThan(0);
    }
  });

  it('refuses, naming the field, an expectation no constant answer can fail', () => {
    const text = readFileSync(path.join('evals', 'scenarios', 'ko-1999-01-25-stale-good-news.yaml'), 'utf8').replace(
      /^expect:[\s\S]*$/m,
      'expect:\n  decisionIn: [APPROVE, REDUCE, REJECT, ABSTAIN]\n  reduceMaxSize: 1\n',
    );
    expect(() => parseScenario(text, 'x.yaml')).toThrow(/expect.*every constant answer .* meets this expectation: it cannot fail/);
  });
});

describe('Wilson intervals', () => {
  it('match the textbook values and bound the rates of a report', () => {
    const ci = wilsonInterval(35, 42);
    expect(ci?.low).toBeCloseTo(0.6936, 3);
    expect(ci?.high).toBeCloseTo(0.9166, 3);
    expect(wilsonInterval(0, 0)).toBeNull();
    expect(wilsonInterval(10, 10)?.high).toBeCloseTo(1, 9);
  });

  it('a tolerance stated as wilson95 fails a drop beyond the interval, not within it', () => {
    const set = scenarios;
    const base = resultOf(
      set,
      set.map((s) => constantRecord(s, { decision: 'REJECT', sizeMultiplier: 0 })),
    );
    const b: Baseline = {
      ...committed,
      scenarioSet: base.scenarioSet,
      runs: base.runs,
      metrics: base.metrics,
      tolerances: { decisionAgreement: { direction: 'higher', interval: 'wilson95' } },
    };
    const n = base.metrics.overall.samples.decisionAgreement as number;
    const hits = Math.round((base.metrics.overall.decisionAgreement as number) * n);
    const low = wilsonInterval(hits, n)?.low as number;
    const g = gateRun(b, base, set);
    const check = g.checks.find((c) => c.metric === 'decisionAgreement' && !c.detail.startsWith(BEATS_CONSTANTS));
    expect(check?.limit).toBeCloseTo(low, 9);
    expect(check?.ok).toBe(true);
    // Always APPROVE agrees far less: beyond the interval.
    const worse = resultOf(
      set,
      set.map((s) => constantRecord(s, { decision: 'APPROVE', sizeMultiplier: 1 })),
    );
    expect(gateRun(b, worse, set).failures.some((f) => f.startsWith('decisionAgreement:'))).toBe(true);
  });
});

describe('the gate on another scenario set', () => {
  const runsOf = (set: readonly Scenario[]): RunRecord[] =>
    set.map((s) => committed.runs.find((r) => r.scenarioId === s.id && r.seed === committed.seeds[0]) as RunRecord);

  it('the committed baseline records the full scenario set, its prompt versions and every run', () => {
    expect(committed.scenarioSet).toEqual(scenarios.map(scenarioRef));
    expect(committed.runs).toHaveLength(scenarios.length);
    expect(committed.newsAblated?.decisionAgreement).toBeTypeOf('number');
    expect(Object.keys(committed.promptVersions)).toEqual(['analyst', 'bull', 'bear', 'risk', 'committee', 'tool-request']);
  });

  it('compares a partial run only on the common scenarios and says so', () => {
    const part = scenarios.filter((s) => s.category === 'clean-trend' || s.category === 'fraud-or-halt');
    const r = resultOf(part, runsOf(part));
    const g = gateRun(committed, r, part);
    expect(g.compared).toBe(part.length);
    expect(g.notes.join('\n')).toContain(`compared on the ${part.length} common scenarios only; ${scenarios.length - part.length} only in the baseline`);
    // Rescored on the same scenarios, the baseline's own runs pass: nothing silently compared with the 42.
    const agreement = g.checks.find((c) => c.metric === 'decisionAgreement');
    expect(agreement?.baseline).toBe(r.metrics.overall.decisionAgreement);
    expect(g.failures.filter((f) => !f.startsWith(BEATS_CONSTANTS))).toEqual([]);
  });

  it('leaves out a scenario whose content changed, and fails with nothing in common', () => {
    const s = get('spy-2013-05-15-clean-uptrend');
    const changed = { ...s, description: `${s.description} (edited)` };
    const set = [changed, get('wmt-1998-12-15-uptrend')];
    const g = gateRun(committed, resultOf(set, runsOf([s, get('wmt-1998-12-15-uptrend')])), set);
    expect(g.compared).toBe(1);
    expect(g.notes[0]).toContain('1 changed since the baseline (spy-2013-05-15-clean-uptrend)');
    const none = gateRun(committed, resultOf([changed], runsOf([s])), [changed]);
    expect(none.ok).toBe(false);
    expect(none.failures[0]).toBe('scenarioSet: no scenario in common with the baseline (same id and content)');
  });

  it('notes prompt versions that differ from the baseline', () => {
    const r = resultOf(scenarios, runsOf(scenarios), { promptVersions: { ...committed.promptVersions, committee: 'ffffffffffff' } });
    expect(gateRun(committed, r, scenarios).notes).toEqual([
      `prompt versions differ from the baseline's: committee ${committed.promptVersions.committee} -> ffffffffffff`,
    ]);
  });
});

describe('runs on PGlite', () => {
  it('--update-baseline refuses to overwrite the full baseline from a partial set, and the file is unchanged', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'quorum-floors-'));
    const file = path.join(dir, path.basename(committedFile));
    copyFileSync(committedFile, file);
    const before = readFileSync(file, 'utf8');
    await expect(
      runSuite({
        db: t.db,
        config,
        scenarios: scenarios.slice(0, 2),
        backendFor: () => 'rules',
        baselinesDir: dir,
        updateBaseline: true,
        reportsDataDir: null,
      }),
    ).rejects.toThrow(/refusing to overwrite .* from a partial scenario set: 44 of its 46 scenarios are not in this run/);
    expect(readFileSync(file, 'utf8')).toBe(before);
  });

  it('a news-ablated run cites no news; the same scenarios with news cite the decisive items', async () => {
    const set = [get('msft-2000-04-03-antitrust-ruling'), get('cd-1998-04-16-accounting-irregularities')];
    const withNews = await runEvals({ db: t.db, config, scenarios: set, backendFor: () => 'rules' });
    const ablated = await runEvals({ db: t.db, config, scenarios: set, backendFor: () => 'rules', ablateNews: true });
    expect(ablated.newsAblated).toBe(true);
    expect(withNews.metrics.overall.decisiveCited).toBe(1);
    expect(ablated.metrics.overall.decisiveCited).toBe(0);
    expect(ablated.runs.every((r) => r.retrievedNews.length === 0 && r.verdictCitations.every((c) => !c.startsWith('news:')))).toBe(true);
    expect(withNews.runs.every((r) => r.retrievedNews.length > 0)).toBe(true);

    // --compare: the two runs side by side, the lost citations a regression in the JUnit XML.
    const cmp = compareReports(withNews, ablated, set);
    expect(cmp.common).toBe(2);
    expect(cmp.okA).toBe(2);
    expect(cmp.regressed).toBe(2);
    expect(cmp.rows.every((r) => r.changes.includes('citations'))).toBe(true);
    const md = renderComparison(cmp, 'with news', 'without news');
    expect(md).toContain('| msft-2000-04-03-antitrust-ruling | 42 | REJECT 0.00 ok | ');
    const junit = renderComparisonJunit(cmp);
    expect(junit).toMatch(/<testsuite name="eval comparison" tests="2" failures="2">/);
    expect(junit).toContain('<failure message="regressed: A REJECT 0.00 ok, B ');
    expect(renderJunit(ablated, set, null)).toMatch(/tests="2" failures="2"/);
  });
});

describe('citation and text assertions', () => {
  const base = get('msft-2000-04-03-antitrust-ruling');
  const scenario: Scenario = {
    ...base,
    news: [...base.news, { ...(base.news[0] as Scenario['news'][number]), id: 'news:msft-future', publishedAt: '2000-06-07T20:00:00Z', lookAhead: true }],
    expect: { ...base.expect, reasonsContain: ['antitrust'], reasonsNotContain: ['guaranteed'] },
  };
  const record = (fields: Partial<RunRecord>): RunRecord => ({ ...constantRecord(scenario, { decision: 'REJECT', sizeMultiplier: 0 }), ...fields });

  it('a look-ahead item retrieved or cited fails, as do missing and forbidden texts', () => {
    expect(assertionFailures(scenario, record({ verdictText: 'The antitrust ruling weighs on the stock.' }))).toEqual([]);
    expect(assertionFailures(scenario, record({ verdictText: 'antitrust', retrievedNews: ['news:msft-future'] }))).toEqual(['retrieved news:msft-future']);
    expect(assertionFailures(scenario, record({ verdictText: 'antitrust', opinionCitations: ['news:msft-future'] }))).toEqual(['cited news:msft-future']);
    expect(assertionFailures(scenario, record({ verdictText: 'A guaranteed win.' }))).toEqual(['reasons lack "antitrust"', 'reasons contain "guaranteed"']);
  });

  it('the loader needs lookAhead on an item after asOf, and refuses a look-ahead item in mustCite', () => {
    const text = readFileSync(path.join('evals', 'scenarios', 'msft-2000-04-03-antitrust-ruling.yaml'), 'utf8');
    const future = text.replace(/publishedAt: "2000-04-03T[^"]*"/, 'publishedAt: "2000-06-07T20:00:00Z"');
    expect(future).not.toBe(text);
    expect(() => parseScenario(future, 'x.yaml')).toThrow(/news\.\d+\.publishedAt.*mark it lookAhead: true/);
  });
});

describe('a look-ahead scenario through the real news store and point-in-time search', () => {
  const [lookAhead] = loadScenarios(path.join(DEFAULT_SCENARIOS_DIR, 'look-ahead'));
  const embedder = createUseLiteEmbedder();

  it('retrieves the ruling and never the later breakup order; a search that leaks the future fails the assertion', async () => {
    const s = lookAhead as Scenario;
    expect(s.news.filter((n) => n.lookAhead).map((n) => n.id)).toEqual(['news:msft-breakup-order']);
    const ok = await runEvals({ db: t.db, config, scenarios: [s], backendFor: () => 'rules', newsStore: { embedder } });
    // Both items are in the store, stored by rag's storeNews (ids of its own, tickers tagged).
    const stored = await t.db.query("SELECT guid FROM news_items WHERE metadata->>'eval' = $1 ORDER BY guid", [s.id]);
    expect(stored.rows.map((r) => (r as { guid: string }).guid)).toEqual(['news:msft-antitrust-ruling', 'news:msft-breakup-order']);
    const [run] = ok.runs;
    expect(run?.retrievedNews).toContain('news:msft-antitrust-ruling');
    expect(run?.retrievedNews).not.toContain('news:msft-breakup-order');
    expect(run?.verdictCitations).toContain('news:msft-antitrust-ruling');
    expect(ok.metrics.overall).toMatchObject({ assertionsMet: 1, decisiveCited: 1, citationValidity: 1, decisionAgreement: 1 });

    // The fault: a search whose as-of is moved past the order (what a look-ahead bug does).
    const leaky = await runEvals({
      db: t.db,
      config,
      scenarios: [s],
      backendFor: () => 'rules',
      newsStore: { embedder },
      wrapSearch: (search) => (query) => search({ ...query, asOf: '2000-12-31T00:00:00Z' }),
    });
    expect(leaky.runs[0]?.retrievedNews).toContain('news:msft-breakup-order');
    expect(leaky.metrics.overall.assertionsMet).toBe(0);
  });
});

describe('the StockNet 2014 scenarios through the real news store and point-in-time search', () => {
  const stocknet = scenarios.filter((s) => s.market.bars.kind === 'csv' && s.market.bars.file.startsWith('stocknet-2014/'));
  const embedder = createUseLiteEmbedder();

  it("store every tweet, retrieve those published by the evening of the report and never the next session's; a leaky search fails", async () => {
    expect(stocknet.map((s) => s.id)).toEqual([
      'aapl-2014-01-27-iphone-miss',
      'amzn-2014-07-24-wider-loss',
      'fb-2014-01-29-q4-beat',
      'intc-2014-06-12-raises-guidance',
    ]);
    const ok = await runEvals({ db: t.db, config, scenarios: stocknet, backendFor: () => 'rules', newsStore: { embedder } });
    for (const [i, s] of stocknet.entries()) {
      const run = ok.runs[i];
      const later = s.news.filter((n) => n.lookAhead).map((n) => n.id);
      expect(later.length, s.id).toBeGreaterThan(0);
      for (const id of later) {
        expect(run?.retrievedNews, s.id).not.toContain(id);
        expect(run?.verdictCitations, s.id).not.toContain(id);
      }
      expect(run?.retrievedNews, s.id).toContain(s.expect.decisive);
    }
    expect(ok.metrics.overall.assertionsMet).toBe(1);
    expect(ok.metrics.overall.citationValidity).toBe(1);
    // The fault: every search as of the end of 2014 (a look-ahead bug) returns the next session's tweets.
    const leaky = await runEvals({
      db: t.db,
      config,
      scenarios: stocknet,
      backendFor: () => 'rules',
      newsStore: { embedder },
      wrapSearch: (search) => (query) => search({ ...query, asOf: '2014-12-31T00:00:00Z' }),
    });
    expect(leaky.runs.filter((r, i) => stocknet[i]?.news.some((n) => n.lookAhead && r.retrievedNews.includes(n.id))).length).toBeGreaterThan(0);
    expect(leaky.metrics.overall.assertionsMet).toBeLessThan(1);
  });
});

describe('cost', () => {
  const set = scenarios.slice(0, 2);
  const runs = set.map((s) => ({ ...constantRecord(s, { decision: 'REJECT', sizeMultiplier: 0 }), promptTokens: 5000, completionTokens: 400, latencyMs: 900 }));

  it('prices the tokens from models.yaml pricing, and a local model at zero with its latency', () => {
    const hosted = resultOf(set, runs, { backend: 'ollama', model: 'hosted-x' });
    const priced = loadConfig({ env: {} }).models;
    expect(priced.pricing).toEqual({});
    const cost = costOf(hosted, { 'hosted-x': { promptPerMTokUsd: 0.15, completionPerMTokUsd: 0.6 } });
    // 5000 x 0.15 / 1e6 + 400 x 0.6 / 1e6 = 0.00099 a run.
    expect(cost.usdPerRun).toBeCloseTo(0.00099, 10);
    expect(cost.usdTotal).toBeCloseTo(0.00198, 10);
    expect(costLine(hosted, cost)).toBe('Cost: $0.0010 a run, $0.00 in all (hosted-x: $0.15/M prompt, $0.6/M completion tokens, models.yaml pricing).');
    const local = costOf(hosted, {});
    expect(local.usdTotal).toBe(0);
    expect(costLine(hosted, local)).toBe('Cost: $0 (hosted-x is local: not in models.yaml pricing); latency p50 900 ms, p95 900 ms a run.');
  });
});
