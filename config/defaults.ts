/** Named defaults. The YAML files repeat them with comments; the schemas fall back to them. */
export const DEFAULT_DATA_DIR = '.data';
export const DEFAULT_API_PORT = 8080;
export const DEFAULT_PAPER_EXCHANGE_PORT = 8787;
export const DEFAULT_OLLAMA_BASE_URL = 'http://127.0.0.1:11434';
export const DEFAULT_OLLAMA_MODEL = 'mistral';
export const DEFAULT_OLLAMA_EMBEDDING_MODEL = 'nomic-embed-text';
export const DEFAULT_EMBEDDING_DIMENSION = 512;
export const DEFAULT_DEBATE_ROUNDS = 1;
export const DEFAULT_TOP_N = 5;
/** `quorum demo`'s day: a trading day inside the bundled Dow 30 data (usable 1991-03-14..2001-01-02), at midday New York time. */
export const DEFAULT_DEMO_DATE = '1999-06-01';
/**
 * Trading-day closes a live session's newest bar may lag behind the wall clock: one, so a session
 * before the evening's bars are ingested still runs on the previous close.
 */
export const DEFAULT_MAX_BAR_AGE_TRADING_DAYS = 1;
/** Tool calls one agent node makes (the analyst's four tools). */
export const DEFAULT_MAX_TOOL_CALLS_PER_AGENT = 4;
/** Characters of one tool result given to an agent. */
export const DEFAULT_MAX_TOOL_RESULT_CHARS = 1_800;
/**
 * News items in one agent's prompt: two searches at the analyst's default k (3). Together with
 * the character limit below it keeps the default committee within 8,000 prompt tokens per proposal
 * whatever tool calls the agents choose (tests/graph/evidence-budget.test.ts).
 */
export const DEFAULT_MAX_NEWS_ITEMS_PER_PROMPT = 6;
/**
 * Characters of evidence blocks in one agent's prompt (as rendered, ~4 characters a token). Room
 * for the default calls' evidence (indicators, portfolio, bars, explanation, ~4 news items).
 */
export const DEFAULT_MAX_EVIDENCE_CHARS_PER_PROMPT = 1_950;
/** Room a tool result needs in the evidence block beyond its text (the block's tags, id, title). */
export const EVIDENCE_BLOCK_OVERHEAD_CHARS = 150;

export const DEFAULT_MIN_VERDICT_CONFIDENCE = 0.55;
export const DEFAULT_MAX_POSITIONS = 12;
export const MIN_ALLOWED_MAX_POSITIONS = 10;
export const MAX_ALLOWED_MAX_POSITIONS = 15;
export const DEFAULT_RISK_PER_TRADE_PCT = 0.5;
export const DEFAULT_ATR_STOP_MULTIPLE = 2;
export const DEFAULT_REWARD_RISK = 2;
export const DEFAULT_MAX_POSITION_PCT = 10;
export const DEFAULT_MAX_GROSS_EXPOSURE_PCT = 100;
export const DEFAULT_MAX_SECTOR_PCT = 30;
export const DEFAULT_DAILY_LOSS_LIMIT_PCT = 3;
export const DEFAULT_MAX_DRAWDOWN_PCT = 15;
export const DEFAULT_MAX_ORDERS_PER_MINUTE = 10;
export const DEFAULT_MAX_ORDERS_PER_DAY = 50;
export const DEFAULT_PDT_EQUITY_THRESHOLD = 25_000;
export const DEFAULT_PDT_MAX_DAY_TRADES = 3;
export const DEFAULT_MARKET_BUY_BUFFER_PCT = 3;
export const DEFAULT_MIN_PRICE = 5;
export const DEFAULT_MIN_NOTIONAL = 100;
export const DEFAULT_MAX_ACCOUNT_AGE_SECONDS = 120;

/** Backtest (settings.backtest): see config/settings.yaml for what each one means. */
export const DEFAULT_BACKTEST_INITIAL_EQUITY = 100_000;
/** Commission per side in bps of notional: about the paper exchange's $0.005/share on a $50 stock. */
export const DEFAULT_BACKTEST_COMMISSION_BPS = 1;
/** Slippage per side in bps, as the paper exchange's default. */
export const DEFAULT_BACKTEST_SLIPPAGE_BPS = 5;
/** Proposals a day sent on (the most confident): what keeps a 6-year committee replay under 10 minutes. */
export const DEFAULT_BACKTEST_PROPOSALS_PER_DAY = 3;
/** Trading days between walk-forward retrains (about half a year). */
export const DEFAULT_BACKTEST_RETRAIN_EVERY_DAYS = 126;
/** Trading days of bars required before the first day of a backtest (the first training window). */
export const DEFAULT_BACKTEST_MIN_TRAIN_DAYS = 252;

/** Notifications (settings.notifications): one POST's timeout, attempts per (event, target), first backoff, audit-log poll. */
export const DEFAULT_NOTIFY_TIMEOUT_MS = 5_000;
export const DEFAULT_NOTIFY_MAX_ATTEMPTS = 5;
export const DEFAULT_NOTIFY_BACKOFF_MS = 1_000;
export const DEFAULT_NOTIFY_POLL_MS = 2_000;
