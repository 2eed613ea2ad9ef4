import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  DEFAULT_BASELINES_DIR,
  DEFAULT_TOLERANCES,
  baselineFileName,
  gate,
  readBaseline,
  writeBaseline,
  type Baseline,
  type Metrics,
} from '../../evals/index.ts';

const metrics: Metrics = {
  runs: 42,
  schemaValidRate: 1,
  decisionAgreement: 0.9,
  citationValidity: 1,
  decisiveCited: 0.8,
  injectionResistance: 1,
  stability: null,
  latencyP50Ms: 200,
  latencyP95Ms: 400,
  promptTokensPerRun: 4000,
  completionTokensPerRun: 500,
  llmCallsPerRun: 7,
  toolTurnCallsPerRun: 2,
  toolTurnValidRate: 1,
  toolErrorsPerRun: 0,
  assertionsMet: null,
  samples: {},
};

function baseline(fields: Partial<Baseline> = {}): Baseline {
  return {
    version: 1,
    backend: 'ollama',
    model: 'mistral:7b',
    updatedAt: '2026-01-01T00:00:00.000Z',
    promptVersions: { committee: 'abc' },
    scenarios: 42,
    scenarioSet: [],
    seeds: [42],
    metrics: { overall: metrics, byCategory: {} },
    runs: [],
    newsAblated: null,
    tolerances: { ...DEFAULT_TOLERANCES },
    notes: '',
    ...fields,
  };
}

describe('baseline and gate', () => {
  it('passes when every metric is within its tolerance', () => {
    const g = gate(baseline(), { ...metrics, decisionAgreement: 0.86, promptTokensPerRun: 4900, latencyP95Ms: 1100 });
    expect(g.ok).toBe(true);
    expect(g.failures).toEqual([]);
  });

  it('fails when a metric drops beyond its tolerance, naming the metric, value, limit and baseline', () => {
    const g = gate(baseline(), { ...metrics, decisionAgreement: 0.84, injectionResistance: 0.5 });
    expect(g.ok).toBe(false);
    expect(g.failures).toEqual(['decisionAgreement: 0.840 < limit 0.850 (baseline 0.900)', 'injectionResistance: 0.500 < limit 0.950 (baseline 1)']);
  });

  it('fails when a lower-is-better metric grows beyond its relative tolerance', () => {
    const g = gate(baseline(), { ...metrics, promptTokensPerRun: 5001 });
    expect(g.failures).toEqual(['promptTokensPerRun: 5001 > limit 5000 (baseline 4000)']);
  });

  it('does not gate a metric whose tolerance is null, and fails a gated metric that lost its value', () => {
    const g = gate(baseline({ tolerances: { ...DEFAULT_TOLERANCES, decisionAgreement: null } }), {
      ...metrics,
      decisionAgreement: 0,
      injectionResistance: null,
    });
    expect(g.checks.find((c) => c.metric === 'decisionAgreement')).toMatchObject({ gated: false, ok: true });
    expect(g.failures).toEqual(['injectionResistance: no value now (baseline 1)']);
  });

  it('gates a both-ways metric on either side: exactly with abs 0, within a range with rel', () => {
    const tolerances = { ...DEFAULT_TOLERANCES, llmCallsPerRun: { direction: 'both', abs: 0 }, promptTokensPerRun: { direction: 'both', rel: 0.1 } } as const;
    const b = baseline({ tolerances });
    expect(gate(b, metrics).failures).toEqual([]);
    expect(gate(b, { ...metrics, llmCallsPerRun: 5, promptTokensPerRun: 3500 }).failures).toEqual([
      'promptTokensPerRun: 3500 outside [3600, 4400] (baseline 4000)',
      'llmCallsPerRun: 5 != 7 (baseline 7)',
    ]);
    expect(gate(b, { ...metrics, llmCallsPerRun: 8 }).failures).toEqual(['llmCallsPerRun: 8 != 7 (baseline 7)']);
    expect(gate(b, metrics).checks.find((c) => c.metric === 'promptTokensPerRun')).toMatchObject({ lowerLimit: 3600, limit: 4400 });
  });

  it('fails a tool-request turn that fell back to the default calls, and reads an older baseline without tool-turn metrics', () => {
    expect(gate(baseline(), { ...metrics, toolTurnValidRate: 0.5 }).failures).toEqual(['toolTurnValidRate: 0.500 < limit 0.950 (baseline 1)']);
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'quorum-baseline-')), 'old.json');
    const { toolTurnCallsPerRun: _a, toolTurnValidRate: _b, toolErrorsPerRun: _c, ...older } = metrics;
    writeFileSync(file, JSON.stringify({ ...baseline(), metrics: { overall: older, byCategory: {} } }));
    const read = readBaseline(file);
    expect(read?.metrics.overall.toolTurnValidRate).toBeNull();
    expect(read && gate(read, { ...metrics, toolTurnValidRate: 0 }).ok).toBe(true);
  });

  it('writes and reads a baseline file named after the backend and model', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'quorum-baseline-'));
    const file = path.join(dir, baselineFileName('ollama', 'mistral:7b'));
    expect(path.basename(file)).toBe('ollama-mistral_7b.json');
    writeBaseline(file, baseline());
    expect(readBaseline(file)).toEqual(baseline());
    expect(readBaseline(path.join(dir, 'none.json'))).toBeNull();
  });

  it('refuses a baseline file with a bad tolerance, naming the field', () => {
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'quorum-baseline-')), 'bad.json');
    writeFileSync(file, JSON.stringify({ ...baseline(), tolerances: { decisionAgreement: { direction: 'up', abs: 0.1 } } }));
    expect(() => readBaseline(file)).toThrow(/tolerances\.decisionAgreement\.direction/);
  });

  it('commits a valid rules baseline that gates agreement and injection resistance', () => {
    const b = readBaseline(path.join(DEFAULT_BASELINES_DIR, baselineFileName('rules', 'rules-baseline.v1')));
    expect(b).not.toBeNull();
    expect(b?.scenarios).toBeGreaterThanOrEqual(40);
    expect(b?.tolerances.decisionAgreement).not.toBeNull();
    expect(b?.tolerances.injectionResistance).not.toBeNull();
  });
});
