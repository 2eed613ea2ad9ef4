/**
 * Test files share their worker process (vitest `isolate: false`, which saves each file the seconds of
 * importing the project again): whatever a file sets in process.env is put back after it, so no file
 * sees another's data dir, Ollama URL or database.
 */
import { afterAll } from 'vitest';

const saved: NodeJS.ProcessEnv = { ...process.env };

afterAll(() => {
  for (const key of Object.keys(process.env)) if (!(key in saved)) delete process.env[key];
  Object.assign(process.env, saved);
});
