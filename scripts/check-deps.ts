/**
 * `npm run check` part 3: dependency rules of DESIGN.md.
 *  - no import cycles (madge), type-only imports included: a cycle held by a type is still a cycle
 *    of the layout, even though it vanishes at run time;
 *  - layering: a folder imports only the folders its row of the layout table allows;
 *  - type-only rows: risk/, tools/ and api/ may import only types from config/;
 *  - risk/ is pure: only contracts/, type-only config/ imports and zod; no Node built-ins.
 * Usage: tsx scripts/check-deps.ts [--root DIR]   (exit 1 and one line per violation)
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import ts from 'typescript';
import madge from 'madge';

/**
 * Which project folders each folder may import (contracts/ is open to all): DESIGN.md's layout
 * table, row by row. The differences, each explained in docs/architecture.md ("Layout"):
 *  - checkpoint/ (graph's checkpoint saver, "in its own folder below it") gets its own row, and the
 *    rows that may import everything above them list it;
 *  - tools/ and api/ may also import config/, types only (TYPES_ONLY below);
 *  - notify/ (notifications, with the audit log as outbox) gets its own row below execution/; the
 *    "everything above" rows list it, and api/ reads its metrics through sessions/;
 *  - web/ (the browser console, bundled by `npm run build`) may import only types from sessions/ (the
 *    read models the API publishes): no server code reaches the bundle.
 */
export const ALLOWED: Record<string, readonly string[]> = {
  contracts: [],
  config: [],
  db: ['config'],
  market: ['config', 'db'],
  ml: ['config', 'db', 'market'],
  rag: ['config', 'db'],
  tools: ['market', 'ml', 'rag', 'db', 'config'],
  agents: ['config', 'tools'],
  checkpoint: ['config', 'db'],
  graph: ['config', 'db', 'agents', 'tools', 'checkpoint'],
  risk: ['config'],
  execution: ['config', 'db', 'market', 'risk'],
  notify: ['config', 'db'],
  sessions: ['config', 'db', 'market', 'ml', 'rag', 'tools', 'agents', 'checkpoint', 'graph', 'risk', 'execution', 'notify'],
  api: ['sessions', 'graph', 'db', 'config'],
  evals: ['config', 'db', 'market', 'ml', 'rag', 'tools', 'agents', 'checkpoint', 'graph', 'risk', 'execution', 'notify', 'sessions'],
  web: ['sessions'],
  cli: ['config', 'db', 'market', 'ml', 'rag', 'tools', 'agents', 'checkpoint', 'graph', 'risk', 'execution', 'notify', 'sessions', 'api', 'evals'],
};
/** Imports that must be type-only: folder -> target folders. */
export const TYPES_ONLY: Record<string, readonly string[]> = {
  risk: ['config'],
  tools: ['config'],
  api: ['config'],
  web: ['sessions'],
};
/**
 * Cycles that are reported but do not fail the check yet, each with what removes it. Listed as the
 * files of the cycle, sorted. A listed cycle that no longer exists is reported too (drop the entry).
 */
export const KNOWN_CYCLES: ReadonlyArray<{ files: readonly string[]; why: string }> = [];
/** Folders with no restriction. */
const FREE = new Set(['tests', 'bench', 'scripts']);
const RISK_PACKAGES = new Set(['zod']);

