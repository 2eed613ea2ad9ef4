/**
 * The tool registry: given a tool name and unknown arguments from an agent, it validates, runs,
 * bounds and stores the call, and returns a typed outcome. It never throws to the agent: an
 * unknown tool is TOOL_UNKNOWN, bad arguments TOOL_INPUT_INVALID naming the field, a failure
 * inside the tool its QuorumError code (or INTERNAL). Every call is stored in tool_calls (args,
 * sha256 of the result text, size, latency, ok/error) and news hits in retrievals, in one
 * statement, or handed to ToolContext.record for the graph to store with the node's result.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { QuorumError, errorMessage, fieldIssues, parseJson, type ErrorCode, type Proposal } from '../contracts/index.ts';
import type { RiskRules } from '../config/index.ts';
import { valueGroups, type Db } from '../db/index.ts';
import type { Bar } from '../market/index.ts';
import type { NewsSearchQuery, NewsSearchResult } from '../rag/schema.ts';
import type { OutcomeHit, OutcomeSearchQuery } from '../rag/outcomes.ts';
import { ToolName, ToolSuccess, type ToolFailure, type ToolOutcome } from './schema.ts';

/** Point-in-time news search as the tools see it (the graph binds rag's searchNews to an embedder). */
export type NewsSearcher = (query: NewsSearchQuery) => Promise<NewsSearchResult[]>;
/** Point-in-time outcome memory search (rag's searchOutcomes bound to an embedder): only outcomes known before the query's as-of. */
export type OutcomeSearcher = (query: OutcomeSearchQuery) => Promise<OutcomeHit[]>;

/** Everything a tool may read. Tools only read: no tool writes outside tool_calls/retrievals. */
export interface ToolContext {
  db: Db;
  /** committee_runs.id the calls are stored under. */
  runId: string;
  /** The agent (node) making the call. */
  agent: string;
  proposal: Proposal;
  /** The point in time: no tool returns anything after it (the proposal's as-of). */
  asOf: string;
  /** Upper bound of the text given to the agent (settings.committee.maxToolResultChars). */
  maxResultChars: number;
  riskRules: RiskRules;
  /** ticker -> sector (settings.market.sectors). */
  sectors: Readonly<Record<string, string>>;
  /** Absent when no embedder is available; news_search then fails as a typed error. */
  searchNews?: NewsSearcher;
  /** Absent unless the run has outcome memory; past_outcomes then fails as a typed error. */
  searchOutcomes?: OutcomeSearcher;
  signal?: AbortSignal;
  /**
   * Reads bars up to asOf (most recent `limit`, oldest first). Default: barsAsOf on `db`; the
   * graph passes a per-run cache (cachedBarsReader), so bars and indicators read them once.
   */
  readBars?: BarsReader;
  /**
   * When set, each call's rows are handed here instead of being inserted at once: the graph stores
   * them with the rest of the node's transcript, in the statement that stores the node's result
   * (see toolCallInserts), so a node's calls are stored exactly when its result is.
   */
  record?: (rows: ToolCallRows) => void;
}

/** Bars of `ticker` up to the run's as-of time, the most recent `limit`, oldest first. */
export type BarsReader = (ticker: string, limit: number) => Promise<Bar[]>;

/** One call as stored: its tool_calls row and, for a news search, its retrievals rows. */
export interface ToolCallRows {
  call: readonly unknown[];
  retrievals: ReadonlyArray<readonly unknown[]>;
  /** For a past_outcomes call: its outcome_retrievals rows. */
  outcomeRetrievals?: ReadonlyArray<readonly unknown[]>;
}

/** One tool: a name, a description for the agent, a zod input schema and a read-only run. */
export interface Tool<N extends ToolName = ToolName, S extends z.ZodType = z.ZodType> {
  name: N;
  description: string;
  input: S;
  run(ctx: ToolContext, input: z.infer<S>): Promise<Extract<ToolSuccess, { tool: N }>['data']>;
}

/** A tool of any name and input, for the registry's map. */
export interface AnyTool {
  name: ToolName;
  description: string;
  input: z.ZodType;
  run(ctx: ToolContext, input: unknown): Promise<unknown>;
}

/** Declares a tool with its input type inferred from the schema. */
export function defineTool<N extends ToolName, S extends z.ZodType>(tool: Tool<N, S>): AnyTool {
  return tool as unknown as AnyTool;
}

const TRUNCATION_MARK = '…[truncated]';

