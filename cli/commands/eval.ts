import type { Command } from 'commander';
import { z } from 'zod';
import type { Config } from '../../config/index.ts';
import { QuorumError } from '../../contracts/errors.ts';
import { parseOrThrow } from '../../contracts/parse.ts';
import type { CommitteeBackend } from '../../graph/index.ts';
import type { Cassette, CassetteBackend, ScenarioCategory } from '../../evals/index.ts';
import { cliContext, printJson } from '../context.ts';

/** Default seeds of `--seeds K`: models.yaml's seed, then seed+1, … */
export const MAX_EVAL_SEEDS = 20;

/** The arguments of `quorum eval` (the category enum comes from evals/, loaded with the command). */
const evalArgs = (category: z.ZodType<ScenarioCategory>) =>
  z
    .object({
      backend: z.enum(['ollama', 'llama-cpp', 'rules']).optional(),
      model: z.string().min(1).optional(),
      seeds: z.coerce.number().int().min(1).max(MAX_EVAL_SEEDS).default(1),
      scenarios: z.string().min(1).optional(),
      category: category.optional(),
      record: z.string().min(1).optional(),
      replay: z.string().min(1).optional(),
      compare: z.array(z.string().min(1)).length(2, 'expected two eval reports: --compare A.json B.json').optional(),
      junit: z.string().min(1).optional(),
      summary: z.string().min(1).optional(),
    })
    .strict()
    .refine((a) => a.compare !== undefined || a.backend !== undefined, {
      message: 'required: ollama | llama-cpp | rules (or --compare A B)',
      path: ['backend'],
    })
    .refine((a) => a.compare === undefined || a.backend === undefined, { message: '--compare reads two reports; it runs no backend', path: ['compare'] })
    .refine((a) => !(a.record && a.replay), { message: '--record and --replay exclude each other', path: ['replay'] })
    .refine((a) => a.backend !== 'rules' || (!a.record && !a.replay), {
      message: 'the rules backend makes no LLM calls to record or replay',
      path: ['record'],
    });

/** The config with the model (or GGUF path) and seed of this eval. */
function withModel(config: Config, backend: 'ollama' | 'llama-cpp', model: string | undefined, seed: number): Config {
  const models = {
    ...config.models,
    llm: { ...config.models.llm, seed },
    ollama: backend === 'ollama' && model ? { ...config.models.ollama, model, roles: {} } : config.models.ollama,
    llamaCpp: backend === 'llama-cpp' && model ? { ...config.models.llamaCpp, modelPath: model } : config.models.llamaCpp,
  };
  return { ...config, models };
}

