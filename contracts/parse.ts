import type { z } from 'zod';
import { QuorumError, type ErrorCode } from './errors.ts';

/** A parse result: never throws, the caller decides what a failure means. */
export type ParseResult<T> = { ok: true; value: T } | { ok: false; error: string; issues: FieldIssue[] };

export interface FieldIssue {
  /** Dotted path of the field, e.g. `risk.maxPositions` or `claims.0.evidence`. */
  path: string;
  message: string;
}

/** The only JSON.parse in the project. */
export function parseJson(text: string): ParseResult<unknown> {
  try {
    return { ok: true, value: JSON.parse(text) as unknown };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    return { ok: false, error: `invalid JSON: ${message}`, issues: [{ path: '', message }] };
  }
}

/** Flattens zod issues into `path: message` pairs that name the field. */
export function fieldIssues(error: z.ZodError): FieldIssue[] {
  return error.issues.map((issue) => ({
    path: issue.path.map(String).join('.'),
    message: describeIssue(issue),
  }));
}

function describeIssue(issue: z.core.$ZodIssue): string {
  if (issue.code === 'unrecognized_keys') return `unknown key(s) ${issue.keys.map((k) => `"${k}"`).join(', ')}`;
  return issue.message;
}

/** One line per issue: `field: message`. */
export function formatIssues(issues: FieldIssue[], prefix = ''): string {
  return issues
    .map((i) => {
      const path = [prefix, i.path].filter(Boolean).join('.');
      return `${path || '(root)'}: ${i.message}`;
    })
    .join('; ');
}

/** Validates `value` with `schema`, returning a result whose error names every bad field. */
export function parseWith<S extends z.ZodType>(schema: S, value: unknown, prefix = ''): ParseResult<z.infer<S>> {
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  const issues = fieldIssues(result.error);
  return { ok: false, error: formatIssues(issues, prefix), issues };
}

/** Like parseWith, but throws a QuorumError (default INPUT_INVALID) naming the fields. */
export function parseOrThrow<S extends z.ZodType>(schema: S, value: unknown, what: string, code: ErrorCode = 'INPUT_INVALID'): z.infer<S> {
  const result = parseWith(schema, value);
  if (result.ok) return result.value;
  throw new QuorumError(code, `${what}: ${result.error}`, { issues: result.issues });
}
