/**
 * The tiny model the test-server evals run on: the random-weight GGUF of gguf.ts with a vocabulary
 * learned from the production prompts, output schemas and a rendered user message, the tool-request
 * turn's prompt, tool specs and user message (two of the seven LLM calls of a run), and a bias
 * towards short JSON answers. With the fixed ~450-token vocabulary a committee prompt is ~3,500
 * tokens (one a character) and the answers' length is the seed's luck; with this one a prompt is
 * ~1,600 tokens and an answer ~60 tokens, so all 42 scenarios fit in CI.
 *
 * The corpus is the prompts and schemas only, not the scenarios: adding or editing a scenario does
 * not change the model (so its answers' shape and the committed baseline stay put); changing a
 * prompt changes the prompt's version, and the baseline is recorded again anyway.
 */
import { loadToolTurnPrompt, renderToolTurnUser, renderUserMessage, roleJsonSchema, RoleName, toolSpecs, type RolePrompt } from '../../agents/index.ts';
import { defaultToolRegistry } from '../../tools/index.ts';
import { makeProposal } from './committee.ts';
import { writeTinyGguf, type TinyGgufOptions } from './gguf.ts';

/** The role prompts the eval model is made for (`loadRolePrompts(config.agents)`). */
export type RolePrompts = Readonly<Record<RoleName, RolePrompt>>;

/**
 * The texts the eval model's vocabulary is learned from: every role's prompt and output schema, one
 * rendered user message; the tool-request prompt (agents/prompts/tool-request.v1.md), every tool's
 * spec as a tool turn sends it (name, description, JSON schema of the arguments) and one rendered
 * tool-turn user message.
 */
export function evalGgufCorpus(prompts: RolePrompts): string[] {
  const sample = renderUserMessage({
    role: 'analyst',
    proposal: makeProposal(),
    evidence: [
      {
        id: 'news:msft-beat',
        kind: 'news',
        title: 'Microsoft beats estimates',
        text: 'Shares rose after the company said revenue grew.',
        at: '2001-06-01T20:00:00Z',
      },
    ],
    allowedEvidenceIds: ['news:msft-beat'],
  });
  const tools = toolSpecs(defaultToolRegistry().describe());
  const toolTurnSample = renderToolTurnUser({ role: 'analyst', proposal: makeProposal(), tools, maxCalls: 4 });
  return [
    ...RoleName.options.flatMap((r) => [prompts[r].text, JSON.stringify(roleJsonSchema(r))]),
    sample,
    loadToolTurnPrompt().text,
    JSON.stringify(tools.map((t) => ({ type: 'function', function: t }))),
    toolTurnSample,
  ];
}

/** The eval model's options (seed: gguf.ts's default). */
export function evalGgufOptions(prompts: RolePrompts): TinyGgufOptions {
  return { corpus: evalGgufCorpus(prompts), shortJson: true };
}

/** Writes the eval model to `file` (default: a fresh temp path) and returns the path. */
export function writeEvalGguf(prompts: RolePrompts, file?: string): string {
  return writeTinyGguf(file, evalGgufOptions(prompts));
}
