/**
 * The decision id hashes exactly the inputs that can change a decision (risk/controller.ts
 * decisionId): it must change when any of them changes (it feeds the deterministic client_order_id),
 * and it stays the same for the fields no rule reads. fast-check, 1,000 runs a property.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { RiskRules } from '../../config/schema.ts';
import type { PositionSnapshot, RiskDecision } from '../../contracts/index.ts';
import { encodeDecisionId } from '../../risk/controller.ts';
import { TokenEncoder, murmur3x86x128, murmurWords } from '../../risk/hash.ts';
import { decide, decisionId, type DecideInput } from '../../risk/index.ts';
import { easternDay } from '../../risk/time.ts';
import { DEFAULT_RULES, NOW, arbDecideInput, input, iso, openOrder, portfolio, position } from '../support/risk-fixtures.ts';

const RUNS = 300;

type Change = (input: DecideInput) => void;

const bump = (x: number): number => x + 1;
const unitBump = (x: number): number => (x === 0.5 ? 0.25 : 0.5);
const later = (t: string): string => iso(Date.parse(t) + 1);

/** A changed copy of `input`, or null when the change does not apply (e.g. no positions to change). */
function changed(input: DecideInput, change: Change): DecideInput | null {
  const copy = structuredClone(input);
  try {
    change(copy);
  } catch (e) {
    if (e instanceof NotApplicable) return null;
    throw e;
  }
  return copy;
}

class NotApplicable extends Error {}
function need<T>(value: T | null | undefined): T {
  if (value === null || value === undefined) throw new NotApplicable();
  return value;
}

const DAY_MS = 86_400_000;
/** Only inputs on which the PDT guard applies (or, with false, does not). */
function pdtApplies(i: DecideInput, applies: boolean): void {
  if (account(i).equity < i.rules.pdtEquityThreshold !== applies) throw new NotApplicable();
}

const account = (i: DecideInput): NonNullable<DecideInput['portfolio']> => need(i.portfolio);
const firstPosition = (i: DecideInput): NonNullable<DecideInput['portfolio']>['positions'][number] => need(account(i).positions[0]);
const firstOrder = (i: DecideInput): NonNullable<DecideInput['portfolio']>['openOrders'][number] => need(account(i).openOrders[0]);
const withRule =
  <K extends keyof RiskRules>(key: K, next: (v: RiskRules[K]) => RiskRules[K]): Change =>
  (i) => {
    i.rules = { ...i.rules, [key]: next(i.rules[key]) };
  };

