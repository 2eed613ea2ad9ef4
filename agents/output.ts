/**
 * Output handling of one LLM answer: parse JSON (contracts/parse.ts), clamp numbers into range (a
 * grammar ignores minimum/maximum), validate with the role's strict zod schema, drop claims that cite
 * evidence the agent was not given, and force a zero size for REJECT and ABSTAIN. Never throws.
 */
import { parseJson, parseWith } from '../contracts/index.ts';
import { CommitteeOutput, OpinionOutput, type LlmClaim, type RoleName, type RoleOutput } from './schema.ts';

/** The result of checking one answer. */
export type OutputCheck<R extends RoleName> =
  | {
      ok: true;
      output: RoleOutput<R>;
      /** Claims (or reasons) dropped for citing evidence outside the allowed ids. */
      droppedClaims: number;
      /** Fields whose numbers were clamped into range, e.g. `sizeMultiplier`. */
      clamped: string[];
    }
  | { ok: false; error: string };

/** Fields holding a number in [0, 1], per role. */
const UNIT_FIELDS: Record<RoleName, readonly string[]> = {
  analyst: ['confidence'],
  bull: ['confidence'],
  bear: ['confidence'],
  risk: ['confidence'],
  committee: ['sizeMultiplier', 'confidence'],
};

/** Clamps a number into [0, 1]; ±Infinity goes to the nearest bound. */
export function clampUnit(value: number): number {
  if (Number.isNaN(value)) return 0;
  return Math.min(1, Math.max(0, value));
}

/** Removes a Markdown code fence around the JSON, which chat models often add. */
export function stripFence(text: string): string {
  const match = /^```(?:json)?\s*\n?([\s\S]*?)\n?```$/i.exec(text);
  return match?.[1] ?? text;
}

function filterCitations(claims: readonly LlmClaim[], allowed: ReadonlySet<string>): { kept: LlmClaim[]; dropped: number } {
  const kept = claims.filter((c) => c.evidence.every((id) => allowed.has(id)));
  return { kept, dropped: claims.length - kept.length };
}

/** Checks one answer of `role`. */
export function checkRoleOutput<R extends RoleName>(role: R, text: string, allowedEvidenceIds: Iterable<string>): OutputCheck<R> {
  const trimmed = stripFence(text.trim()).trim();
  if (trimmed === '') return { ok: false, error: 'empty output: expected one JSON object' };
  const parsed = parseJson(trimmed);
  if (!parsed.ok) return { ok: false, error: parsed.error };
  const value = parsed.value;
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    return { ok: false, error: '(root): expected a JSON object' };
  }
  const clamped: string[] = [];
  const record: Record<string, unknown> = { ...(value as Record<string, unknown>) };
  for (const field of UNIT_FIELDS[role]) {
    const n = record[field];
    if (typeof n === 'number') {
      const c = clampUnit(n);
      if (c !== n) clamped.push(field);
      record[field] = c;
    }
  }
  const allowed = new Set(allowedEvidenceIds);
  if (role === 'committee') {
    const result = parseWith(CommitteeOutput, record);
    if (!result.ok) return { ok: false, error: result.error };
    const output = result.value;
    const { kept, dropped } = filterCitations(output.reasons, allowed);
    // The house rule in code: no size for a veto or an abstention, whatever the model wrote.
    const sizeMultiplier = output.decision === 'REJECT' || output.decision === 'ABSTAIN' ? 0 : output.sizeMultiplier;
    if (sizeMultiplier !== output.sizeMultiplier) clamped.push('sizeMultiplier');
    const checked: CommitteeOutput = { ...output, reasons: kept, sizeMultiplier };
    return { ok: true, output: checked as RoleOutput<R>, droppedClaims: dropped, clamped };
  }
  const result = parseWith(OpinionOutput, record);
  if (!result.ok) return { ok: false, error: result.error };
  const { kept, dropped } = filterCitations(result.value.claims, allowed);
  const checked: OpinionOutput = { ...result.value, claims: kept };
  return { ok: true, output: checked as RoleOutput<R>, droppedClaims: dropped, clamped };
}
