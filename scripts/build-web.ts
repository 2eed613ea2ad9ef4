/**
 * `npm run build` (and `prepare`, so `npm ci` runs it): bundles the web console (web/app.ts with its
 * CSS and uPlot) into web/dist/ with esbuild. Without web/ (the Docker image's dependency layer runs
 * `npm ci` before the sources are copied) it says so and does nothing; the Dockerfile builds later.
 */
import { build } from 'esbuild';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const entry = path.join(root, 'web/app.ts');
if (!existsSync(entry)) {
  console.log('build-web: no web/app.ts yet (sources not copied): skipped');
} else {
  await build({
    entryPoints: [entry],
    bundle: true,
    minify: true,
    format: 'esm',
    target: 'es2022',
    outdir: path.join(root, 'web/dist'),
    logLevel: 'warning',
  });
}
