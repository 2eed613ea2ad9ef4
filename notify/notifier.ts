import pRetry from 'p-retry';
import { NOTIFICATION_EVENTS, type Config, type Logger, type NotificationEvent, type NotificationTarget } from '../config/index.ts';
import { errorMessage, QuorumError } from '../contracts/index.ts';
import type { Db } from '../db/index.ts';
import {
  advanceCursor,
  claimDeliveries,
  enqueueDelivery,
  eventsAfter,
  initCursor,
  markDelivered,
  markFailed,
  recordFailedAttempt,
  releaseDelivery,
  type ClaimedDelivery,
} from './deliveries.ts';
import { messageOf } from './messages.ts';
import { DeliveryError, postMessage } from './send.ts';

/**
 * The notifier: a background loop that uses the audit log as its outbox. Each pass reads the audit
 * events past its cursor, writes one pending delivery per (event, target that wants it), and POSTs
 * the pending ones, retrying with exponential backoff. It never throws into its caller: a failure is
 * logged and recorded on the delivery row. Delivery is at least once per (event, target): a row
 * recorded delivered is never sent again; a process that dies between a POST and its record sends
 * that one again.
 */

export interface Notifier {
  /** Delivers what the audit log holds now (retries included), waiting at most `timeoutMs`. */
  flush(timeoutMs: number): Promise<void>;
  /** Stops the loop: a POST in flight finishes and is recorded, no further attempt starts, held rows are let go for the next start. */
  stop(): Promise<void>;
}

export interface NotifierDeps {
  db: Db;
  config: Pick<Config, 'settings' | 'secrets'>;
  log: Logger;
  /**
   * How long a gap in the audit ids may hold the cursor back (a concurrent transaction not yet
   * committed). Default: 0 on PGlite (one connection: a gap is a rollback), 30 s on PostgreSQL.
   */
  gapWaitMs?: number;
}

interface ResolvedTarget {
  name: string;
  kind: NotificationTarget['kind'];
  url: string;
  events: ReadonlySet<NotificationEvent>;
}

/** Audit events read per pass. */
const SCAN_LIMIT = 500;
/** Deliveries one process works on at once. */
const MAX_IN_FLIGHT = 8;
/** Extra time a held row stays held beyond its POST's timeout and the next wait. */
const LEASE_MARGIN_MS = 30_000;
/** The longest wait between two attempts. */
const MAX_BACKOFF_MS = 10 * 60_000;
const POSTGRES_GAP_WAIT_MS = 30_000;

function resolveTargets(config: NotifierDeps['config']): ResolvedTarget[] {
  return config.settings.notifications.targets.map((t) => {
    const url = t.url ?? config.secrets.notificationUrls[t.name];
    // loadConfig resolves urlEnv or fails; a hand-made config may not have.
    if (!url)
      throw new QuorumError(
        'CONFIG_INVALID',
        `settings.yaml: notifications.targets: target "${t.name}" has no URL (url, or urlEnv resolved into secrets.notificationUrls)`,
      );
    return { name: t.name, kind: t.kind, url, events: new Set(t.events ?? NOTIFICATION_EVENTS) };
  });
}

const NOOP: Notifier = { flush: () => Promise.resolve(), stop: () => Promise.resolve() };

/**
 * Starts the notifier (resolves once its cursor exists, so every audit event written after that is
 * covered). With no targets configured it does nothing and writes nothing.
 */
