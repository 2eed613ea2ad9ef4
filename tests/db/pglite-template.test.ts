/**
 * New PGlite databases start from the cached image of an empty cluster (db/pglite-template.ts): the
 * first initdb writes it, later new databases (in memory or in a directory) are unpacked from it, an
 * existing directory is opened as it is, and an unreadable image falls back to initdb and is replaced.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { migrate, openPglite } from '../../db/index.ts';
import { templateFileName } from '../../db/pglite-template.ts';

const root = mkdtempSync(path.join(tmpdir(), 'quorum-pglite-template-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

/** A tar archive has "ustar" at offset 257 of its first header. */
const isTar = (file: string): boolean => readFileSync(file).subarray(257, 262).toString('latin1') === 'ustar';

describe('PGlite databases from the cached empty-cluster image', { timeout: 120_000 }, () => {
  const templateDir = path.join(root, 'cache');
  const image = path.join(templateDir, templateFileName());

  it('the first new database runs initdb and caches the image; later ones are unpacked from it, in memory and in a directory', async () => {
    expect(templateFileName()).toBe('pglite-0.5.14-pgvector-0.0.15-initdb.tar');
    const first = await openPglite(null, { templateDir });
    await first.close();
    expect(isTar(image)).toBe(true);

    // Mark the image: a database made from it has the marker, so it was unpacked from the image, not made by initdb.
    const { PGlite } = await import('@electric-sql/pglite');
    const { vector } = await import('@electric-sql/pglite-pgvector');
    const source = await PGlite.create(undefined, { extensions: { vector } });
    await source.exec("CREATE TABLE image_marker (note text); INSERT INTO image_marker VALUES ('from the image')");
    writeFileSync(image, new Uint8Array(await (await source.dumpDataDir('none')).arrayBuffer()));
    await source.close();

    const memory = await openPglite(null, { templateDir });
    expect((await memory.query('SELECT note FROM image_marker')).rows).toEqual([{ note: 'from the image' }]);
    await memory.close();

    // In a directory: unpacked, migrated like any new database (pgvector included), and kept on reopen.
    const dir = path.join(root, 'data', 'pglite');
    const db = await openPglite(dir, { templateDir });
    await migrate(db);
    await db.exec("INSERT INTO image_marker VALUES ('written after')");
    expect((await db.query<{ v: string }>("SELECT '[1,2,3]'::vector(3)::text AS v")).rows).toEqual([{ v: '[1,2,3]' }]);
    await db.close();
    expect(existsSync(path.join(dir, 'PG_VERSION'))).toBe(true);
    // An existing directory is never replaced by the image.
    writeFileSync(image, 'not an image');
    const reopened = await openPglite(dir, { templateDir });
    expect((await reopened.query('SELECT note FROM image_marker ORDER BY note')).rows).toEqual([{ note: 'from the image' }, { note: 'written after' }]);
    await reopened.close();
  });

  it('an unreadable image falls back to initdb and is replaced by a good one', async () => {
    writeFileSync(image, 'not an image');
    const db = await openPglite(null, { templateDir });
    expect((await db.query<{ n: number }>('SELECT 1 AS n')).rows).toEqual([{ n: 1 }]);
    await db.close();
    expect(isTar(image)).toBe(true);
    expect(statSync(image).size).toBeGreaterThan(1_000_000);
  });
});
