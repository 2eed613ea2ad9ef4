import type { NotificationTarget } from '../config/index.ts';
import { slackBody, webhookBody, type Message } from './messages.ts';

/** A POST that did not deliver. `permanent`: the receiver refused it for good (a 4xx), so no retry. */
export class DeliveryError extends Error {
  readonly permanent: boolean;
  constructor(message: string, permanent: boolean) {
    super(message);
    this.name = 'DeliveryError';
    this.permanent = permanent;
  }
}

/** Characters of a receiver's reply kept in an error. */
const REPLY_CHARS = 200;

/** The body a target's kind takes. */
export function bodyFor(kind: NotificationTarget['kind'], message: Message): unknown {
  return kind === 'slack' ? slackBody(message) : webhookBody(message);
}

/**
 * POSTs one message (plain fetch, one timeout). Resolves on a 2xx; otherwise throws a DeliveryError
 * whose message never holds the URL (it may carry a token).
 */
export async function postMessage(
  target: { name: string; kind: NotificationTarget['kind']; url: string },
  message: Message,
  options: { timeoutMs: number; signal?: AbortSignal },
): Promise<void> {
  const signals = [AbortSignal.timeout(options.timeoutMs), ...(options.signal ? [options.signal] : [])];
  let res: Response;
  try {
    res = await fetch(target.url, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'user-agent': 'quorum-notifier',
        // The same for every attempt: a receiver that keeps it can drop a repeat.
        'idempotency-key': `quorum-${message.id}-${target.name}`,
      },
      body: JSON.stringify(bodyFor(target.kind, message)),
      signal: AbortSignal.any(signals),
    });
  } catch (error) {
    throw new DeliveryError(hideUrl(describeFetchError(error, options.timeoutMs), target.url), false);
  }
  const reply = await res.text().catch(() => '');
  if (res.ok) return;
  const status = res.status;
  // 408 and 429 are worth another try; any other 4xx (bad URL, revoked Slack hook) is not.
  const permanent = status >= 400 && status < 500 && status !== 408 && status !== 429;
  const snippet = reply.trim().slice(0, REPLY_CHARS);
  throw new DeliveryError(hideUrl(`HTTP ${status}${snippet ? `: ${snippet}` : ''}`, target.url), permanent);
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  if (error instanceof Error && (error.name === 'TimeoutError' || error.name === 'AbortError')) {
    return error.name === 'TimeoutError' ? `timed out after ${timeoutMs} ms` : 'aborted';
  }
  if (error instanceof Error) {
    const cause: unknown = error.cause;
    const detail = cause instanceof Error ? cause.message : typeof cause === 'string' ? cause : '';
    return detail ? `${error.message}: ${detail}` : error.message;
  }
  return String(error);
}

/** Removes the URL (and its path, where a token usually sits) from a text. */
function hideUrl(text: string, url: string): string {
  let out = text.split(url).join('[url]');
  try {
    const path = new URL(url).pathname;
    if (path.length > 1) out = out.split(path).join('[path]');
  } catch {
    /* not parsable: the whole URL is already hidden */
  }
  return out;
}
