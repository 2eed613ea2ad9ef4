import { describe, expect, it } from 'vitest';
import { loadToolTurnPrompt, parseToolCallsText, runToolTurn, toolCallsJsonSchema, toolSpecs, type ChatBackend, type JsonValue } from '../../agents/index.ts';
import { defaultToolRegistry } from '../../tools/index.ts';
import { sampleProposal } from '../support/agents.ts';

function nodes(value: JsonValue, out: Array<Record<string, JsonValue>> = []): Array<Record<string, JsonValue>> {
  if (Array.isArray(value)) value.forEach((v) => nodes(v, out));
  else if (value !== null && typeof value === 'object') {
    out.push(value);
    Object.values(value).forEach((v) => nodes(v, out));
  }
  return out;
}

describe('tool turn', () => {
  it('describes every tool with a grammar-compatible JSON schema of its zod input: no anyOf, bounded strings and arrays, no other argument', () => {
    const specs = toolSpecs(defaultToolRegistry().describe());
    expect(specs.map((s) => s.name)).toEqual(['bars', 'indicators', 'news_search', 'explain_proposal', 'portfolio', 'past_outcomes']);
    for (const s of specs) expect(s.parameters).toMatchObject({ type: 'object', additionalProperties: false });
    const schema = toolCallsJsonSchema(specs, 3);
    const all = nodes(schema);
    expect(all.some((n) => 'anyOf' in n)).toBe(false);
    for (const n of all) {
      if (n.type === 'string' && n.const === undefined && n.enum === undefined) expect(typeof n.maxLength).toBe('number');
      if (n.type === 'array') expect(typeof n.maxItems).toBe('number');
    }
    expect(((schema.properties as Record<string, JsonValue>).calls as Record<string, JsonValue>).maxItems).toBe(3);
    // Defaulted arguments are optional: the agent may leave them out.
    expect(specs.find((s) => s.name === 'news_search')?.parameters.required).toEqual(['query']);
  });

  it('reads calls from text, also fenced, and refuses anything else with a reason', () => {
    expect(parseToolCallsText('```json\n{"calls": [{"tool": "bars", "arguments": {"limit": 3}}]}\n```')).toEqual({
      ok: true,
      calls: [{ name: 'bars', args: { limit: 3 } }],
    });
    expect(parseToolCallsText('{"calls": [{"tool": "bars"}]}')).toEqual({ ok: true, calls: [{ name: 'bars', args: {} }] });
    for (const bad of ['', 'call bars please', '{"calls": "bars"}', '{"calls": [], "extra": 1}', '[{"tool": "bars"}]'])
      expect(parseToolCallsText(bad).ok).toBe(false);
  });

  it('falls back to the defaults, with the reason, for a backend without a tool turn', async () => {
    const backend: ChatBackend = { name: 'plain', model: () => 'm', complete: () => Promise.reject(new Error('not used')) };
    const r = await runToolTurn({
      role: 'analyst',
      backend,
      prompt: loadToolTurnPrompt(),
      proposal: sampleProposal(),
      tools: toolSpecs(defaultToolRegistry().describe(['bars'])),
      maxCalls: 1,
      defaults: [
        { name: 'bars', args: { limit: 5 } },
        { name: 'indicators', args: {} },
      ],
      timeoutMs: 1_000,
    });
    expect(r).toMatchObject({ choice: 'fallback', llmCalls: 0, requested: [{ name: 'bars', args: { limit: 5 } }], fallbackCode: 'LLM_UNAVAILABLE' });
    expect(r.fallbackReason).toContain('no tool-request turn');
  });
});
