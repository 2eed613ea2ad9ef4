import { describe, expect, it } from 'vitest';
import { tableStyle } from '../../cli/table.ts';

describe('tableStyle', () => {
  it('colours tables only on a terminal without NO_COLOR', () => {
    expect(tableStyle({ isTTY: true }, {})).toEqual({ head: ['red'], border: ['grey'] });
    expect(tableStyle({ isTTY: true }, { NO_COLOR: '1' })).toEqual({ head: [], border: [] });
    expect(tableStyle({ isTTY: false }, {})).toEqual({ head: [], border: [] });
    expect(tableStyle({}, { TERM: 'xterm-256color' })).toEqual({ head: [], border: [] });
  });
});
