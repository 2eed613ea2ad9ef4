/**
 * What every node of one committee run reads: the run's own dependencies, handed to the nodes as
 * the run's LangGraph context (graph/committee.ts).
 */
import { createHash } from 'node:crypto';
import type { Proposal } from '../contracts/index.ts';
import type { Config } from '../config/index.ts';
import type { Db } from '../db/index.ts';
import type { DbCheckpointSaver } from '../checkpoint/index.ts';
import type { RoleName, RolePrompt } from '../agents/index.ts';
import type { BarsReader, NewsSearcher, OutcomeSearcher, ToolRegistry } from '../tools/index.ts';
import type { Judge } from './backend.ts';
import type { EvidenceLimits } from './evidence.ts';
import type { CommitteeEvent } from './state.ts';

export interface RunDeps {
  db: Db;
  config: Config;
  proposal: Proposal;
  /** Who judges (graph/backend.ts): nodes ask it, never test for the rules baseline. */
  judge: Judge;
  runId: string;
  /** The role prompts of an LLM judge (null for the rules baseline, which has its own). */
  prompts: Readonly<Record<RoleName, RolePrompt>> | null;
  tools: ToolRegistry;
  searchNews?: NewsSearcher;
  /** Outcome memory (ADR 0035): when set, the analyst also calls past_outcomes. */
  searchOutcomes?: OutcomeSearcher;
  runSignal?: AbortSignal;
  emit: (event: CommitteeEvent) => void;
  now: () => Date;
  /** The run's bars, read once for all its tool calls. */
  readBars: BarsReader;
  /** Set when the committee node handed the verdict and the run's close to `unit` with its writes. */
  closed: boolean;
  /** Our checkpointer, which stores a node's transcript with its writes; null: the node stores it itself. */
  unit: DbCheckpointSaver | null;
}

export const shortHash = (text: string): string => createHash('sha256').update(text).digest('hex').slice(0, 20);

/** The deterministic verdict id of a run (a resumed run reuses it, so it is stored once). */
export function verdictIdOf(runId: string): string {
  return `vd_${shortHash(runId)}`;
}

/** The evidence limits of one prompt (settings.committee). */
export function evidenceLimits(config: Config): EvidenceLimits {
  const c = config.settings.committee;
  return { maxNewsItems: c.maxNewsItemsPerPrompt, maxChars: c.maxEvidenceCharsPerPrompt };
}

export function abortError(signal: AbortSignal): Error {
  return signal.reason instanceof Error ? signal.reason : new Error('committee run aborted');
}
