import { z } from '@hono/zod-openapi';
import type { Context } from 'hono';
import { HTTPException } from 'hono/http-exception';
import type { ContentfulStatusCode } from 'hono/utils/http-status';
import { QuorumError, fieldIssues, formatIssues, type FieldIssue } from '../contracts/index.ts';

/**
 * The API's one error path: routes and middleware throw (an `HTTPException` made here, or a
 * QuorumError), and `toErrorResponse`, called by the app's onError, renders every one as an ErrorBody.
 */

/** Every error reply: a code, a message, and for bad input the fields at fault. */
export const ErrorBody = z
  .object({
    error: z.string().openapi({ example: 'INPUT_INVALID' }),
    message: z.string(),
    issues: z.array(z.object({ path: z.string(), message: z.string() })).optional(),
  })
  .openapi('Error');
export type ErrorBody = z.infer<typeof ErrorBody>;

/** An error reply with the given status and code, thrown as an HTTPException. */
export function apiError(status: ContentfulStatusCode, error: string, message: string, headers: Record<string, string> = {}): HTTPException {
  const body: ErrorBody = { error, message };
  return new HTTPException(status, { res: Response.json(body, { status, headers }) });
}

/** A 400 whose message and issues name each bad field (`body.ticker: …`). */
export function badRequest(where: 'body' | 'query' | 'param' | 'json', issues: FieldIssue[]): HTTPException {
  const prefixed = issues.map((i) => ({ path: [where, i.path].filter(Boolean).join('.'), message: i.message }));
  const body: ErrorBody = { error: 'INPUT_INVALID', message: formatIssues(prefixed), issues: prefixed };
  return new HTTPException(400, { res: Response.json(body, { status: 400 }) });
}

/** The hook @hono/zod-openapi calls when a request fails validation. */
export function validationHook(result: { success: true } | { success: false; error: z.ZodError; target: string }, _c: Context): void {
  if (!result.success) {
    const where = result.target === 'json' ? 'body' : (result.target as 'query' | 'param');
    throw badRequest(where, fieldIssues(result.error));
  }
}

const STATUS: Partial<Record<QuorumError['code'], ContentfulStatusCode>> = {
  INPUT_INVALID: 400,
  NOT_FOUND: 404,
  CONFLICT: 409,
  UNAUTHORIZED: 401,
  FORBIDDEN: 403,
  TRADING_HALTED: 409,
  LOOK_AHEAD: 400,
};

/** Maps anything thrown in a route or middleware to a JSON error reply (no stack traces, no secrets). */
export function toErrorResponse(error: unknown): Response {
  if (error instanceof HTTPException) {
    if (error.res) return error.res;
    // Hono's own (e.g. its JSON validator's "Malformed JSON in request body"): the body is at fault.
    if (error.status === 400) return badRequest('body', [{ path: '', message: error.message }]).getResponse();
    return Response.json({ error: httpCode(error.status), message: error.message } satisfies ErrorBody, { status: error.status });
  }
  if (QuorumError.isInstance(error)) {
    const status = STATUS[error.code] ?? 500;
    return Response.json({ error: error.code, message: error.message } satisfies ErrorBody, { status });
  }
  return Response.json({ error: 'INTERNAL', message: 'internal error' } satisfies ErrorBody, { status: 500 });
}

function httpCode(status: number): string {
  if (status === 401) return 'UNAUTHORIZED';
  if (status === 403) return 'FORBIDDEN';
  if (status === 404) return 'NOT_FOUND';
  if (status === 413) return 'PAYLOAD_TOO_LARGE';
  if (status === 415) return 'UNSUPPORTED_MEDIA_TYPE';
  if (status === 429) return 'RATE_LIMITED';
  if (status === 503) return 'UNAVAILABLE';
  return 'ERROR';
}

/** The error responses every authenticated route documents. */
export const ERROR_RESPONSES = {
  400: { description: 'Bad input; names the field', content: { 'application/json': { schema: ErrorBody } } },
  401: { description: 'Missing or invalid token', content: { 'application/json': { schema: ErrorBody } } },
  403: { description: 'Token lacks the scope', content: { 'application/json': { schema: ErrorBody } } },
  404: { description: 'Not found', content: { 'application/json': { schema: ErrorBody } } },
  413: { description: 'Body larger than api.bodyLimitBytes', content: { 'application/json': { schema: ErrorBody } } },
  429: { description: 'More than api.rateLimitPerMinute requests a minute for this token', content: { 'application/json': { schema: ErrorBody } } },
  500: { description: 'Internal error (details are logged, never returned)', content: { 'application/json': { schema: ErrorBody } } },
} as const;

/** Documented where a route can answer them. */
export const CONFLICT_RESPONSE = { description: 'Already decided', content: { 'application/json': { schema: ErrorBody } } } as const;
export const UNAVAILABLE_RESPONSE = { description: 'This server has no committee configured', content: { 'application/json': { schema: ErrorBody } } } as const;
