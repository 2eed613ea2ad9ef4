/** The Judge interface (graph/backend.ts): what differs between an LLM backend and the rules baseline. */
import { describe, expect, it } from 'vitest';
import { RULES_BACKEND, RULES_MODEL, rulesPrompt, type ChatBackend, type RolePrompt, type RoleName } from '../../agents/index.ts';
import { closeBackend, judgeOf } from '../../graph/index.ts';
import { writesOfNode } from '../../graph/storage.ts';
import { makeProposal } from '../support/committee.ts';

function fakeLlm(): ChatBackend & { closed: number } {
  const b = {
    name: 'fake-llm',
    closed: 0,
    model: (role: RoleName) => `model-${role}`,
    complete: () => Promise.reject(new Error('not called')),
    close: async () => {
      b.closed += 1;
    },
  };
  return b;
}

describe('judgeOf', () => {
  it('answers for the rules baseline: its name and model, its own prompts, no LLM, nothing to close', async () => {
    const judge = judgeOf('rules');
    expect(judge.name).toBe(RULES_BACKEND);
    expect(judge.usesLlm).toBe(false);
    expect(judge.llm).toBeNull();
    expect(judge.model('committee')).toBe(RULES_MODEL);
    expect(judge.prompt('bull', null).version).toBe(rulesPrompt('bull').version);
    expect(judge.chat(makeProposal(), []).name).toBe(RULES_BACKEND);
    expect(judge.toolChooser).toMatch(/rules baseline/);
    await expect(judge.close()).resolves.toBeUndefined();
  });

  it('delegates to an LLM backend: its name, models, the given prompts, and its close()', async () => {
    const llm = fakeLlm();
    const judge = judgeOf(llm);
    expect(judge.name).toBe('fake-llm');
    expect(judge.usesLlm).toBe(true);
    expect(judge.llm).toBe(llm);
    expect(judge.model('risk')).toBe('model-risk');
    expect(judge.chat(makeProposal(), [])).toBe(llm);
    const given = { ...rulesPrompt('bear'), version: 'given' } satisfies RolePrompt;
    const prompts = { analyst: given, bull: given, bear: given, risk: given, committee: given };
    expect(judge.prompt('bear', prompts).version).toBe('given');
    expect(judge.toolChooser).toBe('chosen by the agent');
    await closeBackend(llm);
    await closeBackend('rules');
    expect(llm.closed).toBe(1);
  });
});

describe('writesOfNode', () => {
  it('claims the writes that carry the node’s own stat for its round, and no other', () => {
    const bull1 = writesOfNode('bull', 1);
    expect(
      bull1([
        ['opinions', []],
        ['nodeStats', [{ node: 'bull', round: 1 }]],
      ]),
    ).toBe(true);
    expect(bull1([['nodeStats', [{ node: 'bear', round: 1 }]]])).toBe(false);
    expect(bull1([['nodeStats', [{ node: 'bull', round: 2 }]]])).toBe(false);
    expect(bull1([['opinions', [{ node: 'bull', round: 1 }]]])).toBe(false);
    expect(bull1([['nodeStats', 'bull']])).toBe(false);
    expect(bull1([])).toBe(false);
  });
});
