import { Ticker, type TickerMatch, type TickerMethod } from './schema.ts';

/** Confidence of each extraction method: explicit symbol forms are strong, a company name is weaker. */
export const TICKER_CONFIDENCE: Readonly<Record<TickerMethod, number>> = {
  provided: 1,
  cashtag: 0.95,
  exchange: 0.95,
  angle: 0.9,
  name: 0.7,
};

const SYMBOL = '[A-Z]{1,5}(?:\\.[A-Z]{1,2})?';
// $AAPL, but not $5 or a$AAPL; case-sensitive: "$aapl" is too ambiguous in prose.
const CASHTAG = new RegExp(`(?<![\\w$])\\$(${SYMBOL})(?![\\w])`, 'g');
// NYSE:IBM, NASDAQ: MSFT, (Nasdaq:INTC)
const EXCHANGE = new RegExp(`\\b(?:NYSE|NASDAQ|AMEX|NYSEARCA|NYSEAMERICAN)\\s*:\\s*(${SYMBOL})\\b`, 'gi');
// Reuters style <CPML>; "<Woodco Inc>" (a company name in brackets) does not match.
const ANGLE = new RegExp(`<(${SYMBOL})>`, 'g');

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** A compiled company-name dictionary (name lower case -> ticker); build once, reuse per item. */
export interface CompanyMatcher {
  match(text: string): Array<{ name: string; ticker: string }>;
}

/** Compiles `companies` (e.g. settings.news.companies) into one case-insensitive, word-bounded regex. */
export function companyMatcher(companies: Readonly<Record<string, string>>): CompanyMatcher {
  const entries = Object.entries(companies)
    .map(([name, ticker]) => [name.trim().toLowerCase(), ticker.trim().toUpperCase()] as const)
    .filter(([name, ticker]) => name.length > 0 && Ticker.safeParse(ticker).success);
  if (entries.length === 0) return { match: () => [] };
  const byName = new Map(entries);
  // Longest first, so "general motors acceptance" would win over "general motors".
  const names = [...byName.keys()].sort((a, b) => b.length - a.length).map((n) => escapeRegExp(n).replace(/\s+/g, '\\s+'));
  const re = new RegExp(`(?<![\\p{L}\\p{N}])(${names.join('|')})(?![\\p{L}\\p{N}])`, 'giu');
  return {
    match(text) {
      const out: Array<{ name: string; ticker: string }> = [];
      for (const m of text.matchAll(re)) {
        const name = (m[1] ?? '').toLowerCase().replace(/\s+/g, ' ');
        const ticker = byName.get(name);
        if (ticker) out.push({ name, ticker });
      }
      return out;
    },
  };
}

/**
 * Tickers mentioned in a text: cashtags ($AAPL), exchange-prefixed symbols (NYSE:IBM), Reuters
 * `<CPML>` forms and company names from the dictionary, each with its method's confidence. A
 * ticker found several ways keeps its most confident match. `provided` tickers (given by the
 * source) come first with confidence 1.
 */
export function extractTickers(text: string, matcher: CompanyMatcher, provided: readonly string[] = []): TickerMatch[] {
  const best = new Map<string, TickerMatch>();
  const add = (raw: string, method: TickerMethod): void => {
    const ticker = raw.toUpperCase();
    if (!Ticker.safeParse(ticker).success) return;
    const confidence = TICKER_CONFIDENCE[method];
    const prev = best.get(ticker);
    if (!prev || prev.confidence < confidence) best.set(ticker, { ticker, confidence, method });
  };
  for (const t of provided) add(t, 'provided');
  for (const m of text.matchAll(CASHTAG)) add(m[1] ?? '', 'cashtag');
  for (const m of text.matchAll(EXCHANGE)) add(m[1] ?? '', 'exchange');
  for (const m of text.matchAll(ANGLE)) add(m[1] ?? '', 'angle');
  for (const m of matcher.match(text)) add(m.ticker, 'name');
  return [...best.values()].sort((a, b) => b.confidence - a.confidence || a.ticker.localeCompare(b.ticker));
}
