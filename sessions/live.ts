import { z } from 'zod';
import { CommitteeEvent } from '../graph/index.ts';

/**
 * The live feed of this process: every committee event of a session's proposals (whoever started the
 * session: the scheduler of `quorum run`, POST /v1/sessions) and of critiques, with the session,
 * proposal and ticker it belongs to. The API streams it as SSE (GET /v1/console/live); nothing is
 * buffered, so a listener sees what happens after it subscribed.
 */
export const LiveEvent = z.object({
  source: z.enum(['session', 'critique']),
  sessionId: z.string().nullable(),
  proposalId: z.string(),
  ticker: z.string(),
  event: CommitteeEvent,
});
export type LiveEvent = z.infer<typeof LiveEvent>;

const listeners = new Set<(e: LiveEvent) => void>();

/** Sends `e` to every listener; a listener that throws (a closed stream) does not stop the others or the run. */
export function publishLive(e: LiveEvent): void {
  for (const l of listeners) {
    try {
      l(e);
    } catch {
      // The listener's own problem: the committee run goes on.
    }
  }
}

/** Calls `listener` with every event from now on; returns the unsubscribe function. */
export function subscribeLive(listener: (e: LiveEvent) => void): () => void {
  listeners.add(listener);
  return () => listeners.delete(listener);
}
