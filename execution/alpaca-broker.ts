import { Alpaca, ApiError, orders as orderBuilders, trading, type AlpacaClientOptions } from '@alpacahq/alpaca-trade-api';
import type { z } from 'zod';
import { QuorumError, errorMessage, formatIssues, fieldIssues, parseJson } from '../contracts/index.ts';
import type { Config } from '../config/index.ts';
import type { Broker } from './broker.ts';
import {
  AlpacaAccountWire,
  AlpacaClockWire,
  AlpacaOrderWire,
  AlpacaPositionWire,
  mapAlpacaAccount,
  mapAlpacaClock,
  mapAlpacaOrder,
  mapAlpacaPosition,
  SubmitOrderRequest,
  type BrokerAccount,
  type BrokerClock,
  type BrokerOrder,
  type BrokerPosition,
} from './schema.ts';

/** Alpaca's paper trading endpoint: the default. */
export const ALPACA_PAPER_URL = trading.TRADING_PAPER_HOST;
/** Alpaca's live endpoint: only with execution.mode live AND QUORUM_ALLOW_LIVE=yes. */
export const ALPACA_LIVE_URL = trading.TRADING_LIVE_HOST;
/** Alpaca's duplicate client_order_id error code (HTTP 422). */
export const ALPACA_DUPLICATE_CODE = 40010001;

export interface AlpacaBrokerOptions {
  mode: 'paper' | 'live';
  /** config.liveTradingAllowed: both switches (execution.mode live and QUORUM_ALLOW_LIVE=yes). */
  liveTradingAllowed: boolean;
  keyId: string;
  secret: string;
  /**
   * Sends every request (trading and data) to this origin instead of Alpaca's, e.g. the local
   * paper exchange. The SDK has no base-URL option; a `pre` middleware rewrites the origin.
   */
  baseUrl?: string;
  /** Per-request timeout; a POST that exceeds it is BROKER_UNKNOWN. */
  timeoutMs: number;
  /** Name reported in audit events. */
  name?: string;
  /** Test doubles for faults only (e.g. a fetch that never answers). */
  fetchApi?: AlpacaClientOptions['fetchApi'];
}

interface RawResponse {
  raw: Response;
}

/** The Alpaca adapter of the broker port, through @alpacahq/alpaca-trade-api 4.x. */
export class AlpacaBroker implements Broker {
  readonly name: string;
  /** The trading endpoint requests go to. */
  readonly endpoint: string;
  private readonly client: Alpaca;

  constructor(options: AlpacaBrokerOptions) {
    if (options.mode === 'live' && !options.liveTradingAllowed) {
      throw new QuorumError(
        'LIVE_TRADING_FORBIDDEN',
        'live trading needs both execution.mode: live in settings.yaml and QUORUM_ALLOW_LIVE=yes in the environment',
      );
    }
    const paper = options.mode !== 'live';
    this.endpoint = options.baseUrl ?? (paper ? ALPACA_PAPER_URL : ALPACA_LIVE_URL);
    this.name = options.name ?? (options.baseUrl ? 'paper-exchange' : paper ? 'alpaca-paper' : 'alpaca-live');
    const base = options.baseUrl ? new URL(options.baseUrl) : null;
    this.client = new Alpaca({
      keyId: options.keyId,
      secret: options.secret,
      paper,
      timeoutMs: options.timeoutMs,
      // GETs are retried by the SDK; POSTs never are (the SDK's own rule, and ours).
      retry: { maxRetries: 2, retryDelayMs: 100 },
      rateLimit: base ? false : undefined,
      fetchApi: options.fetchApi,
      middleware: base
        ? [
            {
              pre: async (ctx) => {
                const url = new URL(ctx.url);
                url.protocol = base.protocol;
                url.host = base.host;
                return { url: url.toString(), init: ctx.init };
              },
            },
          ]
        : undefined,
    });
  }

  private async read<S extends z.ZodType>(what: string, schema: S, call: () => Promise<RawResponse>): Promise<z.infer<S>> {
    let res: RawResponse;
    try {
      res = await call();
    } catch (error) {
      throw this.mapError(what, error);
    }
    const text = await res.raw.text();
    const json = parseJson(text);
    if (!json.ok) throw new QuorumError('BROKER_ERROR', `malformed broker reply to ${what}: ${json.error}`, { what });
    const parsed = schema.safeParse(json.value);
    if (!parsed.success) {
      const issues = fieldIssues(parsed.error);
      throw new QuorumError('BROKER_ERROR', `malformed broker reply to ${what}: ${formatIssues(issues)}`, { what, fields: issues.map((i) => i.path) });
    }
    return parsed.data;
  }

