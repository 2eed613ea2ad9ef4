import { z } from 'zod';
import { Cron } from 'croner';
import * as D from './defaults.ts';

function validCron(expr: string): boolean {
  try {
    new Cron(expr, { paused: true }).stop();
    return true;
  } catch {
    return false;
  }
}

/**
 * One schema per YAML file. Every object is `.strict()`: an unknown key is an error, which is also
 * how a secret put in a YAML file is refused (secrets come only from the environment).
 */

const positive = z.number().positive();
const pct = z.number().min(0).max(100);
const port = z.number().int().min(1).max(65535);

/** Who judges: `auto` (Ollama when reachable, else llama-cpp when a GGUF path is set, else the rules baseline) or one by name. */
export const BackendChoice = z.enum(['auto', 'ollama', 'llama-cpp', 'rules']);
export type BackendChoice = z.infer<typeof BackendChoice>;

export const FeedSettings = z.object({ name: z.string().min(1), url: z.url() }).strict();

/**
 * The audit-event kinds a notification target may receive (notify/ maps each to a message): a
 * session's end, a pending approval, a broker's refusal of an order, a change of the kill switch, a
 * failed reconciliation, a model that abstains because its health score fell below the threshold,
 * a circuit breaker that trips (once per trip).
 */
export const NOTIFICATION_EVENTS = [
  'session.completed',
  'session.skipped',
  'session.failed',
  'approval.requested',
  'order.rejected',
  'trading_state.changed',
  'reconcile.failed',
  'reconcile.position_mismatch',
  'model.abstained',
  'breaker.tripped',
] as const;
export const NotificationEvent = z.enum(NOTIFICATION_EVENTS);
export type NotificationEvent = z.infer<typeof NotificationEvent>;

/** An environment variable's name, e.g. QUORUM_SLACK_WEBHOOK_URL. */
const EnvName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected an environment variable name, e.g. QUORUM_SLACK_WEBHOOK_URL');
const HttpUrl = z.url({ protocol: /^https?$/, error: 'expected an http(s) URL' });

/**
 * One place notifications go. The URL is given in the YAML (`url`, webhook targets only) or named
 * by an environment variable (`urlEnv`); a Slack incoming-webhook URL is a secret, so a Slack target
 * takes it from the environment only. Either way the URL is never logged.
 */
export const NotificationTarget = z
  .object({
    name: z.string().regex(/^[a-z0-9][a-z0-9_-]{0,63}$/, 'expected a short name of lower-case letters, digits, - and _'),
    kind: z.enum(['webhook', 'slack']),
    url: HttpUrl.optional(),
    urlEnv: EnvName.optional(),
    /** The events this target receives; default: all of NOTIFICATION_EVENTS. */
    events: z.array(NotificationEvent).min(1).optional(),
  })
  .strict()
  .superRefine((t, ctx) => {
    if (t.url !== undefined && t.urlEnv !== undefined) ctx.addIssue({ code: 'custom', path: ['url'], message: 'give either url or urlEnv, not both' });
    if (t.url === undefined && t.urlEnv === undefined)
      ctx.addIssue({ code: 'custom', path: ['url'], message: "required: the target's URL (url), or the environment variable holding it (urlEnv)" });
    if (t.kind === 'slack' && t.url !== undefined) {
      ctx.addIssue({
        code: 'custom',
        path: ['url'],
        message: 'a Slack webhook URL is a secret and is refused in YAML: name the environment variable that holds it (urlEnv)',
      });
    }
  });
export type NotificationTarget = z.infer<typeof NotificationTarget>;

