/**
 * A scripted backend: returns canned answers per role and call, for routing tests, fault injection
 * and benchmarks of the committee's own overhead (no model time).
 */
import { QuorumError } from '../../contracts/index.ts';
import type { RoleName } from '../schema.ts';
import type { ChatBackend, Completion, CompletionRequest } from './types.ts';

/** What one scripted call does: answer a text, never answer (until aborted), or fail. */
export type ScriptedStep =
  | { text: string; tokens?: { prompt: number; completion: number } }
  | { hang: true }
  | { error: Error };

/** A scripted call, as recorded for assertions. */
export interface ScriptedCall {
  role: RoleName;
  /** 0 for the first call of this role, 1 for the next (e.g. the repair request). */
  index: number;
  request: CompletionRequest;
}

/** The script: per role a list of steps (the last one repeats), or a function of the call. */
export type Script = Partial<Record<RoleName, readonly ScriptedStep[]>> | ((call: Omit<ScriptedCall, 'request'> & { request: CompletionRequest }) => ScriptedStep);

/** A ChatBackend with recorded calls. */
export interface ScriptedBackend extends ChatBackend {
  readonly calls: ScriptedCall[];
}

/** Rough prompt size (4 characters a token) so token accounting is exercised without a tokenizer. */
function approxTokens(text: string): number {
  return Math.ceil(text.length / 4);
}

/** Creates a scripted backend. A role without steps is a routing error (LLM_UNAVAILABLE). */
export function createScriptedBackend(script: Script, name = 'scripted'): ScriptedBackend {
  const calls: ScriptedCall[] = [];
  const counts = new Map<RoleName, number>();
  return {
    name,
    calls,
    model: () => 'scripted',
    async complete(request: CompletionRequest): Promise<Completion> {
      const started = performance.now();
      const index = counts.get(request.role) ?? 0;
      counts.set(request.role, index + 1);
      calls.push({ role: request.role, index, request });
      let step: ScriptedStep | undefined;
      if (typeof script === 'function') step = script({ role: request.role, index, request });
      else {
        const steps = script[request.role];
        step = steps?.[Math.min(index, steps.length - 1)];
      }
      if (!step) throw new QuorumError('LLM_UNAVAILABLE', `scripted backend: no step for role ${request.role}`);
      if ('error' in step) throw step.error;
      if ('hang' in step) {
        return new Promise<Completion>((_resolve, reject) => {
          const abort = (): void => reject(request.signal.reason instanceof Error ? request.signal.reason : new Error('aborted'));
          if (request.signal.aborted) abort();
          else request.signal.addEventListener('abort', abort, { once: true });
        });
      }
      const prompt = request.messages.reduce((n, m) => n + approxTokens(m.content), 0);
      return {
        text: step.text,
        tokens: step.tokens ?? { prompt, completion: approxTokens(step.text) },
        latencyMs: performance.now() - started,
      };
    },
  };
}