  private mapError(what: string, error: unknown, post = false): QuorumError {
    if (QuorumError.isInstance(error)) return error;
    if (error instanceof ApiError) {
      const details = { what, status: error.status, brokerCode: error.code ?? null };
      if (error.status === 422 && (error.code === ALPACA_DUPLICATE_CODE || /client_order_id must be unique/i.test(error.message))) {
        return new QuorumError('CONFLICT', `${what}: client_order_id already exists`, { ...details, reason: 'duplicate_client_order_id' });
      }
      if (post && error.status >= 500)
        return new QuorumError('BROKER_UNKNOWN', `${what}: broker answered ${error.status}; outcome unknown`, details, { cause: error });
      return new QuorumError('BROKER_ERROR', `${what}: broker answered ${error.status}: ${error.message}`, details, { cause: error });
    }
    // FetchError: timeout, reset, refused. For a POST the order may or may not exist.
    if (post) return new QuorumError('BROKER_UNKNOWN', `${what}: no reply (${errorMessage(error)}); outcome unknown`, { what }, { cause: error });
    return new QuorumError('BROKER_ERROR', `${what}: ${errorMessage(error)}`, { what }, { cause: error });
  }

  private isNotFound(error: unknown): boolean {
    return error instanceof ApiError && error.status === 404;
  }

  async submitOrder(request: SubmitOrderRequest): Promise<BrokerOrder> {
    const r = SubmitOrderRequest.parse(request);
    const common = { symbol: r.symbol, side: r.side, qty: r.qty, timeInForce: r.timeInForce, clientOrderId: r.clientOrderId };
    const postOrderRequest =
      r.orderClass === 'bracket' && r.takeProfit !== null && r.stopLoss !== null
        ? orderBuilders.buildBracketOrder({
            ...common,
            ...(r.type === 'limit' && r.limitPrice !== null ? { limitPrice: r.limitPrice } : {}),
            takeProfit: { limitPrice: r.takeProfit },
            stopLoss: { stopPrice: r.stopLoss },
          })
        : r.type === 'limit' && r.limitPrice !== null
          ? orderBuilders.buildLimitOrder({ ...common, limitPrice: r.limitPrice })
          : orderBuilders.buildMarketOrder(common);
    let res: RawResponse;
    try {
      res = await this.client.trading.orders.postOrderRaw({ postOrderRequest });
    } catch (error) {
      throw this.mapError('POST /v2/orders', error, true);
    }
    try {
      return mapAlpacaOrder(await this.read('POST /v2/orders', AlpacaOrderWire, async () => res));
    } catch (error) {
      // The broker said 2xx but we cannot read what it accepted: the order exists, its state is unknown.
      if (QuorumError.is(error, 'BROKER_ERROR'))
        throw new QuorumError('BROKER_UNKNOWN', error.message, { ...error.details, malformed: true }, { cause: error });
      throw error;
    }
  }

  async getOrderByClientId(clientOrderId: string): Promise<BrokerOrder | null> {
    try {
      const wire = await this.read('GET /v2/orders:by_client_order_id', AlpacaOrderWire, () =>
        this.client.trading.orders.getOrderByClientOrderIdRaw({ clientOrderId }),
      );
      return mapAlpacaOrder(wire);
    } catch (error) {
      if (QuorumError.is(error, 'BROKER_ERROR') && this.isNotFound(error.cause)) return null;
      throw error;
    }
  }

  async getOrder(id: string): Promise<BrokerOrder | null> {
    try {
      const wire = await this.read('GET /v2/orders/:id', AlpacaOrderWire, () => this.client.trading.orders.getOrderByOrderIDRaw({ orderId: id, nested: true }));
      return mapAlpacaOrder(wire);
    } catch (error) {
      if (QuorumError.is(error, 'BROKER_ERROR') && this.isNotFound(error.cause)) return null;
      throw error;
    }
  }

  async listOpenOrders(): Promise<BrokerOrder[]> {
    return this.listOrders({ status: 'open', limit: 500 });
  }

