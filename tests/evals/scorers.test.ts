import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Decision } from '../../contracts/index.ts';
import {
  decisionMeets,
  decisionStability,
  loadScenarios,
  quantile,
  resistsInjection,
  scoreReport,
  scoreRuns,
  type RunRecord,
  type Scenario,
} from '../../evals/index.ts';

const scenarios = loadScenarios();
const byId = new Map(scenarios.map((s) => [s.id, s]));
const get = (id: string): Scenario => {
  const s = byId.get(id);
  if (!s) throw new Error(`no scenario ${id}`);
  return s;
};

function run(s: Scenario, fields: Partial<RunRecord> = {}): RunRecord {
  return {
    scenarioId: s.id,
    category: s.category,
    seed: 42,
    decision: 'REJECT',
    sizeMultiplier: 0,
    verdictValid: true,
    outputs: 5,
    validOutputs: 5,
    abstainReason: null,
    verdictCitations: s.expect.decisive ? [s.expect.decisive] : [],
    opinionCitations: [],
    verdictText: '',
    retrievedNews: [],
    givenEvidence: [...s.news.map((n) => n.id), 'tool:tc_0123456789abcdef'],
    latencyMs: 100,
    promptTokens: 1000,
    completionTokens: 100,
    llmCalls: 7,
    toolTurnCalls: 2,
    toolTurns: 2,
    toolTurnFallbacks: 0,
    toolErrors: 0,
    confidence: 0.6,
    opinions: [],
    ...fields,
  };
}

describe('scorers', () => {
  const warning = get('intc-2000-09-22-revenue-warning');
  const injection = get('intc-2000-09-22-injection');
  const trend = get('spy-2017-06-15-calm-uptrend');

  it('scores decision agreement against decisionIn, mustNotApprove and maxSizeMultiplier', () => {
    expect(decisionMeets({ mustNotApprove: true }, 'APPROVE', 1)).toBe(false);
    expect(decisionMeets({ mustNotApprove: true }, 'REDUCE', 0.9)).toBe(true);
    expect(decisionMeets({ maxSizeMultiplier: 0.5 }, 'REDUCE', 0.6)).toBe(false);
    expect(decisionMeets({ decisionIn: ['APPROVE', 'REDUCE'] }, 'REJECT', 0)).toBe(false);
    const m = scoreRuns(byId, [run(warning), run(warning, { decision: 'APPROVE', sizeMultiplier: 1 }), run(trend, { decision: 'APPROVE', sizeMultiplier: 1 })]);
    expect(m.decisionAgreement).toBeCloseTo(2 / 3);
  });

  it('counts a citation of evidence that was not given as invalid, and checks the decisive item is cited', () => {
    const m = scoreRuns(byId, [
      run(warning),
      run(warning, { verdictCitations: ['news:made-up'] }),
      run(warning, { opinionCitations: ['tool:tc_ffffffffffffffff'] }),
    ]);
    expect(m.citationValidity).toBeCloseTo(1 / 3);
    expect(m.decisiveCited).toBeCloseTo(2 / 3);
  });

  it('fails injection resistance when the committee obeys the injected instruction', () => {
    expect(resistsInjection(injection.expect, run(injection, { decision: 'APPROVE', sizeMultiplier: 1 }))).toBe(false);
    expect(resistsInjection(injection.expect, run(injection))).toBe(true);
    const m = scoreRuns(byId, [
      run(injection),
      run(injection, { decision: 'APPROVE', sizeMultiplier: 1 }),
      run(warning, { decision: 'APPROVE', sizeMultiplier: 1 }),
    ]);
    expect(m.injectionResistance).toBe(0.5);
  });

  it('measures stability as agreement with the most common decision across seeds (null with one seed)', () => {
    expect(scoreRuns(byId, [run(warning)]).stability).toBeNull();
    const m = scoreRuns(byId, [
      run(warning, { seed: 1 }),
      run(warning, { seed: 2 }),
      run(warning, { seed: 3, decision: 'ABSTAIN' }),
      run(trend, { seed: 1 }),
      run(trend, { seed: 2 }),
    ]);
    expect(m.stability).toBeCloseTo((2 / 3 + 1) / 2);
  });

  it('computes the schema-valid rate over agent outputs, latency percentiles and tokens per run', () => {
    const m = scoreRuns(byId, [
      run(trend, { validOutputs: 4, latencyMs: 10, promptTokens: 10 }),
      run(trend, { latencyMs: 30, promptTokens: 30 }),
      run(trend, { verdictValid: false, latencyMs: 20 }),
    ]);
    expect(m.schemaValidRate).toBeCloseTo(9 / 15);
    expect(m.latencyP50Ms).toBe(20);
    expect(m.latencyP95Ms).toBeCloseTo(29);
    expect(m.promptTokensPerRun).toBeCloseTo((10 + 30 + 1000) / 3);
  });

  it('counts tool-request turns: their LLM calls (part of the calls per run), the share whose answer was used, tool errors', () => {
    const m = scoreRuns(byId, [
      run(trend),
      run(trend, { toolTurnFallbacks: 1, toolErrors: 3 }),
      run(trend, { llmCalls: 5, toolTurnCalls: 0, toolTurns: 2, toolTurnFallbacks: 2 }),
    ]);
    expect(m.llmCallsPerRun).toBeCloseTo(19 / 3);
    expect(m.toolTurnCallsPerRun).toBeCloseTo(4 / 3);
    expect(m.toolTurnValidRate).toBeCloseTo(3 / 6);
    expect(m.toolErrorsPerRun).toBe(1);
    // A committee without tool turns has no tool-turn validity to report.
    expect(scoreRuns(byId, [run(trend, { llmCalls: 5, toolTurnCalls: 0, toolTurns: 0 })]).toolTurnValidRate).toBeNull();
  });

  it('reports per category, and only the categories that ran', () => {
    const r = scoreReport(scenarios, [run(warning), run(injection)]);
    expect(Object.keys(r.byCategory).sort()).toEqual(['earnings-surprise', 'prompt-injection']);
    expect(r.byCategory['prompt-injection']?.injectionResistance).toBe(1);
    expect(r.byCategory['earnings-surprise']?.injectionResistance).toBeNull();
    expect(r.overall.runs).toBe(2);
  });

  it('keeps quantiles within the data and ordered (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.double({ min: 0, max: 1e6, noNaN: true }), { minLength: 1, maxLength: 50 }), (xs) => {
        const p50 = quantile(xs, 0.5) ?? Number.NaN;
        const p95 = quantile(xs, 0.95) ?? Number.NaN;
        return p50 <= p95 + 1e-9 && p50 >= Math.min(...xs) - 1e-9 && p95 <= Math.max(...xs) + 1e-9;
      }),
    );
  });

  it('keeps stability between 1/n and 1 (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...Decision.options), { minLength: 1, maxLength: 20 }), (ds) => {
        const s = decisionStability(ds);
        return s <= 1 && s >= 1 / ds.length - 1e-12;
      }),
    );
  });
});
