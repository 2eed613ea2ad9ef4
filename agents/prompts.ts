/**
 * Versioned role prompts. A prompt's version is a content hash of its text and of the role's output
 * JSON schema, so changing either one changes the version stored with every output.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Agents } from '../config/index.ts';
import { QuorumError, errorMessage } from '../contracts/index.ts';
import { roleJsonSchema, stableStringify, type JsonObject } from './json-schema.ts';
import { RoleName } from './schema.ts';

/** The bundled prompt files. */
export const DEFAULT_PROMPTS_DIR = path.join(path.dirname(fileURLToPath(import.meta.url)), 'prompts');
/** Hex characters kept from the sha256 of a prompt version. */
export const PROMPT_VERSION_LENGTH = 12;

/** A role's system prompt, its output schema and their version. */
export interface RolePrompt {
  readonly role: RoleName;
  /** File name under the prompts directory, e.g. `analyst.v1.md`. */
  readonly file: string;
  readonly text: string;
  readonly jsonSchema: JsonObject;
  /** First 12 hex digits of sha256(prompt text + output JSON schema). */
  readonly version: string;
}

/** The version of a prompt: sha256 of the text and the (key-sorted) JSON schema, 12 hex digits. */
export function promptVersion(text: string, jsonSchema: JsonObject): string {
  return createHash('sha256').update(text).update('\n---schema---\n').update(stableStringify(jsonSchema)).digest('hex').slice(0, PROMPT_VERSION_LENGTH);
}

/** Builds a RolePrompt from its text (used by loaders and by tests that vary a prompt). */
export function rolePrompt(role: RoleName, file: string, text: string): RolePrompt {
  const jsonSchema = roleJsonSchema(role);
  return Object.freeze({ role, file, text, jsonSchema, version: promptVersion(text, jsonSchema) });
}

/** Reads one role's prompt file; a missing or empty file is a CONFIG_INVALID error naming it. */
export function loadPrompt(role: RoleName, file: string, promptsDir: string = DEFAULT_PROMPTS_DIR): RolePrompt {
  if (file !== path.basename(file)) {
    throw new QuorumError('CONFIG_INVALID', `agents.yaml: ${role}.prompt: "${file}" must be a file name inside ${promptsDir}`, {
      field: `${role}.prompt`,
    });
  }
  const full = path.join(promptsDir, file);
  let text: string;
  try {
    text = readFileSync(full, 'utf8');
  } catch (error) {
    throw new QuorumError('CONFIG_INVALID', `agents.yaml: ${role}.prompt: cannot read ${full}: ${errorMessage(error)}`, {
      field: `${role}.prompt`,
      file: full,
    });
  }
  if (text.trim() === '') {
    throw new QuorumError('CONFIG_INVALID', `agents.yaml: ${role}.prompt: ${full} is empty`, { field: `${role}.prompt`, file: full });
  }
  return rolePrompt(role, file, text);
}

/** Loads the prompt of every role named in agents.yaml. */
export function loadRolePrompts(agents: Agents, promptsDir: string = DEFAULT_PROMPTS_DIR): Readonly<Record<RoleName, RolePrompt>> {
  const entries = RoleName.options.map((role) => [role, loadPrompt(role, agents[role].prompt, promptsDir)] as const);
  return Object.freeze(Object.fromEntries(entries) as Record<RoleName, RolePrompt>);
}
