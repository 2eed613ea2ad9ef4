import { createHash, randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import { z } from 'zod';
import type { Config, Logger } from '../config/index.ts';
import { QuorumError, Verdict, errorMessage, type Proposal, type RiskDecision } from '../contracts/index.ts';
import { appendAudit, type Db } from '../db/index.ts';
import { reconcile, runOrderStage, syncOpenOrders, type Broker, type ExchangeClock, type SubmitOutcome } from '../execution/index.ts';
import type { BaseCheckpointSaver } from '@langchain/langgraph-checkpoint';
import { runCommittee, type SelectedBackend } from '../graph/index.ts';
import { publishLive } from './live.ts';
import { barCoverage } from '../market/index.ts';
import { checkProposalDate, measureModelHealth, propose, type Proposer } from '../ml/index.ts';
import { searchOutcomes, type Embedder } from '../rag/index.ts';
import type { NewsSearcher, OutcomeSearcher } from '../tools/index.ts';
import { outcomeReflector, recordKnownOutcomes } from './outcomes.ts';
import { refreshInputs, staleReason } from './refresh.ts';
import type { InputSources } from './refresh.ts';
import { writeSessionReport, type WrittenReport } from './report.ts';

export const SessionKind = z.enum(['scheduled', 'manual', 'demo', 'api', 'backtest']);
export type SessionKind = z.infer<typeof SessionKind>;

/** What a session needs from the outside world; the demo, the scheduler and the workers each build one. */
export interface SessionEnv {
  db: Db;
  config: Config;
  log: Logger;
  broker: Broker;
  backend: SelectedBackend;
  proposer: Proposer;
  searchNews?: NewsSearcher;
  /** The store's embedder: outcome memory (settings memory.enabled) embeds and searches outcomes with it. */
  embedder?: Embedder;
  /** The decision clock (ISO). Live sessions pass the wall clock; the demo passes the session's as-of. */
  now: () => string;
  /** One committee checkpointer shared by the session's runs (see graph/openCheckpointer). */
  checkpointer: BaseCheckpointSaver;
  /**
   * The paper exchange's simulated clock, when the session drives it: set to the session's as-of before
   * it reconciles and, for a session at a past time, moved one bar on after its orders, so they fill
   * at the session's own next bar (the demo, `quorum session run`).
   */
  exchangeClock?: ExchangeClock;
  /** Where a live session refreshes its bars and news (absent: the stored ones, no feeds). */
  inputs?: InputSources;
  /** Who runs its sessions (sessions.owner); default this process's PROCESS_OWNER. */
  owner?: string;
}

/** What happened to one proposal. */
export interface JudgedProposal {
  proposal: Proposal;
  verdict: Verdict | null;
  decision: RiskDecision | null;
  order: SubmitOutcome | null;
  /** The approval this proposal's order waits for (execution.requireApproval). */
  pendingApproval: string | null;
  /** Set when this proposal failed (its siblings go on). */
  error: string | null;
}

export interface SessionOutcome {
  sessionId: string;
  /** False when the slot already had a session (one session per slot): nothing was run again. */
  created: boolean;
  judged: JudgedProposal[];
  report: WrittenReport | null;
  notice: string;
  /** Why the session traded nothing (stale or unrefreshable inputs), or null. */
  skipped: string | null;
}

export interface RunSessionOptions {
  asOf: string;
  kind: SessionKind;
  /** A schedule slot such as `2000-06-01T12:30 America/New_York`: at most one session per slot. */
  slot?: string;
  /** Default: settings.market.universe, or every ticker with bars. */
  tickers?: readonly string[];
  topN?: number;
  /**
   * True when the session runs at the wall clock (`quorum session run` without --as-of, scheduled slots):
   * its newest bar must be at most settings sessions.maxBarAgeTradingDays old. Otherwise `asOf` is a
   * past time: a trading day inside the stored bars, with a bar after it to fill at.
   */
  live?: boolean;
  /** How errors name the as-of (default `asOf`), e.g. `--as-of`. */
  asOfLabel?: string;
  onProgress?: (message: string) => void;
}

export function sessionIdFor(slot: string | undefined): string {
  if (slot) return `ses_${createHash('sha256').update(slot).digest('hex').slice(0, 16)}`;
  return `ses_${randomBytes(8).toString('hex')}`;
}

/** This process as a session owner: `host:pid:token`, the token telling it from an earlier process with the same pid. */
export const PROCESS_OWNER = `${hostname()}:${process.pid}:${randomBytes(4).toString('hex')}`;

/** Owners of this process declared gone (abandonSessionOwner): their running sessions may be taken over. */
const abandonedOwners = new Set<string>();

/**
 * Declares an owner of this process gone, as if its process had died: its sessions left `running` may
 * be run again. For an owner that runs sessions in-process and is torn down without finishing them
 * (the soak's simulated crash); a process that dies needs no call (its pid is gone).
 */
export function abandonSessionOwner(owner: string): void {
  abandonedOwners.add(owner);
}

function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * True when the owner of a `running` session is certainly gone: a process on this host whose pid no
 * longer runs, or an owner of this process declared abandoned. An owner on another host, or none
 * (a row from before sessions.owner), is never presumed gone.
 */
export function sessionOwnerGone(owner: string | null): boolean {
  if (owner === null) return false;
  const m = /^(.*):(\d+):([^:]+)$/.exec(owner);
  if (!m || m[1] !== hostname()) return false;
  const pid = Number(m[2]);
  if (pid !== process.pid) return !pidAlive(pid);
  return abandonedOwners.has(owner);
}

const SessionRowState = z.object({ status: z.string(), owner: z.string().nullable() });

/**
 * Creates the session row; returns false when the slot already has one. A slot runs once; it runs
 * again when its session failed (e.g. the broker was down), or when it was left `running` by an owner
 * that is gone (a killed or crashed process: sessionOwnerGone). Its proposals, verdicts and orders are
 * idempotent by id, so what the earlier attempt stored is reused, never doubled. The takeover compares
 * the owner it saw, so two processes restarting at once take a slot over once.
 */
async function createSession(db: Db, id: string, options: RunSessionOptions, backend: string, owner: string): Promise<boolean> {
  const existing = await db.query('SELECT status, owner FROM sessions WHERE id = $1', [id]);
  const row = existing.rows[0] ? SessionRowState.parse(existing.rows[0]) : null;
  const takeOver = row?.status === 'running' && sessionOwnerGone(row.owner) ? row.owner : null;
  const res = await db.query(
    `INSERT INTO sessions (id, kind, slot, as_of, status, backend, owner) VALUES ($1, $2, $3, $4, 'running', $5, $6)
     ON CONFLICT (id) DO UPDATE SET status = 'running', error = NULL, finished_at = NULL, backend = EXCLUDED.backend, owner = EXCLUDED.owner, started_at = now()
       WHERE sessions.status = 'failed' OR (sessions.status = 'running' AND sessions.owner = $7::text)
     RETURNING id`,
    [id, options.kind, options.slot ?? null, options.asOf, backend, owner, takeOver],
  );
  if (res.rows.length > 0 && takeOver !== null) await appendAudit(db, 'session.taken_over', 'session', id, { from: takeOver, to: owner });
  return res.rows.length > 0;
}

/** The proposals worth the committee's time: the N most confident, by distance from 0.5. */
export function topProposals(proposals: readonly Proposal[], n: number): Proposal[] {
  return [...proposals].sort((a, b) => Math.abs(b.probability - 0.5) - Math.abs(a.probability - 0.5) || a.ticker.localeCompare(b.ticker)).slice(0, n);
}

const VerdictRow = z.object({ payload: z.unknown(), run_id: z.string().nullable() });

/**
 * Committee, risk and order for one stored proposal. Idempotent: a proposal that already has a verdict
 * (a retried job, a restarted worker) is not judged again; its committee thread id is deterministic,
 * so an interrupted run resumes from its checkpoint; the order's client_order_id is deterministic, so
 * it is never sent twice.
 */
export async function judgeProposal(env: SessionEnv, sessionId: string, proposal: Proposal): Promise<JudgedProposal> {
  const { db, config } = env;
  const stored = await db.query('SELECT payload, run_id FROM verdicts WHERE proposal_id = $1 ORDER BY created_at LIMIT 1', [proposal.id]);
  let verdict: Verdict;
  let runId: string | null;
  if (stored.rows[0]) {
    const row = VerdictRow.parse(stored.rows[0]);
    verdict = Verdict.parse(row.payload);
    runId = row.run_id;
  } else {
    const result = await runCommittee({
      db,
      config,
      proposal,
      backend: env.backend.backend,
      searchNews: env.searchNews,
      searchOutcomes: memoryOf(env),
      sessionId,
      threadId: `thr_${proposal.id}`,
      checkpointer: env.checkpointer,
      onEvent: (event) => publishLive({ source: 'session', sessionId, proposalId: proposal.id, ticker: proposal.ticker, event }),
    });
    verdict = result.verdict;
    runId = result.runId;
  }
  // Risk, then (with execution.requireApproval) a human, then the order: a checkpointed graph of its own.
  const stage = await runOrderStage(env, { sessionId, proposal, verdict, runId });
  return { proposal, verdict, decision: stage.decision, order: stage.order, pendingApproval: stage.pendingApproval, error: null };
}

/** The committee's outcome search when settings memory.enabled and the store has an embedder. */
function memoryOf(env: SessionEnv): OutcomeSearcher | undefined {
  const embedder = env.embedder;
  if (!env.config.settings.memory.enabled || !embedder) return undefined;
  return (q) => searchOutcomes(env.db, embedder, q);
}

/**
 * With memory on: the outcomes known by the session's as-of (closed positions, from the fills just
 * reconciled; passed horizons, from the bars), recorded before anything is judged.
 */
async function recordOutcomes(env: SessionEnv, sessionId: string, options: RunSessionOptions): Promise<void> {
  const embedder = env.embedder;
  if (!env.config.settings.memory.enabled) return;
  if (!embedder) {
    progress(env, options, 'outcome memory: no embedder (news search unavailable), nothing recorded or searched');
    return;
  }
  const r = await recordKnownOutcomes(env.db, { embedder, asOf: options.asOf, reflect: outcomeReflector(env.backend.backend, env.config) });
  await appendAudit(env.db, 'session.outcomes', 'session', sessionId, { ...r });
  progress(env, options, `outcome memory: ${r.closed} closed position(s) and ${r.horizon} passed horizon(s) recorded, ${r.pending} not known yet`);
}

interface PreparedSession {
  sessionId: string;
  created: boolean;
  chosen: Proposal[];
  proposals: number;
  /** Set when the session was stored as skipped (its report written): nothing to judge. */
  skipped: string | null;
  report: WrittenReport | null;
}

/**
 * Refuses a session at a past time that the data cannot serve, before anything is stored: it must be
 * a trading day inside the stored bars with a bar after it to fill at, and needs the paper exchange
 * (a real broker fills at today's prices). A live session's inputs are checked after its refresh
 * (liveInputs), and stale ones end it as skipped, with a report.
 */
async function checkSessionTime(env: SessionEnv, options: RunSessionOptions): Promise<void> {
  if (options.live) return;
  const label = options.asOfLabel ?? 'asOf';
  if (env.broker.name !== 'paper-exchange') {
    throw new QuorumError(
      'INPUT_INVALID',
      `${label} ${options.asOf}: a session at a past time needs the local paper exchange (settings.yaml execution.broker: paper-exchange), which fills at that time's next bar; ${env.broker.name} would fill at today's prices`,
      { field: 'asOf', broker: env.broker.name },
    );
  }
  await checkProposalDate(env.db, options.asOf, { purpose: options.kind === 'demo' ? 'demo' : 'session', field: 'asOf', label });
}

/**
 * A live session's refresh (sessions/refresh.ts), stored with the session; returns why it must not
 * trade, or null.
 */
async function liveInputs(env: SessionEnv, sessionId: string, options: RunSessionOptions, universe: readonly string[]): Promise<string | null> {
  const { sessions } = env.config.settings;
  const refresh = await refreshInputs(env.db, env.inputs ?? { feeds: 0 }, { asOf: options.asOf, tickers: universe, timeoutMs: sessions.refreshTimeoutMs });
  await env.db.query('UPDATE sessions SET inputs = $2 WHERE id = $1', [sessionId, JSON.stringify(refresh)]);
  await appendAudit(env.db, 'session.inputs', 'session', sessionId, refresh);
  const { bars, news } = refresh;
  progress(
    env,
    options,
    `inputs: bars from ${bars.source} (${bars.stored} stored, newest ${bars.newest ?? 'none'}${bars.error ? `, error: ${bars.error}` : ''}); news from ${news.feeds} feed(s) (${news.inserted} new, newest ${news.newest ?? 'none'}${news.errors.length ? `, ${news.errors.length} failed` : ''})`,
  );
  return staleReason(env.db, refresh, {
    asOf: options.asOf,
    label: options.asOfLabel ?? 'asOf',
    limits: { maxBarAgeTradingDays: sessions.maxBarAgeTradingDays, maxNewsAgeHours: sessions.maxNewsAgeHours },
  });
}

/** Ends a session that must not trade: stored as skipped with the reason, its report saying why. */
async function skipSession(env: SessionEnv, sessionId: string, reason: string): Promise<WrittenReport> {
  const { db, config } = env;
  await db.query(`UPDATE sessions SET status = 'skipped', finished_at = now(), error = $2, stats = $3 WHERE id = $1`, [
    sessionId,
    reason,
    JSON.stringify({ proposals: 0, verdicts: 0, decisions: 0, orders: 0 }),
  ]);
  const report = await writeSessionReport(db, sessionId, path.resolve(config.dataDir, config.settings.sessions.reportsDir), env.now());
  await appendAudit(db, 'session.skipped', 'session', sessionId, { reason, report: { html: report.html, markdown: report.markdown } });
  return report;
}

/**
 * For a session at a past time on the paper exchange: move its clock one bar on (the session's next
 * bar, where its market orders fill) and record the fills. Nothing later is filled in this session.
 */
export async function fillNextBar(env: SessionEnv, options: RunSessionOptions): Promise<void> {
  if (options.live || !env.exchangeClock) return;
  const now = await env.exchangeClock.advanceBars(1);
  const synced = await syncOpenOrders(env.db, env.broker);
  progress(env, options, `paper exchange advanced to the next bar ${now}; ${synced} order(s) synced`);
}

/**
 * Checks the session's time, then the session row, startup reconciliation, proposals, the top N. A
 * slot that already ran returns created=false.
 */
export async function prepareSession(env: SessionEnv, options: RunSessionOptions): Promise<PreparedSession> {
  const { db, config } = env;
  await checkSessionTime(env, options);
  const sessionId = sessionIdFor(options.slot);
  if (!(await createSession(db, sessionId, options, env.backend.name, env.owner ?? PROCESS_OWNER))) {
    progress(env, options, `slot ${options.slot ?? ''} already has session ${sessionId}: not run again`);
    return { sessionId, created: false, chosen: [], proposals: 0, skipped: null, report: null };
  }
  await appendAudit(db, 'session.started', 'session', sessionId, { asOf: options.asOf, kind: options.kind, backend: env.backend.name });
  progress(env, options, env.backend.notice);
  try {
    const universe = options.tickers?.length
      ? [...options.tickers]
      : config.settings.market.universe.length
        ? [...config.settings.market.universe]
        : (await barCoverage(db)).filter((c) => c.first <= options.asOf).map((c) => c.ticker);
    if (options.live) {
      const skipped = await liveInputs(env, sessionId, options, universe);
      if (skipped) {
        const report = await skipSession(env, sessionId, skipped);
        progress(env, options, `session ${sessionId} trades nothing: ${skipped}`);
        return { sessionId, created: true, chosen: [], proposals: 0, skipped, report };
      }
    }
    if (env.exchangeClock) {
      // The exchange prices and fills at the session's own time, also when a later date ran before.
      const now = await env.exchangeClock.startSession(options.asOf);
      progress(env, options, `paper exchange clock set to ${now}`);
    }
    // Startup reconciliation: a failure halts trading (risk then denies every new order).
    const rec = await reconcile(db, env.broker);
    progress(env, options, `reconciled with the broker: ${JSON.stringify(rec)}`);
    await recordOutcomes(env, sessionId, options);
    // The model's health first: an unhealthy model proposes nothing (settings.drift.gate).
    const health = await measureModelHealth(db, { sessionId, asOf: options.asOf, tickers: universe, proposer: env.proposer, settings: config.settings });
    if (health) progress(env, options, `model health: ${health.reason}`);
    if (health?.gate === 'abstain') {
      const report = await skipSession(env, sessionId, health.reason);
      progress(env, options, `session ${sessionId} trades nothing: ${health.reason}`);
      return { sessionId, created: true, chosen: [], proposals: 0, skipped: health.reason, report };
    }
    const proposed = await propose(db, { asOf: options.asOf, tickers: universe, proposer: env.proposer, settings: config.settings, sessionId });
    // A ticker with an order still working at the broker (the morning slot's entry on daily bars, a held
    // position's bracket legs) would only be denied ONE_OPEN_ORDER_PER_TICKER, which reads the same
    // broker list: the committee's time goes to the next proposals instead.
    const working = new Set((await env.broker.listOpenOrders()).map((o) => o.symbol));
    const open = proposed.proposals.filter((p) => working.has(p.ticker));
    const chosen = topProposals(
      proposed.proposals.filter((p) => !working.has(p.ticker)),
      options.topN ?? config.settings.sessions.topN,
    );
    progress(
      env,
      options,
      `proposer: ${proposed.proposals.length} proposals, ${proposed.abstained.length} abstained, ${proposed.skipped.length} skipped${open.length ? `, ${open.length} passed over (order still working: ${open.map((p) => p.ticker).join(', ')})` : ''}; judging the top ${chosen.length}`,
    );
    return { sessionId, created: true, chosen, proposals: proposed.proposals.length, skipped: null, report: null };
  } catch (error) {
    await failSession(env, sessionId, error);
    throw error;
  }
}

async function failSession(env: SessionEnv, sessionId: string, error: unknown): Promise<void> {
  await env.db.query(`UPDATE sessions SET status = 'failed', finished_at = now(), error = $2 WHERE id = $1`, [sessionId, errorMessage(error)]);
  await appendAudit(env.db, 'session.failed', 'session', sessionId, { error: errorMessage(error) });
}

function progress(env: SessionEnv, options: Pick<RunSessionOptions, 'slot' | 'kind' | 'onProgress'>, message: string): void {
  env.log.info({ session: options.slot ?? options.kind }, message);
  options.onProgress?.(message);
}

/** Judges one proposal and never throws: a failed proposal is reported and its siblings go on. */
export async function judgeSafely(env: SessionEnv, sessionId: string, p: Proposal, onProgress?: (m: string) => void): Promise<JudgedProposal> {
  try {
    const j = await judgeProposal(env, sessionId, p);
    onProgress?.(
      `${p.ticker}: ${j.verdict?.decision ?? '-'} -> ${j.decision?.action ?? '-'} ${j.decision?.finalQty ?? 0}${j.order ? ` -> order ${j.order.status}` : ''}${j.pendingApproval ? ` -> awaiting approval ${j.pendingApproval}` : ''}`,
    );
    return j;
  } catch (error) {
    env.log.error({ err: errorMessage(error), proposal: p.id }, 'proposal failed');
    onProgress?.(`${p.ticker}: failed: ${errorMessage(error)}`);
    return { proposal: p, verdict: null, decision: null, order: null, pendingApproval: null, error: errorMessage(error) };
  }
}

/** Marks the session completed with its stats (read from what was stored) and writes the report. */
export async function finishSession(env: SessionEnv, sessionId: string, proposals: number): Promise<WrittenReport> {
  const { db, config } = env;
  const counts = await db.query(
    `SELECT (SELECT count(*) FROM verdicts v JOIN proposals p ON p.id = v.proposal_id WHERE p.session_id = $1)::int AS verdicts,
            (SELECT count(*) FROM risk_decisions r JOIN proposals p ON p.id = r.proposal_id WHERE p.session_id = $1)::int AS decisions,
            (SELECT count(*) FROM order_intents WHERE session_id = $1)::int AS orders`,
    [sessionId],
  );
  const stats = { proposals, ...z.object({ verdicts: z.number(), decisions: z.number(), orders: z.number() }).parse(counts.rows[0]) };
  await db.query(`UPDATE sessions SET status = 'completed', finished_at = now(), stats = $2 WHERE id = $1`, [sessionId, JSON.stringify(stats)]);
  const report = await writeSessionReport(db, sessionId, path.resolve(config.dataDir, config.settings.sessions.reportsDir), env.now());
  await appendAudit(db, 'session.completed', 'session', sessionId, { ...stats, report: { html: report.html, markdown: report.markdown } });
  return report;
}

/**
 * One committee session in this process: reconcile with the broker, propose, take the top N, judge them
 * with bounded concurrency (committee -> risk -> order), then write the report.
 */
/** A session whose proposals are chosen and stored; `done` settles when they are judged and the report is written. */
export interface StartedSession {
  sessionId: string;
  created: boolean;
  done: Promise<SessionOutcome>;
}

/** Prepares a session (its errors, e.g. a bad asOf, are thrown here) and judges its proposals in the background. */
export async function startSession(env: SessionEnv, options: RunSessionOptions): Promise<StartedSession> {
  const prepared = await prepareSession(env, options);
  if (!prepared.created || prepared.skipped) {
    const outcome: SessionOutcome = {
      sessionId: prepared.sessionId,
      created: prepared.created,
      judged: [],
      report: prepared.report,
      notice: env.backend.notice,
      skipped: prepared.skipped,
    };
    return { sessionId: prepared.sessionId, created: prepared.created, done: Promise.resolve(outcome) };
  }
  const done = (async (): Promise<SessionOutcome> => {
    try {
      const limit = pLimit(env.config.settings.committee.concurrency);
      const judged = await Promise.all(prepared.chosen.map((p) => limit(() => judgeSafely(env, prepared.sessionId, p, options.onProgress))));
      await fillNextBar(env, options);
      const report = await finishSession(env, prepared.sessionId, prepared.proposals);
      progress(env, options, `report: ${report.html}`);
      return { sessionId: prepared.sessionId, created: true, judged, report, notice: env.backend.notice, skipped: null };
    } catch (error) {
      await failSession(env, prepared.sessionId, error);
      throw error;
    }
  })();
  return { sessionId: prepared.sessionId, created: true, done };
}

export async function runSession(env: SessionEnv, options: RunSessionOptions): Promise<SessionOutcome> {
  return (await startSession(env, options)).done;
}
