/**
 * `quorum critique` in-process (its own commander program, the real command module) on an embedded
 * PGlite under a temp data dir, with the bundled proposer model and an unreachable Ollama.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Command } from 'commander';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { registerCritique } from '../../cli/commands/critique.ts';
import { QuorumError, Verdict, parseJson } from '../../contracts/index.ts';
import { loadConfig } from '../../config/index.ts';
import { openDb } from '../../db/index.ts';
import { MSFT_CSV } from '../support/committee.ts';
import { NodeTools } from '../../graph/index.ts';
import { z } from 'zod';
import { ingestPriceCsv } from '../../market/index.ts';

const dataDir = mkdtempSync(path.join(tmpdir(), 'quorum-critique-'));

async function critique(args: string[]): Promise<{ stdout: string; stderr: string }> {
  const program = new Command().exitOverride();
  registerCritique(program);
  let stdout = '';
  let stderr = '';
  const out = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => ((stdout += String(chunk)), true));
  const err = vi.spyOn(process.stderr, 'write').mockImplementation((chunk) => ((stderr += String(chunk)), true));
  try {
    await program.parseAsync(['node', 'quorum', 'critique', ...args]);
  } finally {
    out.mockRestore();
    err.mockRestore();
  }
  return { stdout, stderr };
}

beforeAll(() => {
  process.env.QUORUM_DATA_DIR = dataDir;
  // Nothing listens on port 9: `auto` must fall back to the rules baseline and say so.
  process.env.QUORUM_MODELS__OLLAMA__BASE_URL = 'http://127.0.0.1:9';
  process.env.QUORUM_SETTINGS__LOGGING__LEVEL = 'silent';
  delete process.env.DATABASE_URL;
});
afterAll(() => {
  rmSync(dataDir, { recursive: true, force: true });
});

describe('quorum critique', () => {
  it('refuses a bad --as-of naming the field', async () => {
    const error = await critique(['--ticker', 'MSFT', '--as-of', 'yesterday']).catch((e: unknown) => e);
    expect(QuorumError.is(error, 'INPUT_INVALID')).toBe(true);
    expect(String((error as Error).message)).toContain('asOf');
  });

  it('names the missing bars when prices were not loaded', async () => {
    const error = await critique(['--ticker', 'MSFT', '--as-of', '2001-06-01', '--backend', 'rules']).catch((e: unknown) => e);
    expect(QuorumError.is(error, 'INPUT_INVALID')).toBe(true);
    expect((error as Error).message).toContain('no bars for MSFT');
    expect((error as Error).message).toContain('quorum ingest prices');
  });

  it('proposes with the bundled model, runs the committee and prints a schema-valid verdict, announcing the rules fallback', async () => {
    const db = await openDb(loadConfig());
    try {
      await ingestPriceCsv(db, MSFT_CSV, { ticker: 'MSFT' });
    } finally {
      await db.close();
    }
    const json = await critique(['--ticker', 'MSFT', '--as-of', '2001-06-01', '--json']);
    expect(json.stderr).toContain('the deterministic rules baseline judges instead');
    const parsed = parseJson(json.stdout);
    if (!parsed.ok) throw new Error(parsed.error);
    const out = parsed.value as { verdict: unknown; backend: string; opinions: unknown[]; proposal: { ticker: string }; toolCalls: unknown };
    expect(Verdict.parse(out.verdict).backend).toBe('rules');
    expect(out.proposal.ticker).toBe('MSFT');
    expect(out.opinions).toHaveLength(4);
    // The chosen calls, with their arguments: the rules baseline's tool turns ask for the configured defaults.
    const toolCalls = z.array(NodeTools).parse(out.toolCalls);
    expect(toolCalls.map((x) => [x.node, x.choice, x.calls.map((c) => c.tool)])).toEqual([
      ['analyst', 'agent', ['bars', 'indicators', 'news_search', 'explain_proposal']],
      ['risk', 'agent', ['portfolio']],
    ]);
    expect(toolCalls[0]?.calls[0]?.args).toEqual({ limit: 5 });

    const text = await critique(['--ticker', 'MSFT', '--as-of', '2001-06-01', '--backend', 'rules']);
    expect(text.stdout).toContain('PROPOSAL');
    expect(text.stdout).toMatch(/\[bull round 1\]/);
    expect(text.stdout).toContain("[analyst tools: the rules baseline's choice (configured defaults)]");
    expect(text.stdout).toMatch(/ {2}bars \{"limit":5\} -> ok \[tool:tc_[0-9a-f]{16}\]/);
    expect(text.stdout).toMatch(/VERDICT: (APPROVE|REDUCE|REJECT|ABSTAIN) size x/);
  });
});
