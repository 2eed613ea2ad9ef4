import type { z } from 'zod';
import { parseJson, parseWith } from '../contracts/parse.ts';
import type { RejectedLine } from './schema.ts';

/**
 * Walks a JSONL text: each non-blank line parsed as JSON and by `schema`; a line that fails either is
 * pushed to `rejected` with its 1-based number and the field, the others go to `onLine`.
 */
export function forEachJsonLine<S extends z.ZodType>(
  text: string,
  file: string,
  schema: S,
  rejected: RejectedLine[],
  onLine: (value: z.infer<S>, line: number) => void,
): void {
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = i + 1;
    if (raw.trim() === '') return;
    const json = parseJson(raw);
    if (!json.ok) {
      rejected.push({ file, line, error: json.error });
      return;
    }
    const parsed = parseWith(schema, json.value);
    if (!parsed.ok) {
      rejected.push({ file, line, error: parsed.error });
      return;
    }
    onLine(parsed.value, line);
  });
}
