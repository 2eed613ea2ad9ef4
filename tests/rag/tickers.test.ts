import { describe, expect, it } from 'vitest';
import { companyMatcher, extractTickers, TICKER_CONFIDENCE } from '../../rag/index.ts';

const dict = companyMatcher({ exxon: 'XOM', 'international business machines': 'IBM', 'at&t': 'T', intel: 'INTC' });

describe('extractTickers', () => {
  it('finds cashtags, exchange-prefixed symbols, Reuters <TICKER> forms and company names with their confidences', () => {
    const found = extractTickers('$AAPL rallies; NYSE:GE and nasdaq: msft move; COMPUTER TERMINAL SYSTEMS <CPML> sells; Exxon cuts prices', dict);
    expect(found).toEqual(
      expect.arrayContaining([
        { ticker: 'AAPL', confidence: TICKER_CONFIDENCE.cashtag, method: 'cashtag' },
        { ticker: 'GE', confidence: TICKER_CONFIDENCE.exchange, method: 'exchange' },
        { ticker: 'MSFT', confidence: TICKER_CONFIDENCE.exchange, method: 'exchange' },
        { ticker: 'CPML', confidence: TICKER_CONFIDENCE.angle, method: 'angle' },
        { ticker: 'XOM', confidence: TICKER_CONFIDENCE.name, method: 'name' },
      ]),
    );
    expect(found).toHaveLength(5);
  });

  it('does not take dollar amounts, bracketed company names or words containing a company name', () => {
    expect(extractTickers('sold for $5 mln to <Woodco Inc> of Houston; artificial intelligence; $aapl', dict)).toEqual([]);
  });

  it('matches multi-word and punctuated names across line breaks, case-insensitively', () => {
    const found = extractTickers('International Business\nMachines and AT&T agreed', dict).map((t) => t.ticker);
    expect(found.sort()).toEqual(['IBM', 'T']);
  });

  it('keeps the most confident match when a ticker is found several ways, and provided tickers win', () => {
    expect(extractTickers('Exxon <XOM> said', dict)).toEqual([{ ticker: 'XOM', confidence: 0.9, method: 'angle' }]);
    expect(extractTickers('$XOM', dict, ['xom'])).toEqual([{ ticker: 'XOM', confidence: 1, method: 'provided' }]);
  });

  it('ignores dictionary entries whose ticker is not a valid symbol', () => {
    expect(extractTickers('acme corp', companyMatcher({ 'acme corp': 'not a ticker' }))).toEqual([]);
  });
});
