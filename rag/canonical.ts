import { createHash } from 'node:crypto';

/** Hex characters of sha256 kept in a news id: 48 bits, plenty for a news store, short enough to cite. */
export const NEWS_ID_HEX_CHARS = 12;

/**
 * The canonical form of an article URL, used for dedupe: lower-case scheme and host (URL does
 * that), no fragment, no `utm_*` tracking parameters, remaining parameters sorted, no trailing
 * slash. Returns null for anything that is not an absolute http(s) URL.
 */
export function canonicalUrl(raw: string): string | null {
  let url: URL;
  try {
    url = new URL(raw.trim());
  } catch {
    return null;
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null;
  if (!url.hostname) return null;
  url.hash = '';
  const kept = [...url.searchParams.entries()].filter(([k]) => !k.toLowerCase().startsWith('utm_'));
  kept.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  url.search = new URLSearchParams(kept).toString();
  if (url.pathname.length > 1 && url.pathname.endsWith('/')) url.pathname = url.pathname.replace(/\/+$/, '');
  const out = url.toString();
  // The root path "/" cannot be removed from a URL object; drop it from the text form.
  return url.pathname === '/' ? out.replace(/\/(?=\?|$)/, '') : out;
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}

/** Hash of the normalised title and body: the same story re-published under another URL or guid dedupes. */
export function contentHash(title: string, body: string): string {
  const norm = (s: string): string => s.toLowerCase().replace(/\s+/g, ' ').trim();
  return sha256(`${norm(title)}\n${norm(body)}`);
}

/**
 * The stable, citeable id of an item: `news:` + 12 hex of sha256 over the strongest identity it
 * has (canonical URL, else source + guid, else content hash). Re-ingesting yields the same id.
 */
export function newsId(identity: { canonicalUrl: string | null; source: string; guid: string | null; contentHash: string }): string {
  const key = identity.canonicalUrl
    ? `url:${identity.canonicalUrl}`
    : identity.guid
      ? `guid:${identity.source}:${identity.guid}`
      : `hash:${identity.contentHash}`;
  return `news:${sha256(key).slice(0, NEWS_ID_HEX_CHARS)}`;
}
