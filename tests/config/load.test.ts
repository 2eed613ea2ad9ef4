import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  BUNDLED_CONFIG_DIR,
  DEFAULT_MAX_EVIDENCE_CHARS_PER_PROMPT,
  DEFAULT_MAX_NEWS_ITEMS_PER_PROMPT,
  DEFAULT_MAX_POSITIONS,
  DEFAULT_MAX_TOOL_RESULT_CHARS,
  loadConfig,
} from '../../config/index.ts';
import { QuorumError } from '../../contracts/index.ts';
import { tempConfigDir } from '../support/config-dir.ts';

const bundled = (file: string): string => readFileSync(path.join(BUNDLED_CONFIG_DIR, file), 'utf8');

function loadError(replace: Record<string, string>, env: NodeJS.ProcessEnv = {}): QuorumError {
  const dir = tempConfigDir(replace);
  try {
    loadConfig({ configDir: dir, env });
  } catch (error) {
    if (QuorumError.isInstance(error)) return error;
    throw error;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  throw new Error('expected loadConfig to fail');
}

describe('loadConfig', () => {
  it('loads the bundled YAML files with their documented defaults', () => {
    const c = loadConfig({ env: {} });
    expect(c.riskRules.maxPositions).toBe(DEFAULT_MAX_POSITIONS);
    expect(c.riskRules.riskPerTradePct).toBe(0.5);
    expect(c.riskRules.dailyLossLimitPct).toBe(3);
    expect(c.settings.execution.mode).toBe('paper');
    expect(c.agents.committee.prompt).toMatch(/committee/);
    expect(c.liveTradingAllowed).toBe(false);
    expect(c.dataDir.endsWith('.data')).toBe(true);
  });

  it('is frozen after load', () => {
    const c = loadConfig({ env: {} });
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.riskRules)).toBe(true);
    expect(() => {
      (c.riskRules as { maxPositions: number }).maxPositions = 99;
    }).toThrow(TypeError);
  });

  it('applies QUORUM_* environment overrides, parsed as YAML scalars', () => {
    const c = loadConfig({
      env: {
        QUORUM_SETTINGS__API__PORT: '9100',
        QUORUM_MODELS__OLLAMA__BASE_URL: 'http://10.0.0.5:11434',
        QUORUM_RISK_RULES__MAX_POSITIONS: '14',
        QUORUM_SETTINGS__MARKET__SECTORS__ZZ: 'Energy',
        QUORUM_DATA_DIR: '/tmp/quorum-data-x',
      },
    });
    expect(c.settings.api.port).toBe(9100);
    expect(c.models.ollama.baseUrl).toBe('http://10.0.0.5:11434');
    expect(c.riskRules.maxPositions).toBe(14);
    expect(c.settings.market.sectors.ZZ).toBe('Energy');
    expect(c.dataDir).toBe('/tmp/quorum-data-x');
  });

  it('rejects an environment override naming an unknown field', () => {
    expect(() => loadConfig({ env: { QUORUM_SETTINGS__API__PROT: '1' } })).toThrow(/QUORUM_SETTINGS__API__PROT.*"PROT" is not a field of settings.yaml/);
  });

  it('rejects a wrong type naming file and field', () => {
    const err = loadError({ 'settings.yaml': bundled('settings.yaml').replace('port: 8080', 'port: "eighty"') });
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toContain('settings.yaml: api.port');
    expect(err.message).toMatch(/expected number/);
    expect(err.message).toContain('(got "eighty")');
  });

  it('rejects an unknown key naming file and key', () => {
    const err = loadError({ 'models.yaml': `${bundled('models.yaml')}\ntemperatur: 0.3\n` });
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(/models\.yaml: \(root\): unknown key\(s\) "temperatur"/);
  });

  it('rejects a negative limit in risk_rules.yaml', () => {
    const err = loadError({ 'risk_rules.yaml': bundled('risk_rules.yaml').replace('maxSectorPct: 30', 'maxSectorPct: -5') });
    expect(err.message).toContain('risk_rules.yaml: maxSectorPct');
    expect(err.message).toContain('(got -5)');
  });

  it('rejects maxPositions outside the allowed 10..15', () => {
    const err = loadError({ 'risk_rules.yaml': bundled('risk_rules.yaml').replace('maxPositions: 12', 'maxPositions: 40') });
    expect(err.message).toMatch(/risk_rules\.yaml: maxPositions: .*<=15 \(got 40\)/);
  });

  it("has the committee's evidence limits in settings.yaml equal to the named defaults", () => {
    const c = loadConfig({ env: {} }).settings.committee;
    expect(c.maxNewsItemsPerPrompt).toBe(DEFAULT_MAX_NEWS_ITEMS_PER_PROMPT);
    expect(c.maxEvidenceCharsPerPrompt).toBe(DEFAULT_MAX_EVIDENCE_CHARS_PER_PROMPT);
    expect(c.maxToolResultChars).toBe(DEFAULT_MAX_TOOL_RESULT_CHARS);
    // Without the YAML keys the schema falls back to the same defaults.
    const dir = tempConfigDir({ 'settings.yaml': bundled('settings.yaml').replace(/^ {2}max(NewsItems|EvidenceChars)PerPrompt:.*$/gm, '') });
    try {
      const bare = loadConfig({ configDir: dir, env: {} }).settings.committee;
      expect([bare.maxNewsItemsPerPrompt, bare.maxEvidenceCharsPerPrompt]).toEqual([DEFAULT_MAX_NEWS_ITEMS_PER_PROMPT, DEFAULT_MAX_EVIDENCE_CHARS_PER_PROMPT]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('rejects an evidence limit too small for one whole tool result, naming the field', () => {
    const err = loadError({ 'settings.yaml': bundled('settings.yaml').replace(/maxEvidenceCharsPerPrompt: \d+/, 'maxEvidenceCharsPerPrompt: 1000') });
    expect(err.message).toMatch(/settings\.yaml: committee\.maxEvidenceCharsPerPrompt: must be at least maxToolResultChars \+ 150 \(1950\)/);
    expect(() => loadConfig({ env: { QUORUM_SETTINGS__COMMITTEE__MAX_NEWS_ITEMS_PER_PROMPT: '-1' } })).toThrow(/maxNewsItemsPerPrompt/);
  });

  it('rejects an inverted limit (reduce threshold above the halt threshold)', () => {
    const err = loadError({ 'risk_rules.yaml': bundled('risk_rules.yaml').replace('dailyLossReducePct: 2', 'dailyLossReducePct: 4') });
    expect(err.message).toMatch(/risk_rules\.yaml: dailyLossReducePct: must be below dailyLossLimitPct .*inverted/);
  });

  it('fails on a missing file, naming it', () => {
    const dir = tempConfigDir();
    rmSync(path.join(dir, 'agents.yaml'));
    try {
      expect(() => loadConfig({ configDir: dir, env: {} })).toThrow(
        expect.objectContaining({ code: 'CONFIG_MISSING', message: expect.stringContaining('agents.yaml') }),
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reports a YAML syntax error with its line', () => {
    const err = loadError({ 'settings.yaml': 'api:\n  port: [1, 2\n' });
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).toMatch(/settings\.yaml: YAML syntax error at line \d+/);
  });

  it('refuses a secret written into a YAML file (secrets come only from the environment)', () => {
    const err = loadError({ 'settings.yaml': `${bundled('settings.yaml')}\nalpacaSecretKey: abc\n` });
    expect(err.message).toContain('unknown key(s) "alpacaSecretKey"');
  });

  it('reads secrets from the environment only', () => {
    const c = loadConfig({ env: { APCA_API_KEY_ID: 'PKTEST', APCA_API_SECRET_KEY: 'shh-secret', DATABASE_URL: 'postgres://u:pw@h/db' } });
    expect(c.secrets).toEqual({
      alpacaKeyId: 'PKTEST',
      alpacaSecretKey: 'shh-secret',
      databaseUrl: 'postgres://u:pw@h/db',
      apiToken: null,
      notificationUrls: {},
    });
  });

  it('allows live trading only with execution.mode live AND QUORUM_ALLOW_LIVE=yes', () => {
    expect(loadConfig({ env: { QUORUM_SETTINGS__EXECUTION__MODE: 'live' } }).liveTradingAllowed).toBe(false);
    expect(loadConfig({ env: { QUORUM_ALLOW_LIVE: 'yes' } }).liveTradingAllowed).toBe(false);
    expect(loadConfig({ env: { QUORUM_SETTINGS__EXECUTION__MODE: 'live', QUORUM_ALLOW_LIVE: 'yes' } }).liveTradingAllowed).toBe(true);
  });
});
