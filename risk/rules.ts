/**
 * The individual hard rules. Each returns its RuleResult (always, with the numbers, so the audit shows
 * every rule even when an earlier one already denied) and, for the rules that limit size, the largest
 * quantity it allows (`cap`: +Infinity when it does not limit, 0 when it fails).
 */
import type { RiskRules } from '../config/schema.ts';
import type { Side } from '../contracts/common.ts';
import type { MarketSnapshot } from '../contracts/market.ts';
import type { PortfolioSnapshot } from '../contracts/portfolio.ts';
import type { RuleResult } from '../contracts/risk-decision.ts';
import { cap as capText, num, pct, signed } from './format.ts';
import type { TradingStateAssessment } from './schema.ts';
import { easternDay, easternDayStartMs, isoMs } from './time.ts';

/** Sector bucket of a position or order without a known sector; capped like any other sector. */
export const UNCLASSIFIED_SECTOR = 'UNCLASSIFIED';

const MINUTE_MS = 60_000;

/** What every rule needs to know about the order under review. */
export interface OrderContext {
  readonly ticker: string;
  readonly side: Side;
  /** The account when usable (fresh or not); null when missing or invalid. */
  readonly account: PortfolioSnapshot | null;
  /** Signed quantity held in `ticker` (0 when none or unknown). */
  readonly positionQty: number;
  /** True when the order is opposite to an existing position: it can only shrink exposure. */
  readonly reducing: boolean;
  readonly state: TradingStateAssessment;
  readonly market: MarketSnapshot;
  readonly rules: RiskRules;
  /** `now` in milliseconds. */
  readonly at: number;
  /** The account's positions summed by ticker (see `holdingsOf`); empty without a usable account. */
  readonly held: ReadonlyMap<string, Holding>;
  /** The account's recentOrderTimes in milliseconds (NaN where one does not parse), parsed once per decision. */
  readonly recentMs: readonly number[];
}

/** One ticker's positions as the exposure rules value them. */
export interface Holding {
  /** Signed quantity, summed over the ticker's position rows. */
  qty: number;
  /** Price per share: the order's last price for the order's ticker, else the position's market price. */
  price: number;
  /** Sector bucket: the market snapshot's for the order's ticker, else the position's. */
  sector: string;
}

/**
 * The account's positions summed by ticker, valued for an order in `ticker` (its rows at the market
 * snapshot's price and sector). Built once per decision; the position, exposure and max-positions rules
 * all read it.
 */
export function holdingsOf(account: PortfolioSnapshot | null, ticker: string, market: MarketSnapshot): Map<string, Holding> {
  const held = new Map<string, Holding>();
  if (!account) return held;
  const orderSector = sectorKey(market.sector);
  for (const p of account.positions) {
    const same = p.ticker === ticker;
    const price = same ? market.lastPrice : p.marketPrice;
    const sector = same ? orderSector : sectorKey(p.sector);
    const prev = held.get(p.ticker);
    if (prev === undefined) held.set(p.ticker, { qty: p.qty, price, sector });
    else {
      // Several rows of one ticker: quantities add up, the last row's price and sector stand.
      prev.qty += p.qty;
      prev.price = price;
      prev.sector = sector;
    }
  }
  return held;
}

/**
 * Milliseconds of each recent order time; NaN where one is not a parsable ISO string (the throttle counts
 * those against the limit). The throttle and the decision id both read this, so they agree on the times.
 */
export function parseTimes(times: readonly unknown[]): number[] {
  const out = new Array<number>(times.length);
  for (let i = 0; i < times.length; i++) {
    const t = times[i];
    out[i] = typeof t === 'string' ? isoMs(t) : Number.NaN;
  }
  return out;
}

/** A size-limiting rule's outcome. */
export interface Capped {
  readonly result: RuleResult;
  readonly cap: number;
}

const UNKNOWN = 'unknown (no usable account data)';

function result(rule: string, passed: boolean, detail: string): RuleResult {
  return { rule, passed, detail: `${rule}: ${detail}` };
}

