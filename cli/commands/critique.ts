import path from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import {
  IsoDate,
  IsoDateTime,
  QuorumError,
  Side,
  Ticker,
  Unit,
  errorMessage,
  parseOrThrow,
  type AgentOpinion,
  type Proposal,
  type Verdict,
} from '../../contracts/index.ts';
import { BackendChoice, PROJECT_ROOT } from '../../config/index.ts';
import type { Db } from '../../db/index.ts';
import type { CommitteeEvent, NodeTools } from '../../graph/index.ts';
import type { TradeIdea } from '../../ml/index.ts';
import type { NewsSearchQuery } from '../../rag/index.ts';
import { cliContext, printJson, withDb, type CliContext } from '../context.ts';

const CritiqueArgs = z
  .object({
    ticker: Ticker,
    asOf: z.union([IsoDate, IsoDateTime]),
    backend: BackendChoice.optional(),
    thread: z.string().min(1).max(200).optional(),
    side: Side.optional(),
    probability: z.coerce.number().pipe(Unit).optional(),
  })
  .strict()
  .refine((a) => a.probability === undefined || a.side !== undefined, {
    path: ['probability'],
    message: '--probability needs --side (it is the probability of your own idea)',
  });

/**
 * The proposal to judge: the caller's own idea when `idea` is given (side, optional probability, with
 * the model's features and attributions), else the default model's proposal (proposed now).
 */
async function proposalFor(ctx: CliContext, db: Db, ticker: string, asOf: string, idea: TradeIdea | undefined): Promise<Proposal> {
  const { checkProposalDate, loadProposer, proposeIdea, proposeOne, proposerCardPath } = await import('../../ml/index.ts');
  // Before the model loads: no bars for the ticker, no trading day, or outside its bars and warm-up.
  await checkProposalDate(db, asOf, { purpose: 'critique', field: 'asOf', label: '--as-of', ticker });
  const cardPath = await proposerCardPath(db, path.resolve(PROJECT_ROOT, ctx.config.models.proposer.cardPath));
  let proposer;
  try {
    proposer = await loadProposer(cardPath);
  } catch (error) {
    throw new QuorumError(
      'NOT_FOUND',
      `no usable proposer model at ${cardPath} (models.yaml proposer.cardPath): ${errorMessage(error)}; train one with quorum train`,
      { cardPath },
      { cause: error },
    );
  }
  try {
    if (idea) return await proposeIdea(db, { asOf, ticker, idea, proposer, settings: ctx.config.settings, asOfLabel: '--as-of' });
    return await proposeOne(db, { asOf, ticker, proposer, settings: ctx.config.settings, asOfLabel: '--as-of' });
  } catch (error) {
    if (!QuorumError.is(error, 'NOT_FOUND')) throw error;
    throw new QuorumError(
      'NOT_FOUND',
      `${error.message}; to have the committee judge your own idea, add --side buy|sell (and --probability p)`,
      error.details,
      { cause: error },
    );
  } finally {
    await proposer.session.release();
  }
}

function printOpinion(o: AgentOpinion): void {
  process.stdout.write(
    `\n[${o.role}${o.role === 'bull' || o.role === 'bear' ? ` round ${o.round}` : ''}] ${o.stance} (confidence ${o.confidence.toFixed(2)})\n  ${o.summary}\n`,
  );
  for (const c of o.claims) process.stdout.write(`  - ${c.text}${c.evidence.length ? ` [${c.evidence.join(', ')}]` : ''}\n`);
  if (o.droppedClaims > 0) process.stdout.write(`  (${o.droppedClaims} claim(s) dropped: cited evidence not given)\n`);
}

/** A node's tool calls: how they were chosen, each call with its arguments and how it ended. */
function printToolCalls(t: NodeTools, agent: string): void {
  const how = t.choice === 'agent' ? agent : t.choice === 'fallback' ? `defaults after a failed tool turn (${t.reason ?? 'no reason'})` : 'configured defaults';
  process.stdout.write(`\n[${t.node} tools: ${how}]\n`);
  for (const c of t.calls) process.stdout.write(`  ${c.tool} ${JSON.stringify(c.args)} -> ${c.ok ? `ok [${c.evidenceId}]` : `error ${c.errorCode ?? ''}`}\n`);
  if (t.calls.length === 0) process.stdout.write('  (no calls)\n');
  if (t.ignored > 0) process.stdout.write(`  (${t.ignored} more call(s) ignored: over twice the limit)\n`);
}

function printVerdict(v: Verdict): void {
  process.stdout.write(
    `\nVERDICT: ${v.decision} size x${v.sizeMultiplier.toFixed(2)} (confidence ${v.confidence.toFixed(2)}) by ${v.backend}/${v.model}, prompt ${v.promptVersion}\n`,
  );
  for (const r of v.reasons) process.stdout.write(`  + ${r.text}${r.evidence.length ? ` [${r.evidence.join(', ')}]` : ''}\n`);
  for (const d of v.dissent) process.stdout.write(`  - dissent: ${d}\n`);
  if (v.abstainReason) process.stdout.write(`  abstain reason: ${v.abstainReason}\n`);
}

