import { z } from 'zod';

/** An ISO-8601 timestamp with an offset, e.g. `1999-06-01T20:00:00Z`. */
export const IsoDateTime = z.iso.datetime({ offset: true });
/** A calendar day, `YYYY-MM-DD`. */
export const IsoDate = z.iso.date();
/** An exchange ticker: upper-case letters, digits, dot or dash, 1-10 characters. */
export const Ticker = z.string().regex(/^[A-Z][A-Z0-9.-]{0,9}$/, 'expected an upper-case ticker like "MSFT"');
export type Ticker = z.infer<typeof Ticker>;
/** Order and proposal side. */
export const Side = z.enum(['buy', 'sell']);
export type Side = z.infer<typeof Side>;
/** A probability, confidence or multiplier in [0, 1]. */
export const Unit = z.number().min(0).max(1);
/** A finite number (rejects NaN and ±Infinity). */
export const Finite = z.number().refine(Number.isFinite, 'expected a finite number');
/** Ids that agents cite as evidence: news items (`news:…`), tool calls (`tool:…`), features (`feat:…`). */
export const EvidenceId = z.string().min(1).max(80);
/** The trading state of the kill switch. */
export const TradingState = z.enum(['ACTIVE', 'REDUCING', 'HALTED']);
export type TradingState = z.infer<typeof TradingState>;