function listTs(dir: string, root: string, out: string[] = []): string[] {
  for (const name of readdirSync(dir)) {
    if (name === 'node_modules' || name.startsWith('.')) continue;
    const full = path.join(dir, name);
    if (statSync(full).isDirectory()) {
      if (path.relative(root, full) === 'tests/fixtures') continue;
      listTs(full, root, out);
    } else if (name.endsWith('.ts') && !name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

interface ImportRef {
  specifier: string;
  typeOnly: boolean;
  line: number;
}

function importsOf(file: string): ImportRef[] {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.ES2022, true);
  const refs: ImportRef[] = [];
  const lineOf = (node: ts.Node): number => source.getLineAndCharacterOfPosition(node.getStart()).line + 1;
  const visit = (node: ts.Node): void => {
    if (ts.isImportDeclaration(node) && ts.isStringLiteral(node.moduleSpecifier)) {
      const clause = node.importClause;
      const typeOnly =
        Boolean(clause?.isTypeOnly) ||
        Boolean(
          clause &&
          !clause.name &&
          clause.namedBindings &&
          ts.isNamedImports(clause.namedBindings) &&
          clause.namedBindings.elements.length > 0 &&
          clause.namedBindings.elements.every((e) => e.isTypeOnly),
        );
      refs.push({ specifier: node.moduleSpecifier.text, typeOnly, line: lineOf(node) });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      refs.push({ specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly, line: lineOf(node) });
    } else if (ts.isImportTypeNode(node) && ts.isLiteralTypeNode(node.argument) && ts.isStringLiteral(node.argument.literal)) {
      refs.push({ specifier: node.argument.literal.text, typeOnly: true, line: lineOf(node) });
    } else if (ts.isCallExpression(node) && node.expression.kind === ts.SyntaxKind.ImportKeyword) {
      const arg = node.arguments[0];
      if (arg && ts.isStringLiteral(arg)) refs.push({ specifier: arg.text, typeOnly: false, line: lineOf(node) });
    } else if (ts.isCallExpression(node) && ts.isIdentifier(node.expression) && node.expression.text === 'require') {
      const arg = node.arguments[0];
      if (arg && ts.isStringLiteral(arg)) refs.push({ specifier: arg.text, typeOnly: false, line: lineOf(node) });
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return refs;
}

export async function checkDeps(root: string): Promise<{ problems: string[]; notes: string[] }> {
  const problems: string[] = [];
  const files = listTs(root, root);

  for (const file of files) {
    const rel = path.relative(root, file);
    const folder = rel.split(path.sep)[0] ?? '';
    if (FREE.has(folder) || !(folder in ALLOWED)) continue;
    const allowed = new Set([folder, 'contracts', ...(ALLOWED[folder] ?? [])]);
    for (const ref of importsOf(file)) {
      const where = `${rel}:${ref.line}`;
      if (ref.specifier.startsWith('.')) {
        const target = path.relative(root, path.resolve(path.dirname(file), ref.specifier));
        const targetFolder = target.split(path.sep)[0] ?? '';
        if (targetFolder.startsWith('..')) {
          problems.push(`${where}: imports "${ref.specifier}" outside the project`);
        } else if (!allowed.has(targetFolder)) {
          problems.push(`LAYER ${where}: ${folder}/ may not import ${targetFolder}/ ("${ref.specifier}")`);
        } else if (TYPES_ONLY[folder]?.includes(targetFolder) && !ref.typeOnly) {
          const code = folder === 'risk' ? 'RISK_IO' : 'TYPE_ONLY';
          problems.push(`${code} ${where}: ${folder}/ may import only types from ${targetFolder}/ ("${ref.specifier}")`);
        }
      } else if (folder === 'risk') {
        const pkg = ref.specifier.startsWith('@') ? ref.specifier.split('/').slice(0, 2).join('/') : (ref.specifier.split('/')[0] ?? '');
        if (!RISK_PACKAGES.has(pkg)) {
          problems.push(`RISK_IO ${where}: risk/ is pure and may not import "${ref.specifier}"`);
        }
      }
    }
  }

  const { cycles, notes } = await importCycles(root);
  problems.push(...cycles);
  return { problems, notes };
}

/** Import cycles, type-only imports included; known ones (KNOWN_CYCLES) become notes. */
async function importCycles(root: string): Promise<{ cycles: string[]; notes: string[] }> {
  const graph = await madge(root, {
    fileExtensions: ['ts'],
    excludeRegExp: [/node_modules/, /^tests\/fixtures\//, /\.d\.ts$/],
    detectiveOptions: { ts: { skipTypeImports: false }, es6: { skipTypeImports: false } },
    tsConfig: path.join(root, 'tsconfig.json'),
  });
  const cycles: string[] = [];
  const notes: string[] = [];
  const seen = new Set<string>();
  for (const cycle of graph.circular()) {
    const text = `${cycle.join(' -> ')} -> ${cycle[0] ?? ''}`;
    const key = [...cycle].sort().join(' ');
    const known = KNOWN_CYCLES.find((k) => [...k.files].sort().join(' ') === key);
    if (known) {
      seen.add(key);
      notes.push(`known cycle (not failing yet): ${text}: ${known.why}`);
    } else {
      cycles.push(`CYCLE ${text}`);
    }
  }
  for (const k of KNOWN_CYCLES) {
    const key = [...k.files].sort().join(' ');
    if (!seen.has(key) && k.files.every((f) => statExists(path.join(root, f))))
      notes.push(`known cycle gone, drop it from KNOWN_CYCLES: ${k.files.join(' <-> ')}`);
  }
  return { cycles, notes };
}

function statExists(file: string): boolean {
  try {
    return statSync(file).isFile();
  } catch {
    return false;
  }
}

/** The command (not when a test imports the tables). */
async function main(): Promise<void> {
  const rootArg = process.argv.indexOf('--root');
  const root = path.resolve(rootArg > 0 ? (process.argv[rootArg + 1] ?? '.') : '.');
  const { problems, notes } = await checkDeps(root);
  for (const note of notes) process.stdout.write(`check-deps: ${note}\n`);
  if (problems.length) {
    for (const p of problems) process.stderr.write(`${p}\n`);
    process.stderr.write(`check-deps: ${problems.length} problem(s) in ${root}\n`);
    process.exitCode = 1;
  } else {
    process.stdout.write(`check-deps: no new cycles, layers respected, risk/ pure (${root})\n`);
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) await main();
