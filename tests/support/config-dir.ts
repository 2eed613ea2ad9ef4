import { cpSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { BUNDLED_CONFIG_DIR } from '../../config/index.ts';

/** A temp copy of the bundled YAML files, optionally with one file replaced. */
export function tempConfigDir(replace: Record<string, string> = {}): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'quorum-config-'));
  for (const f of ['settings.yaml', 'models.yaml', 'agents.yaml', 'risk_rules.yaml']) {
    cpSync(path.join(BUNDLED_CONFIG_DIR, f), path.join(dir, f));
  }
  for (const [file, text] of Object.entries(replace)) writeFileSync(path.join(dir, file), text);
  return dir;
}
