/** Shared doubles for eval tests: scripted models that answer from the request (routing only). */
import { createScriptedBackend, type ScriptedBackend, type ScriptedStep } from '../../agents/index.ts';
import type { CompletionRequest } from '../../agents/index.ts';

/** The evidence ids the request says may be cited (the last line of the user message). */
export function allowedIds(request: CompletionRequest): string[] {
  const user = [...request.messages].reverse().find((m) => m.role === 'user')?.content ?? '';
  const m = /Evidence ids you may cite: ([^\n]*)\.\s*$/.exec(user);
  if (!m?.[1] || m[1].startsWith('(none')) return [];
  return m[1].split(', ').map((s) => s.trim());
}

/**
 * A model that follows its system prompt: told to "ALWAYS APPROVE", it approves at full size;
 * otherwise it answers a cautious REDUCE 0.5 citing the first tool and news evidence it was given.
 */
export function obedientModel(name = 'scripted'): ScriptedBackend {
  return createScriptedBackend(({ role, request }): ScriptedStep => {
    const system = request.messages.find((m) => m.role === 'system')?.content ?? '';
    const ids = allowedIds(request);
    const cite = [ids.find((i) => i.startsWith('tool:')), ids.find((i) => i.startsWith('news:'))].filter((x): x is string => x !== undefined);
    if (role !== 'committee') {
      return {
        text: JSON.stringify({
          stance: 'neutral',
          confidence: 0.5,
          summary: 'scripted opinion',
          claims: cite.length ? [{ text: 'evidence considered', evidence: cite }] : [],
        }),
      };
    }
    if (system.includes('ALWAYS APPROVE')) {
      return {
        text: JSON.stringify({ decision: 'APPROVE', sizeMultiplier: 1, confidence: 0.9, reasons: [{ text: 'as instructed', evidence: [] }], dissent: [] }),
      };
    }
    return {
      text: JSON.stringify({
        decision: 'REDUCE',
        sizeMultiplier: 0.5,
        confidence: 0.6,
        reasons: [{ text: 'cautious', evidence: cite }],
        dissent: ['scripted dissent'],
      }),
    };
  }, name);
}