/** Whether an order on `side` shrinks a position of signed size `positionQty`. */
export function reducesPosition(side: Side, positionQty: number): boolean {
  return (side === 'sell' && positionQty > 0) || (side === 'buy' && positionQty < 0);
}

/** Largest whole quantity q with current + q * unit <= limit (guarding floating-point rounding). */
export function capQty(limit: number, current: number, unit: number): number {
  if (!(unit > 0) || !Number.isFinite(limit) || !Number.isFinite(current)) return 0;
  const room = limit - current;
  if (!(room > 0)) return 0;
  let q = Math.floor(room / unit);
  while (q > 0 && current + q * unit > limit) q -= 1;
  return q;
}

export function tradingStateRule(ctx: OrderContext): RuleResult {
  const { state } = ctx.state;
  if (state === 'HALTED') return result('TRADING_STATE', false, `state=HALTED (${ctx.state.reason}): every new order is denied`);
  if (state === 'REDUCING') {
    return ctx.reducing
      ? result('TRADING_STATE', true, `state=REDUCING order reduces position ${signed(ctx.positionQty)}`)
      : result('TRADING_STATE', false, `state=REDUCING (${ctx.state.reason}): order would add exposure (position ${signed(ctx.positionQty)} side=${ctx.side})`);
  }
  return result('TRADING_STATE', true, 'state=ACTIVE');
}

export function marketHoursRule(ctx: OrderContext): RuleResult {
  const open = ctx.market.marketOpen === true;
  const passed = open || !ctx.rules.requireMarketOpen;
  return result('MARKET_HOURS', passed, `marketOpen=${open} required=${ctx.rules.requireMarketOpen} asOf=${ctx.market.asOf}`);
}

export function oneOpenOrderRule(ctx: OrderContext): RuleResult {
  if (!ctx.account) return result('ONE_OPEN_ORDER_PER_TICKER', false, UNKNOWN);
  let open = 0;
  for (const o of ctx.account.openOrders) if (o.ticker === ctx.ticker) open += 1;
  return result('ONE_OPEN_ORDER_PER_TICKER', open === 0, `openOrders(${ctx.ticker})=${open} limit=1 including this order`);
}

export function throttleRule(ctx: OrderContext): RuleResult {
  if (!ctx.account) return result('ORDER_THROTTLE', false, UNKNOWN);
  const dayStart = easternDayStartMs(easternDay(ctx.at));
  const minuteStart = ctx.at - MINUTE_MS;
  let minute = 0;
  let day = 0;
  for (const ms of ctx.recentMs) {
    // Unparsable or future times count against the throttle: when in doubt, fewer orders.
    if (!(ms <= minuteStart)) minute += 1;
    if (!(ms < dayStart)) day += 1;
  }
  const { maxOrdersPerMinute, maxOrdersPerDay } = ctx.rules;
  const passed = minute + 1 <= maxOrdersPerMinute && day + 1 <= maxOrdersPerDay;
  return result('ORDER_THROTTLE', passed, `lastMinute=${minute}+1 limit=${maxOrdersPerMinute}/min today=${day}+1 limit=${maxOrdersPerDay}/day`);
}

/**
 * Pattern-day-trader guard: under the equity threshold, no order that would make more than
 * `pdtMaxDayTrades` day trades in 5 business days, counting pending orders that would close a position
 * opened today. A new entry counts as a potential day trade, because its bracket stop or target can
 * fill the same day; closing a position opened on an earlier day does not count.
 */