/** Every input the rules read, each with a change of it. */
const RELEVANT: Record<string, Change> = {
  'verdict.id': (i) => void (i.verdict.id += 'x'),
  'verdict.proposalId': (i) => void (i.verdict.proposalId += 'x'),
  'verdict.decision': (i) => void (i.verdict.decision = i.verdict.decision === 'APPROVE' ? 'REDUCE' : 'APPROVE'),
  'verdict.sizeMultiplier': (i) => void (i.verdict.sizeMultiplier = unitBump(i.verdict.sizeMultiplier)),
  'verdict.confidence': (i) => void (i.verdict.confidence = unitBump(i.verdict.confidence)),
  'proposal.id': (i) => void (i.proposal.id += 'x'),
  'proposal.ticker': (i) => void (i.proposal.ticker += 'X'),
  'proposal.side': (i) => void (i.proposal.side = i.proposal.side === 'buy' ? 'sell' : 'buy'),
  'portfolio (missing)': (i) => void (i.portfolio = i.portfolio ? null : need(i.portfolio)),
  'portfolio.asOf': (i) => void (account(i).asOf = later(account(i).asOf)),
  'portfolio.equity': (i) => void (account(i).equity = bump(account(i).equity)),
  'portfolio.cash': (i) => void (account(i).cash = bump(account(i).cash)),
  'portfolio.buyingPower': (i) => void (account(i).buyingPower = bump(account(i).buyingPower)),
  'portfolio.lastEquity': (i) => void (account(i).lastEquity = bump(account(i).lastEquity)),
  'portfolio.peakEquity': (i) => void (account(i).peakEquity = bump(account(i).peakEquity)),
  'portfolio.dayTradesLast5Days': (i) => void (account(i).dayTradesLast5Days = bump(account(i).dayTradesLast5Days)),
  'portfolio.tradingState': (i) => void (account(i).tradingState = account(i).tradingState === 'ACTIVE' ? 'REDUCING' : 'ACTIVE'),
  'portfolio.positions (one more)': (i) => void account(i).positions.push(position({ ticker: 'ZZZ' })),
  'portfolio.positions (one less)': (i) => void need(account(i).positions.pop()),
  'position.ticker': (i) => void (firstPosition(i).ticker += 'X'),
  'position.qty': (i) => void (firstPosition(i).qty = bump(firstPosition(i).qty)),
  'position.marketPrice': (i) => void (firstPosition(i).marketPrice = bump(firstPosition(i).marketPrice)),
  'position.sector': (i) => void (firstPosition(i).sector = firstPosition(i).sector === null ? 'Tech' : null),
  // The PDT guard reads a position's opening time, as its New York day, only under the equity threshold.
  'position.openedAt (another day, PDT guard applies)': (i) => {
    pdtApplies(i, true);
    const p = firstPosition(i);
    p.openedAt = p.openedAt === null ? NOW : iso(Date.parse(p.openedAt) - DAY_MS);
  },
  'portfolio.openOrders (one more)': (i) => void account(i).openOrders.push(openOrder({ ticker: 'ZZZ' })),
  'portfolio.openOrders (one less)': (i) => void need(account(i).openOrders.pop()),
  'openOrder.ticker': (i) => void (firstOrder(i).ticker += 'X'),
  'openOrder.side': (i) => void (firstOrder(i).side = firstOrder(i).side === 'buy' ? 'sell' : 'buy'),
  'openOrder.qty': (i) => void (firstOrder(i).qty = bump(firstOrder(i).qty)),
  'portfolio.recentOrderTimes (one more)': (i) => void account(i).recentOrderTimes.push(NOW),
  'portfolio.recentOrderTimes (one less)': (i) => void need(account(i).recentOrderTimes.pop()),
  'portfolio.recentOrderTimes (a time)': (i) => {
    const times = account(i).recentOrderTimes;
    times[0] = later(need(times[0]));
  },
  'market.ticker': (i) => void (i.market.ticker += 'X'),
  'market.asOf': (i) => void (i.market.asOf = later(i.market.asOf)),
  'market.lastPrice': (i) => void (i.market.lastPrice = bump(i.market.lastPrice)),
  'market.atr': (i) => void (i.market.atr = i.market.atr === null ? 1 : null),
  'market.sector': (i) => void (i.market.sector = i.market.sector === null ? 'Tech' : null),
  'market.marketOpen': (i) => void (i.market.marketOpen = !i.market.marketOpen),
  now: (i) => void (i.now = later(i.now)),
  baseQty: (i) => void (i.baseQty = i.baseQty === undefined ? 10 : undefined),
  ...Object.fromEntries(
    (Object.keys(DEFAULT_RULES) as (keyof RiskRules)[]).map((key): [string, Change] => [
      `rules.${key}`,
      typeof DEFAULT_RULES[key] === 'boolean'
        ? withRule(key, (v) => !v as RiskRules[typeof key])
        : withRule(key, (v) => ((v as number) + 1) as RiskRules[typeof key]),
    ]),
  ),
};

