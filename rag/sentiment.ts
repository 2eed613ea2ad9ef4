import { afinn165FinancialMarketNews } from 'afinn-165-financialmarketnews';

const LEXICON: Readonly<Record<string, number>> = afinn165FinancialMarketNews;
const WORD = /[a-z][a-z'-]*/g;

// hasOwn: words like "constructor" must not resolve to Object.prototype members.
function valence(word: string): number | undefined {
  return Object.hasOwn(LEXICON, word) ? LEXICON[word] : undefined;
}

/**
 * Lexicon sentiment of a text in [-1, 1]: the AFINN-165 financial-market-news valences of its
 * words, summed and divided by sqrt(word count) so long articles do not saturate by length alone,
 * then clamped. 0 for a text without words. Deterministic: the rules baseline critic uses it.
 */
export function sentimentOf(text: string): number {
  const words = text.toLowerCase().match(WORD) ?? [];
  if (words.length === 0) return 0;
  let sum = 0;
  for (const w of words) {
    sum += valence(w) ?? valence(w.replace(/'s$/, '')) ?? 0;
  }
  // AFINN valences run -5..5; dividing by 5 keeps one strong word in a short headline below 1.
  const score = sum / (5 * Math.sqrt(words.length));
  return Math.max(-1, Math.min(1, score));
}
