export { PaperExchange, ExchangeError, ALPACA_ERROR, OrderRequestBody, triggerPrice, type PaperExchangeSettings, type PaperOrder } from './engine.ts';
export { createPaperExchangeApp, renderOrder, type ExchangeFaults } from './app.ts';
export { startPaperExchange, type StartPaperExchangeOptions, type RunningPaperExchange } from './server.ts';
export { marketClock, nyDate } from './market-time.ts';
export { httpExchangeClock, type ExchangeClock } from './clock.ts';