/** Inputs no rule reads: neither the decision nor its id may depend on them. */
const IRRELEVANT: Record<string, Change> = {
  'verdict texts and accounting': (i) => {
    i.verdict.reasons = [{ text: 'another reason', evidence: ['news:9'] }];
    i.verdict.dissent = ['bear: other'];
    i.verdict.model = 'other-model';
    i.verdict.promptVersion = 'v9';
    i.verdict.tokens = { prompt: 1, completion: 2 };
    i.verdict.createdAt = later(i.verdict.createdAt);
  },
  'proposal model fields': (i) => {
    i.proposal.probability = unitBump(i.proposal.probability);
    i.proposal.expectedReturn += 0.01;
    i.proposal.modelVersion += 'x';
    i.proposal.featureSnapshotId += 'x';
    i.proposal.attributions = [];
    i.proposal.asOf = later(i.proposal.asOf);
  },
  'position.avgPrice': (i) => void (firstPosition(i).avgPrice = bump(firstPosition(i).avgPrice)),
  'openOrder.clientOrderId and submittedAt': (i) => {
    firstOrder(i).clientOrderId += 'x';
    firstOrder(i).submittedAt = later(firstOrder(i).submittedAt);
  },
  'market.avgDollarVolume': (i) => void (i.market.avgDollarVolume = i.market.avgDollarVolume === null ? 1e9 : null),
  'position.openedAt (where the PDT guard does not apply)': (i) => {
    pdtApplies(i, false);
    const p = firstPosition(i);
    p.openedAt = p.openedAt === null ? NOW : null;
  },
  'position.openedAt (another time of its New York day)': (i) => {
    const p = firstPosition(i);
    const opened = need(p.openedAt);
    const next = Date.parse(opened) + 1;
    if (easternDay(next) !== easternDay(Date.parse(opened))) throw new NotApplicable();
    p.openedAt = iso(next);
  },
};

const withoutId = (d: RiskDecision): Omit<RiskDecision, 'id'> => {
  const { id: _id, ...rest } = d;
  return rest;
};

describe('decision id', () => {
  it('is what decisionId computes on its own', () => {
    fc.assert(
      fc.property(arbDecideInput(), (input) => {
        expect(decide(input).id).toBe(decisionId(input));
      }),
      { numRuns: RUNS },
    );
  });

  it('lists every rules setting among the inputs it hashes', () => {
    expect(Object.keys(RELEVANT).filter((k) => k.startsWith('rules.')).length).toBe(Object.keys(DEFAULT_RULES).length);
  });

  it.each(Object.entries(RELEVANT))('changes when %s changes', (_name, change) => {
    let applied = 0;
    fc.assert(
      fc.property(arbDecideInput(), (input) => {
        const next = changed(input, change);
        fc.pre(next !== null);
        applied += 1;
        expect(decide(next).id).not.toBe(decide(input).id);
      }),
      { numRuns: RUNS },
    );
    expect(applied).toBeGreaterThan(0);
  });

  it.each(Object.entries(IRRELEVANT))('stays the same, as does the decision, when %s changes', (_name, change) => {
    let applied = 0;
    fc.assert(
      fc.property(arbDecideInput(), (input) => {
        const next = changed(input, change);
        fc.pre(next !== null);
        applied += 1;
        expect(decide(next)).toEqual(decide(input));
      }),
      { numRuns: RUNS },
    );
    expect(applied).toBeGreaterThan(0);
  });

  it('changes whenever the decision changes, for a change of any single value in the input', () => {
    // Guards the list above: a rule that starts reading a field the id leaves out fails here.
    let decisionsChanged = 0;
    fc.assert(
      fc.property(arbDecideInput(), fc.nat(), (input, pick) => {
        const leaves: { holder: Record<string, unknown>; key: string }[] = [];
        const walk = (v: unknown): void => {
          if (v === null || typeof v !== 'object') return;
          for (const [key, child] of Object.entries(v)) {
            if (child !== null && typeof child === 'object') walk(child);
            else if (typeof child === 'number' || typeof child === 'string' || typeof child === 'boolean')
              leaves.push({ holder: v as Record<string, unknown>, key });
          }
        };
        const next = structuredClone(input);
        walk(next);
        const leaf = leaves[pick % leaves.length];
        if (!leaf) return;
        const old = leaf.holder[leaf.key];
        leaf.holder[leaf.key] = typeof old === 'number' ? old + 1 : typeof old === 'boolean' ? !old : `${String(old)}X`;
        let after: RiskDecision;
        try {
          after = decide(next);
        } catch {
          return; // e.g. `now` no longer parses: refused, no decision to compare
        }
        const before = decide(input);
        if (JSON.stringify(withoutId(after)) !== JSON.stringify(withoutId(before))) {
          decisionsChanged += 1;
          expect(after.id).not.toBe(before.id);
        }
      }),
      { numRuns: RUNS },
    );
    expect(decisionsChanged).toBeGreaterThan(100);
  });

  it('reads a recent order time by its instant: the same instant written another way gives the same id', () => {
    fc.assert(
      fc.property(arbDecideInput(), (input) => {
        fc.pre(input.portfolio !== null && input.portfolio !== undefined && input.portfolio.recentOrderTimes.length > 0);
        const next = changed(input, (i) => {
          const a = account(i);
          a.recentOrderTimes = a.recentOrderTimes.map((t) => t.replace(/Z$/, '+00:00'));
        });
        const after = decide(need(next));
        expect(after).toEqual(decide(input));
      }),
      { numRuns: RUNS },
    );
  });

  it('keeps malformed lists apart: a non-object item cannot pass for the first field of an object item', () => {
    const odd = (items: unknown[]): DecideInput => input({ portfolio: portfolio({ positions: items as PositionSnapshot[] }) });
    const a = decide(odd([{ ticker: 'X', qty: 1, marketPrice: 2, sector: 'S', openedAt: null }, 'T']));
    const b = decide(odd(['X', { ticker: 1, qty: 2, marketPrice: 'S', sector: null, openedAt: 'T' }]));
    expect(a.tradingState).toBe('HALTED');
    expect(a.id).not.toBe(b.id);
  });

  it('treats a missing account as null or undefined alike, and ignores key order and extra keys', () => {
    const base = arbDecideInput();
    fc.assert(
      fc.property(base, (input) => {
        expect(decide({ ...input, portfolio: undefined }).id).toBe(decide({ ...input, portfolio: null }).id);
        const extra = { ...input, market: { ...input.market, note: 'not part of the contract' } };
        expect(decide(extra).id).toBe(decide(input).id);
      }),
      { numRuns: RUNS },
    );
  });

  it('keeps DEFAULT_RULES untouched (the changes above work on copies)', () => {
    expect(DEFAULT_RULES.maxPositions).toBe(12);
  });
});

