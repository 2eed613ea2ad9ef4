import type { BrokerAccount, BrokerClock, BrokerOrder, BrokerPosition, SubmitOrderRequest } from './schema.ts';

/**
 * The broker port. Adapters map every reply onto our schemas and raise QuorumError:
 *  - `CONFLICT` (details.reason = "duplicate_client_order_id") when the client_order_id already exists;
 *  - `BROKER_UNKNOWN` when a POST's outcome is unknown (timeout, network failure, 5xx): never retry it
 *    blindly, look the order up by client_order_id;
 *  - `BROKER_ERROR` for a refusal (4xx) or a malformed reply (the message names the field).
 * A lookup that finds nothing returns null.
 */
export interface Broker {
  /** e.g. "alpaca-paper", "alpaca-live", "paper-exchange". */
  readonly name: string;
  submitOrder(request: SubmitOrderRequest): Promise<BrokerOrder>;
  getOrderByClientId(clientOrderId: string): Promise<BrokerOrder | null>;
  getOrder(id: string): Promise<BrokerOrder | null>;
  /** Open orders, bracket legs nested under their parent. */
  listOpenOrders(): Promise<BrokerOrder[]>;
  /** Recent orders of any status, newest first. */
  listOrders(query: { status: 'open' | 'closed' | 'all'; limit: number }): Promise<BrokerOrder[]>;
  cancelOrder(id: string): Promise<void>;
  /** Changes an open order's stop or limit price (used to move a stop to breakeven). */
  replaceOrder(id: string, change: { stopPrice?: number; limitPrice?: number }): Promise<BrokerOrder>;
  getAccount(): Promise<BrokerAccount>;
  listPositions(): Promise<BrokerPosition[]>;
  /** Closes the whole position with a market order; returns that order. */
  closePosition(symbol: string): Promise<BrokerOrder>;
  getClock(): Promise<BrokerClock>;
}
