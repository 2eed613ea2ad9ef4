/**
 * Bad input never reaches the controller as a trade: the Verdict schema refuses an out-of-range,
 * NaN or missing field, and a risk_rules.yaml with a negative or inverted limit is a config error
 * naming the field.
 */
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { BUNDLED_CONFIG_DIR, loadConfig } from '../../config/index.ts';
import { QuorumError, Verdict, parseOrThrow, parseWith } from '../../contracts/index.ts';
import { tempConfigDir } from '../support/config-dir.ts';
import { verdict } from '../support/risk-fixtures.ts';

describe('the Verdict schema, before the controller', () => {
  it('accepts a valid verdict', () => {
    expect(parseWith(Verdict, verdict()).ok).toBe(true);
  });

  it.each([
    ['a size multiplier of 3', { sizeMultiplier: 3 }, 'sizeMultiplier'],
    ['a NaN size multiplier', { sizeMultiplier: Number.NaN }, 'sizeMultiplier'],
    ['a negative size multiplier', { sizeMultiplier: -0.1 }, 'sizeMultiplier'],
    ['a NaN confidence', { confidence: Number.NaN }, 'confidence'],
    ['a confidence above 1', { confidence: 1.5 }, 'confidence'],
    ['an unknown decision', { decision: 'BUY_MORE' }, 'decision'],
    ['a REJECT that still sizes', { decision: 'REJECT', sizeMultiplier: 0.5 }, 'sizeMultiplier'],
  ])('refuses %s, naming the field', (_name, patch, field) => {
    const result = parseWith(Verdict, { ...verdict(), ...patch });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.issues.map((i) => i.path)).toContain(field);
  });

  it('refuses a verdict with a missing field, naming it', () => {
    const { confidence: _dropped, ...missing } = verdict();
    expect(() => parseOrThrow(Verdict, missing, 'verdict')).toThrow(
      expect.objectContaining({ code: 'INPUT_INVALID', message: expect.stringMatching(/^verdict: confidence: /) }),
    );
  });

  it('refuses a verdict with an extra field (an LLM trying to set a limit)', () => {
    const result = parseWith(Verdict, { ...verdict(), maxPositionPct: 50 });
    expect(result.ok).toBe(false);
    if (!result.ok) expect(result.error).toContain('unknown key(s) "maxPositionPct"');
  });
});

describe('risk_rules.yaml limits', () => {
  const bundled = readFileSync(path.join(BUNDLED_CONFIG_DIR, 'risk_rules.yaml'), 'utf8');

  function configError(yaml: string): QuorumError {
    const dir = tempConfigDir({ 'risk_rules.yaml': yaml });
    try {
      loadConfig({ configDir: dir, env: {} });
    } catch (error) {
      if (QuorumError.isInstance(error)) return error;
      throw error;
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
    throw new Error('expected a configuration error');
  }

  it.each([
    ['riskPerTradePct: 0.5', 'riskPerTradePct: -0.5', 'riskPerTradePct', '(got -0.5)'],
    ['maxGrossExposurePct: 100', 'maxGrossExposurePct: -100', 'maxGrossExposurePct', '(got -100)'],
    ['dailyLossLimitPct: 3', 'dailyLossLimitPct: -3', 'dailyLossLimitPct', '(got -3)'],
    ['minNotional: 100', 'minNotional: -1', 'minNotional', '(got -1)'],
    ['maxOrdersPerMinute: 10', 'maxOrdersPerMinute: -10', 'maxOrdersPerMinute', '(got -10)'],
  ])('refuses a negative limit: %s -> %s', (from, to, field, got) => {
    expect(bundled).toContain(from);
    const err = configError(bundled.replace(from, to));
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain(`risk_rules.yaml: ${field}`);
    expect(err.message).toContain(got);
    expect(err.details.fields).toContain(field);
  });

  it('refuses a reduce threshold at or above the halt threshold (inverted)', () => {
    const err = configError(bundled.replace('dailyLossReducePct: 2', 'dailyLossReducePct: 3'));
    expect(err.message).toMatch(/risk_rules\.yaml: dailyLossReducePct: must be below dailyLossLimitPct \(3 >= 3\): inverted limit/);
  });

  it('refuses a per-position cap above the gross exposure cap (inverted)', () => {
    const err = configError(bundled.replace('maxPositionPct: 10', 'maxPositionPct: 60').replace('maxGrossExposurePct: 100', 'maxGrossExposurePct: 50'));
    expect(err.message).toMatch(/risk_rules\.yaml: maxPositionPct: must not exceed maxGrossExposurePct \(60 > 50\): inverted limit/);
  });

  it('refuses max positions outside 10..15', () => {
    expect(configError(bundled.replace('maxPositions: 12', 'maxPositions: 9')).message).toMatch(/risk_rules\.yaml: maxPositions: .*\(got 9\)/);
  });
});
