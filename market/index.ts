export { Bar, upsertBars, barsAsOf, lastBar, nextBar, barCoverage, type BarQuery } from './bars.ts';
