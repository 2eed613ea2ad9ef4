export type { Db, Queryable, QueryResult, Row } from './db.ts';
export { fromVectorLiteral, toVectorLiteral, valueGroups } from './db.ts';
export { openPglite } from './pglite.ts';
export { readDirLock, lockPath, type DirLockOwner } from './lock.ts';
export { openPostgres, type PostgresOptions } from './postgres.ts';
export { migrate, readMigrations, MIGRATIONS_DIR, type Migration, type MigrateResult } from './migrate.ts';
export { openDb, pgliteDir, type OpenDbOptions } from './open.ts';
export { bindEmbeddingStore, getEmbeddingStore, EmbeddingStoreInfo } from './embedding-store.ts';
export { appendAudit } from './audit.ts';
