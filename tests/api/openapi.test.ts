import { describe, expect, it } from 'vitest';
import { createApp } from '../../api/index.ts';
import { loadConfig } from '../../config/index.ts';
import { parseJson } from '../../contracts/index.ts';
import type { Db } from '../../db/index.ts';

/** Building and serving the document touches no database: every query fails loudly. */
const noDb: Db = {
  kind: 'pglite',
  query: () => Promise.reject(new Error('no database in this test')),
  exec: () => Promise.reject(new Error('no database in this test')),
  transaction: () => Promise.reject(new Error('no database in this test')),
  close: () => Promise.resolve(),
};

type Schema = { $ref?: string; type?: string | string[]; properties?: Record<string, unknown>; anyOf?: unknown[]; oneOf?: unknown[]; allOf?: unknown[] };
type Operation = { responses?: Record<string, { content?: Record<string, { schema?: Schema }> }> };
type Doc = { openapi: string; paths: Record<string, Record<string, Operation>>; components: { schemas: Record<string, Schema> } };

async function openapiDocument(app: ReturnType<typeof createApp>): Promise<Doc> {
  const res = await app.request('/openapi.json');
  expect(res.status).toBe(200);
  const parsed = parseJson(await res.text());
  if (!parsed.ok) throw new Error(parsed.error);
  return parsed.value as Doc;
}

/** What is wrong with a response schema: missing, empty (`{}`, any), or an object with no properties. */
function schemaProblem(doc: Doc, schema: Schema | undefined, mediaType: string): string | null {
  if (!schema) return 'no schema';
  const resolved = schema.$ref ? doc.components.schemas[schema.$ref.replace('#/components/schemas/', '')] : schema;
  if (!resolved) return `dangling ${schema.$ref ?? ''}`;
  if (resolved.anyOf ?? resolved.oneOf ?? resolved.allOf) return null;
  if (!resolved.type) return 'empty (any) schema';
  if (mediaType.includes('json') && resolved.type === 'object' && Object.keys(resolved.properties ?? {}).length === 0) return 'object without properties';
  return null;
}

describe('the OpenAPI document', () => {
  const CONSOLE_FILES = ['/', '/console/app.js', '/console/app.css'];
  const app = createApp({ db: noDb, config: loadConfig({ env: {} }), localKey: 'k'.repeat(43) });

  it('lists every route the app serves, each with a typed success response schema', async () => {
    const doc = await openapiDocument(app);
    expect(doc.openapi).toBe('3.1.0');
    const served = [
      ...new Set(
        app.routes
          // Middleware (app.use) is registered as ALL; the document does not describe itself, nor the
          // web console's page and bundle (HTML, JavaScript and CSS files, not API responses).
          .filter((r) => r.method !== 'ALL' && !['/openapi.json', ...CONSOLE_FILES].includes(r.path))
          .map((r) => `${r.method.toLowerCase()} ${r.path.replace(/:(\w+)/g, '{$1}')}`),
      ),
    ].sort();
    expect(served.length).toBeGreaterThanOrEqual(15);
    expect(served).toEqual(expect.arrayContaining(['post /v1/critiques', 'get /v1/critiques/{id}', 'get /metrics', 'post /local/tokens', 'get /healthz']));
    const problems: string[] = [];
    for (const route of served) {
      const [method = '', path = ''] = route.split(' ');
      const op = doc.paths[path]?.[method];
      if (!op) {
        problems.push(`${route}: not in /openapi.json`);
        continue;
      }
      const success = Object.entries(op.responses ?? {}).filter(([status]) => status.startsWith('2'));
      if (success.length === 0) problems.push(`${route}: no 2xx response`);
      for (const [status, response] of success) {
        const content = Object.entries(response.content ?? {});
        if (content.length === 0) problems.push(`${route} ${status}: no content`);
        for (const [mediaType, media] of content) {
          const problem = schemaProblem(doc, media.schema, mediaType);
          if (problem) problems.push(`${route} ${status} ${mediaType}: ${problem}`);
        }
      }
    }
    expect(problems).toEqual([]);
    // Nothing documented that the app does not serve.
    const documented = Object.entries(doc.paths)
      .flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m} ${path}`))
      .sort();
    expect(documented).toEqual(served);
  });

  it('names the contract and read-model schemas as components', async () => {
    const doc = await openapiDocument(app);
    const names = Object.keys(doc.components.schemas);
    expect(names).toEqual(
      expect.arrayContaining([
        'Verdict',
        'Critique',
        'CritiqueRequest',
        'CritiqueRun',
        'Session',
        'SessionList',
        'AuditChain',
        'Portfolio',
        'TradingState',
        'ApprovalList',
        'ApprovalReply',
        'Error',
      ]),
    );
    expect(Object.keys(doc.components.schemas.Verdict?.properties ?? {})).toContain('sizeMultiplier');
    const critique = doc.paths['/v1/critiques']?.post?.responses?.['200']?.content ?? {};
    expect(Object.keys(critique).sort()).toEqual(['application/json', 'text/event-stream']);
  });
});
