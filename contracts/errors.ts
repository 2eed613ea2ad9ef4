/**
 * One error base class for the whole project, with a closed set of codes.
 * Catch sites branch on `code`, never on message text.
 */
export const ERROR_CODES = [
  'CONFIG_MISSING',
  'CONFIG_INVALID',
  'DB_UNAVAILABLE',
  'DB_LOCKED',
  'MIGRATION_FAILED',
  'EMBEDDING_MISMATCH',
  'INPUT_INVALID',
  'NOT_FOUND',
  'CONFLICT',
  'LOOK_AHEAD',
  'MODEL_MISMATCH',
  'TOOL_UNKNOWN',
  'TOOL_INPUT_INVALID',
  'LLM_OUTPUT_INVALID',
  'LLM_TIMEOUT',
  'LLM_UNAVAILABLE',
  'BROKER_ERROR',
  'BROKER_UNKNOWN',
  'RECONCILIATION_FAILED',
  'LIVE_TRADING_FORBIDDEN',
  'TRADING_HALTED',
  'UNAUTHORIZED',
  'FORBIDDEN',
  'INTERNAL',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

const MARKER = Symbol.for('quorum.error');

export class QuorumError extends Error {
  readonly code: ErrorCode;
  /** Structured context: the file, field, line or numbers the message talks about. */
  readonly details: Readonly<Record<string, unknown>>;
  readonly [MARKER] = true;

  constructor(code: ErrorCode, message: string, details: Record<string, unknown> = {}, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'QuorumError';
    this.code = code;
    this.details = Object.freeze({ ...details });
  }

  /** True for any QuorumError, also across module copies (checks a global symbol, not the prototype). */
  static isInstance(value: unknown): value is QuorumError {
    return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[MARKER] === true;
  }

  /** True when `value` is a QuorumError with the given code. */
  static is(value: unknown, code: ErrorCode): value is QuorumError {
    return QuorumError.isInstance(value) && value.code === code;
  }
}

/** The message of anything thrown, without assuming it is an Error. */
export function errorMessage(error: unknown): string {
  if (error instanceof Error) return error.message;
  return String(error);
}
