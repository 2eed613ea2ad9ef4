import type { Command } from 'commander';
import Table from 'cli-table3';
import { QuorumError } from '../../contracts/errors.ts';
import type { FeedPollResult, FeedSource, ImportResult } from '../../rag/index.ts';
// The constant only: the news store and its embedder load when a command runs.
import { MAX_SEARCH_K } from '../../rag/schema.ts';
import { cliContext, printJson, withDb } from '../context.ts';
import { progressBar } from '../progress.ts';
import { tableStyle } from '../table.ts';

function printFeedSummary(results: readonly FeedPollResult[]): void {
  const table = new Table({ head: ['feed', 'status', 'items', 'new', 'duplicates', 'attempts', 'error'], style: tableStyle() });
  for (const r of results) table.push([r.name, r.status, r.fetched, r.inserted, r.duplicates, r.attempts, r.error ?? '']);
  process.stdout.write(`${table.toString()}\n`);
  const failed = results.filter((r) => r.status === 'error');
  process.stdout.write(
    `${results.reduce((s, r) => s + r.inserted, 0)} new item(s) from ${results.length} feed(s)` +
      (failed.length ? `; FAILED: ${failed.map((r) => r.name).join(', ')}` : '') +
      '\n',
  );
}

function printImportSummary(r: ImportResult): void {
  const spam = Object.entries(r.spam);
  const spamText = spam.length ? `, ${spam.map(([rule, n]) => `${n} dropped as spam (${rule})`).join(', ')}` : '';
  process.stdout.write(
    `${r.files.length} file(s), ${r.read} item(s) read: ${r.inserted} new, ${r.duplicates} already stored, ${r.rejected.length} rejected${spamText}\n`,
  );
  for (const x of r.rejected) process.stdout.write(`  rejected ${x.file}:${x.line}: ${x.error}\n`);
}

/** `quorum ingest news` and `quorum news search`. */
export function registerNews(program: Command): void {
  // `ingest` is shared with other data kinds: reuse it when another command registered it first.
  const ingest = program.commands.find((c) => c.name() === 'ingest') ?? program.command('ingest').description('load data into the store');
  ingest
    .command('news')
    .description(
      'ingest news: an RSS/Atom feed URL, a JSONL (.jsonl.gz: news items or tweets) or Reuters XML file, a directory of them, or (no argument) the feeds in settings.yaml',
    )
    .argument('[source]', 'FEED_URL | FILE | DIR')
    .option('--skip-invalid', 'store the valid items of a file even when some lines are rejected (default: store nothing)')
    .option('--keep-spam', 'keep tweets the spam rule drops (4 or more distinct cashtags: a ticker list)')
    .option('--json', 'print the result as JSON')
    .action(async (source: string | undefined, opts: { skipInvalid?: boolean; keepSpam?: boolean; json?: boolean }) => {
      const ctx = cliContext();
      const { canonicalUrl, companyMatcher, createEmbedder, importNews, pollFeeds } = await import('../../rag/index.ts');
      const news = ctx.config.settings.news;
      const matcher = companyMatcher(news.companies);
      const embedder = await createEmbedder(ctx.config);
      await withDb(ctx, async (db) => {
        const isUrl = source !== undefined && /^https?:\/\//i.test(source);
        if (source === undefined || isUrl) {
          let feeds: FeedSource[];
          if (source === undefined) {
            if (news.feeds.length === 0)
              throw new QuorumError('INPUT_INVALID', 'news.feeds: no feeds configured in settings.yaml; pass a FEED_URL, FILE or DIR');
            feeds = news.feeds;
          } else {
            if (!canonicalUrl(source)) throw new QuorumError('INPUT_INVALID', `source: not a valid feed URL: ${source}`);
            const configured = news.feeds.find((f) => canonicalUrl(f.url) === canonicalUrl(source));
            feeds = [{ name: configured?.name ?? new URL(source).host, url: source }];
          }
          const results = await pollFeeds(db, embedder, feeds, {
            matcher,
            timeoutMs: news.pollTimeoutMs,
            retries: news.retries,
            backoffMs: news.backoffMs,
          });
          if (opts.json) printJson({ feeds: results });
          else printFeedSummary(results);
          if (results.some((r) => r.status === 'error')) process.exitCode = 1;
          return;
        }
        const bar = progressBar('embedding');
        let result: ImportResult;
        try {
          result = await importNews(db, embedder, source, {
            matcher,
            skipInvalid: opts.skipInvalid ?? false,
            keepSpam: opts.keepSpam ?? false,
            onProgress: bar.update,
          });
        } finally {
          bar.stop();
        }
        if (opts.json) printJson(result);
        else printImportSummary(result);
      });
    });

  const news = program.command('news').description('the news memory');
  news
    .command('search')
    .description('point-in-time news search: only items published at or before --as-of are visible')
    .argument('<query>', 'what to look for')
    .requiredOption('--as-of <date>', 'ISO date or time; nothing published later is returned')
    .option('--ticker <ticker>', 'only items tagged with this ticker')
    .option('-k, --limit <n>', `results (1-${MAX_SEARCH_K})`, '10')
    .option('--json', 'print the results as JSON')
    .action(async (query: string, opts: { asOf: string; ticker?: string; limit: string; json?: boolean }) => {
      const ctx = cliContext();
      const k = Number(opts.limit);
      if (!Number.isInteger(k)) throw new QuorumError('INPUT_INVALID', `--limit: expected an integer, got "${opts.limit}"`);
      if (Number.isNaN(new Date(opts.asOf).getTime())) throw new QuorumError('INPUT_INVALID', `--as-of: not a date: "${opts.asOf}"`);
      const { createEmbedder, searchNews } = await import('../../rag/index.ts');
      const embedder = await createEmbedder(ctx.config);
      await withDb(ctx, async (db) => {
        const results = await searchNews(
          db,
          embedder,
          { query, asOf: opts.asOf, ticker: opts.ticker ?? null, k },
          {
            halfLifeDays: ctx.config.settings.news.recencyHalfLifeDays,
          },
        );
        if (opts.json) {
          printJson({ query, asOf: new Date(opts.asOf).toISOString(), ticker: opts.ticker ?? null, results });
          return;
        }
        if (results.length === 0) {
          process.stdout.write('no news published by then matches\n');
          return;
        }
        const table = new Table({
          head: ['#', 'id', 'published', 'score', 'tickers', 'sent.', 'title'],
          colWidths: [4, 19, 22, 7, 14, 7, 50],
          wordWrap: true,
          style: tableStyle(),
        });
        results.forEach((r, i) =>
          table.push([
            i + 1,
            r.id,
            r.publishedAt.slice(0, 19),
            r.score.toFixed(3),
            r.tickers.map((t) => t.ticker).join(' '),
            (r.sentiment ?? 0).toFixed(2),
            r.title,
          ]),
        );
        process.stdout.write(`${table.toString()}\n`);
      });
    });
}
