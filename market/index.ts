export { Bar, upsertBars, barsAsOf, lastBar, nextBar, barCoverage, type BarQuery } from './bars.ts';
export {
  TradingCalendar,
  NYSE,
  isTradingDay,
  nextTradingDay,
  previousTradingDay,
  sessionOpenClose,
  sessionClose,
  firstSessionInformed,
  isMarketOpen,
  tradingDays,
  closureReason,
  nyseHolidays,
  type Session,
} from './calendar.ts';
export { dailyBarTs, newYorkToUtc, utcToNewYork, addDays } from './time.ts';
export { parsePriceCsv, ingestPriceCsv, type CsvImportOptions, type IngestResult, type ParsedPrices } from './csv.ts';
export { createAlpacaDataClient, fetchAlpacaDailyBars, ingestAlpacaBars, fetchAlpacaCalendar, type AlpacaDataOptions } from './alpaca.ts';
export { marketSnapshot, averageTrueRange, averageDollarVolume, ATR_PERIOD, DOLLAR_VOLUME_DAYS } from './snapshot.ts';
export {
  checkTradingDate,
  checkTradingDateIn,
  storedBarTimes,
  asOfInstant,
  DatePurpose,
  DEFAULT_WARMUP_REASON,
  type TradingDateOptions,
  type CheckedTradingDate,
} from './trading-date.ts';
