/**
 * One agent call from prompt to validated output: render the prompt, call the backend, check the
 * answer, send ONE repair request quoting the validation error, then ABSTAIN with the reason stored.
 * Never throws to the caller and never yields a size above the proposal.
 */
import { randomUUID } from 'node:crypto';
import {
  AgentOpinion,
  QuorumError,
  Verdict,
  errorMessage,
  parseWith,
  type AgentRole,
  type ErrorCode,
  type Proposal,
  type TokenCounts,
} from '../contracts/index.ts';
import type { ChatBackend, ChatMessage } from './backends/types.ts';
import { roleJsonSchemaForCall } from './json-schema.ts';
import { checkRoleOutput } from './output.ts';
import type { RolePrompt } from './prompts.ts';
import { renderRepairMessage, renderUserMessage } from './render.ts';
import type { CommitteeOutput, EvidenceItemInput, OpinionOutput, RoleName } from './schema.ts';

/** Per-agent time budget when the caller gives none (models.yaml llm.timeoutMs overrides it). */
export const DEFAULT_AGENT_TIMEOUT_MS = 60_000;
/** Repair requests after an invalid answer: exactly one. */
export const MAX_REPAIRS = 1;

/** Inputs of one agent call. */
export interface RunAgentOptions<R extends RoleName = RoleName> {
  role: R;
  backend: ChatBackend;
  /** The role's prompt (loadRolePrompts / loadPrompt); its version is stored with the output. */
  prompt: RolePrompt;
  proposal: Proposal;
  /** The evidence pack: news items, tool results, attributions, each with an id. */
  evidence: readonly EvidenceItemInput[];
  /** Opinions of earlier nodes or rounds. */
  opinions?: readonly AgentOpinion[];
  /** Evidence items the caller left out by its per-prompt limits (told to the model; they cannot be cited). */
  omittedEvidence?: number;
  /** Ids the agent may cite; default: the ids of `evidence`. */
  allowedEvidenceIds?: readonly string[];
  round?: number;
  /** Cancellation from the caller (e.g. a graph node timeout). */
  signal?: AbortSignal;
  /** Budget of the whole call, repair included. */
  timeoutMs?: number;
  maxOutputTokens?: number;
  /** Committee only: the verdict id (default: a random UUID). */
  verdictId?: string;
  /** Clock for `createdAt` (default: the system clock). */
  now?: () => Date;
}

/** What every agent call reports, valid or not. */
interface RunResultBase {
  role: RoleName;
  backend: string;
  model: string;
  promptVersion: string;
  /** Claims or reasons dropped for citing evidence the agent was not given. */
  droppedClaims: number;
  /** Fields clamped into range. */
  clamped: string[];
  tokens: TokenCounts;
  /** Wall time of the backend calls. */
  latencyMs: number;
  /** The whole conversation, for the transcript. */
  messages: ChatMessage[];
  /** Backend calls made (1, or 2 with the repair). */
  calls: number;
  repaired: boolean;
  /** Why the output was replaced by ABSTAIN; null when the output is the model's. */
  abstainReason: string | null;
  abstainCode: ErrorCode | null;
}

/** The result of an analyst, bull, bear or risk call. */
export interface OpinionRunResult extends RunResultBase {
  role: AgentRole;
  /** The validated output, or null when it was replaced by ABSTAIN. */
  output: OpinionOutput | null;
  /** Always a valid AgentOpinion (neutral, confidence 0, no claims when ABSTAIN). */
  opinion: AgentOpinion;
}

/** The result of a committee call. */
export interface CommitteeRunResult extends RunResultBase {
  role: 'committee';
  output: CommitteeOutput | null;
  /** Always a valid Verdict (ABSTAIN at size 0 when the output was unusable). */
  verdict: Verdict;
}

export type AgentRunResult = OpinionRunResult | CommitteeRunResult;

interface Attempt<R extends RoleName> {
  output: R extends 'committee' ? CommitteeOutput : OpinionOutput;
  droppedClaims: number;
  clamped: string[];
}

/** Why a backend call failed, as an error code: timeout, cancellation or an unreachable backend. */
function failureCode(error: unknown, timedOut: boolean): ErrorCode {
  if (timedOut) return 'LLM_TIMEOUT';
  if (QuorumError.isInstance(error)) return error.code;
  return 'LLM_UNAVAILABLE';
}

