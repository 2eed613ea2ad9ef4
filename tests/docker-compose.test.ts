import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { describe, expect, it } from 'vitest';
import { DEFAULT_OLLAMA_BASE_URL, DEFAULT_OLLAMA_EMBEDDING_MODEL, DEFAULT_OLLAMA_MODEL, loadConfig } from '../config/index.ts';

const root = path.resolve(import.meta.dirname, '..');

const Service = z
  .object({
    image: z.string().optional(),
    build: z.unknown().optional(),
    ports: z.array(z.string()).optional(),
    environment: z.record(z.string(), z.string()).optional(),
    healthcheck: z
      .object({ test: z.array(z.string()) })
      .passthrough()
      .optional(),
    depends_on: z.record(z.string(), z.object({ condition: z.string() })).optional(),
    entrypoint: z.array(z.string()).optional(),
    command: z.array(z.string()).optional(),
  })
  .passthrough();
const Compose = z.object({ services: z.record(z.string(), Service), volumes: z.record(z.string(), z.unknown()).optional() }).passthrough();

const compose = Compose.parse(YAML.parse(readFileSync(path.join(root, 'docker-compose.yml'), 'utf8')));
const svc = (name: string): z.infer<typeof Service> => {
  const s = compose.services[name];
  if (!s) throw new Error(`service ${name} missing`);
  return s;
};

describe('docker-compose.yml', () => {
  it('runs PostgreSQL from the pgvector image with a healthcheck', () => {
    expect(svc('postgres').image).toMatch(/^pgvector\/pgvector:/);
    expect(svc('postgres').healthcheck?.test.join(' ')).toContain('pg_isready');
  });

  it('runs Ollama on the port models.yaml expects and pulls the configured models once', () => {
    const port = new URL(DEFAULT_OLLAMA_BASE_URL).port;
    expect(svc('ollama').ports).toContain(`${port}:${port}`);
    const pull = svc('ollama-pull').entrypoint?.join(' ') ?? '';
    const config = loadConfig({ env: {} });
    expect(config.models.ollama.model).toBe(DEFAULT_OLLAMA_MODEL);
    expect(pull).toContain(`ollama pull ${config.models.ollama.model}`);
    expect(pull).toContain(`ollama pull ${config.models.embeddings.ollamaModel}`);
    expect(config.models.embeddings.ollamaModel).toBe(DEFAULT_OLLAMA_EMBEDDING_MODEL);
    expect(svc('ollama-pull').depends_on?.ollama?.condition).toBe('service_healthy');
  });

  it('starts Quorum after its dependencies are healthy, exposing the configured API port', () => {
    const q = svc('quorum');
    expect(q.depends_on?.postgres?.condition).toBe('service_healthy');
    expect(q.depends_on?.['ollama-pull']?.condition).toBe('service_completed_successfully');
    const env = q.environment ?? {};
    const config = loadConfig({ env });
    expect(q.ports).toContain(`${config.settings.api.port}:${config.settings.api.port}`);
    expect(config.models.ollama.baseUrl).toBe('http://ollama:11434');
    expect(config.settings.api.host).toBe('0.0.0.0');
    expect(config.dataDir).toBe('/data');
    expect(env.DATABASE_URL).toMatch(/^postgres:\/\/quorum:.*@postgres:5432\/quorum$/);
    // Healthy once the database answers, not merely once the process is up.
    expect(q.healthcheck?.test.join(' ')).toContain(`127.0.0.1:${config.settings.api.port}/readyz`);
  });

  it('runs the whole service (`quorum run`: scheduler, workers, exit monitor, API), a command the CLI has', () => {
    const q = svc('quorum');
    expect(q.command).toEqual(['node', 'bin/quorum.js', 'run']);
    const help = execFileSync(process.execPath, [path.join(root, 'bin/quorum.js'), 'run', '--help'], { encoding: 'utf8' });
    expect(help).toContain('scheduler, workers, exit monitor and HTTP API in one process');
  });

  it('uses only environment names the config loader understands', () => {
    // Every QUORUM_* override must load; an unknown one would throw here.
    const env = Object.fromEntries(Object.entries(svc('quorum').environment ?? {}).filter(([k]) => k.startsWith('QUORUM_')));
    expect(Object.keys(env).length).toBeGreaterThan(3);
    expect(() => loadConfig({ env })).not.toThrow();
  });

  it('lists in .env.example every secret the config reads from the environment', () => {
    const example = readFileSync(path.join(root, '.env.example'), 'utf8');
    for (const name of ['DATABASE_URL', 'ALPACA_API_KEY_ID', 'ALPACA_API_SECRET_KEY', 'QUORUM_ALLOW_LIVE', 'QUORUM_API_TOKEN', 'QUORUM_DATA_DIR']) {
      expect(example).toMatch(new RegExp(`^${name}=`, 'm'));
    }
    const config = loadConfig({ env: { ALPACA_API_KEY_ID: 'k', ALPACA_API_SECRET_KEY: 's' } });
    expect(config.secrets.alpacaKeyId).toBe('k');
    expect(config.secrets.alpacaSecretKey).toBe('s');
  });
});
