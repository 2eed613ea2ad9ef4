/**
 * `npm run check` part 3: dependency rules of DESIGN.md.
 *  - no import cycles (madge);
 *  - layering: a folder imports only the folders its row of the layout table allows;
 *  - risk/ is pure: only contracts/, type-only config/ imports, zod; no Node built-ins, no other packages.
 * Usage: tsx scripts/check-deps.ts [--root DIR]   (exit 1 and one line per violation)
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import ts from 'typescript';
import madge from 'madge';

/** Which project folders each folder may import (contracts/ is open to all). */
export const ALLOWED: Record<string, readonly string[]> = {
  contracts: [],
  config: [],
  db: ['config'],
  market: ['config', 'db'],
  ml: ['config', 'db', 'market'],
  rag: ['config', 'db'],
  tools: ['config', 'db', 'market', 'ml', 'rag'],
  agents: ['config', 'tools', 'db', 'market', 'ml', 'rag'],
  graph: ['config', 'db', 'agents', 'tools', 'market', 'ml', 'rag'],
  risk: ['config'],
  execution: ['config', 'db', 'market', 'risk'],
  sessions: ['config', 'db', 'market', 'ml', 'rag', 'tools', 'agents', 'graph', 'risk', 'execution'],
  api: ['config', 'db', 'market', 'ml', 'rag', 'tools', 'agents', 'graph', 'risk', 'execution', 'sessions'],
  evals: ['config', 'db', 'market', 'ml', 'rag', 'tools', 'agents', 'graph', 'risk', 'execution', 'sessions'],
  cli: ['config', 'db', 'market', 'ml', 'rag', 'tools', 'agents', 'graph', 'risk', 'execution', 'sessions', 'api', 'evals'],
};
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
        Boolean(clause && !clause.name && clause.namedBindings && ts.isNamedImports(clause.namedBindings) &&
          clause.namedBindings.elements.length > 0 && clause.namedBindings.elements.every((e) => e.isTypeOnly));
      refs.push({ specifier: node.moduleSpecifier.text, typeOnly, line: lineOf(node) });
    } else if (ts.isExportDeclaration(node) && node.moduleSpecifier && ts.isStringLiteral(node.moduleSpecifier)) {
      refs.push({ specifier: node.moduleSpecifier.text, typeOnly: node.isTypeOnly, line: lineOf(node) });
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

export async function checkDeps(root: string): Promise<string[]> {
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
        } else if (folder === 'risk' && targetFolder === 'config' && !ref.typeOnly) {
          problems.push(`RISK_IO ${where}: risk/ may import only types from config/ ("${ref.specifier}")`);
        }
      } else if (folder === 'risk') {
        const pkg = ref.specifier.startsWith('@') ? ref.specifier.split('/').slice(0, 2).join('/') : ref.specifier.split('/')[0] ?? '';
        if (!RISK_PACKAGES.has(pkg)) {
          problems.push(`RISK_IO ${where}: risk/ is pure and may not import "${ref.specifier}"`);
        }
      }
    }
  }

  const graph = await madge(root, {
    fileExtensions: ['ts'],
    excludeRegExp: [/node_modules/, /^tests\/fixtures\//, /\.d\.ts$/],
    detectiveOptions: { ts: { skipTypeImports: true }, es6: { skipTypeImports: true } },
    tsConfig: path.join(root, 'tsconfig.json'),
  });
  for (const cycle of graph.circular()) problems.push(`CYCLE ${cycle.join(' -> ')} -> ${cycle[0] ?? ''}`);
  return problems;
}

const rootArg = process.argv.indexOf('--root');
const root = path.resolve(rootArg > 0 ? (process.argv[rootArg + 1] ?? '.') : '.');
const problems = await checkDeps(root);
if (problems.length) {
  for (const p of problems) process.stderr.write(`${p}\n`);
  process.stderr.write(`check-deps: ${problems.length} problem(s) in ${root}\n`);
  process.exitCode = 1;
} else {
  process.stdout.write(`check-deps: no cycles, layers respected, risk/ pure (${root})\n`);
}