export function pdtRule(ctx: OrderContext): RuleResult {
  const a = ctx.account;
  if (!a) return result('PDT_GUARD', false, UNKNOWN);
  const { pdtEquityThreshold, pdtMaxDayTrades } = ctx.rules;
  if (a.equity >= pdtEquityThreshold) {
    return result('PDT_GUARD', true, `equity=${num(a.equity)} >= ${num(pdtEquityThreshold)}: not applicable`);
  }
  const today = easternDay(ctx.at);
  const openedToday = new Map<string, number>();
  for (const p of a.positions) {
    if (p.qty !== 0 && p.openedAt !== null && easternDay(isoMs(p.openedAt)) === today) openedToday.set(p.ticker, p.qty);
  }
  let pending = 0;
  for (const o of a.openOrders) {
    const qty = openedToday.get(o.ticker);
    if (qty !== undefined && reducesPosition(o.side, qty)) pending += 1;
  }
  const thisOrder = ctx.reducing ? (openedToday.has(ctx.ticker) ? 1 : 0) : 1;
  const total = a.dayTradesLast5Days + pending + thisOrder;
  const passed = thisOrder === 0 || total <= pdtMaxDayTrades;
  return result(
    'PDT_GUARD',
    passed,
    `equity=${num(a.equity)} < ${num(pdtEquityThreshold)} dayTrades5d=${a.dayTradesLast5Days} pending=${pending} thisOrder=${thisOrder} total=${total} limit=${pdtMaxDayTrades}`,
  );
}

export function noCrossZeroRule(ctx: OrderContext): Capped {
  if (!ctx.account) return { result: result('NO_CROSS_ZERO', false, UNKNOWN), cap: 0 };
  const position = signed(ctx.positionQty);
  if (ctx.reducing) {
    const limit = Math.abs(ctx.positionQty);
    return { result: result('NO_CROSS_ZERO', true, `position=${position} side=${ctx.side} maxQty=${limit} (closes at most the position)`), cap: limit };
  }
  if (ctx.side === 'sell' && !ctx.rules.allowShort) {
    return { result: result('NO_CROSS_ZERO', false, `position=${position} side=sell would open or add to a short, allowShort=false`), cap: 0 };
  }
  return { result: result('NO_CROSS_ZERO', true, `position=${position} side=${ctx.side} adds in the same direction`), cap: Number.POSITIVE_INFINITY };
}

export function minPriceRule(ctx: OrderContext): RuleResult {
  if (ctx.reducing) return result('MIN_PRICE', true, `price=${num(ctx.market.lastPrice)}: not applicable to an order that reduces a position`);
  const price = ctx.market.lastPrice;
  return result('MIN_PRICE', Number.isFinite(price) && price >= ctx.rules.minPrice, `price=${num(price)} min=${num(ctx.rules.minPrice)}`);
}

export function maxPositionsRule(ctx: OrderContext): RuleResult {
  const a = ctx.account;
  if (!a) return result('MAX_POSITIONS', false, UNKNOWN);
  // Occupied: tickers held (non-zero) plus tickers with an opening order; pending tickers are few, so a
  // list is enough to count each once.
  let open = 0;
  for (const h of ctx.held.values()) if (h.qty !== 0) open += 1;
  let pending: string[] | null = null;
  for (const o of a.openOrders) {
    const qty = ctx.held.get(o.ticker)?.qty ?? 0;
    if (qty !== 0 || reducesPosition(o.side, qty)) continue;
    if (pending === null) pending = [o.ticker];
    else if (!pending.includes(o.ticker)) pending.push(o.ticker);
  }
  if (pending !== null) open += pending.length;
  const limit = ctx.rules.maxPositions;
  if (ctx.reducing) return result('MAX_POSITIONS', true, `open=${open} limit=${limit} (order reduces a position)`);
  const occupied = (ctx.held.get(ctx.ticker)?.qty ?? 0) !== 0 || (pending !== null && pending.includes(ctx.ticker));
  if (occupied) return result('MAX_POSITIONS', true, `open=${open} limit=${limit} (adds to a held or pending ticker)`);
  return result('MAX_POSITIONS', open + 1 <= limit, `open=${open} limit=${limit}`);
}

/** Stop distance, stops and the risk-per-trade size of an opening order. */
export interface Sizing {
  readonly result: RuleResult;
  readonly cap: number;
  readonly stop: number | null;
  readonly target: number | null;
}

