import { XMLParser } from 'fast-xml-parser';
import { z } from 'zod';
import type { NewsDraft, RejectedLine } from './schema.ts';

/** The source name of the bundled Reuters-21578 articles. */
export const REUTERS_SOURCE = 'reuters-21578';

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

/** Parses a Reuters-21578 date such as `26-FEB-1987 15:01:01.79` (GMT). Null when malformed. */
export function parseReutersDate(raw: string): Date | null {
  const m = /^\s*(\d{1,2})-([A-Za-z]{3})-(\d{4})\s+(\d{1,2}):(\d{2}):(\d{2})(?:\.(\d{1,3}))?/.exec(raw);
  if (!m) return null;
  const month = MONTHS.indexOf((m[2] ?? '').toUpperCase());
  if (month < 0) return null;
  const ms = m[7] ? Number(m[7].padEnd(3, '0')) : 0;
  const d = new Date(Date.UTC(Number(m[3]), month, Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]), ms));
  return Number.isNaN(d.getTime()) || d.getUTCDate() !== Number(m[1]) ? null : d;
}

// Outside data: lenient, every field optional, then mapped.
const text = z.union([z.string(), z.number()]).transform(String);
const labels = z
  .union([z.object({ D: z.array(text).nullish() }).passthrough(), z.string()])
  .nullish()
  .transform((v) => (v && typeof v === 'object' ? (v.D ?? []) : []));
const ReutersDoc = z
  .object({
    '@_NEWID': text.nullish(),
    '@_OLDID': text.nullish(),
    DATE: text.nullish(),
    TOPICS: labels,
    PLACES: labels,
    TEXT: z.union([z.object({ TITLE: text.nullish(), BODY: text.nullish(), DATELINE: text.nullish() }).passthrough(), z.string()]).nullish(),
  })
  .passthrough();

const parser = new XMLParser({
  ignoreAttributes: false,
  // A prefix, because <REUTERS TOPICS="YES"> also has a <TOPICS> child.
  attributeNamePrefix: '@_',
  parseTagValue: false,
  parseAttributeValue: false,
  trimValues: true,
  processEntities: true,
  htmlEntities: true,
  isArray: (name) => name === 'REUTERS' || name === 'D',
});

function clean(s: string): string {
  // Reuters bodies end in "Reuter" plus a control character (&#3;) on some articles.
  return (
    s
      // eslint-disable-next-line no-control-regex -- removing control characters is the point
      .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f]/g, '')
      .replace(/\s*\bReuter\s*$/i, '')
      .trim()
  );
}

function lineOfEach(xml: string, tag: string): number[] {
  const lines: number[] = [];
  let line = 1;
  let from = 0;
  for (let at = xml.indexOf(tag); at >= 0; at = xml.indexOf(tag, at + tag.length)) {
    for (let i = from; i < at; i++) if (xml.charCodeAt(i) === 10) line++;
    from = at;
    lines.push(line);
  }
  return lines;
}

/**
 * Articles of a Reuters-21578 SGML/XML file: one `<REUTERS>` per file, or several inside a
 * `<LEWIS>` root. TOPICS and PLACES go to metadata (topics serve as labels in retrieval tests);
 * NEWID is the guid. An article without a date, or without any text, is rejected with its line.
 */
export function parseReutersXml(xml: string, file: string): { drafts: NewsDraft[]; rejected: RejectedLine[] } {
  const drafts: NewsDraft[] = [];
  const rejected: RejectedLine[] = [];
  let tree: unknown;
  try {
    tree = parser.parse(xml, true);
  } catch (error) {
    rejected.push({ file, line: 1, error: `not well-formed XML: ${error instanceof Error ? error.message : String(error)}` });
    return { drafts, rejected };
  }
  const root = z
    .object({
      LEWIS: z
        .object({ REUTERS: z.array(z.unknown()).nullish() })
        .passthrough()
        .nullish(),
      REUTERS: z.array(z.unknown()).nullish(),
    })
    .passthrough()
    .parse(tree);
  const docs = root.LEWIS?.REUTERS ?? root.REUTERS ?? [];
  const lines = lineOfEach(xml, '<REUTERS');
  if (docs.length === 0) rejected.push({ file, line: 1, error: 'no <REUTERS> article found' });
  docs.forEach((raw, i) => {
    const line = lines[i] ?? 1;
    const parsed = ReutersDoc.safeParse(raw);
    if (!parsed.success) {
      rejected.push({ file, line, error: `unexpected article structure: ${parsed.error.issues[0]?.message ?? ''}` });
      return;
    }
    const doc = parsed.data;
    const publishedAt = doc.DATE ? parseReutersDate(doc.DATE) : null;
    if (!publishedAt) {
      rejected.push({ file, line, error: doc.DATE ? `DATE: not a Reuters date: "${doc.DATE}"` : 'DATE: missing' });
      return;
    }
    const t = typeof doc.TEXT === 'object' && doc.TEXT ? doc.TEXT : { TITLE: null, BODY: typeof doc.TEXT === 'string' ? doc.TEXT : null };
    const body = clean(t.BODY ?? '');
    const title = clean(t.TITLE ?? '') || body.split('\n')[0]?.slice(0, 120).trim() || '';
    if (!title) {
      rejected.push({ file, line, error: 'TEXT: no TITLE and no BODY' });
      return;
    }
    drafts.push({
      source: REUTERS_SOURCE,
      guid: doc['@_NEWID'] ?? null,
      url: null,
      title,
      body,
      publishedAt,
      tickers: [],
      metadata: { topics: doc.TOPICS, places: doc.PLACES, newid: doc['@_NEWID'] ?? null, oldid: doc['@_OLDID'] ?? null, file },
    });
  });
  return { drafts, rejected };
}
