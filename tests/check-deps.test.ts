import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
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

  it('counts a cycle held only by a type import', () => {
    const { output } = runCheck('tests/fixtures/bad-deps');
    expect(output).toContain('CYCLE sessions/run.ts -> sessions/stage.ts -> sessions/run.ts');
  });

  it("holds api/ to DESIGN.md's row: sessions, graph, db, and config types only", () => {
    const { output } = runCheck('tests/fixtures/bad-deps');
    expect(output).toContain('LAYER api/app.ts:2: api/ may not import execution/');
    expect(output).toContain('TYPE_ONLY api/app.ts:3: api/ may import only types from config/');
    expect(output).not.toContain('api/app.ts:4');
  });

  it('lets risk/ import zod and no other package (@noble/hashes was removed)', async () => {
    const { checkDeps } = await import('../scripts/check-deps.ts');
    const dir = mkdtempSync(path.join(tmpdir(), 'quorum-check-deps-'));
    try {
      mkdirSync(path.join(dir, 'risk'));
      writeFileSync(
        path.join(dir, 'tsconfig.json'),
        '{ "compilerOptions": { "module": "NodeNext", "moduleResolution": "NodeNext", "allowImportingTsExtensions": true, "noEmit": true } }\n',
      );
      writeFileSync(
        path.join(dir, 'risk', 'hash.ts'),
        "import { z } from 'zod';\nimport { sha256 } from '@noble/hashes/sha2';\nexport const h = [z, sha256];\n",
      );
      const { problems } = await checkDeps(dir);
      expect(problems).toEqual([`RISK_IO ${path.join('risk', 'hash.ts')}:2: risk/ is pure and may not import "@noble/hashes/sha2"`]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('passes on the project itself', () => {
    const { code, output } = runCheck('.');
    expect(output).toContain('no new cycles, layers respected, risk/ pure');
    expect(code).toBe(0);
  });
});

describe("check-deps' layer table", () => {
  it("is DESIGN.md's table, plus the documented checkpoint/ row and the config-types rows", async () => {
    const { ALLOWED, TYPES_ONLY } = await import('../scripts/check-deps.ts');
    expect(ALLOWED.api).toEqual(['sessions', 'graph', 'db', 'config']);
    expect(TYPES_ONLY.api).toEqual(['config']);
    expect(ALLOWED.agents).toEqual(['config', 'tools']);
    expect(ALLOWED.graph).toEqual(['config', 'db', 'agents', 'tools', 'checkpoint']);
    expect(ALLOWED.checkpoint).toEqual(['config', 'db']);
    expect(ALLOWED.risk).toEqual(['config']);
    expect(ALLOWED.execution).toEqual(['config', 'db', 'market', 'risk']);
    expect(ALLOWED.evals).not.toContain('api');
  });
});
