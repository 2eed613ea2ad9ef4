/**
 * Record and replay of LLM calls. A cassette maps a request hash — sha256 of backend, model, role,
 * the messages, the output schema and the seed — to the answer. Recording wraps a real backend;
 * replay answers from the cassette alone and fails clearly on a request it has not seen.
 *
 * Tool-call evidence ids (`tool:tc_…`) are random per run, so before hashing they are replaced by
 * their order of first appearance (`tool:#1`, …), and the recorded answer is stored with the same
 * placeholders; on replay they are mapped back to this run's ids. A replayed run therefore cites
 * the same evidence as the recorded one, and a rerun gives identical verdicts.
 */
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { stableStringify, type ChatBackend, type Completion, type CompletionRequest, type RoleName } from '../agents/index.ts';
import { IsoDateTime, QuorumError, parseJson, parseWith } from '../contracts/index.ts';

const TOOL_ID = /tool:tc_[0-9a-f]{16}/g;
const PLACEHOLDER = /tool:#(\d+)/g;

export const CassetteEntry = z
  .object({
    role: z.string(),
    model: z.string(),
    /** The answer, with tool ids as placeholders. */
    text: z.string(),
    tokens: z.object({ prompt: z.number().int().min(0), completion: z.number().int().min(0) }).strict(),
    latencyMs: z.number().min(0),
  })
  .strict();
export type CassetteEntry = z.infer<typeof CassetteEntry>;

export const Cassette = z
  .object({
    version: z.literal(1),
    backend: z.string().min(1),
    /** The default model (label); per-role models are in `models`. */
    model: z.string().min(1),
    models: z.partialRecord(z.enum(['analyst', 'bull', 'bear', 'risk', 'committee']), z.string()),
    recordedAt: IsoDateTime,
    entries: z.record(z.string().regex(/^[0-9a-f]{64}$/), CassetteEntry),
  })
  .strict();
export type Cassette = z.infer<typeof Cassette>;

/** A new, empty cassette labelled with the backend, model and date. */
export function emptyCassette(backend: string, model: string, recordedAt: Date = new Date()): Cassette {
  return { version: 1, backend, model, models: {}, recordedAt: recordedAt.toISOString(), entries: {} };
}

/** Replaces run-specific tool ids by placeholders in order of first appearance; returns the map. */
export function normaliseToolIds(text: string, map: Map<string, string> = new Map()): { text: string; map: Map<string, string> } {
  const out = text.replace(TOOL_ID, (id) => {
    let p = map.get(id);
    if (!p) {
      p = `tool:#${map.size + 1}`;
      map.set(id, p);
    }
    return p;
  });
  return { text: out, map };
}

/** The cassette key of a request: sha256 over its normalised parts. */
export function requestKey(input: { backend: string; model: string; role: RoleName; request: CompletionRequest; seed: number }): {
  key: string;
  map: Map<string, string>;
} {
  const { map } = normaliseToolIds(input.request.messages.map((m) => m.content).join('\n'));
  const norm = (s: string): string => normaliseToolIds(s, map).text;
  const canonical = stableStringify({
    backend: input.backend,
    model: input.model,
    role: input.role,
    messages: input.request.messages.map((m) => ({ role: m.role, content: norm(m.content) })),
    schema: norm(stableStringify(input.request.jsonSchema)),
    seed: input.seed,
  });
  return { key: createHash('sha256').update(canonical).digest('hex'), map };
}

/** A request replay could not answer: which agent, and the proposal it was judging (null when the request names none). */
export interface CassetteMiss {
  role: RoleName;
  key: string;
  ticker: string | null;
  asOf: string | null;
}

const PROPOSAL_BLOCK = /<proposal>\n([^\n]*)\n<\/proposal>/;
const ProposalRef = z.object({ ticker: z.string(), asOf: z.string() }).passthrough();

/** The ticker and as-of of the proposal a request judges (from its rendered `<proposal>` block). */
export function proposalOfRequest(request: CompletionRequest): { ticker: string | null; asOf: string | null } {
  for (const m of request.messages) {
    const block = PROPOSAL_BLOCK.exec(m.content)?.[1];
    if (!block) continue;
    const json = parseJson(block.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&amp;/g, '&'));
    const ref = json.ok ? ProposalRef.safeParse(json.value) : null;
    if (ref?.success) return { ticker: ref.data.ticker, asOf: ref.data.asOf };
  }
  return { ticker: null, asOf: null };
}

