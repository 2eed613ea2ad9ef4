/**
 * Content ids of the risk controller: SHA-256 (@noble/hashes, pure JS, audited, no dependencies;
 * risk/ may not import node:crypto) of a canonical byte encoding of typed tokens.
 *
 * The encoding: every token starts with a tag byte; whole numbers from 0 to 2^53 are LEB128, other
 * numbers their 8 IEEE-754 bytes (so -0 and 0 differ, as they may print differently; every NaN is one
 * NaN); strings are their length in UTF-16
 * code units (LEB128) and then their WTF-8 bytes (UTF-8, with a lone surrogate as its own 3 bytes,
 * so two distinct strings never share bytes); counts are LEB128. Every token is self-delimiting, so
 * a byte sequence decodes to exactly one token sequence, and two inputs share an id only by a
 * SHA-256 collision of its first 128 bits.
 *
 * Two ways in: `TokenEncoder`, written by a caller in its own fixed order (the decision id knows the
 * shape of its input and writes exactly the fields the rules read), and `contentHash`, which walks any
 * JSON-like value with object keys sorted. No state outside an encoder: each id has its own.
 */
import { sha256 } from '@noble/hashes/sha2.js';

const TAG_NULL = 0x00;
const TAG_UNDEFINED = 0x01;
const TAG_FALSE = 0x02;
const TAG_TRUE = 0x03;
const TAG_NUMBER = 0x04;
const TAG_STRING = 0x05;
const TAG_COUNT = 0x06;
const TAG_ARRAY = 0x07;
const TAG_OBJECT = 0x08;
const TAG_OTHER = 0x09;
const TAG_UINT = 0x0a;

/** Bytes an encoder starts with: a decision with ten positions and 25 order times needs about 800. */
const INITIAL_BYTES = 1_024;
/** Bytes of the digest kept in an id (128 bits, 32 hex characters). */
const ID_BYTES = 16;

const HEX_BYTES: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));

/**
 * A canonical token stream: `scalar`/`count` in the caller's fixed order, then `digest`. Meant to be
 * used for one id and dropped (its buffer is its own, nothing is shared between ids).
 */
export class TokenEncoder {
  private bytes = new Uint8Array(INITIAL_BYTES);
  private view = new DataView(this.bytes.buffer);
  private n = 0;

  private room(k: number): void {
    if (this.n + k <= this.bytes.length) return;
    const grown = new Uint8Array(Math.max(this.bytes.length * 2, this.n + k));
    grown.set(this.bytes.subarray(0, this.n));
    this.bytes = grown;
    this.view = new DataView(grown.buffer);
  }

  private byte(b: number): void {
    this.room(1);
    this.bytes[this.n++] = b;
  }

  /** An unsigned integer below 2^53, LEB128 (7 bits a byte). */
  private varint(v: number): void {
    this.room(8);
    let x = v;
    while (x >= 0x80) {
      this.bytes[this.n++] = (x % 0x80) | 0x80;
      x = Math.floor(x / 0x80);
    }
    this.bytes[this.n++] = x;
  }

  /** A count (an array's length), so the tokens that follow cannot be read as another split. */
  count(n: number): void {
    this.byte(TAG_COUNT);
    this.varint(n);
  }

  /**
   * One value, tagged by its type: `1`, `"1"`, `null` and `undefined` differ. Meant for scalars;
   * anything else (malformed input) is written whole, as `contentHash` would walk it.
   */
  scalar(v: unknown): void {
    if (v === null) return this.byte(TAG_NULL);
    switch (typeof v) {
      case 'number':
        return this.number(v);
      case 'string':
        this.byte(TAG_STRING);
        return this.text(v);
      case 'boolean':
        return this.byte(v ? TAG_TRUE : TAG_FALSE);
      case 'undefined':
        return this.byte(TAG_UNDEFINED);
      case 'object':
        return this.value(v);
      default:
        this.byte(TAG_OTHER);
        return this.text(String(v));
    }
  }

  private number(v: number): void {
    // Whole numbers from 0 to 2^53 (quantities, counts, milliseconds) as LEB128, under their own
    // tag: a third of the bytes of a double, and SHA-256's cost is its bytes. -0 stays a double.
    if (Number.isSafeInteger(v) && v >= 0 && !Object.is(v, -0)) {
      this.byte(TAG_UINT);
      return this.varint(v);
    }
    this.room(9);
    this.bytes[this.n++] = TAG_NUMBER;
    // One NaN: DataView may keep a NaN's payload bits, which no rule can tell apart.
    this.view.setFloat64(this.n, Number.isNaN(v) ? Number.NaN : v, true);
    this.n += 8;
  }

  /** Length in UTF-16 code units, then WTF-8 bytes. */
  private text(s: string): void {
    const len = s.length;
    this.varint(len);
    this.room(len * 3);
    const b = this.bytes;
    let n = this.n;
    for (let i = 0; i < len; i++) {
      let c = s.charCodeAt(i);
      if (c < 0x80) {
        b[n++] = c;
        continue;
      }
      if (c < 0x800) {
        b[n++] = 0xc0 | (c >> 6);
        b[n++] = 0x80 | (c & 0x3f);
        continue;
      }
      if (c >= 0xd800 && c <= 0xdbff && i + 1 < len) {
        const d = s.charCodeAt(i + 1);
        if (d >= 0xdc00 && d <= 0xdfff) {
          // A surrogate pair: one code point, four bytes (two UTF-16 units, so room(len * 3) holds).
          c = 0x10000 + ((c - 0xd800) << 10) + (d - 0xdc00);
          i += 1;
          b[n++] = 0xf0 | (c >> 18);
          b[n++] = 0x80 | ((c >> 12) & 0x3f);
          b[n++] = 0x80 | ((c >> 6) & 0x3f);
          b[n++] = 0x80 | (c & 0x3f);
          continue;
        }
      }
      b[n++] = 0xe0 | (c >> 12);
      b[n++] = 0x80 | ((c >> 6) & 0x3f);
      b[n++] = 0x80 | (c & 0x3f);
    }
    this.n = n;
  }

  /** Any JSON-like value: arrays in order, objects by sorted key (an undefined entry counts as absent). */
  value(v: unknown): void {
    if (v === null || typeof v !== 'object') return this.scalar(v);
    if (Array.isArray(v)) {
      this.byte(TAG_ARRAY);
      this.varint(v.length);
      for (const item of v as readonly unknown[]) this.value(item);
      return;
    }
    const record = v as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort();
    this.byte(TAG_OBJECT);
    this.varint(keys.length);
    for (const key of keys) {
      this.text(key);
      this.value(record[key]);
    }
  }

  /** Bytes written so far. */
  get byteLength(): number {
    return this.n;
  }

  /** SHA-256 of the stream, its first 128 bits as 32 hex characters. */
  digest(): string {
    const d = sha256(this.bytes.subarray(0, this.n));
    let hex = '';
    for (let i = 0; i < ID_BYTES; i++) hex += HEX_BYTES[d[i] as number] as string;
    return hex;
  }
}

/** 128-bit id (32 hex characters) of a JSON-like value; key order does not matter, numbers by their bits. */
export function contentHash(input: unknown): string {
  const e = new TokenEncoder();
  e.value(input);
  return e.digest();
}
