import { access, constants, mkdir } from 'node:fs/promises';
import { z } from 'zod';
import type { Config } from '../config/index.ts';
import { errorMessage } from '../contracts/errors.ts';
import { openDb, readMigrations, type Db } from '../db/index.ts';
import { ALPACA_LIVE_URL, ALPACA_PAPER_URL } from '../execution/index.ts';

export type CheckStatus = 'real' | 'embedded' | 'fallback' | 'missing' | 'error';

export interface DoctorCheck {
  part: string;
  status: CheckStatus;
  /** Required parts make doctor fail; optional ones only warn. */
  required: boolean;
  detail: string;
}

const OllamaTags = z.object({ models: z.array(z.object({ name: z.string() }).passthrough()).nullish() }).passthrough();

/** Asks an Ollama server which models it has; null when it does not answer. */
export async function ollamaModels(baseUrl: string, timeoutMs = 2000): Promise<string[] | null> {
  try {
    const res = await fetch(new URL('/api/tags', baseUrl), { signal: AbortSignal.timeout(timeoutMs) });
    if (!res.ok) return null;
    const parsed = OllamaTags.safeParse(await res.json());
    if (!parsed.success) return null;
    return (parsed.data.models ?? []).map((m) => m.name);
  } catch {
    return null;
  }
}

async function checkDatabase(config: Config): Promise<DoctorCheck[]> {
  const usingPg = config.secrets.databaseUrl !== null;
  let db: Db | null = null;
  try {
    db = await openDb(config, { migrate: false });
    const ext = await db.query<{ extversion: string }>(`SELECT extversion FROM pg_extension WHERE extname = 'vector'`);
    const available = ext.rows[0]?.extversion
      ? null
      : await db.query<{ default_version: string }>(`SELECT default_version FROM pg_available_extensions WHERE name = 'vector'`);
    const applied = await db
      .query<{ n: number }>(`SELECT count(*)::int AS n FROM schema_migrations`)
      .then((r) => Number(r.rows[0]?.n ?? 0))
      .catch(() => 0);
    const total = readMigrations().length;
    const vectorDetail = ext.rows[0]?.extversion
      ? `pgvector ${ext.rows[0].extversion} installed`
      : available?.rows[0]
        ? `pgvector ${available.rows[0].default_version} available (created by \`quorum db migrate\`)`
        : 'pgvector extension NOT available on this server';
    return [
      {
        part: 'database',
        status: usingPg ? 'real' : 'embedded',
        required: true,
        detail: usingPg ? 'PostgreSQL reachable (DATABASE_URL)' : `PGlite in ${config.dataDir}/pglite (set DATABASE_URL for PostgreSQL)`,
      },
      {
        part: 'pgvector',
        status: ext.rows[0] || available?.rows[0] ? (usingPg ? 'real' : 'embedded') : 'missing',
        required: true,
        detail: vectorDetail,
      },
      {
        part: 'migrations',
        status: applied === total ? (usingPg ? 'real' : 'embedded') : 'missing',
        required: false,
        detail: applied === total ? `${applied}/${total} applied` : `${applied}/${total} applied: run \`quorum db migrate\``,
      },
    ];
  } catch (error) {
    return [{ part: 'database', status: 'error', required: true, detail: `${usingPg ? 'PostgreSQL' : 'PGlite'} unreachable: ${errorMessage(error)}` }];
  } finally {
    await db?.close().catch(() => undefined);
  }
}

async function checkLlm(config: Config): Promise<DoctorCheck> {
  const { llm, ollama, llamaCpp } = config.models;
  if (llm.backend === 'rules') {
    return { part: 'llm', status: 'embedded', required: false, detail: 'rules baseline selected in models.yaml (deterministic critics, no LLM)' };
  }
  const models = await ollamaModels(ollama.baseUrl);
  if (models) {
    const wanted = [ollama.model, ...Object.values(ollama.roles)].filter((m): m is string => Boolean(m));
    const missing = wanted.filter((w) => !models.some((m) => m === w || m.startsWith(`${w}:`)));
    return {
      part: 'llm',
      status: missing.length ? 'missing' : 'real',
      required: false,
      detail:
        `Ollama at ${ollama.baseUrl} has [${models.join(', ') || 'no models'}]` +
        (missing.length ? `; missing ${missing.join(', ')} (ollama pull ${missing[0]})` : ''),
    };
  }
  const fallback = llamaCpp.modelPath ? `in-process llama.cpp with ${llamaCpp.modelPath}` : 'the rules baseline (deterministic critics)';
  return {
    part: 'llm',
    status: 'fallback',
    required: false,
    detail: `Ollama NOT reachable at ${ollama.baseUrl}; committee falls back to ${fallback}`,
  };
}