/** A backend that records or replays, with what it did. */
export interface CassetteBackend extends ChatBackend {
  readonly mode: 'record' | 'replay';
  readonly cassette: Cassette;
  /** Requests replay could not answer (role, key, and the proposal's ticker and as-of read from the request), in order. */
  readonly misses: CassetteMiss[];
  /** Requests answered from the cassette (replay; in record mode, a request recorded earlier in the same cassette). */
  hits: number;
}

export interface CassetteOptions {
  mode: 'record' | 'replay';
  cassette: Cassette;
  /** The seed the calls are made with (part of the key). */
  seed: number;
  /** The real backend (record mode only). */
  inner?: ChatBackend;
}

/** Wraps `inner` to record into `cassette`, or answers from it (replay). */
export function createCassetteBackend(options: CassetteOptions): CassetteBackend {
  const { cassette, seed, mode } = options;
  const inner = options.inner;
  if (mode === 'record' && !inner) throw new QuorumError('INPUT_INVALID', 'cassette: record mode needs the real backend to record from');
  const misses: CassetteMiss[] = [];
  const backendName = inner?.name ?? cassette.backend;
  const modelOf = (role: RoleName): string => inner?.model(role) ?? cassette.models[role] ?? cassette.model;
  const self: CassetteBackend = {
    name: backendName,
    mode,
    cassette,
    misses,
    hits: 0,
    model: modelOf,
    async complete(request: CompletionRequest): Promise<Completion> {
      const model = modelOf(request.role);
      const { key, map } = requestKey({ backend: backendName, model, role: request.role, request, seed });
      if (mode === 'replay') {
        const entry = cassette.entries[key];
        if (!entry) {
          misses.push({ role: request.role, key, ...proposalOfRequest(request) });
          throw new QuorumError(
            'NOT_FOUND',
            `cassette miss: no recorded answer for ${request.role} (request ${key.slice(0, 12)}…) in the ${cassette.backend}/${cassette.model} cassette of ${cassette.recordedAt}; record it again`,
            { key, role: request.role },
          );
        }
        self.hits++;
        const back = new Map([...map].map(([id, p]) => [p, id]));
        const text = entry.text.replace(PLACEHOLDER, (p) => back.get(p) ?? p);
        return { text, tokens: { ...entry.tokens }, latencyMs: entry.latencyMs };
      }
      // A request already recorded (e.g. the analyst's, identical in an ablated variant) is answered
      // from the cassette: replay would answer it so, and the real backend is not asked twice.
      const seen = cassette.entries[key];
      if (seen) {
        self.hits++;
        const back = new Map([...map].map(([id, p]) => [p, id]));
        return { text: seen.text.replace(PLACEHOLDER, (p) => back.get(p) ?? p), tokens: { ...seen.tokens }, latencyMs: seen.latencyMs };
      }
      const answer = await (inner as ChatBackend).complete(request);
      cassette.models[request.role] = model;
      cassette.entries[key] = {
        role: request.role,
        model,
        text: normaliseToolIds(answer.text, map).text,
        tokens: { ...answer.tokens },
        latencyMs: answer.latencyMs,
      };
      return answer;
    },
    close: inner?.close ? () => (inner.close as () => Promise<void>)() : undefined,
  };
  return self;
}

/** Reads a cassette file; an invalid one is an error naming the field. */
export function readCassette(file: string): Cassette {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw new QuorumError('INPUT_INVALID', `cannot read cassette ${file}: ${(error as Error).message}`, { file }, { cause: error });
  }
  const json = parseJson(text);
  if (!json.ok) throw new QuorumError('INPUT_INVALID', `${file}: ${json.error}`, { file });
  const parsed = parseWith(Cassette, json.value);
  if (!parsed.ok) throw new QuorumError('INPUT_INVALID', `${file}: ${parsed.error}`, { file, issues: parsed.issues });
  return parsed.value;
}

/** Writes a cassette (entries sorted by key: stable diffs). */
export function writeCassette(file: string, cassette: Cassette): void {
  mkdirSync(path.dirname(file), { recursive: true });
  const entries = Object.fromEntries(Object.entries(cassette.entries).sort(([a], [b]) => a.localeCompare(b)));
  writeFileSync(file, `${JSON.stringify(Cassette.parse({ ...cassette, entries }), null, 1)}\n`);
}
