/**
 * Shared inputs for agent tests: a proposal, an evidence pack, the bundled prompts, and the catalogue
 * of malformed LLM outputs used for fault injection with the scripted backend.
 */
import { loadRolePrompts, type EvidenceItemInput, type RolePrompt, type RoleName } from '../../agents/index.ts';
import { loadConfig } from '../../config/index.ts';
import type { Proposal } from '../../contracts/index.ts';

/** The bundled prompts (config/agents.yaml → agents/prompts/). */
export function bundledPrompts(): Readonly<Record<RoleName, RolePrompt>> {
  return loadRolePrompts(loadConfig({ env: {} }).agents);
}

export function sampleProposal(overrides: Partial<Proposal> = {}): Proposal {
  return {
    id: 'prop-1',
    ticker: 'MSFT',
    side: 'buy',
    probability: 0.64,
    expectedReturn: 0.012,
    horizonDays: 5,
    modelId: 'gbt-daily',
    modelVersion: 'v1',
    featureSnapshotId: 'fs-1',
    attributions: [
      { feature: 'rsi14', value: 58.2, contribution: 0.031 },
      { feature: 'ret5', value: 0.021, contribution: 0.017 },
    ],
    asOf: '2024-01-02T21:00:00Z',
    ...overrides,
  };
}

export function sampleEvidence(): EvidenceItemInput[] {
  return [
    {
      id: 'news:101',
      kind: 'news',
      title: 'Microsoft revenue beats estimates',
      text: 'Microsoft said quarterly revenue rose 13 percent.',
      at: '2024-01-02T14:00:00Z',
    },
    { id: 'tool:bars-1', kind: 'tool', text: 'last close 370.6; sma20 365.1; atr14 5.2' },
    { id: 'feat:rsi14', kind: 'feature', text: 'rsi14 = 58.2, contribution +0.031' },
  ];
}

/** A valid opinion answer citing `ids`. */
export function opinionJson(ids: string[] = ['news:101'], extra: Record<string, unknown> = {}): string {
  return JSON.stringify({
    stance: 'support',
    confidence: 0.7,
    summary: 'Revenue beat and trend agree.',
    claims: [{ text: 'Revenue beat.', evidence: ids }],
    ...extra,
  });
}

/** A valid committee answer. */
export function committeeJson(fields: Record<string, unknown> = {}): string {
  return JSON.stringify({
    decision: 'REDUCE',
    sizeMultiplier: 0.5,
    confidence: 0.6,
    reasons: [{ text: 'Good news but stretched price.', evidence: ['news:101'] }],
    dissent: ['The bear sees a stretched price.'],
    ...fields,
  });
}

/**
 * Every kind of malformed committee output the pipeline must survive. Each ends in a valid
 * verdict (after clamping/filtering) or in ABSTAIN, never in an exception.
 */
export const MALFORMED_COMMITTEE_OUTPUTS = {
  truncatedJson: committeeJson().slice(0, 40),
  wrongTypes: JSON.stringify({ decision: 'REDUCE', sizeMultiplier: 'half', confidence: true, reasons: 'many', dissent: {} }),
  extraFields: committeeJson({ orderQuantity: 1000, callBroker: true }),
  outOfRangeNumbers: committeeJson({ decision: 'APPROVE', sizeMultiplier: 10, confidence: -3 }),
  unknownDecision: committeeJson({ decision: 'BUY_MORE' }),
  emptyOutput: '',
  whitespaceOnly: '  \n ',
  notAnObject: '[1, 2, 3]',
  proseAroundJson: `Sure! Here is my verdict: ${committeeJson()}`,
  unknownEvidence: committeeJson({ reasons: [{ text: 'Trust me.', evidence: ['news:999'] }] }),
  nullValue: 'null',
} as const;
export type MalformedKind = keyof typeof MALFORMED_COMMITTEE_OUTPUTS;