async function checkEmbeddings(config: Config): Promise<DoctorCheck> {
  const { embeddings, ollama } = config.models;
  if (embeddings.backend === 'use-lite') {
    return { part: 'embeddings', status: 'embedded', required: false, detail: 'Universal Sentence Encoder lite, in-process, 512-d' };
  }
  const models = await ollamaModels(ollama.baseUrl);
  const has = models?.some((m) => m === embeddings.ollamaModel || m.startsWith(`${embeddings.ollamaModel}:`));
  return {
    part: 'embeddings',
    status: has ? 'real' : 'missing',
    required: false,
    detail: has ? `Ollama ${embeddings.ollamaModel}` : `Ollama embedding model ${embeddings.ollamaModel} NOT available at ${ollama.baseUrl}`,
  };
}

function checkBroker(config: Config): DoctorCheck[] {
  const { execution } = config.settings;
  const hasKeys = Boolean(config.secrets.alpacaKeyId && config.secrets.alpacaSecretKey);
  const live = execution.mode === 'live';
  const checks: DoctorCheck[] = [];
  if (live && !config.liveTradingAllowed) {
    checks.push({
      part: 'trading mode',
      status: 'error',
      required: true,
      detail: 'execution.mode is live but QUORUM_ALLOW_LIVE=yes is not set: refusing to trade',
    });
  } else {
    checks.push({ part: 'trading mode', status: 'real', required: false, detail: live ? 'LIVE trading (QUORUM_ALLOW_LIVE=yes)' : 'paper (default)' });
  }
  if (execution.broker === 'alpaca' || live) {
    checks.push(
      hasKeys
        ? { part: 'broker', status: 'real', required: false, detail: `Alpaca at ${live ? ALPACA_LIVE_URL : ALPACA_PAPER_URL} (keys set)` }
        : { part: 'broker', status: 'error', required: true, detail: 'broker is alpaca but ALPACA_API_KEY_ID / ALPACA_API_SECRET_KEY are not set' },
    );
  } else {
    checks.push({
      part: 'broker',
      status: 'embedded',
      required: false,
      detail: `local Alpaca-compatible paper exchange (port ${execution.paperExchange.port}); Alpaca keys ${hasKeys ? 'set' : 'NOT set'}`,
    });
  }
  checks.push({
    part: 'market data',
    status: hasKeys ? 'real' : 'embedded',
    required: false,
    detail: hasKeys ? 'Alpaca data API available (quorum ingest prices alpaca)' : 'no Alpaca keys: bundled real CSVs (data/samples)',
  });
  return checks;
}

async function checkDataDir(config: Config): Promise<DoctorCheck> {
  try {
    await mkdir(config.dataDir, { recursive: true });
    await access(config.dataDir, constants.W_OK);
    return { part: 'data dir', status: 'real', required: true, detail: `${config.dataDir} writable` };
  } catch (error) {
    return { part: 'data dir', status: 'error', required: true, detail: `${config.dataDir} not writable: ${errorMessage(error)}` };
  }
}

/** Every check doctor runs; it never throws. */
export async function runDoctor(config: Config): Promise<DoctorCheck[]> {
  const dataDir = await checkDataDir(config);
  const [db, llm, embeddings] = await Promise.all([checkDatabase(config), checkLlm(config), checkEmbeddings(config)]);
  return [
    { part: 'config', status: 'real', required: true, detail: `loaded from ${config.configDir}` },
    dataDir,
    ...db,
    llm,
    embeddings,
    ...checkBroker(config),
  ];
}

/** Exit code: 1 when a required part is missing or failing, else 0 (warnings included). */
export function doctorExitCode(checks: DoctorCheck[]): number {
  return checks.some((c) => c.required && (c.status === 'error' || c.status === 'missing')) ? 1 : 0;
}
