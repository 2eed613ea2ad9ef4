import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { QuorumError } from '../../contracts/index.ts';
import {
  createCassetteBackend,
  emptyCassette,
  loadScenarios,
  normaliseToolIds,
  readCassette,
  runEvals,
  writeCassette,
  type EvalResult,
} from '../../evals/index.ts';
import { BACKENDS, type TestDb } from '../support/db.ts';
import { obedientModel } from './support.ts';

const config = loadConfig({ env: {} });
const ids = new Set(['intc-2000-09-22-injection', 'spy-2017-06-15-calm-uptrend', 'thin-delisting-notice']);
const scenarios = loadScenarios(undefined, (s) => ids.has(s.id));

/** A run's outcome without what legitimately differs between runs: latency and random tool-call ids. */
function comparable(r: EvalResult): unknown {
  // Tool-call ids are random and the given list is in id order: compare its news part and size.
  return r.runs.map(({ latencyMs: _latency, givenEvidence, ...rest }) => ({
    run: normaliseToolIds(JSON.stringify(rest)).text,
    given: [givenEvidence.filter((id) => !id.startsWith('tool:')), givenEvidence.length],
  }));
}

describe.each(BACKENDS)('cassettes on $name', ({ open, available }) => {
  let t: TestDb;
  beforeAll(async () => {
    if (available) t = await open();
  });
  afterAll(async () => {
    await t?.cleanup();
  });

  it.skipIf(!available)('replays a recorded eval deterministically: two reruns give the recorded results', async () => {
    const cassette = emptyCassette('scripted', 'scripted', new Date('2026-01-02T03:04:05Z'));
    const inner = obedientModel();
    const recorded = await runEvals({
      db: t.db,
      config,
      scenarios,
      seeds: [1, 2],
      backendFor: (seed) => createCassetteBackend({ mode: 'record', cassette, seed, inner }),
    });
    expect(inner.calls.length).toBe(scenarios.length * 2 * 5);
    const file = path.join(mkdtempSync(path.join(tmpdir(), 'quorum-cassette-')), 'scripted.json');
    writeCassette(file, cassette);
    const loaded = readCassette(file);
    expect(loaded).toMatchObject({ backend: 'scripted', model: 'scripted', recordedAt: '2026-01-02T03:04:05.000Z' });
    expect(Object.keys(loaded.entries).length).toBeGreaterThan(0);

    const replays: EvalResult[] = [];
    for (let i = 0; i < 2; i++) {
      const backends = new Map<number, ReturnType<typeof createCassetteBackend>>();
      replays.push(
        await runEvals({
          db: t.db,
          config,
          scenarios,
          seeds: [1, 2],
          backendFor: (seed) => {
            const b = createCassetteBackend({ mode: 'replay', cassette: loaded, seed });
            backends.set(seed, b);
            return b;
          },
        }),
      );
      expect([...backends.values()].reduce((a, b) => a + b.hits, 0)).toBe(scenarios.length * 2 * 5);
    }
    expect(comparable(replays[0] as EvalResult)).toEqual(comparable(recorded));
    expect(comparable(replays[1] as EvalResult)).toEqual(comparable(recorded));
    // Tool ids are mapped to the replayed run's own calls: the citations stay valid.
    expect(replays[0]?.metrics.overall.citationValidity).toBe(1);
    expect(recorded.runs.some((r) => r.verdictCitations.some((c) => c.startsWith('tool:')))).toBe(true);
    const { latencyP50Ms: _a, latencyP95Ms: _b, ...stable } = recorded.metrics.overall;
    expect(replays[1]?.metrics.overall).toMatchObject(stable);
  });

  it.skipIf(!available)('fails the eval clearly on a cassette miss, naming the scenario and seed', async () => {
    const cassette = emptyCassette('scripted', 'scripted');
    const inner = obedientModel();
    const one = scenarios.slice(0, 1);
    await runEvals({ db: t.db, config, scenarios: one, seeds: [1], backendFor: (seed) => createCassetteBackend({ mode: 'record', cassette, seed, inner }) });
    const error = await runEvals({
      db: t.db,
      config,
      scenarios: one,
      seeds: [7],
      backendFor: (seed) => createCassetteBackend({ mode: 'replay', cassette, seed }),
    }).then(
      () => null,
      (e: unknown) => e,
    );
    expect(QuorumError.is(error, 'NOT_FOUND')).toBe(true);
    expect((error as Error).message).toMatch(
      new RegExp(`cassette replay of scenario ${one[0]?.id} \\(seed 7\\): no recorded answer for analyst .*record the cassette again`),
    );
  });
});
