/**
 * The soak: N trading days of the bundled data replayed on a simulated clock, the way a deployment
 * lives through them. Every slot of settings sessions.schedule runs a scheduled session at its time,
 * the exit monitor runs at every sessions.exitMonitorCron slot inside market hours, the paper exchange
 * fills as its clock moves through the day's bars, and once a day, at a seeded random point, the
 * process "dies" and starts again from the same database. At the end it checks what a crash must
 * never do: order twice, leave half-stored records, or let the positions drift from the fills.
 *
 * The crash is in-process (crash: 'hook'): every statement and broker call of the running incarnation
 * goes through a fuse (crashableDb, crashableBroker). When the fuse blows, the statement throws and so
 * does every later one, like a process that is gone: a transaction in flight rolls back, what was
 * committed stays. The soak then drops the incarnation (its checkpointer, broker client and in-memory
 * state), declares its session owner gone (abandonSessionOwner: what a dead pid says for a real
 * process), starts a new one on the same database, reconciles, and runs the interrupted event again.
 * The paper exchange is the outside world here: it keeps running, as Alpaca would, and its state is in
 * the database. A real SIGKILL of a child process is what `crash: 'hook'` stands in for: starting a
 * CLI process per day costs seconds, more than a day of the soak itself.
 */
import { mulberry32 } from '../contracts/random.ts';
import path from 'node:path';
import { z } from 'zod';
import { PROJECT_ROOT, type Config, type Logger } from '../config/index.ts';
import { QuorumError, errorMessage } from '../contracts/index.ts';
import { openDb, pgliteDir, type Db, type Queryable, type QueryResult, type Row } from '../db/index.ts';
import {
  createBroker,
  derivePositions,
  loadFills,
  loadPositions,
  reconcile,
  runExitMonitor,
  startPaperExchange,
  syncOpenOrders,
  type Broker,
  type RunningPaperExchange,
} from '../execution/index.ts';
import { openCheckpointer, selectBackend, closeBackend, type BackendChoice, type OpenCheckpointer, type SelectedBackend } from '../graph/index.ts';
import { barCoverage, dailyBarTs, ingestPriceCsv, isMarketOpen, isTradingDay, newYorkToUtc, nextTradingDay, utcToNewYork } from '../market/index.ts';
import { loadProposer, registerModel, type Proposer } from '../ml/index.ts';
import { DEMO_PRICES } from './demo.ts';
import { PROCESS_OWNER, abandonSessionOwner, runSession, type SessionEnv } from './run.ts';
import { nextSlots } from './schedule.ts';

/** Where a crash is injected: a statement by number, or just after a step of the pipeline. */
export const CRASH_POINTS = [
  'statement',
  'after-session-row',
  'after-verdict',
  'after-risk-decision',
  'after-intent',
  'after-post',
  'after-fill',
  'end-of-day',
] as const;
export type CrashPoint = (typeof CRASH_POINTS)[number];

/** The statement a named crash point follows (the statement runs; the process dies before the next). */
const POINT_SQL: Partial<Record<CrashPoint, RegExp>> = {
  'after-session-row': /^\s*INSERT INTO sessions\b/i,
  'after-verdict': /^\s*INSERT INTO verdicts\b/i,
  'after-risk-decision': /^\s*INSERT INTO risk_decisions\b/i,
  'after-intent': /^\s*INSERT INTO order_intents\b/i,
  'after-fill': /^\s*INSERT INTO fills\b/i,
};
const NAMED_POINTS: readonly CrashPoint[] = ['after-session-row', 'after-verdict', 'after-risk-decision', 'after-intent', 'after-post', 'after-fill'];

export interface SoakOptions {
  config: Config;
  log: Logger;
  /** YYYY-MM-DD: the first trading day (a later one when it is none). */
  from: string;
  days: number;
  /** Seeds the crash points (default 1). */
  seed?: number;
  /** Default 'rules': the deterministic baseline, so a seed replays the same soak. */
  backend?: BackendChoice;
  /** Proposals per session (default settings sessions.topN). */
  topN?: number;
  /** Tickers proposed (default settings market.universe, or every ticker with bars). */
  tickers?: readonly string[];
  /** Inject one crash a day (default true). */
  crashes?: boolean;
  /** An open database to soak on (default: openDb(config), closed at the end). */
  db?: Db;
  onProgress?: (message: string) => void;
}