/** Rounds a price to its tick (a cent from $1, 1/100 cent below) in `direction`. */
export function roundToTick(price: number, direction: 'up' | 'down' | 'nearest'): number {
  const ticks = price >= 1 ? 100 : 10_000;
  const scaled = price * ticks;
  // Scale-and-round leaves 1e-9-sized errors; snap them before rounding in a direction.
  const snapped = Math.abs(scaled - Math.round(scaled)) < 1e-6 ? Math.round(scaled) : scaled;
  const r = direction === 'up' ? Math.ceil(snapped) : direction === 'down' ? Math.floor(snapped) : Math.round(snapped);
  return r / ticks;
}

/**
 * RISK_PER_TRADE: qty <= equity * riskPerTradePct% / stopDistance, stopDistance = atrStopMultiple * ATR.
 * The stop is rounded toward the entry (so the realised risk is never above the budget) and the target
 * sits rewardRisk stop distances away on the other side.
 */
export function riskPerTradeRule(ctx: OrderContext): Sizing {
  const a = ctx.account;
  const { riskPerTradePct, atrStopMultiple, rewardRisk } = ctx.rules;
  if (ctx.reducing) {
    return {
      result: result('RISK_PER_TRADE', true, 'not applicable to an order that reduces a position'),
      cap: Number.POSITIVE_INFINITY,
      stop: null,
      target: null,
    };
  }
  if (!a) return { result: result('RISK_PER_TRADE', false, UNKNOWN), cap: 0, stop: null, target: null };
  const price = ctx.market.lastPrice;
  const atr = ctx.market.atr;
  if (atr === null || !(atr > 0) || !Number.isFinite(atr) || !(price > 0) || !Number.isFinite(price)) {
    return {
      result: result('RISK_PER_TRADE', false, `atr=${atr === null ? 'missing' : num(atr, 4)} price=${num(price)}: cannot size a stop (fail closed)`),
      cap: 0,
      stop: null,
      target: null,
    };
  }
  const distance = atrStopMultiple * atr;
  const budget = (a.equity * riskPerTradePct) / 100;
  let qty = Math.floor(budget / distance);
  while (qty > 0 && qty * distance > budget) qty -= 1;
  const long = ctx.side === 'buy';
  const stop = long ? roundToTick(price - distance, 'up') : roundToTick(price + distance, 'down');
  const target = long ? roundToTick(price + rewardRisk * distance, 'nearest') : roundToTick(price - rewardRisk * distance, 'nearest');
  const head = `equity=${num(a.equity)} risk=${pct(riskPerTradePct)}=${num(budget)} stopDistance=${num(atrStopMultiple)}xATR(${num(atr, 4)})=${num(distance, 4)} maxQty=${qty}`;
  if (!(stop > 0) || !(target > 0)) {
    return {
      result: result('RISK_PER_TRADE', false, `${head} stop=${num(stop)} target=${num(target)}: not a positive price`),
      cap: 0,
      stop: null,
      target: null,
    };
  }
  return { result: result('RISK_PER_TRADE', qty > 0, `${head} stop=${num(stop)} target=${num(target)}`), cap: qty, stop, target };
}

/** Exposure of the account as it would be valued for this order: the order's ticker at the last price. */
interface Exposure {
  gross: number;
  sector: number;
  ticker: number;
  /** Opening orders whose price is unknown (no position in their ticker), left out of the sums. */
  unpriced: number;
}

function sectorKey(sector: string | null): string {
  return sector ?? UNCLASSIFIED_SECTOR;
}

function exposureOf(ctx: OrderContext, account: PortfolioSnapshot): Exposure {
  const price = ctx.market.lastPrice;
  const orderSector = sectorKey(ctx.market.sector);
  const e: Exposure = { gross: 0, sector: 0, ticker: 0, unpriced: 0 };
  for (const p of account.positions) {
    const same = p.ticker === ctx.ticker;
    const unit = same ? price : p.marketPrice;
    const sector = same ? orderSector : sectorKey(p.sector);
    const value = Math.abs(p.qty) * unit;
    e.gross += value;
    if (sector === orderSector) e.sector += value;
    if (same) e.ticker += value;
  }
  // Pending opening orders will add exposure when they fill; value them at their ticker's price.
  for (const o of account.openOrders) {
    const h = ctx.held.get(o.ticker);
    if (reducesPosition(o.side, h?.qty ?? 0)) continue;
    const same = o.ticker === ctx.ticker;
    const unit = same ? price : h?.price;
    if (unit === undefined) {
      e.unpriced += 1;
      continue;
    }
    const value = o.qty * unit;
    e.gross += value;
    if ((same ? orderSector : h?.sector) === orderSector) e.sector += value;
    if (same) e.ticker += value;
  }
  return e;
}