export const SettingsSchema = z
  .object({
    dataDir: z.string().min(1).default(D.DEFAULT_DATA_DIR),
    logging: z
      .object({ level: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info') })
      .strict()
      .prefault({}),
    database: z
      .object({
        poolMax: z.number().int().min(1).max(100).default(10),
        statementTimeoutMs: z.number().int().positive().default(30_000),
      })
      .strict()
      .prefault({}),
    market: z
      .object({
        timezone: z.string().default('America/New_York'),
        /** Tickers a session considers; empty means every ticker with bars. */
        universe: z.array(z.string().regex(/^[A-Z][A-Z0-9.-]{0,9}$/)).default([]),
        /** ticker -> sector, used by the per-sector cap. */
        sectors: z.record(z.string(), z.string()).default({}),
        /** Bars older than this at a live session's as-of time make the data stale. */
        maxBarAgeDays: z.number().int().positive().default(5),
        /** The Alpaca data API's address (a proxy, a local test server); null: Alpaca's own. Used when keys are set. */
        alpacaDataUrl: z.url().nullable().default(null),
      })
      .strict()
      .prefault({}),
    training: z
      .object({
        horizonDays: z.number().int().min(1).max(60).default(5),
        /** Label = forward return over the horizon above this fraction. */
        labelThreshold: z.number().min(-1).max(1).default(0),
        folds: z.number().int().min(2).max(20).default(5),
        trees: z.number().int().min(1).max(2000).default(100),
        maxDepth: z.number().int().min(1).max(10).default(3),
        learningRate: z.number().positive().max(1).default(0.1),
        minSamplesLeaf: z.number().int().min(1).default(20),
        /** Probability calibration fitted on the walk-forward folds' out-of-fold predictions and applied by the proposer. */
        calibration: z.enum(['none', 'platt', 'isotonic']).default('none'),
        /** Trees without a better validation log loss before boosting stops (the validation fold: the last fold but one); null: no early stopping. */
        earlyStoppingRounds: z.number().int().min(1).max(500).nullable().default(10),
        /** A seeded random search over the grid, scored on the validation fold; 0 candidates: the values above. */
        search: z
          .object({
            candidates: z.number().int().min(0).max(50).default(6),
            seed: z.number().int().default(42),
            maxDepth: z.array(z.number().int().min(1).max(10)).min(1).default([2, 3, 4]),
            trees: z.array(z.number().int().min(1).max(2000)).min(1).default([50, 100, 200]),
            learningRate: z.array(z.number().positive().max(1)).min(1).default([0.05, 0.1, 0.2]),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    retrain: z
      .object({
        /** Cron in market.timezone at which the scheduler runs `quorum train` (trading days only); null: never. */
        cron: z
          .string()
          .min(1)
          .nullable()
          .default(null)
          .refine((c) => c === null || validCron(c), { message: 'not a cron expression croner accepts' }),
        /** The registered model retrained; null: the proposer's (the model id of models.yaml proposer.cardPath). */
        modelId: z
          .string()
          .regex(/^[a-z0-9][a-z0-9._-]{0,63}$/)
          .nullable()
          .default(null),
        features: z.enum(['close', 'all']).default('close'),
        /** A staging model replaces production only when its metric on the latest walk-forward fold is not worse by more than maxWorsening. */
        promotion: z
          .object({
            metric: z.enum(['logLoss', 'brier', 'auc', 'accuracy']).default('logLoss'),
            maxWorsening: z.number().min(-1).max(1).default(0),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    drift: z
      .object({
        /** Recent window, in bars per ticker, compared with the card's training sample. */
        windowDays: z.number().int().min(5).max(2000).default(60),
        bins: z.number().int().min(2).max(100).default(10),
        /** PSI / KS at or below warn count as no drift, at or above alert as full drift. */
        psiWarn: z.number().positive().default(0.1),
        psiAlert: z.number().positive().default(0.25),
        ksWarn: z.number().positive().max(1).default(0.1),
        ksAlert: z.number().positive().max(1).default(0.25),
        /** A model whose health score falls below this is unhealthy. */
        minHealthScore: z.number().min(0).max(1).default(0.5),
        /**
         * What a session does with the model's health, measured before it proposes: `abstain` (an
         * unhealthy model, or one unhealthy before and not retrained or overridden since, proposes
         * nothing), `record` (stored, and the session trades on), `off` (not measured).
         */
        gate: z.enum(['abstain', 'record', 'off']).default('record'),
      })
      .strict()
      .prefault({})
      .refine((d) => d.psiWarn < d.psiAlert && d.ksWarn < d.ksAlert, { message: 'psiWarn/ksWarn must be below psiAlert/ksAlert', path: ['psiWarn'] }),
    circuitBreakers: z
      .object({
        /** This many losing trades in a row (the latest ones) move the book to REDUCING; 0 turns it off. */
        maxConsecutiveLosses: z.number().int().min(0).max(1000).default(5),
        /** The rolling hit rate is taken over this many latest closed trades (fewer: not judged yet). */
        hitRateWindow: z.number().int().min(1).max(10_000).default(20),
        /** A rolling hit rate below this floor moves the book to REDUCING; 0 turns it off. */
        minHitRate: z.number().min(0).max(1).default(0.3),
        /** Per-model kill switch: proposals of these model ids may send no order (the global one is HALTED). */
        killedModels: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .prefault({}),
    proposer: z
      .object({
        /** No proposal when |p - 0.5| is inside this margin. */
        abstainMargin: z.number().min(0).max(0.5).default(0.05),
        topAttributions: z.number().int().min(1).max(20).default(5),
      })
      .strict()
      .prefault({}),
    news: z
      .object({
        feeds: z.array(FeedSettings).default([]),
        pollTimeoutMs: z.number().int().positive().default(10_000),
        retries: z.number().int().min(0).max(10).default(2),
        backoffMs: z.number().int().min(0).default(500),
        /** Company name (lower case) -> ticker, for ticker extraction. */
        companies: z.record(z.string(), z.string()).default({}),
        /** Half-life of the recency decay in retrieval scoring. */
        recencyHalfLifeDays: positive.default(7),
        embedBatchSize: z.number().int().min(1).max(512).default(32),
      })
      .strict()
      .prefault({}),
    committee: z
      .object({
        debateRounds: z.number().int().min(0).max(5).default(D.DEFAULT_DEBATE_ROUNDS),
        nodeTimeoutMs: z.number().int().positive().default(120_000),
        concurrency: z.number().int().min(1).max(16).default(2),
        maxToolCallsPerAgent: z.number().int().min(0).max(10).default(D.DEFAULT_MAX_TOOL_CALLS_PER_AGENT),
        /** Upper bound of characters in one tool result given to an agent. */
        maxToolResultChars: z.number().int().min(200).max(20_000).default(D.DEFAULT_MAX_TOOL_RESULT_CHARS),
        /** News items in one agent's prompt; the rest (lowest ranked) are left out and counted. */
        maxNewsItemsPerPrompt: z.number().int().min(0).max(100).default(D.DEFAULT_MAX_NEWS_ITEMS_PER_PROMPT),
        /** Characters of evidence blocks (tool results, news, tool errors) in one agent's prompt. */
        maxEvidenceCharsPerPrompt: z.number().int().min(400).max(200_000).default(D.DEFAULT_MAX_EVIDENCE_CHARS_PER_PROMPT),
      })
      .strict()
      .superRefine((c, ctx) => {
        // Otherwise a whole tool result (e.g. a full portfolio) could never reach the agent that asked for it.
        const need = c.maxToolResultChars + D.EVIDENCE_BLOCK_OVERHEAD_CHARS;
        if (c.maxEvidenceCharsPerPrompt < need) {
          ctx.addIssue({
            code: 'custom',
            path: ['maxEvidenceCharsPerPrompt'],
            message: `must be at least maxToolResultChars + ${D.EVIDENCE_BLOCK_OVERHEAD_CHARS} (${need}), so one whole tool result fits in a prompt`,
          });
        }
      })
      .prefault({}),
    /**
     * Outcome memory in sessions (ADR 0035): before judging, a session records the outcomes of earlier
     * proposals known by its as-of, and the committee reads them with the past_outcomes tool.
     */
    memory: z
      .object({ enabled: z.boolean().default(false) })
      .strict()
      .prefault({}),
    sessions: z
      .object({
        topN: z.number().int().min(1).max(100).default(D.DEFAULT_TOP_N),
        /** Cron expressions in `timezone`, market days only. */
        schedule: z.array(z.string().min(1)).default(['0 10 * * 1-5', '30 12 * * 1-5']),
        exitMonitorCron: z.string().min(1).default('*/5 9-16 * * 1-5'),
        reportsDir: z.string().min(1).default('reports'),
        /**
         * A live session (no --as-of: the wall clock) refuses to run when more trading-day closes than
         * this have passed since the newest stored bar.
         */
        maxBarAgeTradingDays: z.number().int().min(0).max(30).default(D.DEFAULT_MAX_BAR_AGE_TRADING_DAYS),
        /** A live session's bar and news refresh: each source gives up after this long (the session then trades nothing). */
        refreshTimeoutMs: z.number().int().positive().default(30_000),
        /** With news.feeds configured, a live session whose newest news item is older than this trades nothing. */
        maxNewsAgeHours: z.number().positive().default(72),
      })
      .strict()
      .prefault({}),
    execution: z
      .object({
        mode: z.enum(['paper', 'live']).default('paper'),
        /** Where paper orders go: the local exchange or Alpaca's paper endpoint. */
        broker: z.enum(['paper-exchange', 'alpaca']).default('paper-exchange'),
        requireApproval: z.boolean().default(false),
        orderTimeoutMs: z.number().int().positive().default(10_000),
        paperExchange: z
          .object({
            port: port.default(D.DEFAULT_PAPER_EXCHANGE_PORT),
            slippageBps: z.number().min(0).max(500).default(5),
            commissionPerShare: z.number().min(0).default(0.005),
            /** Commission per side in basis points of notional, on top of commissionPerShare (0: per share only). */
            commissionBps: z.number().min(0).max(500).default(0),
            startingCash: positive.default(100_000),
            /** next-open: a market order fills at the next bar's open; immediate: at the last close plus slippage. */
            fillMode: z.enum(['next-open', 'immediate']).default('next-open'),
          })
          .strict()
          .prefault({}),
        exits: z
          .object({
            maxHoldingDays: z.number().int().positive().default(10),
            breakevenAtR: positive.default(1),
            momentumReversal: z.boolean().default(true),
          })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    backtest: z
      .object({
        initialEquity: positive.default(D.DEFAULT_BACKTEST_INITIAL_EQUITY),
        /** Commission per side, basis points of notional. */
        commissionBps: z.number().min(0).max(500).default(D.DEFAULT_BACKTEST_COMMISSION_BPS),
        /** Slippage per side, basis points, against the trade. */
        slippageBps: z.number().min(0).max(500).default(D.DEFAULT_BACKTEST_SLIPPAGE_BPS),
        /** The most confident proposals a day that go on to the committee and the risk controller. */
        proposalsPerDay: z.number().int().min(1).max(100).default(D.DEFAULT_BACKTEST_PROPOSALS_PER_DAY),
        /** Walk-forward: trading days between retrains (expanding window). */
        retrainEveryDays: z.number().int().min(1).max(5000).default(D.DEFAULT_BACKTEST_RETRAIN_EVERY_DAYS),
        /** Trading days of bars required before the first backtest day (the first training window). */
        minTrainDays: z.number().int().min(60).max(5000).default(D.DEFAULT_BACKTEST_MIN_TRAIN_DAYS),
        /** Time exit in trading days after the fill; null: the model's label horizon. */
        holdingDays: z.number().int().min(1).max(250).nullable().default(null),
        /**
         * Walk-forward retraining: `always` trades each retrained model from its first day; `rule`
         * trains each candidate as `quorum train` does and replaces the model in use only when
         * retrain.promotion allows it on the candidate's latest walk-forward fold.
         */
        promotion: z.enum(['always', 'rule']).default('always'),
        /** Apply settings.circuitBreakers to each book's own closed trades (`quorum backtest --breakers`). */
        circuitBreakers: z.boolean().default(false),
      })
      .strict()
      .prefault({}),
    notifications: z
      .object({
        /** Where notifications go; none (the default): nothing is sent. */
        targets: z.array(NotificationTarget).default([]),
        /** One HTTP POST's timeout. */
        timeoutMs: z.number().int().min(100).max(120_000).default(D.DEFAULT_NOTIFY_TIMEOUT_MS),
        /** POSTs per (event, target), the first included, before the delivery is marked failed. */
        maxAttempts: z.number().int().min(1).max(20).default(D.DEFAULT_NOTIFY_MAX_ATTEMPTS),
        /** Wait before the second attempt; doubled before each further one. */
        backoffMs: z.number().int().min(0).max(600_000).default(D.DEFAULT_NOTIFY_BACKOFF_MS),
        /** How often the notifier reads the audit log for new events. */
        pollMs: z.number().int().min(50).max(600_000).default(D.DEFAULT_NOTIFY_POLL_MS),
      })
      .strict()
      .superRefine((n, ctx) => {
        const seen = new Set<string>();
        for (const [i, t] of n.targets.entries()) {
          if (seen.has(t.name)) ctx.addIssue({ code: 'custom', path: ['targets', i, 'name'], message: `duplicate target name "${t.name}"` });
          seen.add(t.name);
        }
      })
      .prefault({}),
    api: z
      .object({
        host: z.string().default('127.0.0.1'),
        port: port.default(D.DEFAULT_API_PORT),
        bodyLimitBytes: z
          .number()
          .int()
          .min(1024)
          .max(10_000_000)
          .default(64 * 1024),
        rateLimitPerMinute: z.number().int().min(1).default(600),
      })
      .strict()
      .prefault({}),
  })
  .strict();
export type Settings = z.infer<typeof SettingsSchema>;

const OllamaRoleModels = z
  .object({
    analyst: z.string().min(1).optional(),
    bull: z.string().min(1).optional(),
    bear: z.string().min(1).optional(),
    risk: z.string().min(1).optional(),
    committee: z.string().min(1).optional(),
  })
  .strict();

export const ModelsSchema = z
  .object({
    llm: z
      .object({
        /** auto: Ollama when reachable, else llama-cpp when a GGUF path is set, else the rules baseline. */
        backend: BackendChoice.default('auto'),
        temperature: z.number().min(0).max(2).default(0),
        seed: z.number().int().default(42),
        contextSize: z.number().int().min(256).max(131_072).default(8192),
        maxOutputTokens: z.number().int().min(16).max(8192).default(512),
        timeoutMs: z.number().int().positive().default(60_000),
      })
      .strict()
      .prefault({}),
    ollama: z
      .object({
        baseUrl: z.url().default(D.DEFAULT_OLLAMA_BASE_URL),
        model: z.string().min(1).default(D.DEFAULT_OLLAMA_MODEL),
        roles: OllamaRoleModels.default({}),
      })
      .strict()
      .prefault({}),
    llamaCpp: z
      .object({
        modelPath: z.string().min(1).nullable().default(null),
        threads: z.number().int().min(1).max(64).default(1),
      })
      .strict()
      .prefault({}),
    embeddings: z
      .object({
        backend: z.enum(['use-lite', 'ollama']).default('use-lite'),
        ollamaModel: z.string().min(1).default(D.DEFAULT_OLLAMA_EMBEDDING_MODEL),
      })
      .strict()
      .prefault({}),
    /**
     * Token prices of hosted models, USD per million tokens, by model name (as the eval labels it).
     * A model not listed is local: its cost is zero and the eval reports its measured latency instead.
     */
    pricing: z
      .record(
        z.string().min(1),
        z
          .object({
            promptPerMTokUsd: z.number().min(0),
            completionPerMTokUsd: z.number().min(0),
          })
          .strict(),
      )
      .default({}),
    proposer: z
      .object({
        /** Model card JSON; the ONNX file sits beside it. */
        cardPath: z.string().min(1).default('models/default/model-card.json'),
      })
      .strict()
      .prefault({}),
  })
  .strict();
export type Models = z.infer<typeof ModelsSchema>;

const AgentRoleSettings = z
  .object({
    enabled: z.boolean().default(true),
    /** Prompt file under agents/prompts/, e.g. analyst.v2.md. */
    prompt: z.string().min(1),
    /** The tools this role may call (any other is refused as a typed tool error). */
    tools: z.array(z.string().min(1)).default([]),
    /**
     * The calls made without a tool turn, when a tool turn fails, and by the rules baseline: each
     * with its default arguments. Must be a subset of `tools`; default: all of `tools`.
     */
    defaultTools: z.array(z.string().min(1)).optional(),
    /** true: the agent chooses its tool calls (one extra LLM call); false: the defaults are called. */
    toolTurn: z.boolean().default(false),
    maxOutputTokens: z.number().int().min(16).max(8192).optional(),
  })
  .strict()
  .superRefine((r, ctx) => {
    for (const [i, name] of (r.defaultTools ?? []).entries()) {
      if (!r.tools.includes(name))
        ctx.addIssue({ code: 'custom', path: ['defaultTools', i], message: `"${name}" is not in this role's tools [${r.tools.join(', ')}]` });
    }
    if (r.toolTurn && r.tools.length === 0) ctx.addIssue({ code: 'custom', path: ['toolTurn'], message: 'a tool turn needs at least one tool in `tools`' });
  });

export const AgentsSchema = z
  .object({
    analyst: AgentRoleSettings,
    bull: AgentRoleSettings,
    bear: AgentRoleSettings,
    risk: AgentRoleSettings,
    committee: AgentRoleSettings,
  })
  .strict();
export type Agents = z.infer<typeof AgentsSchema>;

export const RiskRulesSchema = z
  .object({
    minVerdictConfidence: z.number().min(0).max(1).default(D.DEFAULT_MIN_VERDICT_CONFIDENCE),
    maxPositions: z.number().int().min(D.MIN_ALLOWED_MAX_POSITIONS).max(D.MAX_ALLOWED_MAX_POSITIONS).default(D.DEFAULT_MAX_POSITIONS),
    riskPerTradePct: z.number().positive().max(5).default(D.DEFAULT_RISK_PER_TRADE_PCT),
    atrStopMultiple: positive.max(10).default(D.DEFAULT_ATR_STOP_MULTIPLE),
    rewardRisk: positive.max(10).default(D.DEFAULT_REWARD_RISK),
    maxPositionPct: pct.positive().default(D.DEFAULT_MAX_POSITION_PCT),
    maxGrossExposurePct: z.number().positive().max(400).default(D.DEFAULT_MAX_GROSS_EXPOSURE_PCT),
    maxSectorPct: pct.positive().default(D.DEFAULT_MAX_SECTOR_PCT),
    dailyLossLimitPct: pct.positive().default(D.DEFAULT_DAILY_LOSS_LIMIT_PCT),
    /** Loss from the previous close at which the state becomes REDUCING (must be below the halt limit). */
    dailyLossReducePct: pct.positive().default(2),
    maxDrawdownPct: pct.positive().default(D.DEFAULT_MAX_DRAWDOWN_PCT),
    maxOrdersPerMinute: z.number().int().positive().default(D.DEFAULT_MAX_ORDERS_PER_MINUTE),
    maxOrdersPerDay: z.number().int().positive().default(D.DEFAULT_MAX_ORDERS_PER_DAY),
    pdtEquityThreshold: z.number().min(0).default(D.DEFAULT_PDT_EQUITY_THRESHOLD),
    pdtMaxDayTrades: z.number().int().min(0).default(D.DEFAULT_PDT_MAX_DAY_TRADES),
    marketBuyBufferPct: pct.default(D.DEFAULT_MARKET_BUY_BUFFER_PCT),
    minPrice: z.number().min(0).default(D.DEFAULT_MIN_PRICE),
    minNotional: z.number().min(0).default(D.DEFAULT_MIN_NOTIONAL),
    maxAccountAgeSeconds: z.number().int().positive().default(D.DEFAULT_MAX_ACCOUNT_AGE_SECONDS),
    allowShort: z.boolean().default(false),
    requireMarketOpen: z.boolean().default(true),
  })
  .strict()
  .superRefine((r, ctx) => {
    if (r.dailyLossReducePct >= r.dailyLossLimitPct) {
      ctx.addIssue({
        code: 'custom',
        path: ['dailyLossReducePct'],
        message: `must be below dailyLossLimitPct (${r.dailyLossReducePct} >= ${r.dailyLossLimitPct}): inverted limit`,
      });
    }
    if (r.maxPositionPct > r.maxGrossExposurePct) {
      ctx.addIssue({
        code: 'custom',
        path: ['maxPositionPct'],
        message: `must not exceed maxGrossExposurePct (${r.maxPositionPct} > ${r.maxGrossExposurePct}): inverted limit`,
      });
    }
  });
export type RiskRules = z.infer<typeof RiskRulesSchema>;

/** Secrets: only from the environment, never from YAML, redacted from every log line. */
export const SecretsSchema = z
  .object({
    databaseUrl: z.string().min(1).nullable(),
    alpacaKeyId: z.string().min(1).nullable(),
    alpacaSecretKey: z.string().min(1).nullable(),
    /** A bootstrap API token (optional); tokens are normally created with `quorum token create`. */
    apiToken: z.string().min(16).nullable(),
    /** Notification target name -> the URL read from its `urlEnv` variable. */
    notificationUrls: z.record(z.string(), z.string().min(1)),
  })
  .strict();
export type Secrets = z.infer<typeof SecretsSchema>;

export interface Config {
  readonly settings: Settings;
  readonly models: Models;
  readonly agents: Agents;
  readonly riskRules: RiskRules;
  readonly secrets: Secrets;
  /** Resolved absolute data directory (QUORUM_DATA_DIR or settings.dataDir). */
  readonly dataDir: string;
  readonly configDir: string;
  /** True only when execution.mode is live AND QUORUM_ALLOW_LIVE=yes. */
  readonly liveTradingAllowed: boolean;
}

export const CONFIG_FILES = {
  settings: { file: 'settings.yaml', schema: SettingsSchema },
  models: { file: 'models.yaml', schema: ModelsSchema },
  agents: { file: 'agents.yaml', schema: AgentsSchema },
  riskRules: { file: 'risk_rules.yaml', schema: RiskRulesSchema },
} as const;
export type ConfigSection = keyof typeof CONFIG_FILES;