export interface SoakCrash {
  day: string;
  point: CrashPoint;
  /** The statement number of the incarnation's day at which it died. */
  statement: number;
  /** The event running when it died, e.g. `session 1999-05-03T10:00 America/New_York`. */
  during: string;
}

export interface SoakInvariants {
  /** Orders sent twice: a client_order_id stored twice, two broker orders for one intent, two intents for one proposal. */
  doubleOrders: number;
  /** Judged twice: two verdicts for one proposal, two risk decisions for one verdict. */
  doubleJudgements: number;
  /** Half-stored or lost records, by kind (each must be 0). */
  lost: Record<string, number>;
  lostTotal: number;
  /** The exchange's positions, the stored positions table and the fills all agree. */
  positionsMatchFills: boolean;
  positionDiffs: Array<{ ticker: string; exchange: number; fills: number; stored: number }>;
}

export interface SoakReport {
  from: string;
  to: string;
  days: number;
  seed: number;
  backend: string;
  database: string;
  sessions: { run: number; completed: number; failed: number; skipped: number; takenOver: number };
  intents: number;
  orders: number;
  fills: number;
  exits: number;
  exitMonitorRuns: number;
  /** Seconds spent in sessions, exit monitor runs, closes and restarts. */
  timings: { sessions: number; exits: number; closes: number; restarts: number };
  crashes: SoakCrash[];
  crashesSurvived: number;
  /** Errors that were no injected crash (a product bug or a refused session): each fails the soak. */
  errors: string[];
  invariants: SoakInvariants;
  ok: boolean;
  seconds: number;
  daysPerSecond: number;
}

/** The injected death: thrown by the fuse, never caught as an ordinary error by the soak. */
export class InjectedCrash extends Error {
  constructor(readonly point: CrashPoint) {
    super(`injected crash (${point})`);
    this.name = 'InjectedCrash';
  }
}

/** Where the day's incarnation dies: the k-th statement, or the n-th occurrence of a named point. */
interface CrashPlan {
  point: CrashPoint;
  /** For 'statement': the statement number; else the occurrence. */
  at: number;
}

/** Counts an incarnation's statements and broker calls and blows at its plan; after that, everything throws. */
export class Fuse {
  statements = 0;
  readonly seen = new Map<CrashPoint, number>();
  blown: CrashPoint | null = null;
  plan: CrashPlan | null;
  constructor(plan: CrashPlan | null) {
    this.plan = plan;
  }
  private blow(point: CrashPoint): never {
    this.blown = point;
    throw new InjectedCrash(point);
  }
  /** Before a statement or broker call: throws once blown, or at the planned statement. */
  before(): void {
    if (this.blown) throw new InjectedCrash(this.blown);
    this.statements++;
    if (this.plan?.point === 'statement' && this.statements >= this.plan.at) this.blow('statement');
  }
  /** After a step: throws when it is the planned occurrence of the planned point. */
  after(point: CrashPoint): void {
    const n = (this.seen.get(point) ?? 0) + 1;
    this.seen.set(point, n);
    if (this.plan?.point === point && n >= this.plan.at) this.blow(point);
  }
  /** Arms the plan from here on: its statement number and occurrence count from now. */
  arm(plan: CrashPlan | null): void {
    this.plan = plan && { point: plan.point, at: plan.at + (plan.point === 'statement' ? this.statements : (this.seen.get(plan.point) ?? 0)) };
  }
  afterSql(sql: string): void {
    for (const [point, re] of Object.entries(POINT_SQL) as Array<[CrashPoint, RegExp]>) if (re.test(sql)) this.after(point);
  }
}