export async function startNotifier(deps: NotifierDeps): Promise<Notifier> {
  const { db, log } = deps;
  const settings = deps.config.settings.notifications;
  const targets = resolveTargets(deps.config);
  if (targets.length === 0) return NOOP;
  const names = targets.map((t) => t.name);
  const byName = new Map(targets.map((t) => [t.name, t]));
  const kinds = [...new Set(targets.flatMap((t) => [...t.events]))];
  const wanted = new Set<string>(kinds);
  const gapWaitMs = deps.gapWaitMs ?? (db.kind === 'pglite' ? 0 : POSTGRES_GAP_WAIT_MS);
  const nlog = log.child({ component: 'notifier' });

  let cursor = await initCursor(db);
  /** The first gap seen after the cursor, and since when: the cursor waits there up to gapWaitMs. */
  let gap: { after: number; sinceMs: number } | null = null;
  const inFlight = new Map<number, Promise<void>>();
  const abort = new AbortController();
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let pass: Promise<number> | null = null;

  /** Reads the audit log past the cursor and writes the deliveries; the cursor skips a gap only once it is old. */
  async function scan(): Promise<void> {
    for (;;) {
      const rows = await eventsAfter(db, cursor, kinds, SCAN_LIMIT);
      if (rows.length === 0) return;
      let upTo = cursor;
      let held = false;
      for (const row of rows) {
        const message = wanted.has(row.kind) ? messageOf(row) : null;
        if (message) {
          for (const t of targets) if (t.events.has(message.event)) await enqueueDelivery(db, row.id, t.name);
        }
        if (held) continue;
        if (row.id !== upTo + 1) {
          const now = Date.now();
          if (gap?.after !== upTo) gap = { after: upTo, sinceMs: now };
          if (now - gap.sinceMs < gapWaitMs) {
            held = true;
            continue;
          }
        }
        upTo = row.id;
      }
      if (upTo > cursor) {
        await advanceCursor(db, upTo);
        cursor = upTo;
      }
      if (held || rows.length < SCAN_LIMIT) return;
    }
  }

  async function deliver(d: ClaimedDelivery): Promise<void> {
    const target = byName.get(d.target);
    const message = messageOf(d);
    const where = { target: d.target, event: d.kind, auditEventId: d.id };
    if (!target || !message) {
      await markFailed(db, d.delivery_id, 'no message for this event');
      return;
    }
    const remaining = settings.maxAttempts - d.attempts;
    if (remaining <= 0) {
      await markFailed(db, d.delivery_id, d.last_error ?? 'no attempt left');
      return;
    }
    let attempts = d.attempts;
    let lastError = d.last_error ?? '';
    // Before attempt k (k >= 2) the wait is backoffMs * 2^(k-2), also across a restart.
    const firstWait = Math.min(MAX_BACKOFF_MS, settings.backoffMs * 2 ** attempts);
    const waitBefore = (attempt: number): number => Math.min(MAX_BACKOFF_MS, settings.backoffMs * 2 ** Math.max(0, attempt - 2));
    try {
      await pRetry(
        async () => {
          attempts += 1;
          try {
            // Not aborted by stop(): a POST already made is let finish (within its timeout) and recorded, so it is not sent again.
            await postMessage(target, message, { timeoutMs: settings.timeoutMs });
          } catch (error) {
            lastError = errorMessage(error);
            await recordFailedAttempt(db, d.delivery_id, lastError, waitBefore(attempts + 1) + settings.timeoutMs + LEASE_MARGIN_MS);
            const left = settings.maxAttempts - attempts;
            nlog.warn({ ...where, attempt: attempts, attemptsLeft: left, err: lastError }, 'notification attempt failed');
            throw error;
          }
        },
        {
          retries: remaining - 1,
          factor: 2,
          minTimeout: firstWait,
          maxTimeout: MAX_BACKOFF_MS,
          randomize: false,
          signal: abort.signal,
          // Only a POST that may succeed later is tried again; a database error ends the loop (the row stays held, then is retried).
          shouldRetry: ({ error }) => error instanceof DeliveryError && !error.permanent && !stopped,
        },
      );
    } catch (error) {
      if (stopped) {
        await releaseDelivery(db, d.delivery_id);
        return;
      }
      if (error instanceof DeliveryError) {
        await markFailed(db, d.delivery_id, lastError);
        nlog.error({ ...where, attempts, err: lastError }, 'notification failed');
        return;
      }
      throw error;
    }
    await markDelivered(db, d.delivery_id);
    nlog.info({ ...where, attempts }, 'notification delivered');
  }

  /** One pass: scan, then start deliveries up to the in-flight limit. Returns how many it started. */
  async function runPass(): Promise<number> {
    await scan();
    const room = MAX_IN_FLIGHT - inFlight.size;
    if (room <= 0) return 0;
    const claimed = await claimDeliveries(db, names, room, settings.timeoutMs + LEASE_MARGIN_MS);
    for (const d of claimed) {
      const job = deliver(d)
        .catch((error: unknown) => {
          // The database failed under a delivery: the row stays held until its lease ends, then is retried.
          nlog.error({ target: d.target, auditEventId: d.id, err: errorMessage(error) }, 'notification delivery could not be recorded');
        })
        .finally(() => inFlight.delete(d.delivery_id));
      inFlight.set(d.delivery_id, job);
    }
    return claimed.length;
  }

  /** Runs a pass unless one is running (then waits for that one). Never throws. */
  function passOnce(): Promise<number> {
    pass ??= runPass()
      .catch((error: unknown) => {
        nlog.error({ err: errorMessage(error) }, 'notifier pass failed');
        return 0;
      })
      .finally(() => {
        pass = null;
      });
    return pass;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      void passOnce().finally(schedule);
    }, settings.pollMs);
    timer.unref();
  }

  void passOnce().finally(schedule);

  return {
    async flush(timeoutMs: number): Promise<void> {
      const deadline = Date.now() + timeoutMs;
      const work = (async (): Promise<void> => {
        for (;;) {
          if (stopped || Date.now() >= deadline) return;
          const started = await passOnce();
          await Promise.allSettled([...inFlight.values()]);
          if (started === 0 && inFlight.size === 0) {
            // A pass that ran concurrently may have started work this one did not see.
            if ((await passOnce()) === 0 && inFlight.size === 0) return;
          }
        }
      })();
      let timeout: NodeJS.Timeout | undefined;
      const timedOut = new Promise<'timeout'>((resolve) => {
        timeout = setTimeout(() => resolve('timeout'), timeoutMs);
        timeout.unref();
      });
      const outcome = await Promise.race([work.then(() => 'done' as const), timedOut]);
      clearTimeout(timeout);
      if (outcome === 'timeout') nlog.warn({ inFlight: inFlight.size, timeoutMs }, 'notifier flush timed out; undelivered notifications stay pending');
    },
    async stop(): Promise<void> {
      if (stopped) return;
      stopped = true;
      if (timer) clearTimeout(timer);
      abort.abort();
      await pass;
      await Promise.allSettled([...inFlight.values()]);
    },
  };
}
