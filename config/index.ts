export { loadConfig, BUNDLED_CONFIG_DIR, PROJECT_ROOT, secretValues, type LoadOptions } from './load.ts';
export { createLogger, scrub, REDACT_PATHS, type Logger } from './logger.ts';
export * from './schema.ts';
export * from './defaults.ts';
