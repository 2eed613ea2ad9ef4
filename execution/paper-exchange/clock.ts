import { z } from 'zod';
import { QuorumError, errorMessage, parseJson } from '../../contracts/index.ts';

/**
 * The simulated clock of a paper exchange as a session drives it: set to the session's as-of before
 * it reconciles, then one bar on so its orders fill at its own next bar. `PaperExchange` is one (in
 * process); `httpExchangeClock` reaches one that runs on its own (`quorum paper-exchange`).
 */
export interface ExchangeClock {
  /** Sets the clock to a session's as-of, back as well as forward; returns the new now. */
  startSession(asOf: string): Promise<string>;
  /** Moves the clock to the n-th next bar, filling what the bars trigger; returns the new now. */
  advanceBars(n?: number): Promise<string>;
}

const ClockReply = z.object({ now: z.string() }).passthrough();

/** The clock of the paper exchange at `baseUrl`, through its /v1/sim endpoints. */
export function httpExchangeClock(baseUrl: string, options: { timeoutMs?: number } = {}): ExchangeClock {
  const post = async (route: string, body: Record<string, unknown>): Promise<string> => {
    let res: Response;
    try {
      res = await fetch(new URL(route, baseUrl), {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(body),
        signal: AbortSignal.timeout(options.timeoutMs ?? 60_000),
      });
    } catch (error) {
      throw new QuorumError(
        'BROKER_ERROR',
        `paper exchange at ${baseUrl} unreachable (${route}): ${errorMessage(error)}; start it with quorum paper-exchange`,
        { route },
        { cause: error },
      );
    }
    const text = await res.text();
    const parsed = parseJson(text);
    const reply = parsed.ok ? ClockReply.safeParse(parsed.value) : null;
    if (!res.ok || !reply?.success)
      throw new QuorumError('BROKER_ERROR', `paper exchange ${route} answered ${res.status}: ${text.slice(0, 300)}`, { route, status: res.status });
    return reply.data.now;
  };
  return {
    startSession: (asOf) => post('/v1/sim/clock', { now: asOf, session: true }),
    advanceBars: (n = 1) => post('/v1/sim/advance', { bars: n }),
  };
}
