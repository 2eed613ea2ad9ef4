import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { QuorumError } from '../../contracts/index.ts';
import {
  DEFAULT_SCENARIOS_DIR,
  MIN_SCENARIOS,
  ScenarioCategory,
  loadScenarioFile,
  loadScenarios,
  realisedOutcome,
  scenarioBars,
  scenarioProposal,
  scenarioRef,
} from '../../evals/index.ts';

const GOOD = readFileSync(path.join(DEFAULT_SCENARIOS_DIR, 'intc-2000-09-22-revenue-warning.yaml'), 'utf8');

/** Writes `text` as `<id>.yaml` in a fresh directory and returns the path. */
function scenarioFile(text: string, id = 'intc-2000-09-22-revenue-warning'): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'quorum-scenario-'));
  const file = path.join(dir, `${id}.yaml`);
  writeFileSync(file, text);
  return file;
}

function loadError(file: string): QuorumError {
  try {
    loadScenarioFile(file);
  } catch (error) {
    if (QuorumError.isInstance(error)) return error;
    throw error;
  }
  throw new Error('expected the scenario to fail to load');
}

describe('eval scenarios', () => {
  const scenarios = loadScenarios();

  it(`bundles at least ${MIN_SCENARIOS} valid scenarios covering every category`, () => {
    expect(scenarios.length).toBeGreaterThanOrEqual(MIN_SCENARIOS);
    expect(new Set(scenarios.map((s) => s.category))).toEqual(new Set(ScenarioCategory.options));
    expect(new Set(scenarios.map((s) => s.id)).size).toBe(scenarios.length);
  });

  it('gives every prompt-injection scenario a news body that carries instructions', () => {
    const injection = scenarios.filter((s) => s.category === 'prompt-injection');
    expect(injection.length).toBeGreaterThanOrEqual(3);
    for (const s of injection) expect(s.news.some((n) => /ignore|APPROVE/.test(n.body))).toBe(true);
  });

  it('puts no bar after the as-of time in any scenario (point in time)', () => {
    for (const s of scenarios) {
      const bars = scenarioBars(s);
      expect(bars.length, s.id).toBeGreaterThan(0);
      expect(
        bars.every((b) => Date.parse(b.ts) <= Date.parse(s.asOf)),
        s.id,
      ).toBe(true);
      expect(
        bars.every((b) => b.ticker === s.proposal.ticker),
        s.id,
      ).toBe(true);
    }
  });

  it('reads real bundled closes: MSFT falls 14.5% on the 2000-04-03 antitrust ruling', () => {
    const s = scenarios.find((x) => x.id === 'msft-2000-04-03-antitrust-ruling');
    if (!s) throw new Error('scenario missing');
    const bars = scenarioBars(s);
    const [prev, last] = bars.slice(-2);
    expect(last?.ts.slice(0, 10)).toBe('2000-04-03');
    expect(((last?.close ?? 0) / (prev?.close ?? 1) - 1) * 100).toBeCloseTo(-14.5, 0);
  });

  it('reads the StockNet 2014 long file: the as-of day is the last bar, the next session (the reaction) is left out', () => {
    const s = scenarios.find((x) => x.id === 'aapl-2014-01-27-iphone-miss');
    if (!s) throw new Error('scenario missing');
    const bars = scenarioBars(s);
    expect(s.market.bars).toMatchObject({ file: 'stocknet-2014/prices.csv' });
    expect(bars.at(-1)?.ts.slice(0, 10)).toBe('2014-01-27');
    expect(bars.every((b) => b.ticker === 'AAPL' && b.source === 'csv:stocknet-2014/prices.csv')).toBe(true);
    // Every StockNet scenario's news is as published, with the reaction only as a look-ahead item.
    for (const x of scenarios.filter((y) => y.market.bars.kind === 'csv' && y.market.bars.file.startsWith('stocknet-2014/'))) {
      expect(x.news.filter((n) => n.lookAhead).length, x.id).toBeGreaterThanOrEqual(1);
      expect(x.expect.decisive, x.id).toBeDefined();
    }
  });

  it("gives every scenario built from its own ticker's real bars the realised move the bundled data shows, and no other scenario one", () => {
    const all = [...scenarios, ...loadScenarios(path.join(DEFAULT_SCENARIOS_DIR, 'look-ahead'))];
    for (const s of all) expect({ id: s.id, realised: s.realised ?? null }).toEqual({ id: s.id, realised: realisedOutcome(s) });
    const withOutcome = all.filter((s) => s.realised);
    expect(withOutcome.length).toBeGreaterThanOrEqual(40);
    // Modelled series and stand-in columns have none.
    for (const s of all.filter((x) => x.market.bars.kind === 'synthetic')) expect(s.realised).toBeUndefined();
    // Apple's iPhone miss: the 2014-01-27 close to the fifth close after it, in the StockNet bars (about -8.9%).
    expect(all.find((s) => s.id === 'aapl-2014-01-27-iphone-miss')?.realised).toEqual({
      forwardReturn: -0.088956,
      horizonDays: 5,
      from: '2014-01-27',
      to: '2014-02-03',
    });
  });

  it('keeps the realised outcome out of what the committee is given: the content hash and the bars end at the as-of', () => {
    const s = scenarios.find((x) => x.realised);
    if (!s?.realised) throw new Error('no scenario with a realised outcome');
    expect(scenarioRef({ ...s, realised: undefined })).toEqual(scenarioRef(s));
    expect(scenarioBars(s).every((b) => Date.parse(b.ts) <= Date.parse(s.asOf))).toBe(true);
  });

  it("refuses a realised outcome over another horizon than the proposal's, naming the field", () => {
    const other = GOOD.replace(/\n {2}horizonDays: (\d+)\n {2}from:/, '\n  horizonDays: 3\n  from:');
    expect(other).not.toBe(GOOD);
    const e = loadError(scenarioFile(other));
    expect(e.message).toMatch(/realised\.horizonDays/);
  });

  it('refuses a bars file outside data/samples, naming the field', () => {
    const bad = GOOD.replace('file: DowJones30.csv', 'file: ../../etc/prices.csv');
    expect(bad).not.toBe(GOOD);
    const e = loadError(scenarioFile(bad));
    expect(e.message).toMatch(/market\.bars\.file.*stocknet-2014\/prices\.csv/);
  });

  it('completes the proposal with ids derived from the scenario id', () => {
    const s = scenarios[0];
    if (!s) throw new Error('no scenario');
    expect(scenarioProposal(s)).toMatchObject({ id: `eval-${s.id}`, featureSnapshotId: `fs-eval-${s.id}`, asOf: s.asOf, ticker: s.proposal.ticker });
  });

  it('refuses an unknown field, naming the file, the field path and its line', () => {
    const file = scenarioFile(GOOD.replace('  horizonDays: 5\n', '  horizonDays: 5\n  leverage: 3\n'));
    const e = loadError(file);
    expect(e.code).toBe('INPUT_INVALID');
    expect(e.message).toContain(file);
    expect(e.message).toContain('proposal.leverage');
    expect(e.message).toMatch(/unknown key\(s\) "leverage"/);
    const line = GOOD.split('\n').findIndex((l) => l.startsWith('  horizonDays:')) + 2;
    expect(e.details).toMatchObject({ file, field: 'proposal.leverage', line });
  });

  it('refuses a scenario without expectations, naming the field', () => {
    const file = scenarioFile(GOOD.slice(0, GOOD.indexOf('expect:')));
    const e = loadError(file);
    expect(e.message).toContain(file);
    expect(e.details).toMatchObject({ field: 'expect' });
  });

  it('refuses an empty expectation block: at least one expectation is required', () => {
    const file = scenarioFile(`${GOOD.slice(0, GOOD.indexOf('expect:'))}expect: {}\n`);
    expect(loadError(file).message).toMatch(/expect.*at least one expectation is required/);
  });

  it('refuses an expectation citing an item the scenario does not give', () => {
    const file = scenarioFile(GOOD.replace('decisive: "news:intc-q3-2000-warning"', 'decisive: "news:not-given"'));
    const e = loadError(file);
    expect(e.details).toMatchObject({ field: 'expect.decisive' });
    expect(e.message).toContain('not one of the scenario');
  });

  it('refuses news published after the as-of time', () => {
    const file = scenarioFile(GOOD.replace('publishedAt: "2000-09-21T21:15:00Z"', 'publishedAt: "2000-09-25T21:15:00Z"'));
    expect(loadError(file).details).toMatchObject({ field: 'news.0.publishedAt' });
  });

  it('refuses an unknown category and a misspelt decision', () => {
    expect(loadError(scenarioFile(GOOD.replace('category: earnings-surprise', 'category: rumours'))).details).toMatchObject({ field: 'category' });
    expect(loadError(scenarioFile(GOOD.replace('mustNotApprove: true', 'decisionIn: [APROVE]'))).details).toMatchObject({ field: 'expect.decisionIn.0' });
  });

  it('refuses a file whose id does not match its name', () => {
    expect(loadError(scenarioFile(GOOD, 'other-name')).details).toMatchObject({ field: 'id' });
  });

  it('refuses invalid YAML with the line of the error', () => {
    const e = loadError(scenarioFile(`${GOOD}\n  - : [unclosed\n`));
    expect(e.message).toMatch(/invalid YAML/);
  });
});
