import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CommitteeOutput,
  MAX_SUMMARY_CHARS,
  OpinionOutput,
  checkRoleOutput,
  clampUnit,
  createScriptedBackend,
  roleJsonSchema,
  runAgent,
} from '../../agents/index.ts';
import { Verdict } from '../../contracts/index.ts';
import { bundledPrompts, committeeJson, sampleEvidence, sampleProposal } from '../support/agents.ts';

const allowed = ['news:101', 'tool:bars-1'];

/** Committee-shaped objects with arbitrary values in every field, plus random extra keys. */
const committeeLike = fc.record(
  {
    decision: fc.oneof(fc.constantFrom('APPROVE', 'REDUCE', 'REJECT', 'ABSTAIN'), fc.string(), fc.jsonValue()),
    sizeMultiplier: fc.oneof(fc.double({ noNaN: true }), fc.integer(), fc.jsonValue()),
    confidence: fc.oneof(fc.double({ noNaN: true }), fc.jsonValue()),
    reasons: fc.oneof(
      fc.array(fc.record({ text: fc.string({ minLength: 1, maxLength: 50 }), evidence: fc.array(fc.constantFrom('news:101', 'tool:bars-1', 'news:999')) })),
      fc.jsonValue(),
    ),
    dissent: fc.oneof(fc.array(fc.string({ maxLength: 30 })), fc.jsonValue()),
  },
  { requiredKeys: [] },
);

/** Well-typed committee answers with any numbers, decisions and citations: exercises clamping and filtering. */
const committeeTyped = fc.record({
  decision: fc.constantFrom('APPROVE', 'REDUCE', 'REJECT', 'ABSTAIN'),
  sizeMultiplier: fc.double({ noNaN: true, noDefaultInfinity: true }),
  confidence: fc.double({ noNaN: true, noDefaultInfinity: true }),
  reasons: fc.array(
    fc.record({
      text: fc.string({ minLength: 1, maxLength: 50 }),
      evidence: fc.array(fc.constantFrom('news:101', 'tool:bars-1', 'news:999'), { maxLength: 3 }),
    }),
    { maxLength: 4 },
  ),
  dissent: fc.array(fc.string({ maxLength: 30 }), { maxLength: 3 }),
});

describe('checkRoleOutput', () => {
  it('clamps numbers into [0, 1], infinities to the nearest bound', () => {
    expect([clampUnit(-1), clampUnit(0.3), clampUnit(7), clampUnit(Infinity), clampUnit(-Infinity)]).toEqual([0, 0.3, 1, 1, 0]);
  });

  it('accepts JSON wrapped in a Markdown code fence', () => {
    const r = checkRoleOutput('committee', '```json\n' + committeeJson() + '\n```', allowed);
    expect(r.ok).toBe(true);
  });

  it('accepts a summary at the grammar bound even when every character takes two UTF-16 units', () => {
    const summary = '\u{1F600}'.repeat(MAX_SUMMARY_CHARS);
    expect(summary.length).toBe(2 * MAX_SUMMARY_CHARS);
    const r = checkRoleOutput('bear', JSON.stringify({ stance: 'oppose', confidence: 0.5, summary, claims: [] }), allowed);
    expect(r.ok).toBe(true);
    expect(JSON.stringify(roleJsonSchema('bear'))).toContain(`"maxLength":${MAX_SUMMARY_CHARS}`);
  });

  it('names the bad field in the error', () => {
    const r = checkRoleOutput('committee', committeeJson({ sizeMultiplier: 'all of it' }), allowed);
    expect(r).toEqual({ ok: false, error: expect.stringContaining('sizeMultiplier') });
    const extra = checkRoleOutput('analyst', JSON.stringify({ stance: 'support', confidence: 1, summary: '', claims: [], size: 10 }), allowed);
    expect(extra).toEqual({ ok: false, error: expect.stringContaining('unknown key(s) "size"') });
  });

  it('never throws on arbitrary strings, and anything accepted is schema-valid', () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 400 }), fc.constantFrom('analyst', 'committee'), (text, role) => {
        const r = checkRoleOutput(role, text, allowed);
        if (r.ok) expect((role === 'committee' ? CommitteeOutput : OpinionOutput).safeParse(r.output).success).toBe(true);
      }),
      { numRuns: 2_000 },
    );
  });

  it('never throws on arbitrary JSON, and accepted committee output keeps size in [0, 1] and 0 for REJECT/ABSTAIN', () => {
    let accepted = 0;
    fc.assert(
      fc.property(fc.oneof(fc.jsonValue(), committeeLike, committeeTyped), (value) => {
        const r = checkRoleOutput('committee', JSON.stringify(value), allowed);
        if (!r.ok) return;
        accepted += 1;
        expect(CommitteeOutput.safeParse(r.output).success).toBe(true);
        expect(r.output.sizeMultiplier).toBeGreaterThanOrEqual(0);
        expect(r.output.sizeMultiplier).toBeLessThanOrEqual(1);
        if (r.output.decision === 'REJECT' || r.output.decision === 'ABSTAIN') expect(r.output.sizeMultiplier).toBe(0);
        for (const reason of r.output.reasons) for (const id of reason.evidence) expect(allowed).toContain(id);
      }),
      { numRuns: 2_000 },
    );
    // The property must have been exercised on accepted outputs, not only on rejections.
    expect(accepted).toBeGreaterThan(300);
  });
});

describe('runAgent fuzzed end to end', () => {
  const prompts = bundledPrompts();
  const proposal = sampleProposal();
  const evidence = sampleEvidence();

  it('always yields a schema-valid verdict (or ABSTAIN) with size in [0, 1] for any pair of answers', async () => {
    const answer = fc.oneof(
      fc.string({ maxLength: 200 }),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      committeeLike.map((v) => JSON.stringify(v)),
      committeeTyped.map((v) => JSON.stringify(v)),
    );
    await fc.assert(
      fc.asyncProperty(answer, answer, async (first, second) => {
        const backend = createScriptedBackend({ committee: [{ text: first }, { text: second }] });
        const r = await runAgent({ role: 'committee', backend, prompt: prompts.committee, proposal, evidence });
        expect(Verdict.safeParse(r.verdict).success).toBe(true);
        expect(r.verdict.sizeMultiplier).toBeGreaterThanOrEqual(0);
        expect(r.verdict.sizeMultiplier).toBeLessThanOrEqual(1);
        expect(backend.calls.length).toBeLessThanOrEqual(2);
        if (r.abstainReason !== null) expect(r.verdict).toMatchObject({ decision: 'ABSTAIN', sizeMultiplier: 0 });
      }),
      { numRuns: 500 },
    );
  });
});