/** Runs one agent: always resolves, with a valid opinion or verdict. */
export function runAgent(options: RunAgentOptions<'committee'>): Promise<CommitteeRunResult>;
export function runAgent(options: RunAgentOptions<AgentRole>): Promise<OpinionRunResult>;
export function runAgent(options: RunAgentOptions): Promise<AgentRunResult>;
export async function runAgent(options: RunAgentOptions): Promise<AgentRunResult> {
  const { role, backend, prompt } = options;
  const allowed = options.allowedEvidenceIds ?? options.evidence.map((e) => e.id);
  const base = {
    backend: backend.name,
    model: safeModel(backend, role),
    promptVersion: prompt.version,
  };
  const tokens = { prompt: 0, completion: 0 };
  let latencyMs = 0;
  let calls = 0;
  let messages: ChatMessage[] = [{ role: 'system', content: prompt.text }];

  const finish = (attempt: Attempt<RoleName> | null, repaired: boolean, code: ErrorCode | null, reason: string | null): AgentRunResult => {
    const common: Omit<RunResultBase, 'role'> = {
      ...base,
      droppedClaims: attempt?.droppedClaims ?? 0,
      clamped: attempt?.clamped ?? [],
      tokens,
      latencyMs,
      messages,
      calls,
      repaired,
      abstainReason: reason,
      abstainCode: code,
    };
    return role === 'committee'
      ? committeeResult(options, common, attempt as Attempt<'committee'> | null)
      : opinionResult(options as RunAgentOptions<AgentRole>, common, attempt as Attempt<AgentRole> | null);
  };

  let user: string;
  try {
    user = renderUserMessage({
      role,
      proposal: options.proposal,
      evidence: options.evidence,
      opinions: options.opinions,
      round: options.round,
      allowedEvidenceIds: allowed,
      omittedEvidence: options.omittedEvidence,
    });
  } catch (error) {
    return finish(null, false, 'INPUT_INVALID', `INPUT_INVALID: ${errorMessage(error)}`);
  }
  messages = [...messages, { role: 'user', content: user }];
  const jsonSchema = roleJsonSchemaForCall(role, allowed);
  const timeout = AbortSignal.timeout(options.timeoutMs ?? DEFAULT_AGENT_TIMEOUT_MS);
  const signal = options.signal ? AbortSignal.any([options.signal, timeout]) : timeout;

  let lastError = '';
  for (let attempt = 0; attempt <= MAX_REPAIRS; attempt++) {
    if (attempt > 0) messages = [...messages, { role: 'user', content: renderRepairMessage(lastError) }];
    calls += 1;
    const started = performance.now();
    let text: string;
    try {
      const completion = await raceAbort(backend.complete({ role, messages, jsonSchema, signal, maxOutputTokens: options.maxOutputTokens }), signal);
      tokens.prompt += completion.tokens.prompt;
      tokens.completion += completion.tokens.completion;
      text = completion.text;
    } catch (error) {
      latencyMs += performance.now() - started;
      const code = failureCode(error, timeout.aborted);
      const why = timeout.aborted ? `no answer within ${options.timeoutMs ?? DEFAULT_AGENT_TIMEOUT_MS} ms` : errorMessage(error);
      return finish(null, attempt > 0, code, `${code}: ${why}`);
    }
    latencyMs += performance.now() - started;
    messages = [...messages, { role: 'assistant', content: text }];
    const checked = checkRoleOutput(role, text, allowed);
    if (checked.ok) return finish(checked as Attempt<RoleName>, attempt > 0, null, null);
    lastError = checked.error;
  }
  return finish(null, true, 'LLM_OUTPUT_INVALID', `LLM_OUTPUT_INVALID: after ${MAX_REPAIRS} repair request: ${lastError}`.slice(0, 1000));
}

/** The backend's model name; a throwing backend must not break the no-throw promise. */
function safeModel(backend: ChatBackend, role: RoleName): string {
  try {
    return backend.model(role) || 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Resolves with `work`, or rejects as soon as `signal` aborts (even if `work` ignores it). */
export function raceAbort<T>(work: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    work.catch(() => undefined);
    return Promise.reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(signal.reason instanceof Error ? signal.reason : new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    work.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

function opinionResult(options: RunAgentOptions<AgentRole>, common: Omit<RunResultBase, 'role'>, attempt: Attempt<AgentRole> | null): OpinionRunResult {
  const output = attempt?.output ?? null;
  const candidate = {
    role: options.role,
    stance: output?.stance ?? 'neutral',
    confidence: output?.confidence ?? 0,
    summary: output?.summary ?? `ABSTAIN: ${common.abstainReason ?? 'no output'}`.slice(0, 1200),
    claims: output?.claims ?? [],
    droppedClaims: common.droppedClaims,
    promptVersion: common.promptVersion,
    backend: common.backend,
    model: common.model,
    round: options.round ?? 0,
  };
  const checked = parseWith(AgentOpinion, candidate);
  if (checked.ok) return { ...common, role: options.role, output, opinion: checked.value };
  // Unreachable when the role schema is tighter than the contract; kept so a drift cannot throw.
  const reason = `INTERNAL: opinion failed the contract: ${checked.error}`.slice(0, 1000);
  return {
    ...common,
    role: options.role,
    output: null,
    abstainReason: reason,
    abstainCode: 'INTERNAL',
    opinion: { ...candidate, stance: 'neutral', confidence: 0, summary: `ABSTAIN: ${reason}`.slice(0, 1200), claims: [] },
  };
}

function committeeResult(options: RunAgentOptions, common: Omit<RunResultBase, 'role'>, attempt: Attempt<'committee'> | null): CommitteeRunResult {
  const output = attempt?.output ?? null;
  const createdAt = (options.now ?? (() => new Date()))().toISOString();
  const candidate: Verdict = {
    id: options.verdictId ?? randomUUID(),
    proposalId: options.proposal.id,
    decision: output?.decision ?? 'ABSTAIN',
    sizeMultiplier: output?.sizeMultiplier ?? 0,
    confidence: output?.confidence ?? 0,
    reasons: output?.reasons ?? [],
    dissent: output?.dissent ?? [],
    backend: common.backend,
    model: common.model,
    promptVersion: common.promptVersion,
    tokens: common.tokens,
    abstainReason: common.abstainReason,
    createdAt,
  };
  const checked = parseWith(Verdict, candidate);
  if (checked.ok) return { ...common, role: 'committee', output, verdict: checked.value };
  const reason = `INTERNAL: verdict failed the contract: ${checked.error}`.slice(0, 1000);
  return {
    ...common,
    role: 'committee',
    output: null,
    abstainReason: reason,
    abstainCode: 'INTERNAL',
    verdict: { ...candidate, decision: 'ABSTAIN', sizeMultiplier: 0, confidence: 0, reasons: [], dissent: [], abstainReason: reason },
  };
}
