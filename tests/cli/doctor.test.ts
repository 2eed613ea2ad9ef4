import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseJson } from '../../contracts/index.ts';
import { hasPg, testDatabaseUrl } from '../support/db.ts';

const run = promisify(execFile);
const root = path.resolve(import.meta.dirname, '../..');

interface Outcome {
  code: number;
  stdout: string;
  stderr: string;
}

async function quorum(args: string[], env: Record<string, string>): Promise<Outcome> {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(QUORUM_|DATABASE_URL|ALPACA_|APCA_)/.test(k))) as Record<string, string>;
  try {
    const { stdout, stderr } = await run(process.execPath, [path.join(root, 'bin/quorum.js'), ...args], {
      cwd: root,
      env: { ...clean, ...env },
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const e = error as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe('quorum doctor', () => {
  let dataDir: string;
  let closedPort: number;
  let fakeOllama: Server;
  let ollamaUrl: string;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'quorum-doctor-'));
    // A port nothing listens on: take one, then close it.
    const probe = createServer();
    await new Promise<void>((r) => probe.listen(0, '127.0.0.1', r));
    closedPort = (probe.address() as AddressInfo).port;
    await new Promise<void>((r) => probe.close(() => r()));
    // An Ollama-shaped /api/tags answer, to check doctor reports the models it finds.
    fakeOllama = createServer((req, res) => {
      res.setHeader('content-type', 'application/json');
      res.end(JSON.stringify(req.url === '/api/tags' ? { models: [{ name: 'mistral:latest' }, { name: 'nomic-embed-text:latest' }] } : {}));
    });
    await new Promise<void>((r) => fakeOllama.listen(0, '127.0.0.1', r));
    ollamaUrl = `http://127.0.0.1:${(fakeOllama.address() as AddressInfo).port}`;
  });

  afterAll(async () => {
    rmSync(dataDir, { recursive: true, force: true });
    await new Promise<void>((r) => fakeOllama.close(() => r()));
  });

  it('says plainly that there is no Ollama and no Alpaca keys, and exits 0 with warnings', async () => {
    const out = await quorum(['doctor'], { QUORUM_DATA_DIR: dataDir, QUORUM_MODELS__OLLAMA__BASE_URL: `http://127.0.0.1:${closedPort}` });
    expect(out.code).toBe(0);
    expect(out.stdout).toContain(`Ollama NOT reachable at http://127.0.0.1:${closedPort}`);
    expect(out.stdout).toContain('falls back to the rules baseline');
    expect(out.stdout).toContain('Alpaca keys NOT set');
    expect(out.stdout).toMatch(/PGlite in .*pglite/);
    expect(out.stdout).toMatch(/doctor: ok, with \d+ warning\(s\):.*llm/);
  });

  it('reports the models a reachable Ollama has (--json)', async () => {
    const out = await quorum(['doctor', '--json'], { QUORUM_DATA_DIR: dataDir, QUORUM_MODELS__OLLAMA__BASE_URL: ollamaUrl });
    expect(out.code).toBe(0);
    const parsed = parseJson(out.stdout);
    expect(parsed.ok).toBe(true);
    const text = JSON.stringify(parsed.ok ? parsed.value : null);
    expect(text).toContain('"part":"llm","status":"real"');
    expect(text).toContain('mistral:latest');
  });

  it('fails (exit 1) when the required database is unreachable', async () => {
    const out = await quorum(['doctor'], { QUORUM_DATA_DIR: dataDir, DATABASE_URL: `postgres://postgres@127.0.0.1:${closedPort}/none` });
    expect(out.code).toBe(1);
    expect(out.stdout).toMatch(/database\s+│ error\s+│ PostgreSQL unreachable/);
  });

  it('refuses live mode without QUORUM_ALLOW_LIVE=yes', async () => {
    const out = await quorum(['doctor'], { QUORUM_DATA_DIR: dataDir, QUORUM_SETTINGS__EXECUTION__MODE: 'live' });
    expect(out.code).toBe(1);
    expect(out.stdout).toContain('QUORUM_ALLOW_LIVE=yes is not set');
  });

  it.skipIf(!hasPg)('reports pgvector on a real PostgreSQL', async () => {
    const out = await quorum(['doctor', '--json'], { QUORUM_DATA_DIR: dataDir, DATABASE_URL: testDatabaseUrl() ?? '' });
    expect(out.stdout).toMatch(/"part": "pgvector",\s+"status": "real",\s+"required": true,\s+"detail": "pgvector 0\.8\.\d+ installed"/);
  });

  it('names the field of a bad configuration and exits 2', async () => {
    const out = await quorum(['db', 'migrate'], { QUORUM_DATA_DIR: dataDir, QUORUM_RISK_RULES__MAX_POSITIONS: '-3' });
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(/CONFIG_INVALID: [\s\S]*risk_rules\.yaml: maxPositions: [^\n]*\(got -3\)/);
  });
});
