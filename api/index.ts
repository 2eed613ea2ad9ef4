export { createApp, type AppDeps, VERDICT_CACHE_SIZE } from './app.ts';
export { createTokenThroughServer, newLocalKey, readServeFile, writeServeFile } from './local-admin.ts';
export { createApiToken, findToken, revokeApiToken, hashToken, TokenScope, type Principal } from './tokens.ts';
