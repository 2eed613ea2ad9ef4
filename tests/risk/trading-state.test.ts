/** The kill switch: manual halt and resume, automatic halts on the loss limits, fail closed on bad data. */
import { describe, expect, it } from 'vitest';
import { decide, tradingStateFor } from '../../risk/index.ts';
import type { PortfolioSnapshot } from '../../contracts/index.ts';
import { NOW, NOW_MS, input, iso, portfolio, position, proposal, rules } from '../support/risk-fixtures.ts';

const R = rules();
const detail = (p: PortfolioSnapshot | null | undefined, name: string): string | undefined =>
  tradingStateFor(p, R, NOW).rules.find((r) => r.rule === name)?.detail;

describe('tradingStateFor', () => {
  it('is ACTIVE for a fresh account within its limits', () => {
    expect(tradingStateFor(portfolio(), R, NOW)).toMatchObject({ state: 'ACTIVE', automatic: false, accountUsable: true, dailyLossPct: 0, drawdownPct: 0 });
  });

  it.each([null, undefined])('halts when the account data is missing (%s): fail closed', (missing) => {
    const s = tradingStateFor(missing, R, NOW);
    expect(s).toMatchObject({ state: 'HALTED', automatic: true, accountUsable: false });
    expect(s.rules.find((r) => r.rule === 'ACCOUNT_FRESH')).toEqual({
      rule: 'ACCOUNT_FRESH',
      passed: false,
      detail: 'ACCOUNT_FRESH: missing account data (fail closed)',
    });
  });

  it.each([
    ['equity NaN', { equity: Number.NaN }, 'equity=NaN is not a positive number'],
    ['negative equity', { equity: -5 }, 'equity=-5 is not a positive number'],
    ['zero last equity', { lastEquity: 0 }, 'lastEquity=0 is not a positive number'],
    ['infinite buying power', { buyingPower: Number.POSITIVE_INFINITY }, 'buyingPower=Infinity is not a finite number'],
    ['unparsable asOf', { asOf: 'yesterday' }, 'asOf=yesterday is not a timestamp'],
  ])('halts on invalid account data: %s', (_name, patch, why) => {
    const s = tradingStateFor({ ...portfolio(), ...patch }, R, NOW);
    expect(s.state).toBe('HALTED');
    expect(s.reason).toBe(`account data unusable: ${why}`);
  });

  it('halts when the account data is older than maxAccountAgeSeconds, not at the limit', () => {
    expect(tradingStateFor(portfolio({ asOf: iso(NOW_MS - 120_000) }), R, NOW).state).toBe('ACTIVE');
    const stale = tradingStateFor(portfolio({ asOf: iso(NOW_MS - 121_000) }), R, NOW);
    expect(stale).toMatchObject({ state: 'HALTED', automatic: true, reason: 'account data stale: age=121.0s > 120s' });
    expect(detail(portfolio({ asOf: iso(NOW_MS - 121_000) }), 'ACCOUNT_FRESH')).toBe('ACCOUNT_FRESH: age=121.0s limit=120s (stale: fail closed)');
  });

  it('halts when the account data is dated too far in the future', () => {
    expect(tradingStateFor(portfolio({ asOf: iso(NOW_MS + 300_000) }), R, NOW).state).toBe('HALTED');
  });

  it('halts at a 3% daily loss and reduces from 2%', () => {
    const at = (equity: number) => tradingStateFor(portfolio({ equity, lastEquity: 100_000, peakEquity: 100_000 }), R, NOW);
    expect(at(97_000)).toMatchObject({ state: 'HALTED', automatic: true, dailyLossPct: 3, reason: 'daily loss 3.00% >= 3.00%' });
    expect(detail(portfolio({ equity: 97_000, lastEquity: 100_000 }), 'DAILY_LOSS')).toBe(
      'DAILY_LOSS: loss=3.00% reduceAt=2.00% haltAt=3.00% equity=97000.00 lastEquity=100000.00',
    );
    expect(at(97_001).state).toBe('REDUCING');
    expect(at(98_000)).toMatchObject({ state: 'REDUCING', automatic: true });
    expect(at(98_001).state).toBe('ACTIVE');
    expect(at(120_000).state).toBe('ACTIVE');
  });

  it('halts at the maximum drawdown from the peak', () => {
    const s = tradingStateFor(portfolio({ equity: 85_000, lastEquity: 85_000, peakEquity: 100_000 }), R, NOW);
    expect(s).toMatchObject({ state: 'HALTED', automatic: true, drawdownPct: 15 });
    expect(s.rules.find((r) => r.rule === 'MAX_DRAWDOWN')?.detail).toBe('MAX_DRAWDOWN: drawdown=15.00% limit=15.00% equity=85000.00 peak=100000.00');
    expect(tradingStateFor(portfolio({ equity: 85_001, lastEquity: 85_001, peakEquity: 100_000 }), R, NOW).state).toBe('ACTIVE');
  });

  it('keeps a manual halt until the operator resumes', () => {
    const halted = tradingStateFor(portfolio({ tradingState: 'HALTED' }), R, NOW);
    expect(halted).toMatchObject({ state: 'HALTED', automatic: false, reason: 'halted by the operator (stored state HALTED)' });
    // Resume = the stored state back to ACTIVE.
    expect(tradingStateFor(portfolio({ tradingState: 'ACTIVE' }), R, NOW).state).toBe('ACTIVE');
  });

  it('does not let a resume override a loss limit that is still breached', () => {
    const s = tradingStateFor(portfolio({ tradingState: 'ACTIVE', equity: 96_500, lastEquity: 100_000 }), R, NOW);
    expect(s).toMatchObject({ state: 'HALTED', automatic: true });
  });

  it('keeps a manual REDUCING', () => {
    expect(tradingStateFor(portfolio({ tradingState: 'REDUCING' }), R, NOW)).toMatchObject({ state: 'REDUCING', automatic: false });
  });

  it('refuses a `now` that is not a timestamp (a programming error, not a market state)', () => {
    expect(() => tradingStateFor(portfolio(), R, 'soon')).toThrow(expect.objectContaining({ code: 'INPUT_INVALID', message: expect.stringContaining('now') }));
  });
});