function crashableQueryable(q: Queryable, fuse: Fuse): Queryable {
  return {
    async query<R extends Row = Row>(sql: string, params?: readonly unknown[]): Promise<QueryResult<R>> {
      fuse.before();
      const res = await q.query<R>(sql, params);
      fuse.afterSql(sql);
      return res;
    },
    async exec(sql: string): Promise<void> {
      fuse.before();
      await q.exec(sql);
      fuse.afterSql(sql);
    },
  };
}

/** `db` as the incarnation sees it: each statement through the fuse, a transaction's too (a blown fuse rolls it back). */
export function crashableDb(db: Db, fuse: Fuse): Db {
  const q = crashableQueryable(db, fuse);
  return {
    kind: db.kind,
    query: q.query,
    exec: q.exec,
    transaction<T>(fn: (tx: Queryable) => Promise<T>): Promise<T> {
      fuse.before();
      return db.transaction((tx) => fn(crashableQueryable(tx, fuse)));
    },
    // The database outlives the process: closing is the soak's business.
    close: () => Promise.resolve(),
  };
}

/** The broker client as the incarnation sees it: dead once the fuse blew; 'after-post' blows when an order was accepted, before its reply is stored. */
export function crashableBroker(broker: Broker, fuse: Fuse): Broker {
  const call = async <T>(fn: () => Promise<T>, posts = false): Promise<T> => {
    fuse.before();
    const out = await fn();
    if (posts) fuse.after('after-post');
    return out;
  };
  return {
    name: broker.name,
    submitOrder: (r) => call(() => broker.submitOrder(r), true),
    getOrderByClientId: (id) => call(() => broker.getOrderByClientId(id)),
    getOrder: (id) => call(() => broker.getOrder(id)),
    listOpenOrders: () => call(() => broker.listOpenOrders()),
    listOrders: (q) => call(() => broker.listOrders(q)),
    cancelOrder: (id) => call(() => broker.cancelOrder(id)),
    replaceOrder: (id, change) => call(() => broker.replaceOrder(id, change)),
    getAccount: () => call(() => broker.getAccount()),
    listPositions: () => call(() => broker.listPositions()),
    closePosition: (s) => call(() => broker.closePosition(s), true),
    getClock: () => call(() => broker.getClock()),
  };
}

/** One event of a simulated day, in time order. */
interface DayEvent {
  at: string;
  kind: 'session' | 'exits' | 'close';
  slot: string | null;
}

function label(e: DayEvent): string {
  return e.kind === 'session' ? `session ${e.slot ?? ''}` : e.kind === 'exits' ? `exit monitor ${e.at}` : `close ${e.at}`;
}

/**
 * A day as the scheduler lives it: its session slots (sessions.schedule via nextSlots, trading days),
 * its exit monitor slots inside market hours (isMarketOpen: early closes end them at 13:00), then the
 * day's close, where the exchange's clock passes the day's bar and the fills are recorded.
 */
export function dayEvents(config: Config, date: string): DayEvent[] {
  const { schedule, exitMonitorCron } = config.settings.sessions;
  const tz = config.settings.market.timezone;
  const start = new Date(Date.parse(newYorkToUtc(date, 0, 0)) - 1);
  const sameDay = (at: string): boolean => utcToNewYork(new Date(at)).date === date;
  const sessions = nextSlots(schedule, tz, start, schedule.length * 4).filter((s) => sameDay(s.at));
  const exits = nextSlots([exitMonitorCron], tz, start, 24 * 60).filter((s) => sameDay(s.at) && isMarketOpen(s.at));
  const close = dailyBarTs(date);
  const events: DayEvent[] = [
    ...sessions.map((s) => ({ at: s.at, kind: 'session' as const, slot: s.slot })),
    ...exits.map((s) => ({ at: s.at, kind: 'exits' as const, slot: s.slot })),
    { at: close, kind: 'close', slot: null },
  ];
  // At one instant the session runs before the exit monitor.
  const rank = { session: 0, exits: 1, close: 2 } as const;
  return events.sort((a, b) => a.at.localeCompare(b.at) || rank[a.kind] - rank[b.kind]);
}

/** The first `n` trading days from `from` (itself when it is one). */
export function soakDays(from: string, n: number): string[] {
  const out: string[] = [];
  let d = isTradingDay(from) ? from : nextTradingDay(from);
  while (out.length < n) {
    out.push(d);
    d = nextTradingDay(d);
  }
  return out;
}

