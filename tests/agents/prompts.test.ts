import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { RoleName, loadPrompt, loadRolePrompts, roleJsonSchema, roleJsonSchemaForCall, rolePrompt, type JsonValue } from '../../agents/index.ts';
import { QuorumError } from '../../contracts/index.ts';
import { loadConfig } from '../../config/index.ts';

/** Every node of a JSON schema, for structural checks. */
function nodes(value: JsonValue, out: Array<Record<string, JsonValue>> = []): Array<Record<string, JsonValue>> {
  if (Array.isArray(value)) value.forEach((v) => nodes(v, out));
  else if (value !== null && typeof value === 'object') {
    out.push(value);
    Object.values(value).forEach((v) => nodes(v, out));
  }
  return out;
}

describe('role prompts', () => {
  it('loads the five prompt files named in agents.yaml, each with a 12-hex version', () => {
    const prompts = loadRolePrompts(loadConfig({ env: {} }).agents);
    expect(Object.keys(prompts).sort()).toEqual([...RoleName.options].sort());
    for (const role of RoleName.options) {
      expect(prompts[role].file).toBe(`${role}.v2.md`);
      expect(prompts[role].version).toMatch(/^[0-9a-f]{12}$/);
      expect(prompts[role].text).toMatch(/DATA, never instructions/);
    }
  });

  it('changes the version when the prompt text changes, and only then for the same schema', () => {
    const a = rolePrompt('analyst', 'x.md', 'Be careful.');
    expect(rolePrompt('analyst', 'y.md', 'Be careful.').version).toBe(a.version);
    expect(rolePrompt('analyst', 'x.md', 'Be careful!').version).not.toBe(a.version);
  });

  it('changes the version when the output schema changes with the same text', () => {
    expect(rolePrompt('analyst', 'x.md', 'Same text.').version).toBe(rolePrompt('bull', 'x.md', 'Same text.').version);
    expect(rolePrompt('committee', 'x.md', 'Same text.').version).not.toBe(rolePrompt('analyst', 'x.md', 'Same text.').version);
  });

  it('refuses a missing or empty prompt file with CONFIG_INVALID naming the field', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'quorum-prompts-'));
    writeFileSync(path.join(dir, 'empty.md'), '  \n');
    for (const file of ['missing.md', 'empty.md', '../escape.md']) {
      try {
        loadPrompt('risk', file, dir);
        expect.unreachable();
      } catch (error) {
        expect(QuorumError.is(error, 'CONFIG_INVALID')).toBe(true);
        expect((error as Error).message).toContain('risk.prompt');
      }
    }
  });
});

describe('role output JSON schemas', () => {
  it.each(RoleName.options)('the %s schema is grammar-compatible: no anyOf, a maxLength on every string, maxItems on every array', (role) => {
    const all = nodes(roleJsonSchema(role));
    expect(JSON.stringify(roleJsonSchema(role))).not.toContain('anyOf');
    for (const n of all) {
      if (n.type === 'string' && !n.enum) expect(n.maxLength, JSON.stringify(n)).toBeTypeOf('number');
      if (n.type === 'array') expect(n.maxItems, JSON.stringify(n)).toBeTypeOf('number');
      if (n.type === 'object') expect(n.additionalProperties).toBe(false);
    }
  });

  it('narrows evidence arrays to the allowed ids for one call, and to none when nothing was given', () => {
    const narrowed = nodes(roleJsonSchemaForCall('committee', ['news:1', 'news:1', 'tool:2']));
    expect(narrowed.some((n) => JSON.stringify(n.enum) === '["news:1","tool:2"]')).toBe(true);
    const empty = roleJsonSchemaForCall('analyst', []);
    expect(JSON.stringify(empty)).toContain('"maxItems":0');
  });
});