/** Cuts `text` to `max` characters, marking the cut; returns whether it cut. */
export function boundText(text: string, max: number): { text: string; truncated: boolean } {
  if (text.length <= max) return { text, truncated: false };
  return { text: text.slice(0, Math.max(0, max - TRUNCATION_MARK.length)) + TRUNCATION_MARK, truncated: true };
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** A short random id: tool calls are never re-run on resume, and a retried node's calls stay distinct. */
function newCallId(): string {
  return `tc_${randomUUID().replace(/-/g, '').slice(0, 16)}`;
}

/** The registry the graph hands to agents. */
export class ToolRegistry {
  private readonly tools: ReadonlyMap<string, AnyTool>;

  constructor(tools: readonly AnyTool[]) {
    this.tools = new Map(tools.map((t) => [t.name, t]));
  }

  /** Tool names, for prompts and agents.yaml validation. */
  names(): ToolName[] {
    return [...this.tools.keys()].map((n) => ToolName.parse(n));
  }

  /** Name, description and input schema of each tool (what an agent is told it may call), in `names` order. */
  describe(names?: readonly string[]): Array<{ name: ToolName; description: string; input: z.ZodType }> {
    const picked = names ? names.flatMap((n) => this.tools.get(n) ?? []) : [...this.tools.values()];
    return picked.map((t) => ({ name: t.name, description: t.description, input: t.input }));
  }

  /**
   * Runs `name` with `args` for `ctx.agent`. Never throws for anything the agent controls; a
   * failure to store the call (database down) does propagate, since the transcript is mandatory.
   * With `allowed`, a known tool outside that list is refused (FORBIDDEN) without running.
   */
  async call(ctx: ToolContext, name: string, args: unknown, options: { allowed?: readonly string[] } = {}): Promise<ToolOutcome> {
    const callId = newCallId();
    const evidenceId = `tool:${callId}`;
    const started = performance.now();
    const fail = (code: ErrorCode, message: string, field: string | null): ToolFailure =>
      failure(ctx, { callId, evidenceId, name, code, message, field, started });

    let outcome: ToolOutcome;
    const tool = this.tools.get(name);
    if (!tool) {
      outcome = fail('TOOL_UNKNOWN', `unknown tool "${name}"; known tools: ${[...this.tools.keys()].join(', ')}`, null);
    } else if (options.allowed && !options.allowed.includes(name)) {
      outcome = fail('FORBIDDEN', `tool "${name}" is not allowed to ${ctx.agent}; allowed: ${options.allowed.join(', ') || 'none'}`, null);
    } else {
      const parsed = tool.input.safeParse(args ?? {});
      if (!parsed.success) {
        const issues = fieldIssues(parsed.error);
        const field = issues[0]?.path || '(root)';
        outcome = fail('TOOL_INPUT_INVALID', `invalid arguments for ${name}: ${issues.map((i) => `${i.path || '(root)'}: ${i.message}`).join('; ')}`, field);
      } else {
        try {
          const data = await tool.run(ctx, parsed.data);
          const bounded = boundText(JSON.stringify(data), ctx.maxResultChars);
          outcome = ToolSuccess.parse({
            ok: true,
            callId,
            evidenceId,
            agent: ctx.agent,
            tool: tool.name,
            data,
            text: bounded.text,
            truncated: bounded.truncated,
            latencyMs: performance.now() - started,
          });
        } catch (error) {
          const code: ErrorCode = QuorumError.isInstance(error) ? error.code : 'INTERNAL';
          outcome = fail(code, `${name} failed: ${errorMessage(error)}`, null);
        }
      }
    }
    await storeCall(ctx, outcome, args);
    return outcome;
  }

  /** Stores a call that is refused without running (e.g. over the per-agent limit) and returns its typed error. */
  async reject(ctx: ToolContext, name: string, args: unknown, error: { code: ErrorCode; message: string }): Promise<ToolFailure> {
    const callId = newCallId();
    const outcome = failure(ctx, {
      callId,
      evidenceId: `tool:${callId}`,
      name,
      code: error.code,
      message: error.message,
      field: null,
      started: performance.now(),
    });
    await storeCall(ctx, outcome, args);
    return outcome;
  }
}

function failure(
  ctx: ToolContext,
  f: { callId: string; evidenceId: string; name: string; code: ErrorCode; message: string; field: string | null; started: number },
): ToolFailure {
  // An agent controls the name (and so the message): both bounded, which bounds the text too.
  const error = { code: f.code, message: f.message.slice(0, 1000), field: f.field };
  return {
    ok: false,
    callId: f.callId,
    evidenceId: f.evidenceId,
    agent: ctx.agent,
    tool: f.name.slice(0, 200),
    error,
    text: JSON.stringify({ error: error.code, message: error.message, field: error.field }),
    latencyMs: performance.now() - f.started,
  };
}

const MAX_STORED_ARGS_CHARS = 8_000;

/** Arguments as stored: what the agent sent, JSON-safe and bounded (an agent controls their size). */
function storableArgs(args: unknown, max = MAX_STORED_ARGS_CHARS): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(args === undefined ? {} : args);
  } catch {
    text = undefined;
  }
  if (text === undefined) return JSON.stringify({ unserialisable: String(args).slice(0, 200) });
  if (text.length > max) return JSON.stringify({ truncated: text.slice(0, max) });
  return text;
}

