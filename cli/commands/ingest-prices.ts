import type { Command } from 'commander';
import Table from 'cli-table3';
import { z } from 'zod';
import { IsoDate, Ticker } from '../../contracts/common.ts';
import { QuorumError } from '../../contracts/errors.ts';
import { parseOrThrow } from '../../contracts/parse.ts';
import { cliContext, printJson, withDb } from '../context.ts';
import { tableStyle } from '../table.ts';

const AlpacaArgs = z
  .object({
    tickers: z.array(Ticker).min(1, 'at least one ticker'),
    from: IsoDate,
    to: IsoDate,
  })
  .strict()
  .refine((a) => a.from <= a.to, { path: ['from'], message: 'must not be after --to' });

/** `quorum ingest prices FILE|alpaca`. */
export function registerIngestPrices(program: Command): void {
  // `ingest` is shared with other data kinds: reuse it when another command registered it first.
  const ingest = program.commands.find((c) => c.name() === 'ingest') ?? program.command('ingest').description('load data into the store');
  ingest
    .command('prices')
    .description('import daily bars: a CSV file (wide close-only, long date,ticker,OHLCV, or per-ticker OHLCV with --ticker) or "alpaca" (needs keys)')
    .argument('<source>', 'CSV file path, or "alpaca"')
    .option('--ticker <ticker>', 'ticker of a per-ticker OHLCV file (e.g. MSFT, SPX)')
    .option('--tickers <list>', 'alpaca: comma-separated tickers')
    .option('--from <date>', 'alpaca: first date YYYY-MM-DD')
    .option('--to <date>', 'alpaca: last date YYYY-MM-DD')
    .option('--json', 'print the result as JSON')
    .action(async (source: string, opts: { ticker?: string; tickers?: string; from?: string; to?: string; json?: boolean }) => {
      const ctx = cliContext();
      const { createAlpacaDataClient, ingestAlpacaBars, ingestPriceCsv } = await import('../../market/index.ts');
      if (source === 'alpaca') {
        const args = parseOrThrow(
          AlpacaArgs,
          {
            tickers: (opts.tickers ?? '')
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean),
            from: opts.from,
            to: opts.to,
          },
          'ingest prices alpaca',
        );
        const { alpacaKeyId, alpacaSecretKey } = ctx.config.secrets;
        if (!alpacaKeyId || !alpacaSecretKey) {
          throw new QuorumError(
            'CONFIG_MISSING',
            'ingest prices alpaca needs ALPACA_API_KEY_ID and ALPACA_API_SECRET_KEY (or APCA_API_KEY_ID / APCA_API_SECRET_KEY) in the environment',
          );
        }
        const client = createAlpacaDataClient({ keyId: alpacaKeyId, secret: alpacaSecretKey });
        const result = await withDb(ctx, (db) => ingestAlpacaBars(db, client, args.tickers, args.from, args.to));
        if (opts.json) printJson(result);
        else
          process.stdout.write(
            `alpaca: ${result.bars} bar(s) stored for ${
              Object.entries(result.perTicker)
                .map(([t, n]) => `${t} ${n}`)
                .join(', ') || 'no ticker'
            }\n`,
          );
        return;
      }
      const result = await withDb(ctx, (db) => ingestPriceCsv(db, source, opts.ticker ? { ticker: opts.ticker } : {}));
      if (opts.json) {
        printJson(result);
        return;
      }
      const table = new Table({ head: ['file', 'shape', 'tickers', 'bars', 'first', 'last'], style: tableStyle() });
      table.push([
        result.file,
        result.shape,
        result.tickers.length <= 6 ? result.tickers.join(' ') : `${result.tickers.length}`,
        result.bars,
        result.firstDate,
        result.lastDate,
      ]);
      process.stdout.write(`${table.toString()}\n`);
    });
}
