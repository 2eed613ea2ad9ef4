/**
 * JSON schemas for grammars and Ollama's `format`, made from the zod schemas. node-llama-cpp's
 * JSON-schema grammar supports `oneOf`, `const`, `enum`, `$ref` to `$defs`, nullable types and
 * string/array length bounds, but not `anyOf`, and ignores `minimum`/`maximum` (clamped after parsing).
 */
import { z } from 'zod';
import { ROLE_OUTPUT_SCHEMAS, UTF16_UNITS_PER_CHAR, type RoleName } from './schema.ts';

/** A JSON value (the shape of a JSON schema). */
export type JsonValue = string | number | boolean | null | JsonValue[] | { [key: string]: JsonValue };
export type JsonObject = { [key: string]: JsonValue };

/** Rewrites `anyOf` to `oneOf` everywhere and drops `$schema` (the grammar builder does not need it). */
export function toGrammarCompatible(schema: JsonValue): JsonValue {
  if (Array.isArray(schema)) return schema.map(toGrammarCompatible);
  if (schema === null || typeof schema !== 'object') return schema;
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(schema)) {
    if (key === '$schema') continue;
    out[key === 'anyOf' ? 'oneOf' : key] = toGrammarCompatible(value);
  }
  return out;
}

/**
 * The grammar-compatible JSON schema of any zod schema. String `maxLength` is divided by
 * UTF16_UNITS_PER_CHAR: the grammar counts characters (code points), zod counts UTF-16 units.
 * `io: 'input'` describes what may be sent (fields with a default are optional): tool arguments.
 */
export function jsonSchemaOf(schema: z.ZodType, io: 'input' | 'output' = 'output'): JsonObject {
  const raw = z.toJSONSchema(schema, {
    target: 'draft-2020-12',
    io,
    override: (ctx) => {
      const max = ctx.jsonSchema.maxLength;
      if (ctx.jsonSchema.type === 'string' && typeof max === 'number') ctx.jsonSchema.maxLength = Math.floor(max / UTF16_UNITS_PER_CHAR);
    },
  }) as JsonValue;
  const converted = toGrammarCompatible(raw);
  if (converted === null || typeof converted !== 'object' || Array.isArray(converted)) {
    throw new TypeError('a role output schema must convert to a JSON object schema');
  }
  return converted;
}

/** The role's output JSON schema (the one hashed into the prompt version). */
export function roleJsonSchema(role: RoleName): JsonObject {
  return jsonSchemaOf(ROLE_OUTPUT_SCHEMAS[role]);
}

// z.toJSONSchema of a role's schema costs about a millisecond and never changes: convert it once.
// roleJsonSchemaForCall's `narrow` copies every object and array, so callers never see the cache.
const roleSchemaCache = new Map<RoleName, JsonObject>();
function baseRoleSchema(role: RoleName): JsonObject {
  let schema = roleSchemaCache.get(role);
  if (!schema) {
    schema = roleJsonSchema(role);
    roleSchemaCache.set(role, schema);
  }
  return schema;
}

/**
 * The role's schema for one call: evidence arrays may only hold the ids the agent was given
 * (an `enum`), so a grammar-bound model cannot cite anything else; with no evidence they must be
 * empty. Validation still filters citations, for backends that ignore the schema.
 */
export function roleJsonSchemaForCall(role: RoleName, allowedEvidenceIds: readonly string[]): JsonObject {
  const ids = [...new Set(allowedEvidenceIds)];
  const narrow = (node: JsonValue): JsonValue => {
    if (Array.isArray(node)) return node.map(narrow);
    if (node === null || typeof node !== 'object') return node;
    const out: JsonObject = {};
    for (const [key, value] of Object.entries(node)) {
      if (key === 'evidence' && value !== null && typeof value === 'object' && !Array.isArray(value)) {
        const copy = narrow(value) as JsonObject;
        out[key] = ids.length > 0 ? { ...copy, items: { type: 'string', enum: ids } } : { ...copy, maxItems: 0 };
      } else out[key] = narrow(value);
    }
    return out;
  };
  const narrowed = narrow(baseRoleSchema(role));
  return narrowed as JsonObject;
}

/** JSON with sorted keys, so equal schemas hash equally. */
export function stableStringify(value: JsonValue): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(',')}]`;
  if (value === null || typeof value !== 'object') return JSON.stringify(value);
  const keys = Object.keys(value).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${stableStringify(value[k] as JsonValue)}`).join(',')}}`;
}