describe('TokenEncoder', () => {
  const hashOf = (write: (h: TokenEncoder) => void): string => {
    const h = new TokenEncoder();
    write(h);
    return h.digest();
  };

  it('tells apart tokens that print alike, splits of one string, and counts', () => {
    const seen = new Set([
      hashOf((h) => h.scalar(1)),
      hashOf((h) => h.scalar('1')),
      hashOf((h) => h.scalar(1.5)),
      hashOf((h) => h.scalar(null)),
      hashOf((h) => h.scalar(undefined)),
      hashOf((h) => h.scalar(true)),
      hashOf((h) => h.scalar(false)),
      hashOf((h) => h.scalar(0)),
      hashOf((h) => h.scalar(-0)),
      hashOf((h) => h.scalar(-1)),
      hashOf((h) => h.scalar(2 ** 53)),
      hashOf((h) => h.scalar(Number.NaN)),
      hashOf((h) => (h.scalar('ab'), h.scalar('c'))),
      hashOf((h) => (h.scalar('a'), h.scalar('bc'))),
      hashOf((h) => (h.count(1), h.scalar('abc'))),
      hashOf((h) => h.scalar({ a: 1 })),
      hashOf((h) => h.scalar([1])),
      hashOf(() => undefined),
      // One-, two-, three- and four-byte characters, and lone surrogates (WTF-8: never U+FFFD).
      hashOf((h) => h.scalar('aé')),
      hashOf((h) => h.scalar('a€')),
      hashOf((h) => h.scalar('a😀')),
      hashOf((h) => h.scalar('a\ud83d')),
      hashOf((h) => h.scalar('a\ude00')),
      hashOf((h) => h.scalar('a\ufffd')),
      hashOf((h) => h.scalar('\u0000')),
      hashOf((h) => h.scalar('')),
    ]);
    expect(seen.size).toBe(26);
  });

  it('is MurmurHash3_x86_128 (seed 0) as the reference implementation computes it, at every tail length', () => {
    // Outputs of the reference (the murmurhash3js-revisited port, which matches Appleby's C++) for
    // bytes (i * 131 + 7) & 255, and for UTF-8 text.
    const pattern = Uint8Array.from({ length: 300 }, (_, i) => (i * 131 + 7) & 255);
    const expected: Record<number, string> = {
      1: 'ae4ba915684028006840280068402800',
      2: 'ad70d35bfbff7a5ffbff7a5ffbff7a5f',
      3: '68600485a655aea6a655aea6a655aea6',
      4: 'dca9caea5b7f8cc95b7f8cc95b7f8cc9',
      5: 'ecd5d99f7ffbe4580aedfebe0aedfebe',
      7: 'e0fac83a77d6e59aa38b7da0a38b7da0',
      8: 'd89b312322895badd0f9ab8ad0f9ab8a',
      9: '57c3a2bd8d477733707194c75ddb0ff3',
      12: 'e884211ca51d451709716be32473c334',
      13: '4ae1f9457b1d1648fe2c194619330f87',
      15: 'a90b05a7a6101a08a756eeb750420866',
      16: '4f94696f02e33d9558f6e2faae0c1699',
      17: '0772c2fcebb967b5a5501a704e4aeb09',
      31: '6dbb3492c223c824922ce3307f678c36',
      33: '34c636c7de52ce078c1689637e4fd421',
      63: '5f9e63df49b4526ae6ac824dc31d9576',
      64: '910de13349a087d1b8f16b9b016846be',
      65: '3207c267517b2aeab84fe88a4fd07ca4',
      300: 'b72102a95e880ee6329ccbc4a532d593',
    };
    for (const [n, hex] of Object.entries(expected)) expect(murmur3x86x128(pattern, Number(n))).toBe(hex);
    const utf8 = (s: string): Uint8Array => new TextEncoder().encode(s);
    expect(murmur3x86x128(utf8(''), 0)).toBe('00000000000000000000000000000000');
    const fox = utf8('The quick brown fox jumps over the lazy dog');
    expect(murmur3x86x128(fox, fox.length)).toBe('2f1583c3ecee2c675d7bf66ce5e91d2c');
    const xs = utf8('x'.repeat(1000));
    expect(murmur3x86x128(xs, xs.length)).toBe('02508d27189b6cffc11edb6e79f64f4b');
  });

  it('hashes a word stream as MurmurHash3_x86_128 of its little-endian bytes', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 }), { maxLength: 40 }), (words) => {
        const bytes = new Uint8Array(words.length * 4);
        const view = new DataView(bytes.buffer);
        words.forEach((w, i) => view.setInt32(i * 4, w, true));
        expect(murmurWords(words, words.length)).toBe(murmur3x86x128(bytes));
      }),
      { numRuns: 2_000 },
    );
  });

  it('writes a whole number below 2^24 as one word and one up to 2^53 as its high bits under a tag, then its low word', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffff }), (v) => {
        expect(hashOf((h) => h.scalar(v))).toBe(murmurWords([0x0a | (v << 8)], 1));
      }),
      { numRuns: 2_000 },
    );
    const wide = (v: number): void => {
      const hi = Math.floor(v / 2 ** 32);
      const lo = v - hi * 2 ** 32;
      expect(
        hashOf((h) => h.scalar(v)),
        String(v),
      ).toBe(murmurWords([0x0d | (hi << 8), lo | 0], 2));
    };
    fc.assert(fc.property(fc.integer({ min: 0x1000000, max: Number.MAX_SAFE_INTEGER }), wide), { numRuns: 5_000 });
    for (const v of [0x1000000, 2 ** 32 - 1, 2 ** 32, 2 ** 32 + 1, 1.7e12, Number.MAX_SAFE_INTEGER]) wide(v);
    // Past 2^53 (and negative whole numbers) a number is its IEEE-754 words.
    expect(hashOf((h) => h.scalar(2 ** 53))).not.toBe(murmurWords([0x0d | ((2 ** 21) << 8), 0], 2));
  });

  it('writes a number as its IEEE-754 words, as a Float64Array holds them (every NaN one NaN)', () => {
    const f64 = new Float64Array(1);
    const words = new Int32Array(f64.buffer);
    // Little-endian: words[0] is the low word. The encoder reads the bits by arithmetic instead.
    const expectBits = (v: number): void => {
      f64[0] = Number.isNaN(v) ? Number.NaN : v;
      const expected = murmurWords([0x04, words[0] as number, words[1] as number], 3);
      expect(
        hashOf((h) => h.scalar(v)),
        String(v),
      ).toBe(expected);
    };
    // Whole numbers from 0 to 2^53 have their own tags (below).
    const small = (v: number): boolean => v >= 0 && v <= Number.MAX_SAFE_INTEGER && Number.isInteger(v) && !Object.is(v, -0);
    fc.assert(
      fc.property(
        fc.double().filter((v) => !small(v)),
        expectBits,
      ),
      { numRuns: 20_000 },
    );
    for (let k = -1074; k <= 1023; k++) {
      const p = 2 ** k;
      for (const v of [p, -p, p * (1 + 2 ** -52), p * (1 - 2 ** -53)]) if (!small(v)) expectBits(v);
    }
    for (const v of [
      Number.MAX_VALUE,
      Number.MIN_VALUE,
      2 ** 53,
      2 ** 53 - 1,
      2 ** 32 - 1,
      2 ** 32 + 1,
      1.7e12 + 0.5,
      0.1,
      -0,
      Number.NaN,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
    ])
      if (!small(v)) expectBits(v);
  });

  it('is deterministic for long streams', () => {
    const long = 'x'.repeat(5_000);
    const first = hashOf((t) => (t.scalar(long), t.scalar(2)));
    expect(hashOf((t) => (t.scalar(long), t.scalar(2)))).toBe(first);
    expect(first).toMatch(/^[0-9a-f]{32}$/);
    expect(hashOf((t) => (t.scalar(`${long}y`), t.scalar(2)))).not.toBe(first);
  });

  it('keeps no state between ids: interleaved encoders give the ids each gives alone', () => {
    const alone = [hashOf((h) => h.scalar('a')), hashOf((h) => h.scalar('b'))];
    const a = new TokenEncoder();
    const b = new TokenEncoder();
    a.scalar('a');
    b.scalar('b');
    expect([a.digest(), b.digest()]).toEqual(alone);
    const input = arbDecideInput();
    fc.assert(
      fc.property(input, input, (x, y) => {
        const ex = encodeDecisionId(x);
        const ey = encodeDecisionId(y);
        expect(ex.digest()).toBe(decisionId(x).slice(3));
        expect(ey.digest()).toBe(decisionId(y).slice(3));
      }),
      { numRuns: 200 },
    );
  });

  it('does not collide on 20,000 distinct token streams', () => {
    const streams =
      fc.sample(
        fc.uniqueArray(
          fc.array(fc.oneof(fc.double(), fc.integer(), fc.string(), fc.string({ unit: 'binary' }), fc.boolean(), fc.constant(null)), { maxLength: 6 }),
          {
            minLength: 20_000,
            maxLength: 20_000,
            selector: (s) => JSON.stringify(s.map((v) => (Object.is(v, -0) ? '-0' : typeof v === 'number' ? `n${v}` : v))),
          },
        ),
        { numRuns: 1, seed: 3 },
      )[0] ?? [];
    expect(streams.length).toBe(20_000);
    const ids = streams.map((s) => hashOf((h) => (h.count(s.length), s.forEach((v) => h.scalar(v)))));
    expect(new Set(ids).size).toBe(streams.length);
  });
});