/** A running incarnation of the trading process. */
interface Incarnation {
  env: SessionEnv;
  fuse: Fuse;
  checkpointer: OpenCheckpointer;
}

const Count = z.object({ n: z.coerce.number() });
async function count(db: Queryable, sql: string, params: readonly unknown[] = []): Promise<number> {
  return Count.parse((await db.query(sql, params)).rows[0]).n;
}

/** The soak's end-of-run checks on the database (see SoakInvariants). */
export async function checkInvariants(db: Db, exchangePositions: ReadonlyArray<{ symbol: string; qty: number }>): Promise<SoakInvariants> {
  const doubleOrders =
    (await count(db, 'SELECT count(*) AS n FROM (SELECT client_order_id FROM orders GROUP BY client_order_id HAVING count(*) > 1) x')) +
    (await count(db, 'SELECT count(*) AS n FROM (SELECT client_order_id FROM paper_orders GROUP BY client_order_id HAVING count(*) > 1) x')) +
    (await count(
      db,
      'SELECT count(*) AS n FROM (SELECT intent_id FROM orders WHERE intent_id IS NOT NULL AND parent_id IS NULL GROUP BY intent_id HAVING count(*) > 1) x',
    )) +
    (await count(
      db,
      'SELECT count(*) AS n FROM (SELECT r.proposal_id FROM order_intents i JOIN risk_decisions r ON r.id = i.risk_decision_id GROUP BY r.proposal_id HAVING count(*) > 1) x',
    ));
  const doubleJudgements =
    (await count(db, 'SELECT count(*) AS n FROM (SELECT proposal_id FROM verdicts GROUP BY proposal_id HAVING count(*) > 1) x')) +
    (await count(db, 'SELECT count(*) AS n FROM (SELECT verdict_id FROM risk_decisions GROUP BY verdict_id HAVING count(*) > 1) x'));
  const lost: Record<string, number> = {
    intentsWithoutRiskDecision: await count(
      db,
      'SELECT count(*) AS n FROM order_intents i WHERE i.risk_decision_id IS NULL OR NOT EXISTS (SELECT 1 FROM risk_decisions r WHERE r.id = i.risk_decision_id)',
    ),
    riskDecisionsWithoutRules: await count(
      db,
      'SELECT count(*) AS n FROM risk_decisions d WHERE NOT EXISTS (SELECT 1 FROM risk_rule_results r WHERE r.decision_id = d.id)',
    ),
    verdictsWithoutCommitteeRun: await count(
      db,
      'SELECT count(*) AS n FROM verdicts v WHERE v.run_id IS NULL OR NOT EXISTS (SELECT 1 FROM committee_runs c WHERE c.id = v.run_id)',
    ),
    brokerOrdersWithoutIntent: await count(
      db,
      `SELECT count(*) AS n FROM paper_orders p WHERE p.parent_id IS NULL AND p.client_order_id LIKE 'q-%'
          AND NOT EXISTS (SELECT 1 FROM order_intents i WHERE i.client_order_id = p.client_order_id)`,
    ),
    brokerOrdersNotStored: await count(
      db,
      'SELECT count(*) AS n FROM paper_orders p WHERE p.parent_id IS NULL AND NOT EXISTS (SELECT 1 FROM orders o WHERE o.id = p.id)',
    ),
    ordersNotLinkedToIntent: await count(
      db,
      `SELECT count(*) AS n FROM orders o WHERE o.parent_id IS NULL AND o.intent_id IS NULL AND EXISTS (SELECT 1 FROM order_intents i WHERE i.client_order_id = o.client_order_id)`,
    ),
    ordersStale: await count(
      db,
      'SELECT count(*) AS n FROM orders o JOIN paper_orders p ON p.id = o.id WHERE o.status <> p.status OR abs(o.filled_qty - p.filled_qty) > 1e-9',
    ),
    intentsUnresolved: await count(db, `SELECT count(*) AS n FROM order_intents WHERE status IN ('pending', 'submitted', 'unknown')`),
    sessionsLeftRunning: await count(db, `SELECT count(*) AS n FROM sessions WHERE status = 'running'`),
  };
  const fills = derivePositions(await loadFills(db));
  const stored = await loadPositions(db);
  const tickers = new Set([...fills.map((p) => p.ticker), ...stored.map((p) => p.ticker), ...exchangePositions.map((p) => p.symbol)]);
  const positionDiffs: SoakInvariants['positionDiffs'] = [];
  for (const ticker of [...tickers].sort()) {
    const row = {
      ticker,
      exchange: exchangePositions.find((p) => p.symbol === ticker)?.qty ?? 0,
      fills: fills.find((p) => p.ticker === ticker)?.qty ?? 0,
      stored: stored.find((p) => p.ticker === ticker)?.qty ?? 0,
    };
    if (Math.abs(row.exchange - row.fills) > 1e-6 || Math.abs(row.stored - row.fills) > 1e-6) positionDiffs.push(row);
  }
  const lostTotal = Object.values(lost).reduce((a, b) => a + b, 0);
  return { doubleOrders, doubleJudgements, lost, lostTotal, positionsMatchFills: positionDiffs.length === 0, positionDiffs };
}

