import { readFileSync, existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import YAML from 'yaml';
import { z } from 'zod';
import { QuorumError } from '../contracts/errors.ts';
import { fieldIssues } from '../contracts/parse.ts';
import { CONFIG_FILES, SecretsSchema, type Config, type ConfigSection, type Secrets, type Settings } from './schema.ts';

/** The directory of the bundled YAML files (this folder). */
export const BUNDLED_CONFIG_DIR = path.dirname(fileURLToPath(import.meta.url));
/** The project root (parent of config/), where bundled data and models live. */
export const PROJECT_ROOT = path.dirname(BUNDLED_CONFIG_DIR);

export interface LoadOptions {
  /** Directory holding the four YAML files; default QUORUM_CONFIG_DIR, else the bundled config/. */
  configDir?: string;
  env?: NodeJS.ProcessEnv;
  /** Working directory that a relative data dir resolves against. */
  cwd?: string;
}

const ENV_PREFIX: Record<ConfigSection, string> = {
  settings: 'QUORUM_SETTINGS__',
  models: 'QUORUM_MODELS__',
  agents: 'QUORUM_AGENTS__',
  riskRules: 'QUORUM_RISK_RULES__',
};

/**
 * Loads, overrides from the environment, validates and freezes the configuration.
 * Fails fast with a QuorumError naming the file, the field and what was expected.
 */
export function loadConfig(options: LoadOptions = {}): Config {
  const env = options.env ?? process.env;
  const configDir = path.resolve(options.configDir ?? env.QUORUM_CONFIG_DIR ?? BUNDLED_CONFIG_DIR);
  const sections = {} as { [K in ConfigSection]: z.infer<(typeof CONFIG_FILES)[K]['schema']> };

  for (const key of Object.keys(CONFIG_FILES) as ConfigSection[]) {
    const { file, schema } = CONFIG_FILES[key];
    const filePath = path.join(configDir, file);
    const raw = readYaml(filePath);
    applyEnvOverrides(raw, schema, ENV_PREFIX[key], env, file);
    const result = schema.safeParse(raw);
    if (!result.success) {
      const issues = fieldIssues(result.error);
      const lines = issues.map((i) => `${file}: ${i.path || '(root)'}: ${i.message}${HIDDEN_VALUE.test(i.path) ? '' : describeGot(raw, i.path)}`);
      throw new QuorumError('CONFIG_INVALID', `invalid configuration in ${filePath}:\n  ${lines.join('\n  ')}`, {
        file: filePath,
        fields: issues.map((i) => i.path),
      });
    }
    (sections as Record<string, unknown>)[key] = result.data;
  }

  const secrets = readSecrets(env, sections.settings, path.join(configDir, CONFIG_FILES.settings.file));
  const cwd = options.cwd ?? process.cwd();
  const dataDir = path.resolve(cwd, env.QUORUM_DATA_DIR ?? sections.settings.dataDir);
  const liveTradingAllowed = sections.settings.execution.mode === 'live' && env.QUORUM_ALLOW_LIVE === 'yes';

  return deepFreeze({ ...sections, secrets, dataDir, configDir, liveTradingAllowed });
}

function readYaml(filePath: string): Record<string, unknown> {
  if (!existsSync(filePath)) {
    throw new QuorumError('CONFIG_MISSING', `configuration file missing: ${filePath}`, { file: filePath });
  }
  const doc = YAML.parseDocument(readFileSync(filePath, 'utf8'), { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length > 0) {
    const first = doc.errors[0];
    const where = first?.linePos?.[0] ? ` at line ${first.linePos[0].line}, column ${first.linePos[0].col}` : '';
    throw new QuorumError('CONFIG_INVALID', `${filePath}: YAML syntax error${where}: ${first?.message ?? 'unknown'}`, {
      file: filePath,
    });
  }
  const value: unknown = doc.toJS();
  if (value === null || value === undefined) return {};
  if (typeof value !== 'object' || Array.isArray(value)) {
    throw new QuorumError('CONFIG_INVALID', `${filePath}: (root): expected a mapping of settings`, { file: filePath });
  }
  return value as Record<string, unknown>;
}

/** Unwraps default/prefault/optional/nullable/pipe wrappers to reach an object or record schema. */
function unwrap(schema: z.ZodType): z.ZodType {
  let current: z.ZodType = schema;
  for (let i = 0; i < 10; i++) {
    if (current instanceof z.ZodDefault || current instanceof z.ZodPrefault || current instanceof z.ZodOptional || current instanceof z.ZodNullable) {
      current = current.unwrap() as z.ZodType;
    } else if (current instanceof z.ZodPipe) {
      current = current.in as z.ZodType;
    } else break;
  }
  return current;
}

const norm = (s: string): string => s.toLowerCase().replace(/_/g, '');

/**
 * `QUORUM_SETTINGS__API__PORT=9000` sets settings.api.port. Segments match keys case-insensitively,
 * ignoring underscores (`BASE_URL` matches `baseUrl`); values are read as YAML scalars.
 */
function applyEnvOverrides(raw: Record<string, unknown>, schema: z.ZodType, prefix: string, env: NodeJS.ProcessEnv, file: string): void {
  for (const [name, value] of Object.entries(env)) {
    if (!name.startsWith(prefix) || value === undefined) continue;
    const segments = name.slice(prefix.length).split('__').filter(Boolean);
    let node: Record<string, unknown> = raw;
    let nodeSchema: z.ZodType = schema;
    segments.forEach((segment, index) => {
      const s = unwrap(nodeSchema);
      let key: string;
      let child: z.ZodType;
      if (s instanceof z.ZodObject) {
        const match = Object.keys(s.shape).find((k) => norm(k) === norm(segment));
        if (!match) {
          throw new QuorumError('CONFIG_INVALID', `environment ${name}: "${segment}" is not a field of ${file}`, { env: name, file });
        }
        key = match;
        child = s.shape[match] as z.ZodType;
      } else if (s instanceof z.ZodRecord) {
        key = segment;
        child = s.valueType as z.ZodType;
      } else {
        throw new QuorumError('CONFIG_INVALID', `environment ${name}: "${segment}" goes below a scalar field of ${file}`, { env: name, file });
      }
      if (index === segments.length - 1) {
        node[key] = YAML.parse(value) as unknown;
      } else {
        const next = node[key];
        if (typeof next !== 'object' || next === null || Array.isArray(next)) node[key] = {};
        node = node[key] as Record<string, unknown>;
        nodeSchema = child;
      }
    });
  }
}

/** Fields whose value an error message never repeats: a notification target's URL may hold a token. */
const HIDDEN_VALUE = /^notifications\.targets\.\d+\.url$/;

function describeGot(raw: Record<string, unknown>, dotted: string): string {
  if (!dotted) return '';
  let node: unknown = raw;
  for (const part of dotted.split('.')) {
    if (typeof node !== 'object' || node === null) return '';
    node = (node as Record<string, unknown>)[part];
  }
  if (node === undefined) return ' (missing)';
  if (typeof node === 'object') return '';
  return ` (got ${JSON.stringify(node)})`;
}

function readSecrets(env: NodeJS.ProcessEnv, settings: Settings, settingsPath: string): Secrets {
  const pick = (...names: string[]): string | null => {
    for (const n of names) {
      const v = env[n];
      if (v !== undefined && v !== '') return v;
    }
    return null;
  };
  const result = SecretsSchema.safeParse({
    databaseUrl: pick('DATABASE_URL'),
    alpacaKeyId: pick('ALPACA_API_KEY_ID', 'APCA_API_KEY_ID'),
    alpacaSecretKey: pick('ALPACA_API_SECRET_KEY', 'APCA_API_SECRET_KEY'),
    apiToken: pick('QUORUM_API_TOKEN'),
    notificationUrls: notificationUrls(settings, settingsPath, pick),
  });
  if (!result.success) {
    const issues = fieldIssues(result.error).map((i) => `${i.path}: ${i.message}`);
    throw new QuorumError('CONFIG_INVALID', `invalid secret in the environment: ${issues.join('; ')}`, {});
  }
  return result.data;
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}

/**
 * The URL of each notification target that names an environment variable (`urlEnv`): the variable
 * must be set and hold an http(s) URL. The message names the field and the variable, never the value.
 */
function notificationUrls(settings: Settings, settingsPath: string, pick: (name: string) => string | null): Record<string, string> {
  const urls: Record<string, string> = {};
  for (const [i, target] of settings.notifications.targets.entries()) {
    if (target.urlEnv === undefined) continue;
    const field = `notifications.targets.${i}.urlEnv`;
    const fail = (what: string): never => {
      throw new QuorumError(
        'CONFIG_INVALID',
        `invalid configuration in ${settingsPath}:\n  settings.yaml: ${field}: environment variable ${target.urlEnv} ${what}`,
        {
          file: settingsPath,
          fields: [field],
        },
      );
    };
    const value = pick(target.urlEnv);
    if (value === null) fail(`is not set (target "${target.name}" takes its URL from it)`);
    else if (!isHttpUrl(value)) fail(`does not hold an http(s) URL (target "${target.name}")`);
    else urls[target.name] = value;
  }
  return urls;
}

function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'http:' || url.protocol === 'https:';
  } catch {
    return false;
  }
}

/** Every secret value currently set, for value-based redaction. */
export function secretValues(secrets: Secrets): string[] {
  const values: string[] = [];
  for (const v of Object.values(secrets).flatMap((s) => (s !== null && typeof s === 'object' ? Object.values(s) : [s]))) {
    if (typeof v !== 'string' || v.length < 4) continue;
    values.push(v);
    // A database URL's password also appears on its own in driver errors.
    try {
      const url = new URL(v);
      if (url.password) values.push(decodeURIComponent(url.password));
    } catch {
      /* not a URL */
    }
  }
  return values;
}