describe('decide under the kill switch', () => {
  it('denies a new order when trading is halted', () => {
    const d = decide(input({ portfolio: portfolio({ tradingState: 'HALTED' }) }));
    expect(d).toMatchObject({ action: 'DENY', finalQty: 0, tradingState: 'HALTED' });
    expect(d.rules.find((r) => r.rule === 'TRADING_STATE')?.detail).toBe(
      'TRADING_STATE: state=HALTED (halted by the operator (stored state HALTED)): every new order is denied',
    );
  });

  it('denies even an order that would reduce a position when halted', () => {
    const d = decide(
      input({ proposal: proposal({ side: 'sell' }), portfolio: portfolio({ tradingState: 'HALTED', positions: [position({ ticker: 'MSFT', qty: 50 })] }) }),
    );
    expect(d.action).toBe('DENY');
  });

  it('denies when the account is missing, recording every account rule as unknown', () => {
    const d = decide(input({ portfolio: null }));
    expect(d).toMatchObject({ action: 'DENY', tradingState: 'HALTED' });
    expect(d.rules.find((r) => r.rule === 'MAX_POSITIONS')?.detail).toBe('MAX_POSITIONS: unknown (no usable account data)');
  });

  it('in REDUCING denies a new buy and allows a sell that reduces a long', () => {
    const p = portfolio({ equity: 97_500, lastEquity: 100_000, peakEquity: 100_000, positions: [position({ ticker: 'MSFT', qty: 40 })] });
    const buy = decide(input({ portfolio: p }));
    expect(buy).toMatchObject({ action: 'DENY', tradingState: 'REDUCING' });
    expect(buy.rules.find((r) => r.rule === 'TRADING_STATE')?.detail).toBe(
      'TRADING_STATE: state=REDUCING (daily loss 2.50% >= 2.00%): order would add exposure (position +40 side=buy)',
    );
    const sell = decide(input({ portfolio: p, proposal: proposal({ side: 'sell' }) }));
    expect(sell).toMatchObject({ action: 'ALLOW', side: 'sell', finalQty: 40, tradingState: 'REDUCING' });
  });
});
