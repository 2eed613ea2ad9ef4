import { describe, expect, it } from 'vitest';
import { createScriptedBackend, runAgent, type ScriptedStep } from '../../agents/index.ts';
import { AgentOpinion, QuorumError, Verdict } from '../../contracts/index.ts';
import {
  MALFORMED_COMMITTEE_OUTPUTS,
  bundledPrompts,
  committeeJson,
  opinionJson,
  sampleEvidence,
  sampleProposal,
  type MalformedKind,
} from '../support/agents.ts';

const prompts = bundledPrompts();
const proposal = sampleProposal();
const evidence = sampleEvidence();

function committee(steps: ScriptedStep[], timeoutMs = 5_000) {
  const backend = createScriptedBackend({ committee: steps });
  return { backend, run: runAgent({ role: 'committee', backend, prompt: prompts.committee, proposal, evidence, timeoutMs }) };
}

describe('runAgent output handling', () => {
  it('returns a valid verdict with the prompt version, backend, model and tokens of a good answer', async () => {
    const { backend, run } = committee([{ text: committeeJson() }]);
    const r = await run;
    expect(Verdict.parse(r.verdict)).toEqual(r.verdict);
    expect(r.verdict).toMatchObject({ decision: 'REDUCE', sizeMultiplier: 0.5, proposalId: proposal.id, backend: 'scripted', model: 'scripted' });
    expect(r.verdict.promptVersion).toBe(prompts.committee.version);
    expect(r.verdict.tokens.prompt).toBeGreaterThan(0);
    expect(r.calls).toBe(1);
    expect(r.repaired).toBe(false);
    expect(r.abstainReason).toBeNull();
    expect(backend.calls).toHaveLength(1);
    expect(r.messages.map((m) => m.role)).toEqual(['system', 'user', 'assistant']);
  });

  it.each(Object.keys(MALFORMED_COMMITTEE_OUTPUTS) as MalformedKind[])('ends %s in a schema-valid verdict or ABSTAIN, never an exception', async (kind) => {
    const text = MALFORMED_COMMITTEE_OUTPUTS[kind];
    const { run } = committee([{ text }, { text }]);
    const r = await run;
    expect(() => Verdict.parse(r.verdict)).not.toThrow();
    expect(r.verdict.sizeMultiplier).toBeGreaterThanOrEqual(0);
    expect(r.verdict.sizeMultiplier).toBeLessThanOrEqual(1);
    if (r.verdict.decision === 'ABSTAIN') {
      expect(r.verdict.sizeMultiplier).toBe(0);
      expect(r.abstainReason).toMatch(/^LLM_OUTPUT_INVALID: /);
      expect(r.verdict.abstainReason).toBe(r.abstainReason);
    }
  });

  it('abstains after one repair on truncated JSON, wrong types, extra fields, unknown decisions and empty output', async () => {
    for (const kind of ['truncatedJson', 'wrongTypes', 'extraFields', 'unknownDecision', 'emptyOutput', 'notAnObject', 'nullValue'] as const) {
      const text = MALFORMED_COMMITTEE_OUTPUTS[kind];
      const { backend, run } = committee([{ text }, { text }]);
      const r = await run;
      expect(r.verdict.decision, kind).toBe('ABSTAIN');
      expect(r.abstainCode, kind).toBe('LLM_OUTPUT_INVALID');
      expect(r.calls, kind).toBe(2);
      expect(backend.calls, kind).toHaveLength(2);
    }
  });

  it('clamps out-of-range numbers instead of trusting them: size 10 becomes 1, confidence -3 becomes 0', async () => {
    const r = await committee([{ text: MALFORMED_COMMITTEE_OUTPUTS.outOfRangeNumbers }]).run;
    expect(r.verdict.decision).toBe('APPROVE');
    expect(r.verdict.sizeMultiplier).toBe(1);
    expect(r.verdict.confidence).toBe(0);
    expect(r.clamped.sort()).toEqual(['confidence', 'sizeMultiplier']);
  });

  it('forces size 0 when the committee rejects or abstains with a positive multiplier', async () => {
    for (const decision of ['REJECT', 'ABSTAIN'] as const) {
      const r = await committee([{ text: committeeJson({ decision, sizeMultiplier: 0.8 }) }]).run;
      expect(r.verdict.decision).toBe(decision);
      expect(r.verdict.sizeMultiplier).toBe(0);
    }
  });

  it('drops and counts a reason citing evidence the committee was not given', async () => {
    const text = committeeJson({
      reasons: [
        { text: 'Cited properly.', evidence: ['news:101', 'tool:bars-1'] },
        { text: 'Invented source.', evidence: ['news:101', 'news:999'] },
        { text: 'Another invention.', evidence: ['tool:made-up'] },
      ],
    });
    const r = await committee([{ text }]).run;
    expect(r.verdict.reasons.map((x) => x.text)).toEqual(['Cited properly.']);
    expect(r.droppedClaims).toBe(2);
    expect(r.abstainReason).toBeNull();
  });

  it('drops and counts an analyst claim citing unknown evidence, keeping the opinion valid', async () => {
    const backend = createScriptedBackend({
      analyst: [
        {
          text: opinionJson(['news:101'], {
            claims: [
              { text: 'ok', evidence: ['news:101'] },
              { text: 'bad', evidence: ['news:404'] },
            ],
          }),
        },
      ],
    });
    const r = await runAgent({ role: 'analyst', backend, prompt: prompts.analyst, proposal, evidence, round: 0 });
    expect(AgentOpinion.parse(r.opinion)).toEqual(r.opinion);
    expect(r.opinion.claims).toHaveLength(1);
    expect(r.opinion.droppedClaims).toBe(1);
    expect(r.opinion.promptVersion).toBe(prompts.analyst.version);
  });

  it('sends exactly one repair request that quotes the validation error, and uses the repaired answer', async () => {
    const { backend, run } = committee([{ text: committeeJson({ decision: 'MAYBE' }) }, { text: committeeJson() }]);
    const r = await run;
    expect(backend.calls).toHaveLength(2);
    expect(r.repaired).toBe(true);
    expect(r.calls).toBe(2);
    expect(r.verdict.decision).toBe('REDUCE');
    const repair = backend.calls[1]?.request.messages.at(-1);
    expect(repair?.role).toBe('user');
    expect(repair?.content).toContain('decision: Invalid option');
    // The repair conversation carries the rejected answer, so the model sees what it got wrong.
    expect(backend.calls[1]?.request.messages.at(-2)).toEqual({ role: 'assistant', content: committeeJson({ decision: 'MAYBE' }) });
    expect(r.messages.filter((m) => m.role === 'assistant')).toHaveLength(2);
  });

  it('never sends a second repair request: the third attempt does not happen', async () => {
    const { backend, run } = committee([{ text: '{' }, { text: '{"decision":' }, { text: committeeJson() }]);
    const r = await run;
    expect(backend.calls).toHaveLength(2);
    expect(r.verdict.decision).toBe('ABSTAIN');
    expect(r.verdict.abstainReason).toContain('invalid JSON');
  });

  it('abstains with LLM_TIMEOUT when the model does not answer in time', async () => {
    const { run } = committee([{ hang: true }], 50);
    const r = await run;
    expect(r.verdict.decision).toBe('ABSTAIN');
    expect(r.verdict.sizeMultiplier).toBe(0);
    expect(r.abstainCode).toBe('LLM_TIMEOUT');
    expect(r.verdict.abstainReason).toMatch(/^LLM_TIMEOUT: no answer within 50 ms/);
  });

  it('abstains with LLM_TIMEOUT when the repair request times out', async () => {
    const r = await committee([{ text: 'not json' }, { hang: true }], 80).run;
    expect(r.abstainCode).toBe('LLM_TIMEOUT');
    expect(r.calls).toBe(2);
  });

  it('abstains when the caller cancels, even if the backend ignores the signal', async () => {
    const backend = createScriptedBackend({ risk: [{ hang: true }] });
    const controller = new AbortController();
    const pending = runAgent({ role: 'risk', backend, prompt: prompts.risk, proposal, evidence, signal: controller.signal });
    controller.abort(new QuorumError('LLM_TIMEOUT', 'graph node timeout'));
    const r = await pending;
    expect(r.opinion.stance).toBe('neutral');
    expect(r.opinion.confidence).toBe(0);
    expect(r.opinion.summary).toMatch(/^ABSTAIN: LLM_TIMEOUT/);
    expect(r.abstainCode).toBe('LLM_TIMEOUT');
  });

  it('abstains with LLM_UNAVAILABLE when the backend throws', async () => {
    const { run } = committee([{ error: new Error('connect ECONNREFUSED 127.0.0.1:11434') }]);
    const r = await run;
    expect(r.verdict.decision).toBe('ABSTAIN');
    expect(r.abstainCode).toBe('LLM_UNAVAILABLE');
    expect(r.verdict.abstainReason).toContain('ECONNREFUSED');
  });

  it('abstains instead of throwing when the evidence pack itself is invalid', async () => {
    const backend = createScriptedBackend({ bull: [{ text: opinionJson() }] });
    const r = await runAgent({ role: 'bull', backend, prompt: prompts.bull, proposal, evidence: [{ id: '', kind: 'news', text: 'x' }] });
    expect(r.abstainCode).toBe('INPUT_INVALID');
    expect(backend.calls).toHaveLength(0);
    expect(AgentOpinion.safeParse(r.opinion).success).toBe(true);
  });

  it('routes each role to its own model name and records it', async () => {
    const backend = createScriptedBackend({ bear: [{ text: opinionJson() }] });
    const routed = { ...backend, model: (role: string) => `model-for-${role}` };
    const r = await runAgent({ role: 'bear', backend: routed, prompt: prompts.bear, proposal, evidence, round: 2 });
    expect(r.opinion).toMatchObject({ role: 'bear', model: 'model-for-bear', round: 2, backend: 'scripted' });
  });

  it('hands the backend a schema whose evidence ids are only the allowed ones', async () => {
    const backend = createScriptedBackend({ analyst: [{ text: opinionJson() }] });
    await runAgent({ role: 'analyst', backend, prompt: prompts.analyst, proposal, evidence, allowedEvidenceIds: ['news:101'] });
    const schema = JSON.stringify(backend.calls[0]?.request.jsonSchema);
    expect(schema).toContain('"enum":["news:101"]');
    expect(schema).not.toContain('tool:bars-1');
  });
});
