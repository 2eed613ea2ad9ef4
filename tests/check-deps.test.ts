import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

const root = path.resolve(import.meta.dirname, '..');
const tsx = path.join(root, 'node_modules', '.bin', 'tsx');

function runCheck(target: string): { code: number; output: string } {
  try {
    const out = execFileSync(tsx, ['scripts/check-deps.ts', '--root', target], { cwd: root, encoding: 'utf8', stdio: 'pipe' });
    return { code: 0, output: out };
  } catch (error) {
    const e = error as { status: number; stdout: string; stderr: string };
    return { code: e.status, output: `${e.stdout}${e.stderr}` };
  }
}

describe('npm run check: dependency rules', () => {
  it('fails on an import cycle, a layer violation and I/O inside risk/', () => {
    const { code, output } = runCheck('tests/fixtures/bad-deps');
    expect(code).toBe(1);
    expect(output).toContain('CYCLE market/bars.ts -> ml/model.ts -> market/bars.ts');
    expect(output).toContain('LAYER market/bars.ts:2: market/ may not import ml/');
    expect(output).toContain('RISK_IO risk/controller.ts:2: risk/ is pure and may not import "node:fs"');
    expect(output).toContain('RISK_IO risk/controller.ts:3: risk/ may import only types from config/');
  });

  it('passes on the project itself', () => {
    const { code, output } = runCheck('.');
    expect(output).toContain('no cycles, layers respected, risk/ pure');
    expect(code).toBe(0);
  });
});
