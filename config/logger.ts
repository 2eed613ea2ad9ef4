import pino, { type Logger, type LoggerOptions } from 'pino';
import type { Config } from './schema.ts';
import { secretValues } from './load.ts';

export type { Logger } from 'pino';

/** Paths pino removes from every log object, whatever the secrets' values. */
export const REDACT_PATHS = [
  'secrets',
  '*.secrets',
  'password',
  '*.password',
  'apiKey',
  '*.apiKey',
  'secretKey',
  '*.secretKey',
  'keyId',
  '*.keyId',
  'token',
  '*.token',
  'authorization',
  '*.authorization',
  'headers.authorization',
  '*.headers.authorization',
  'headers["apca-api-key-id"]',
  'headers["apca-api-secret-key"]',
  'databaseUrl',
  '*.databaseUrl',
];

const REDACTED = '[REDACTED]';

/**
 * A pino logger that redacts known secret paths and, on the final serialized line, every occurrence
 * of a secret value (so a key inside an error message or URL is scrubbed too).
 */
export function createLogger(
  config: Pick<Config, 'secrets'> & { settings: { logging: { level: string } } },
  destination?: pino.DestinationStream,
  bindings: Record<string, unknown> = {},
): Logger {
  const values = secretValues(config.secrets).sort((a, b) => b.length - a.length);
  const options: LoggerOptions = {
    level: config.settings.logging.level,
    base: { app: 'quorum', ...bindings },
    redact: { paths: REDACT_PATHS, censor: REDACTED },
    hooks: {
      streamWrite: (line: string) => scrub(line, values),
    },
  };
  return destination ? pino(options, destination) : pino(options, pino.destination(2));
}

/** Replaces every secret value (raw and JSON-escaped) in `text`. */
export function scrub(text: string, values: readonly string[]): string {
  let out = text;
  for (const v of values) {
    if (out.includes(v)) out = out.split(v).join(REDACTED);
    const escaped = JSON.stringify(v).slice(1, -1);
    if (escaped !== v && out.includes(escaped)) out = out.split(escaped).join(REDACTED);
  }
  return out;
}
