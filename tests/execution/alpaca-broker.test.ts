import { describe, expect, it } from 'vitest';
import { QuorumError } from '../../contracts/index.ts';
import { loadConfig } from '../../config/index.ts';
import { AlpacaBroker, ALPACA_LIVE_URL, ALPACA_PAPER_URL, createBroker } from '../../execution/index.ts';
import { tempConfigDir } from '../support/config-dir.ts';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { BUNDLED_CONFIG_DIR } from '../../config/index.ts';

const keys = { APCA_API_KEY_ID: 'key-id-for-test', APCA_API_SECRET_KEY: 'secret-for-test' };

function configWith(mode: 'paper' | 'live', broker: 'alpaca' | 'paper-exchange', env: Record<string, string>) {
  const settings = readFileSync(path.join(BUNDLED_CONFIG_DIR, 'settings.yaml'), 'utf8')
    .replace(/^ {2}mode: paper /m, `  mode: ${mode} `)
    .replace(/^ {2}broker: paper-exchange /m, `  broker: ${broker} `);
  return loadConfig({ configDir: tempConfigDir({ 'settings.yaml': settings }), env });
}

/** A fetch double that answers every request with one JSON body (a broker with a bad reply). */
function answering(body: unknown, status = 200): typeof fetch {
  return async () => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

describe('Alpaca adapter: paper by default, live only behind both switches', () => {
  it('uses the paper endpoint by default', () => {
    const broker = createBroker(configWith('paper', 'alpaca', keys));
    expect(broker.endpoint).toBe(ALPACA_PAPER_URL);
    expect(broker.name).toBe('alpaca-paper');
  });

  it('refuses live trading when execution.mode is live but QUORUM_ALLOW_LIVE is not yes', () => {
    const config = configWith('live', 'alpaca', { ...keys, QUORUM_ALLOW_LIVE: 'no' });
    expect(config.liveTradingAllowed).toBe(false);
    const error = (() => {
      try {
        createBroker(config);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(QuorumError.is(error, 'LIVE_TRADING_FORBIDDEN')).toBe(true);
  });

  it('stays on paper when QUORUM_ALLOW_LIVE=yes but execution.mode is paper', () => {
    const broker = createBroker(configWith('paper', 'alpaca', { ...keys, QUORUM_ALLOW_LIVE: 'yes' }));
    expect(broker.endpoint).toBe(ALPACA_PAPER_URL);
  });

  it('refuses a live adapter built directly without the live switch', () => {
    expect(() => new AlpacaBroker({ mode: 'live', liveTradingAllowed: false, keyId: 'k', secret: 's', timeoutMs: 1000 })).toThrow(/QUORUM_ALLOW_LIVE=yes/);
  });

  it('goes live only with execution.mode live AND QUORUM_ALLOW_LIVE=yes', () => {
    const broker = createBroker(configWith('live', 'alpaca', { ...keys, QUORUM_ALLOW_LIVE: 'yes' }));
    expect(broker.endpoint).toBe(ALPACA_LIVE_URL);
    expect(broker.name).toBe('alpaca-live');
  });
});

describe('Alpaca adapter: malformed replies', () => {
  const broker = (body: unknown, status = 200) =>
    new AlpacaBroker({
      mode: 'paper',
      liveTradingAllowed: false,
      keyId: 'k',
      secret: 's',
      baseUrl: 'http://127.0.0.1:9',
      timeoutMs: 1000,
      fetchApi: answering(body, status),
    });

  it('names the field of a malformed account reply', async () => {
    const error = await broker({ id: 'a', status: 'ACTIVE', equity: 'lots', cash: '1', buying_power: '1', last_equity: '1' })
      .getAccount()
      .catch((e: unknown) => e);
    expect(QuorumError.is(error, 'BROKER_ERROR')).toBe(true);
    expect((error as QuorumError).message).toMatch(/GET \/v2\/account: equity: expected a numeric value/);
  });

  it('names the missing field of a position reply', async () => {
    const error = await broker([{ symbol: 'MSFT', qty: '3' }])
      .listPositions()
      .catch((e: unknown) => e);
    expect((error as QuorumError).message).toMatch(/0\.avg_entry_price/);
  });

  it('treats an unreadable reply to an order POST as an unknown outcome, naming the field', async () => {
    const error = await broker({ id: 'o1', client_order_id: 'c1', symbol: 'MSFT', side: 'sideways', status: 'new' })
      .submitOrder({
        clientOrderId: 'c1',
        symbol: 'MSFT',
        side: 'buy',
        qty: 1,
        type: 'market',
        limitPrice: null,
        timeInForce: 'day',
        orderClass: 'simple',
        takeProfit: null,
        stopLoss: null,
      })
      .catch((e: unknown) => e);
    expect(QuorumError.is(error, 'BROKER_UNKNOWN')).toBe(true);
    expect((error as QuorumError).message).toMatch(/side/);
  });

  it('maps a 422 duplicate client_order_id to CONFLICT', async () => {
    const error = await broker({ code: 40010001, message: 'client_order_id must be unique' }, 422)
      .submitOrder({
        clientOrderId: 'c1',
        symbol: 'MSFT',
        side: 'buy',
        qty: 1,
        type: 'market',
        limitPrice: null,
        timeInForce: 'day',
        orderClass: 'simple',
        takeProfit: null,
        stopLoss: null,
      })
      .catch((e: unknown) => e);
    expect(QuorumError.is(error, 'CONFLICT')).toBe(true);
    expect((error as QuorumError).details.reason).toBe('duplicate_client_order_id');
  });

  it('returns null for an order lookup that finds nothing', async () => {
    expect(await broker({ code: 40410000, message: 'order not found' }, 404).getOrderByClientId('nope')).toBeNull();
  });
});