/**
 * Runs the soak (see the file's head). Needs the bundled prices (imported when the database has no
 * bars) and a paper-exchange broker; refuses days outside the stored bars and the feature warm-up the
 * way a session does (INPUT_INVALID).
 */
export async function runSoak(options: SoakOptions): Promise<SoakReport> {
  const { config, log } = options;
  const say = (m: string): void => {
    log.info(m);
    options.onProgress?.(m);
  };
  if (!Number.isInteger(options.days) || options.days < 1)
    throw new QuorumError('INPUT_INVALID', `--days ${options.days}: expected a whole number of at least 1`, { field: 'days' });
  if (config.settings.execution.broker !== 'paper-exchange' || config.settings.execution.mode === 'live') {
    throw new QuorumError(
      'INPUT_INVALID',
      'the soak replays past days on the local paper exchange: settings.yaml execution.broker must be paper-exchange, in paper mode',
      { field: 'execution.broker' },
    );
  }
  const seed = options.seed ?? 1;
  const random = mulberry32(seed);
  const started = performance.now();
  const db = options.db ?? (await openDb(config));
  const database = db.kind === 'postgres' ? 'PostgreSQL (DATABASE_URL)' : `PGlite at ${pgliteDir(config)}`;
  const closers: Array<() => Promise<void>> = options.db ? [] : [() => db.close()];
  let incarnation: Incarnation | null = null;
  try {
    if ((await barCoverage(db)).length === 0) {
      say('importing the bundled Dow 30 daily closes ...');
      await ingestPriceCsv(db, DEMO_PRICES);
    }
    const days = soakDays(options.from, options.days);
    const first = days[0] ?? options.from;
    const last = days[days.length - 1] ?? options.from;
    const cardPath = path.resolve(PROJECT_ROOT, config.models.proposer.cardPath);
    // The model is read-only and loaded once: a restart would load the same file again.
    const proposer: Proposer = await loadProposer(cardPath);
    closers.unshift(() => proposer.session.release());
    await registerModel(db, proposer.card, cardPath, 'production').catch(() => registerModel(db, proposer.card, cardPath, 'staging'));
    const backend: SelectedBackend = await selectBackend(config, options.backend ?? 'rules');
    closers.unshift(() => closeBackend(backend.backend));
    // The exchange is the outside world: it runs on the raw database and survives the crashes.
    const exchange: RunningPaperExchange = await startPaperExchange({
      db,
      settings: config.settings.execution.paperExchange,
      port: 0,
      initialNow: new Date(Date.parse(newYorkToUtc(first, 0, 0))).toISOString(),
    });
    closers.unshift(() => exchange.close());
    const clock = { now: newYorkToUtc(first, 0, 0) };
    const moveExchange = async (to: string): Promise<void> => {
      const now = await exchange.exchange.now();
      if (Date.parse(to) > Date.parse(now)) await exchange.exchange.setNow(to);
      else if (Date.parse(to) < Date.parse(now)) await exchange.exchange.startSession(to);
    };
    say(`soak: ${days.length} trading day(s) ${first}..${last}, seed ${seed}, ${backend.notice}; database: ${database}; paper exchange ${exchange.url}`);

    let generation = 0;
    const startIncarnation = async (plan: CrashPlan | null): Promise<Incarnation> => {
      generation++;
      const fuse = new Fuse(null);
      const idb = crashableDb(db, fuse);
      const checkpointer = await openCheckpointer(idb, { databaseUrl: config.secrets.databaseUrl });
      const env: SessionEnv = {
        db: idb,
        config,
        log,
        broker: crashableBroker(createBroker(config, { paperExchangeUrl: exchange.url }), fuse),
        backend,
        proposer,
        now: () => clock.now,
        checkpointer: checkpointer.saver,
        owner: `${PROCESS_OWNER}.r${generation}`,
      };
      // Reconciliation at every (re)start, before anything else; the fuse is armed after it.
      await reconcile(idb, env.broker);
      fuse.arm(plan);
      return { env, fuse, checkpointer };
    };
    const dropIncarnation = async (inc: Incarnation): Promise<void> => {
      if (inc.env.owner) abandonSessionOwner(inc.env.owner);
      await inc.checkpointer.close().catch(() => undefined);
    };

    const crashes: SoakCrash[] = [];
    const errors: string[] = [];
    let exitMonitorRuns = 0;
    const timings = { sessions: 0, exits: 0, closes: 0, restarts: 0 };
    const timed = async <T>(key: keyof typeof timings, fn: () => Promise<T>): Promise<T> => {
      const t0 = performance.now();
      try {
        return await fn();
      } finally {
        timings[key] += (performance.now() - t0) / 1000;
      }
    };
    let lastDayStatements = 0;
    const lastDaySeen = new Map<CrashPoint, number>();
    incarnation = await startIncarnation(null);
    for (const day of days) {
      const events = dayEvents(config, day);
      // The day's crash: half at a random statement, half just after a named step, at a random
      // occurrence of those the previous day had (a statement when it had none).
      let plan: CrashPlan | null = null;
      if (options.crashes ?? true) {
        const named = NAMED_POINTS[Math.floor(random() * NAMED_POINTS.length)] ?? 'after-verdict';
        const seenBefore = lastDaySeen.get(named) ?? 0;
        const roll = random();
        const pick = random();
        plan =
          roll < 0.5 && seenBefore > 0
            ? { point: named, at: 1 + Math.floor(pick * seenBefore) }
            : { point: 'statement', at: 1 + Math.floor(pick * Math.max(50, lastDayStatements || 400)) };
      }
      incarnation.fuse.arm(plan);
      const dayStatements0 = incarnation.fuse.statements;
      let statements = 0;
      const seen = new Map<CrashPoint, number>();
      const account = (inc: Incarnation, base: number): void => {
        statements += inc.fuse.statements - base;
        for (const [k, v] of inc.fuse.seen) seen.set(k, (seen.get(k) ?? 0) + v);
      };
      let base = dayStatements0;
      let crashedToday = false;
      let i = 0;
      while (i < events.length) {
        const event = events[i];
        if (!event) break;
        clock.now = event.at;
        try {
          await moveExchange(event.at);
          if (event.kind === 'session') {
            try {
              const env = incarnation.env;
              await timed('sessions', () =>
                runSession(env, {
                  asOf: event.at,
                  kind: 'scheduled',
                  slot: event.slot ?? undefined,
                  topN: options.topN,
                  tickers: options.tickers,
                  live: false,
                }),
              );
            } catch (error) {
              if (error instanceof InjectedCrash || incarnation.fuse.blown) throw error;
              errors.push(`${day} ${label(event)}: ${errorMessage(error)}`);
            }
          } else if (event.kind === 'exits') {
            const env = incarnation.env;
            await timed('exits', () => runExitMonitor({ db: env.db, broker: env.broker, config, asOf: event.at }));
            exitMonitorRuns++;
          } else {
            const env = incarnation.env;
            await timed('closes', () => syncOpenOrders(env.db, env.broker));
          }
          // An error the product caught does not revive a dead process.
          if (incarnation.fuse.blown) throw new InjectedCrash(incarnation.fuse.blown);
          if (!crashedToday && i === events.length - 1 && plan) {
            // The plan did not come up today: the process dies after the day's last step instead.
            incarnation.fuse.blown = 'end-of-day';
            throw new InjectedCrash('end-of-day');
          }
          i++;
        } catch (error) {
          const crash = error instanceof InjectedCrash ? error : incarnation.fuse.blown ? new InjectedCrash(incarnation.fuse.blown) : null;
          if (!crash) {
            errors.push(`${day} ${label(event)}: ${errorMessage(error)}`);
            i++;
            continue;
          }
          crashes.push({ day, point: crash.point, statement: incarnation.fuse.statements - base, during: label(event) });
          say(`${day}: crashed during ${label(event)} (${crash.point}); restarting`);
          crashedToday = true;
          account(incarnation, base);
          await dropIncarnation(incarnation);
          // The restart: a new process on the same database; the interrupted event runs again.
          incarnation = await timed('restarts', () => startIncarnation(null));
          base = incarnation.fuse.statements;
          if (crash.point === 'end-of-day') i++;
        }
      }
      account(incarnation, base);
      lastDayStatements = statements;
      lastDaySeen.clear();
      for (const [k, v] of seen) lastDaySeen.set(k, v);
      incarnation.fuse.plan = null;
      say(
        `${day}: ${events.filter((e) => e.kind === 'session').length} session slot(s), ${events.filter((e) => e.kind === 'exits').length} exit monitor slot(s), ${statements} statements`,
      );
    }

    const exchangePositions = await exchange.exchange.positions();
    const invariants = await checkInvariants(db, exchangePositions);
    const window = [new Date(Date.parse(newYorkToUtc(first, 0, 0))).toISOString(), new Date(Date.parse(newYorkToUtc(last, 23, 59))).toISOString()];
    const sessionCounts = z.object({ run: z.coerce.number(), completed: z.coerce.number(), failed: z.coerce.number(), skipped: z.coerce.number() }).parse(
      (
        await db.query(
          `SELECT count(*) AS run, count(*) FILTER (WHERE status = 'completed') AS completed, count(*) FILTER (WHERE status = 'failed') AS failed,
                    count(*) FILTER (WHERE status = 'skipped') AS skipped
               FROM sessions WHERE kind = 'scheduled' AND as_of BETWEEN $1 AND $2`,
          window,
        )
      ).rows[0],
    );
    const takenOver = await count(db, `SELECT count(*) AS n FROM audit_events WHERE kind = 'session.taken_over'`);
    const seconds = (performance.now() - started) / 1000;
    const report: SoakReport = {
      from: first,
      to: last,
      days: days.length,
      seed,
      backend: backend.name,
      database,
      sessions: { ...sessionCounts, takenOver },
      intents: await count(db, 'SELECT count(*) AS n FROM order_intents'),
      orders: await count(db, 'SELECT count(*) AS n FROM orders WHERE parent_id IS NULL'),
      fills: await count(db, 'SELECT count(*) AS n FROM fills'),
      exits: await count(db, `SELECT count(*) AS n FROM audit_events WHERE kind IN ('exit.time_exit', 'exit.momentum_exit', 'exit.breakeven_stop')`),
      exitMonitorRuns,
      timings,
      crashes,
      crashesSurvived: crashes.length,
      errors,
      invariants,
      ok: false,
      seconds,
      daysPerSecond: days.length / seconds,
    };
    report.ok =
      errors.length === 0 &&
      invariants.doubleOrders === 0 &&
      invariants.doubleJudgements === 0 &&
      invariants.lostTotal === 0 &&
      invariants.positionsMatchFills &&
      sessionCounts.failed === 0;
    return report;
  } finally {
    if (incarnation) await incarnation.checkpointer.close().catch(() => undefined);
    for (const close of closers) await close().catch(() => undefined);
  }
}
