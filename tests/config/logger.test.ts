import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, loadConfig } from '../../config/index.ts';

function capture(): { stream: Writable; lines: string[] } {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(chunk.toString());
      cb();
    },
  });
  return { stream, lines };
}

describe('logger redaction', () => {
  const config = loadConfig({
    env: {
      APCA_API_KEY_ID: 'PKABCDEF123456',
      APCA_API_SECRET_KEY: 'very-secret-value-42',
      DATABASE_URL: 'postgres://quorum:hunter2pass@db.example:5432/quorum',
    },
  });

  it('scrubs secret values wherever they appear in a line', () => {
    const { stream, lines } = capture();
    const log = createLogger(config, stream);
    log.info({ url: config.secrets.databaseUrl, nested: { note: 'key=PKABCDEF123456' } }, 'connecting with very-secret-value-42');
    log.error(new Error('auth failed for password hunter2pass'));
    const out = lines.join('');
    expect(out).not.toContain('PKABCDEF123456');
    expect(out).not.toContain('very-secret-value-42');
    expect(out).not.toContain('hunter2pass');
    expect(out).toContain('[REDACTED]');
    expect(out).toContain('connecting with');
  });

  it('removes secret-named fields even when their values are unknown', () => {
    const { stream, lines } = capture();
    const log = createLogger(config, stream);
    log.info({ headers: { authorization: 'Bearer some-token-xyz' }, apiKey: 'k-unknown-1', token: 't-unknown-2' }, 'request');
    const out = lines.join('');
    expect(out).not.toContain('some-token-xyz');
    expect(out).not.toContain('k-unknown-1');
    expect(out).not.toContain('t-unknown-2');
  });
});