/** One line on who judged, saying plainly when the verdicts cannot be an LLM's (the notice gives why). */
export function judgedByLine(notice: string, verdict: Verdict): string {
  const line = `judged by: ${notice}`;
  if (verdict.decision === 'ABSTAIN' && verdict.abstainReason) return `${line}\nthe committee ABSTAINS: ${verdict.abstainReason}`;
  return line;
}

/** `quorum critique --ticker T --as-of DATE [--side buy|sell [--probability p]] [--backend ollama|llama-cpp|rules] [--json]`. */
export function registerCritique(program: Command): void {
  program
    .command('critique')
    .description(
      "let the committee critique the model's proposal for one ticker at a point in time, or your own idea with --side (prints the debate and the verdict)",
    )
    .requiredOption('--ticker <ticker>', 'ticker with stored bars, e.g. MSFT')
    .requiredOption('--as-of <date>', 'YYYY-MM-DD (that session close, 16:00 New York) or an ISO timestamp')
    .option('--side <side>', "buy | sell: judge your own idea on this side instead of the model's proposal (works where the model abstains)")
    .option('--probability <p>', "with --side: your idea's probability (0-1) that the move clears the label threshold (default: the model's)")
    .option('--backend <name>', 'auto | ollama | llama-cpp | rules (default: models.yaml llm.backend)')
    .option('--thread <id>', 'resume the committee run of this thread id')
    .option('--json', 'print the result as JSON')
    .action(async (opts: { ticker?: string; asOf?: string; backend?: string; thread?: string; side?: string; probability?: string; json?: boolean }) => {
      const args = parseOrThrow(
        CritiqueArgs,
        { ticker: opts.ticker?.toUpperCase(), asOf: opts.asOf, backend: opts.backend, thread: opts.thread, side: opts.side, probability: opts.probability },
        'critique',
      );
      const ctx = cliContext();
      // The committee, the model and the news store load when the command runs, so the CLI starts fast.
      const { closeBackend, judgeOf, runCommittee, selectBackend } = await import('../../graph/index.ts');
      const { dailyBarTs } = await import('../../market/index.ts');
      const { createEmbedder, searchNews } = await import('../../rag/index.ts');
      const asOf = /^\d{4}-\d{2}-\d{2}$/.test(args.asOf) ? dailyBarTs(args.asOf) : args.asOf;
      const idea: TradeIdea | undefined = args.side ? { side: args.side, probability: args.probability } : undefined;
      const result = await withDb(ctx, async (db) => {
        const proposal = await proposalFor(ctx, db, args.ticker, asOf, idea);
        const selected = await selectBackend(ctx.config, args.backend);
        // Announce who judges on stderr, so --json output stays clean.
        process.stderr.write(`${selected.notice}\n`);
        let search: ((q: NewsSearchQuery) => ReturnType<typeof searchNews>) | undefined;
        try {
          const embedder = await createEmbedder(ctx.config);
          search = (q) => searchNews(db, embedder, q);
        } catch (error) {
          process.stderr.write(`news search unavailable (${errorMessage(error)}): agents get a typed tool error instead\n`);
        }
        const onEvent = (e: CommitteeEvent): void => {
          if (opts.json) return;
          if (e.type === 'node_finished')
            process.stderr.write(
              `  ${e.node} done in ${Math.round(e.stat.latencyMs)} ms (${e.stat.llmCalls} LLM call(s), ${e.stat.toolCalls} tool call(s), ${e.stat.toolErrors} tool error(s), ${e.stat.evidenceDropped} evidence item(s) left out)\n`,
            );
        };
        try {
          const res = await runCommittee({ db, config: ctx.config, proposal, backend: selected.backend, searchNews: search, threadId: args.thread, onEvent });
          return { proposal, notice: selected.notice, toolChooser: judgeOf(selected.backend).toolChooser, ...res };
        } finally {
          await closeBackend(selected.backend);
        }
      });
      if (opts.json) {
        const { toolChooser: _chooser, ...json } = result;
        printJson(json);
        return;
      }
      const p = result.proposal;
      const whose = p.modelId === 'user' ? `your idea, features and attributions from ${p.modelVersion}` : `${p.modelId}@${p.modelVersion}`;
      process.stdout.write(
        `PROPOSAL ${p.id}: ${p.side} ${p.ticker} at ${p.asOf}, p=${p.probability.toFixed(3)}, expected ${(p.expectedReturn * 100).toFixed(2)}% over ${p.horizonDays}d (${whose})\n`,
      );
      process.stdout.write(`${judgedByLine(result.notice, result.verdict)}\n`);
      for (const t of result.toolCalls) printToolCalls(t, result.toolChooser);
      for (const o of result.opinions) printOpinion(o);
      printVerdict(result.verdict);
      const s = result.stats;
      process.stdout.write(
        `\nrun ${result.runId} (thread ${result.threadId}): ${s.llmCalls} LLM call(s) (${s.toolTurnCalls} tool turn(s)), ${s.promptTokens} prompt + ${s.completionTokens} completion tokens, ${s.toolCalls} tool call(s), ${s.toolErrors} tool error(s), ${s.evidenceDropped} evidence item(s) left out by the per-prompt limits\n`,
      );
    });
}