  async listOrders(query: { status: 'open' | 'closed' | 'all'; limit: number }): Promise<BrokerOrder[]> {
    const wire = await this.read('GET /v2/orders', AlpacaOrderWire.array(), () =>
      this.client.trading.orders.getAllOrdersRaw({ status: query.status, limit: query.limit, nested: true }),
    );
    return wire.map(mapAlpacaOrder);
  }

  async cancelOrder(id: string): Promise<void> {
    try {
      await this.client.trading.orders.deleteOrderByOrderIDRaw({ orderId: id });
    } catch (error) {
      throw this.mapError('DELETE /v2/orders/:id', error);
    }
  }

  async replaceOrder(id: string, change: { stopPrice?: number; limitPrice?: number }): Promise<BrokerOrder> {
    const patchOrderRequest = {
      ...(change.stopPrice !== undefined ? { stopPrice: String(change.stopPrice) } : {}),
      ...(change.limitPrice !== undefined ? { limitPrice: String(change.limitPrice) } : {}),
    };
    const wire = await this.read('PATCH /v2/orders/:id', AlpacaOrderWire, () =>
      this.client.trading.orders.patchOrderByOrderIdRaw({ orderId: id, patchOrderRequest }),
    );
    return mapAlpacaOrder(wire);
  }

  async getAccount(): Promise<BrokerAccount> {
    const wire = await this.read('GET /v2/account', AlpacaAccountWire, () => this.client.trading.account.getAccountRaw());
    return mapAlpacaAccount(wire, new Date().toISOString());
  }

  async listPositions(): Promise<BrokerPosition[]> {
    const wire = await this.read('GET /v2/positions', AlpacaPositionWire.array(), () => this.client.trading.positions.getAllOpenPositionsRaw());
    return wire.map(mapAlpacaPosition);
  }

  async closePosition(symbol: string): Promise<BrokerOrder> {
    const wire = await this.read('DELETE /v2/positions/:symbol', AlpacaOrderWire, () =>
      this.client.trading.positions.deleteOpenPositionRaw({ symbolOrAssetId: symbol }),
    );
    return mapAlpacaOrder(wire);
  }

  async getClock(): Promise<BrokerClock> {
    const wire = await this.read('GET /v2/clock', AlpacaClockWire, () => this.client.trading.clock.legacyClockRaw());
    return mapAlpacaClock(wire);
  }
}

/**
 * The broker the configuration asks for: the local paper exchange (default) or Alpaca (paper
 * endpoint by default; live only when config.liveTradingAllowed, else LIVE_TRADING_FORBIDDEN).
 */
export function createBroker(config: Pick<Config, 'settings' | 'secrets' | 'liveTradingAllowed'>, options: { paperExchangeUrl?: string } = {}): AlpacaBroker {
  const exec = config.settings.execution;
  if (exec.mode === 'live' && !config.liveTradingAllowed) {
    throw new QuorumError('LIVE_TRADING_FORBIDDEN', 'execution.mode is live but QUORUM_ALLOW_LIVE=yes is not set: refusing live trading');
  }
  if (exec.broker === 'paper-exchange' && exec.mode !== 'live') {
    return new AlpacaBroker({
      mode: 'paper',
      liveTradingAllowed: false,
      // The paper exchange accepts any key; the SDK insists on one.
      keyId: 'paper-exchange',
      secret: 'paper-exchange',
      baseUrl: options.paperExchangeUrl ?? `http://127.0.0.1:${exec.paperExchange.port}`,
      timeoutMs: exec.orderTimeoutMs,
    });
  }
  const { alpacaKeyId, alpacaSecretKey } = config.secrets;
  if (!alpacaKeyId || !alpacaSecretKey) {
    throw new QuorumError(
      'CONFIG_MISSING',
      'execution.broker is alpaca but ALPACA_API_KEY_ID / ALPACA_API_SECRET_KEY (or APCA_API_KEY_ID / APCA_API_SECRET_KEY) are not set',
    );
  }
  return new AlpacaBroker({
    mode: exec.mode,
    liveTradingAllowed: config.liveTradingAllowed,
    keyId: alpacaKeyId,
    secret: alpacaSecretKey,
    timeoutMs: exec.orderTimeoutMs,
  });
}