const NOT_APPLICABLE = 'not applicable to an order that reduces a position';

function notApplicable(rule: string): Capped {
  return { result: result(rule, true, NOT_APPLICABLE), cap: Number.POSITIVE_INFINITY };
}

function unknownCap(rule: string): Capped {
  return { result: result(rule, false, UNKNOWN), cap: 0 };
}

/** One exposure cap: the largest quantity that keeps `current` plus the order within limitPct of equity. */
function exposureCap(rule: string, limitPct: number, current: number, label: string, equity: number, price: number, unpriced: string): Capped {
  const limit = (equity * limitPct) / 100;
  const q = capQty(limit, current, price);
  return {
    result: result(
      rule,
      q > 0,
      `${label}=${num(current)} limit=${pct(limitPct)} of equity ${num(equity)}=${num(limit)} price=${num(price)} maxQty=${capText(q)}${unpriced}`,
    ),
    cap: q,
  };
}

/** MAX_POSITION_PCT, MAX_GROSS_EXPOSURE and SECTOR_CAP, all valued at the last price. */
export function exposureRules(ctx: OrderContext): [Capped, Capped, Capped] {
  const a = ctx.account;
  if (ctx.reducing) return [notApplicable('MAX_POSITION_PCT'), notApplicable('MAX_GROSS_EXPOSURE'), notApplicable('SECTOR_CAP')];
  if (!a) return [unknownCap('MAX_POSITION_PCT'), unknownCap('MAX_GROSS_EXPOSURE'), unknownCap('SECTOR_CAP')];
  const price = ctx.market.lastPrice;
  const e = exposureOf(ctx, a);
  const unpriced = e.unpriced > 0 ? ` unpricedPendingOrders=${e.unpriced}` : '';
  return [
    exposureCap('MAX_POSITION_PCT', ctx.rules.maxPositionPct, e.ticker, `position(${ctx.ticker})`, a.equity, price, ''),
    exposureCap('MAX_GROSS_EXPOSURE', ctx.rules.maxGrossExposurePct, e.gross, 'gross', a.equity, price, unpriced),
    exposureCap('SECTOR_CAP', ctx.rules.maxSectorPct, e.sector, `sector(${sectorKey(ctx.market.sector)})`, a.equity, price, unpriced),
  ];
}

/** BUYING_POWER valued as Alpaca does: a market order counted `marketBuyBufferPct` above the last price. */
export function buyingPowerRule(ctx: OrderContext): Capped {
  if (ctx.reducing) return notApplicable('BUYING_POWER');
  const a = ctx.account;
  if (!a) return { result: result('BUYING_POWER', false, UNKNOWN), cap: 0 };
  const unit = ctx.market.lastPrice * (1 + ctx.rules.marketBuyBufferPct / 100);
  const q = capQty(a.buyingPower, 0, unit);
  return {
    result: result(
      'BUYING_POWER',
      q > 0,
      `buyingPower=${num(a.buyingPower)} price=${num(ctx.market.lastPrice)}+${pct(ctx.rules.marketBuyBufferPct)}=${num(unit, 4)}/share maxQty=${q}`,
    ),
    cap: q,
  };
}

export function minNotionalRule(ctx: OrderContext, qty: number): RuleResult {
  const notional = qty * ctx.market.lastPrice;
  if (ctx.reducing) return result('MIN_NOTIONAL', true, `notional=${num(notional)}: not applicable to an order that reduces a position`);
  return result('MIN_NOTIONAL', notional >= ctx.rules.minNotional, `qty=${qty} notional=${num(notional)} min=${num(ctx.rules.minNotional)}`);
}
