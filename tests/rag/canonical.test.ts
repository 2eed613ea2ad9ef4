import { describe, expect, it } from 'vitest';
import { canonicalUrl, contentHash, newsId } from '../../rag/index.ts';

describe('canonicalUrl', () => {
  it('drops utm_* parameters, the fragment and a trailing slash, and lower-cases the host', () => {
    expect(canonicalUrl('https://News.Example.COM/markets/oil/?utm_source=x&utm_medium=rss&id=7#top')).toBe('https://news.example.com/markets/oil?id=7');
  });

  it('sorts the remaining query parameters so their order does not make a new article', () => {
    expect(canonicalUrl('http://example.com/a?b=2&a=1')).toBe(canonicalUrl('http://example.com/a?a=1&b=2'));
  });

  it('rejects what is not an absolute http(s) URL', () => {
    for (const bad of ['not a url', '/relative/path', 'ftp://example.com/x', 'javascript:alert(1)', '']) expect(canonicalUrl(bad)).toBeNull();
  });
});

describe('newsId', () => {
  it('is stable, prefixed and short enough to cite', () => {
    const id = newsId({ canonicalUrl: 'https://example.com/a', source: 's', guid: null, contentHash: 'h' });
    expect(id).toMatch(/^news:[0-9a-f]{12}$/);
    expect(newsId({ canonicalUrl: 'https://example.com/a', source: 'other', guid: 'g', contentHash: 'other' })).toBe(id);
  });

  it('falls back from canonical URL to source+guid to content hash', () => {
    const byGuid = newsId({ canonicalUrl: null, source: 's', guid: 'g1', contentHash: 'h' });
    expect(byGuid).not.toBe(newsId({ canonicalUrl: null, source: 's2', guid: 'g1', contentHash: 'h' }));
    expect(newsId({ canonicalUrl: null, source: 's', guid: null, contentHash: 'h' })).not.toBe(byGuid);
  });
});

describe('contentHash', () => {
  it('ignores case and whitespace differences but not wording', () => {
    expect(contentHash('Oil  Falls', 'Crude fell\n 3 pct.')).toBe(contentHash('oil falls', 'crude fell 3 PCT.'));
    expect(contentHash('Oil falls', 'Crude fell 3 pct.')).not.toBe(contentHash('Oil falls', 'Crude fell 4 pct.'));
  });
});