/** `quorum eval`. */
export function registerEval(program: Command): void {
  program
    .command('eval')
    .description('run the eval scenarios through the committee, score them and gate against the committed baseline')
    .option('--backend <name>', 'ollama | llama-cpp | rules')
    .option('--model <name>', 'Ollama model, or GGUF path for llama-cpp (default: models.yaml)')
    .option('--seeds <k>', 'run every scenario with K seeds (stability)', '1')
    .option('--scenarios <dir>', 'scenario directory (default: evals/scenarios)')
    .option('--category <name>', 'only the scenarios of one category')
    .option('--record <file>', 'record the LLM calls to this cassette')
    .option('--replay <file>', 'answer the LLM calls from this cassette (fails on a miss)')
    .option('--update-baseline', 'rewrite the baseline with this run (refused from a partial scenario set)')
    .option('--news-store', "answer news searches from the real news store and point-in-time search (models.yaml's embedder)")
    .option('--news-ablation', 'also run every scenario without its news and report the drop')
    .option('--compare <reports...>', 'compare two eval reports (JSON) scenario by scenario: prompt versions, models or backends')
    .option('--junit <file>', 'also write the JUnit XML to this file')
    .option('--summary <file>', 'also write the Markdown summary to this file (e.g. $GITHUB_STEP_SUMMARY)')
    .option('--json', 'print the result as JSON')
    .action(
      async (opts: {
        backend?: string;
        model?: string;
        seeds?: string;
        scenarios?: string;
        category?: string;
        record?: string;
        replay?: string;
        updateBaseline?: boolean;
        newsAblation?: boolean;
        newsStore?: boolean;
        compare?: string[];
        junit?: string;
        summary?: string;
        json?: boolean;
      }) => {
        // The suite, the backends and the database load when the command runs, so the CLI starts fast.
        const { ScenarioCategory, createCassetteBackend, emptyCassette, loadScenarios, readCassette, runSuite, writeCassette, DEFAULT_SCENARIOS_DIR } =
          await import('../../evals/index.ts');
        const { createLlamaCppBackend, createOllamaBackend, llamaCppOptionsFromConfig, ollamaOptionsFromConfig } = await import('../../agents/index.ts');
        const { migrate, openPglite } = await import('../../db/index.ts');
        const { createEmbedder } = await import('../../rag/index.ts');
        const args = parseOrThrow(
          evalArgs(ScenarioCategory),
          {
            backend: opts.backend,
            model: opts.model,
            seeds: opts.seeds,
            scenarios: opts.scenarios,
            category: opts.category,
            record: opts.record,
            replay: opts.replay,
            compare: opts.compare,
            junit: opts.junit,
            summary: opts.summary,
          },
          'eval',
        );
        const { writeFileSync } = await import('node:fs');
        if (args.compare) {
          const { compareReports, readEvalReport, renderComparison, renderComparisonJunit } = await import('../../evals/index.ts');
          const [a, b] = args.compare as [string, string];
          const cmp = compareReports(readEvalReport(a), readEvalReport(b), loadScenarios(args.scenarios ?? DEFAULT_SCENARIOS_DIR));
          const md = renderComparison(cmp, a, b);
          if (args.junit) writeFileSync(args.junit, renderComparisonJunit(cmp));
          if (args.summary) writeFileSync(args.summary, md);
          if (opts.json) printJson(cmp);
          else process.stdout.write(md);
          return;
        }
        const backend = args.backend as 'ollama' | 'llama-cpp' | 'rules';
        const ctx = cliContext();
        const scenarios = loadScenarios(args.scenarios ?? DEFAULT_SCENARIOS_DIR, args.category ? (s) => s.category === args.category : undefined);
        if (scenarios.length === 0)
          throw new QuorumError('INPUT_INVALID', `eval: no scenarios${args.category ? ` in category ${args.category}` : ''}`, { field: 'category' });
        const seeds = Array.from({ length: args.seeds }, (_, i) => ctx.config.models.llm.seed + i);
        let cassette: Cassette | null = args.replay ? readCassette(args.replay) : null;
        const opened: CassetteBackend[] = [];
        const closers: Array<() => Promise<void>> = [];
        const backendFor = (seed: number): CommitteeBackend => {
          if (backend === 'rules') return 'rules';
          const config = withModel(ctx.config, backend, args.model, seed);
          if (cassette && args.replay) {
            const b = createCassetteBackend({ mode: 'replay', cassette, seed });
            opened.push(b);
            return b;
          }
          const inner =
            backend === 'ollama'
              ? createOllamaBackend(ollamaOptionsFromConfig(config.models))
              : createLlamaCppBackend(llamaCppOptionsFromConfig(config.models));
          if (inner.close) closers.push(() => (inner.close as () => Promise<void>)());
          if (args.record) {
            cassette ??= emptyCassette(inner.name, inner.model('committee'));
            const b = createCassetteBackend({ mode: 'record', cassette, seed, inner });
            opened.push(b);
            return b;
          }
          return inner;
        };
        // The eval's own in-memory database: scenarios replace its market and book.
        const db = await openPglite(null);
        let suite;
        try {
          await migrate(db);
          suite = await runSuite({
            db,
            config: ctx.config,
            scenarios,
            seeds,
            backendFor,
            updateBaseline: opts.updateBaseline === true,
            newsAblation: opts.newsAblation === true,
            newsStore: opts.newsStore ? { embedder: await createEmbedder(ctx.config) } : undefined,
            onRun: (r) => ctx.log.info({ scenario: r.scenarioId, seed: r.seed, decision: r.decision, size: r.sizeMultiplier }, 'eval run'),
          });
        } finally {
          await db.close();
          for (const close of closers) await close();
        }
        if (args.record && cassette) writeCassette(args.record, cassette);
        if (args.junit) writeFileSync(args.junit, suite.junit);
        if (args.summary) writeFileSync(args.summary, suite.markdown);
        if (opts.json) {
          printJson({
            ...suite.result,
            baselineFile: suite.baselineFile,
            gate: suite.gate,
            baselineUpdated: suite.baselineUpdated,
            reports: suite.reports,
            constants: suite.constants,
            cost: suite.cost,
            ablated: suite.ablated?.metrics ?? null,
          });
        } else {
          process.stdout.write(suite.markdown.split('\n## Runs')[0] ?? '');
          process.stdout.write(`\nreports: ${suite.reports?.markdown ?? '-'} ${suite.reports?.json ?? ''} ${suite.reports?.junit ?? ''}\n`);
          if (suite.baselineUpdated) process.stdout.write(`baseline written: ${suite.baselineFile}\n`);
        }
        if (suite.baselineUpdated) return;
        if (!suite.gate) {
          process.stderr.write(`quorum eval: no baseline at ${suite.baselineFile}; run with --update-baseline to create it\n`);
          process.exitCode = 1;
        } else if (!suite.gate.ok) {
          process.stderr.write(`quorum eval: REGRESSION against ${suite.baselineFile}:\n${suite.gate.failures.map((f) => `  ${f}`).join('\n')}\n`);
          process.exitCode = 1;
        }
      },
    );
}