/** Arguments as a JSON value of at most `max` characters (what the transcript and the graph state keep). */
export function boundedArgs(args: unknown, max = MAX_STORED_ARGS_CHARS): JsonValue {
  const parsed = parseJson(storableArgs(args, max));
  return parsed.ok ? (parsed.value as JsonValue) : null;
}

/** A JSON value. */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };

const CALL_COLUMNS = 'id, run_id, agent, tool, args, ok, error_code, result_digest, result_chars, latency_ms, created_at';
const CALL_CASTS = ['', '', '', '', '::jsonb', '', '', '', '::int', '::float8', '::timestamptz'];
const RETRIEVAL_COLUMNS = 'run_id, tool_call_id, query, as_of, ticker, news_id, rank, score';
const RETRIEVAL_CASTS = ['', '', '', '::timestamptz', '', '', '::int', '::float8'];
const OUTCOME_RETRIEVAL_COLUMNS = 'run_id, tool_call_id, as_of, outcome_id, rank, score';
const OUTCOME_RETRIEVAL_CASTS = ['', '', '::timestamptz', '', '::int', '::float8'];

/**
 * The INSERT statements that store `calls` (tool_calls, then retrievals), appending their values
 * to `params`. Run them as one statement (data-modifying CTEs): the retrievals' foreign key to
 * their call is checked at the end of the statement, and nothing is stored half-way.
 */
export function toolCallInserts(calls: readonly ToolCallRows[], params: unknown[]): string[] {
  if (calls.length === 0) return [];
  const out = [
    `INSERT INTO tool_calls (${CALL_COLUMNS}) VALUES ${valueGroups(
      calls.map((c) => c.call),
      params,
      CALL_CASTS,
    )}`,
  ];
  const retrievals = calls.flatMap((c) => c.retrievals);
  if (retrievals.length > 0) out.push(`INSERT INTO retrievals (${RETRIEVAL_COLUMNS}) VALUES ${valueGroups(retrievals, params, RETRIEVAL_CASTS)}`);
  const outcomes = calls.flatMap((c) => c.outcomeRetrievals ?? []);
  if (outcomes.length > 0)
    out.push(`INSERT INTO outcome_retrievals (${OUTCOME_RETRIEVAL_COLUMNS}) VALUES ${valueGroups(outcomes, params, OUTCOME_RETRIEVAL_CASTS)}`);
  return out;
}

/** Statements run together as one: the last as the main statement, the others as data-modifying CTEs. */
export function asOneStatement(statements: readonly string[]): string | null {
  const last = statements.at(-1);
  if (last === undefined) return null;
  const before = statements.slice(0, -1);
  return before.length === 0 ? last : `WITH ${before.map((p, i) => `w${i} AS (${p})`).join(', ')} ${last}`;
}

/**
 * Now, to the microsecond, from the monotonic clock: a call's created_at. Calls handed to
 * ToolContext.record are stored later, several in one statement (where now() is one value), and
 * readers order a run's calls by created_at.
 */
function callTime(): string {
  const ms = performance.timeOrigin + performance.now();
  const whole = Math.floor(ms);
  const micros = Math.floor((ms - whole) * 1000);
  return `${new Date(whole).toISOString().slice(0, 23)}${String(micros).padStart(3, '0')}Z`;
}

function callRows(ctx: ToolContext, outcome: ToolOutcome, args: unknown): ToolCallRows {
  const call = [
    outcome.callId,
    ctx.runId,
    ctx.agent,
    outcome.tool.slice(0, 200),
    storableArgs(args),
    outcome.ok,
    outcome.ok ? null : outcome.error.code,
    sha256(outcome.text),
    outcome.text.length,
    outcome.latencyMs,
    callTime(),
  ];
  if (outcome.ok && outcome.tool === 'past_outcomes') {
    const d = outcome.data;
    return { call, retrievals: [], outcomeRetrievals: d.hits.map((hit, rank) => [ctx.runId, outcome.callId, d.asOf, hit.outcomeId, rank + 1, hit.similarity]) };
  }
  if (!(outcome.ok && outcome.tool === 'news_search')) return { call, retrievals: [] };
  const d = outcome.data;
  return { call, retrievals: d.hits.map((hit, rank) => [ctx.runId, outcome.callId, d.query, d.asOf, d.ticker, hit.newsId, rank + 1, hit.score]) };
}

async function storeCall(ctx: ToolContext, outcome: ToolOutcome, args: unknown): Promise<void> {
  const rows = callRows(ctx, outcome, args);
  if (ctx.record) {
    ctx.record(rows);
    return;
  }
  const params: unknown[] = [];
  const sql = asOneStatement(toolCallInserts([rows], params));
  if (sql) await ctx.db.query(sql, params);
}
