import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../config/index.ts';
import { isMarketOpen } from '../../market/index.ts';
import { nextSlots, slotName } from '../../sessions/schedule.ts';

describe('session schedule', () => {
  const { schedule } = loadConfig({ env: {} }).settings.sessions;

  it('fires after the open and at midday, New York time, on trading days only', () => {
    // Wednesday 2026-11-25, then Thanksgiving (closed), Friday 27th, the weekend, Monday 30th.
    const slots = nextSlots(schedule, 'America/New_York', new Date('2026-11-25T05:00:00Z'), 6);
    expect(slots.map((s) => s.slot)).toEqual([
      '2026-11-25T10:00 America/New_York',
      '2026-11-25T12:30 America/New_York',
      '2026-11-27T10:00 America/New_York',
      '2026-11-27T12:30 America/New_York',
      '2026-11-30T10:00 America/New_York',
      '2026-11-30T12:30 America/New_York',
    ]);
    // 10:00 EST is 15:00 UTC.
    expect(slots[0]?.at).toBe('2026-11-25T15:00:00.000Z');
  });

  it('puts every default slot of two years inside market hours, early closes (13:00) included, so its orders can fill', () => {
    const slots = nextSlots(schedule, 'America/New_York', new Date('2025-01-01T00:00:00Z'), 2 * 2 * 260).filter((s) => s.at < '2027');
    // Two slots on each of the ~250 trading days a year.
    expect(slots.length).toBeGreaterThan(2 * 2 * 248);
    // The day after Thanksgiving and Christmas Eve close at 13:00: the 12:30 slot is still inside.
    for (const early of ['2025-11-28T12:30', '2025-12-24T12:30', '2026-11-27T12:30', '2026-12-24T12:30'])
      expect(slots.map((s) => s.slot)).toContain(`${early} America/New_York`);
    expect(slots.filter((s) => !isMarketOpen(s.at)).map((s) => s.slot)).toEqual([]);
    // The old 09:00 slot was before the open: the market-hours rule denied each of its orders.
    expect(nextSlots(['0 9 * * 1-5'], 'America/New_York', new Date('2025-01-01T00:00:00Z'), 20).filter((s) => isMarketOpen(s.at))).toEqual([]);
  });

  it('follows daylight saving time', () => {
    const summer = nextSlots(['0 9 * * 1-5'], 'America/New_York', new Date('2026-07-06T00:00:00Z'), 1);
    expect(summer[0]?.at).toBe('2026-07-06T13:00:00.000Z');
  });

  it('skips historical closures such as 2001-09-11', () => {
    const slots = nextSlots(['30 12 * * 1-5'], 'America/New_York', new Date('2001-09-10T18:00:00Z'), 1);
    expect(slots[0]?.slot).toBe('2001-09-17T12:30 America/New_York');
  });

  it('names a slot the same way on every machine', () => {
    expect(slotName(new Date('1999-06-01T16:30:00Z'), 'America/New_York')).toBe('1999-06-01T12:30 America/New_York');
  });
});
