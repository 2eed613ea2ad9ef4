import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { derivePositions, type Fill } from '../../execution/index.ts';

const fillArb = fc.record({
  n: fc.integer({ min: 0, max: 10_000 }),
  ticker: fc.constantFrom('MSFT', 'IBM', 'KO'),
  side: fc.constantFrom('buy' as const, 'sell' as const),
  qty: fc.integer({ min: 1, max: 500 }),
  price: fc.double({ min: 1, max: 1_000, noNaN: true, noDefaultInfinity: true }),
  minute: fc.integer({ min: 0, max: 60 * 24 * 30 }),
});

function toFills(raw: ReadonlyArray<{ n: number; ticker: string; side: 'buy' | 'sell'; qty: number; price: number; minute: number }>): Fill[] {
  const seen = new Set<string>();
  const out: Fill[] = [];
  for (const r of raw) {
    const id = `fill-${r.n}`;
    if (seen.has(id)) continue;
    seen.add(id);
    out.push({
      id,
      orderId: `o-${r.n}`,
      ticker: r.ticker,
      side: r.side,
      qty: r.qty,
      price: r.price,
      commission: 0,
      filledAt: new Date(Date.UTC(2020, 0, 1) + r.minute * 60_000).toISOString(),
    });
  }
  return out;
}

describe('positions derived from fills', () => {
  it('gives the same positions when fills are replayed duplicated and shuffled (1,000 cases)', () => {
    fc.assert(
      fc.property(
        fc.array(fillArb, { minLength: 0, maxLength: 40 }).map(toFills),
        fc.array(fc.nat(), { maxLength: 40 }),
        fc.infiniteStream(fc.nat()),
        (fills, dupIndexes, seeds) => {
          const duplicated = [...fills, ...dupIndexes.filter(() => fills.length > 0).map((i) => fills[i % fills.length] as Fill)];
          const shuffled = [...duplicated];
          for (let i = shuffled.length - 1; i > 0; i--) {
            const j = (seeds.next().value as number) % (i + 1);
            [shuffled[i], shuffled[j]] = [shuffled[j] as Fill, shuffled[i] as Fill];
          }
          expect(derivePositions(shuffled)).toEqual(derivePositions(fills));
        },
      ),
      { numRuns: 1_000 },
    );
  });

  it('nets buys and sells per ticker to the signed sum of quantities (1,000 cases)', () => {
    fc.assert(
      fc.property(fc.array(fillArb, { maxLength: 40 }).map(toFills), (fills) => {
        const expected = new Map<string, number>();
        for (const f of fills) expected.set(f.ticker, (expected.get(f.ticker) ?? 0) + (f.side === 'buy' ? f.qty : -f.qty));
        const got = new Map(derivePositions(fills).map((p) => [p.ticker, p.qty]));
        for (const [ticker, qty] of expected) expect(got.get(ticker) ?? 0).toBe(qty);
        for (const p of derivePositions(fills)) expect(p.qty).not.toBe(0);
      }),
      { numRuns: 1_000 },
    );
  });

  it('averages the entry price over adds and keeps it on partial exits', () => {
    const at = (m: number): string => new Date(Date.UTC(2020, 0, 1, 15, m)).toISOString();
    const fills: Fill[] = [
      { id: 'a', orderId: 'o1', ticker: 'MSFT', side: 'buy', qty: 10, price: 100, commission: 0, filledAt: at(0) },
      { id: 'b', orderId: 'o2', ticker: 'MSFT', side: 'buy', qty: 10, price: 110, commission: 0, filledAt: at(1) },
      { id: 'c', orderId: 'o3', ticker: 'MSFT', side: 'sell', qty: 5, price: 120, commission: 0, filledAt: at(2) },
    ];
    expect(derivePositions(fills)).toEqual([{ ticker: 'MSFT', qty: 15, avgPrice: 105, openedAt: at(0) }]);
  });
});
