import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PROJECT_ROOT, loadConfig } from '../../config/index.ts';
import { QuorumError } from '../../contracts/errors.ts';
import { parseJson } from '../../contracts/parse.ts';
import { openDb } from '../../db/index.ts';
import { loadStocknetPrices } from '../../evals/backtest/index.ts';
import { companyMatcher, createEmbedder, importNews } from '../../rag/index.ts';
import { backtestCli, backtestRefusal } from './backtest-cli-support.ts';

const dir = mkdtempSync(path.join(tmpdir(), 'quorum-bt-stocknet-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('the StockNet backtest universe', () => {
  it('loads the real long-shape prices.csv: 30 tickers of OHLCV 2013-01-02..2014-12-31, split-adjusted closes, no index files, and refuses an unknown ticker naming the field', () => {
    const data = loadStocknetPrices();
    expect(data.bars.size).toBe(30);
    const aapl = data.bars.get('AAPL') ?? [];
    expect(aapl).toHaveLength(504);
    expect(aapl[0]).toMatchObject({ ts: '2013-01-02T21:00:00.000Z' });
    expect(aapl.at(-1)).toMatchObject({ ts: '2014-12-31T21:00:00.000Z' });
    expect(aapl.every((b) => b.open !== null && b.high !== null && b.low !== null && b.volume !== null)).toBe(true);
    expect(data.indices).toEqual({ sp500: null, djia: null });
    // AAPL's 7:1 split of 2014-06-09 is already in the close: no 85% overnight drop.
    const split = aapl.findIndex((b) => b.ts === '2014-06-09T20:00:00.000Z');
    expect(split).toBeGreaterThan(0);
    expect(Math.abs((aapl[split]?.close ?? 0) / (aapl[split - 1]?.close ?? 1) - 1)).toBeLessThan(0.05);
    expect([...loadStocknetPrices(['KO', 'AAPL']).bars.keys()]).toEqual(['KO', 'AAPL']);
    const error = (() => {
      try {
        loadStocknetPrices(['AAPL', 'IBM']);
      } catch (e) {
        return e;
      }
      return null;
    })();
    expect(QuorumError.is(error, 'INPUT_INVALID')).toBe(true);
    expect((error as QuorumError).details.field).toBe('tickers');
    expect((error as QuorumError).message).toContain('IBM not in the StockNet universe');
  });
});

describe('quorum backtest --universe stocknet --news', () => {
  it(
    'refuses an empty news store naming --news; with the tweets stored, the committee searches them and the report says so',
    { timeout: 180_000 },
    async () => {
      process.env.QUORUM_DATA_DIR = path.join(dir, 'data');
      process.env.QUORUM_SETTINGS__LOGGING__LEVEL = 'silent';
      process.env.QUORUM_MODELS__OLLAMA__BASE_URL = 'http://127.0.0.1:9';
      const common = ['--universe', 'stocknet', '--from', '2014-01-27', '--to', '2014-01-31', '--tickers', 'AAPL,AMZN,KO,MSFT', '--critic', 'rules'];
      const args = [...common, '--resamples', '20', '--json', '--out', path.join(dir, 'reports'), '--news'];
      const refused = await backtestRefusal(args);
      expect(refused.details.field).toBe('news');
      expect(refused.message).toContain('quorum ingest news');

      // Apple's tweets of its earnings week, stored as `quorum ingest news FILE` stores them.
      const lines = gunzipSync(readFileSync(path.join(PROJECT_ROOT, 'data/samples/stocknet-2014/tweets.jsonl.gz')))
        .toString('utf8')
        .split('\n')
        .filter((l) => l.includes('"AAPL"') && l.includes('2014-01-2'));
      const file = path.join(dir, 'aapl.jsonl.gz');
      writeFileSync(file, gzipSync(lines.join('\n')));
      const config = loadConfig({ env: process.env });
      const db = await openDb(config);
      try {
        const stored = await importNews(db, await createEmbedder(config), file, { matcher: companyMatcher(config.settings.news.companies) });
        expect(stored.inserted).toBeGreaterThan(20);
      } finally {
        await db.close();
      }
      const out = parseJson((await backtestCli(args)).stdout);
      if (!out.ok) throw new Error(out.error);
      const notes = z
        .object({ result: z.object({ notes: z.array(z.string()) }).passthrough() })
        .passthrough()
        .parse(out.value)
        .result.notes.join('\n');
      expect(notes).toMatch(/News: the committee searches the \d+ news items stored in PGlite \(published 2014-01-2\d\.\.2014-01-2\d\), point in time/);
    },
  );
});
