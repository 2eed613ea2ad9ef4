/**
 * Content ids of the risk controller: MurmurHash3_x86_128 (Austin Appleby's public-domain
 * reference, seed 0; tests/risk/decision-id.test.ts pins it to the reference's outputs) of a
 * canonical byte encoding of typed tokens. risk/ may not import node:crypto, and a SHA-256 in pure
 * JS (@noble/hashes) halved the controller's throughput: see docs/adr/0019-risk-id-hash.md.
 * The ids only have to be stable and well spread, not secret: no one gains by forging a decision id.
 *
 * The encoding, in 32-bit words (hashed as their little-endian bytes): every token starts with a tag
 * word; a whole number from 0 to 2^24 is one word (its tag in the low byte, the number above it),
 * other numbers their two IEEE-754 words (so -0 and 0 differ, as they may print differently; every
 * NaN is one NaN); a string is a tag word, its length in UTF-16 code units, then four Latin-1
 * characters a word under a Latin-1 tag, or two UTF-16 code units a word under another; a count is
 * a tag word and the count. Every token is self-delimiting, so a word sequence decodes to exactly
 * one token sequence, and distinct inputs share an id only by a 128-bit chance.
 *
 * Two ways in: `TokenEncoder`, written by a caller in its own fixed order (the decision id knows the
 * shape of its input and writes exactly the fields the rules read), and `contentHash`, which walks any
 * JSON-like value with object keys sorted. No state outside an encoder: each id has its own.
 */

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
const TAG_UINT24 = 0x0a;
const TAG_STRING8 = 0x0b;
const TAG_OTHER8 = 0x0c;

const HEX_BYTES: readonly string[] = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
const hex32 = (n: number): string =>
  (HEX_BYTES[n >>> 24] as string) + (HEX_BYTES[(n >>> 16) & 255] as string) + (HEX_BYTES[(n >>> 8) & 255] as string) + (HEX_BYTES[n & 255] as string);

const C1 = 0x239b961b;
const C2 = 0xab0e9789;
const C3 = 0x38b34ae5;
const C4 = 0xa1e38b93;
const rotl = (x: number, r: number): number => (x << r) | (x >>> (32 - r));
function fmix(h0: number): number {
  let h = h0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  return h ^ (h >>> 16);
}

/** MurmurHash3_x86_128's state after its blocks; `tail` holds the last len % 16 bytes as little-endian words. */
function finish(h1In: number, h2In: number, h3In: number, h4In: number, tail: readonly [number, number, number, number], len: number): string {
  let h1 = h1In;
  let h2 = h2In;
  let h3 = h3In;
  let h4 = h4In;
  const rest = len % 16;
  if (rest > 12) h4 ^= Math.imul(rotl(Math.imul(tail[3], C4), 18), C1);
  if (rest > 8) h3 ^= Math.imul(rotl(Math.imul(tail[2], C3), 17), C4);
  if (rest > 4) h2 ^= Math.imul(rotl(Math.imul(tail[1], C2), 16), C3);
  if (rest > 0) h1 ^= Math.imul(rotl(Math.imul(tail[0], C1), 15), C2);
  // The reference mixes in the length as a 32-bit value.
  h1 ^= len;
  h2 ^= len;
  h3 ^= len;
  h4 ^= len;
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  h1 = fmix(h1);
  h2 = fmix(h2);
  h3 = fmix(h3);
  h4 = fmix(h4);
  h1 = (h1 + h2 + h3 + h4) | 0;
  h2 = (h2 + h1) | 0;
  h3 = (h3 + h1) | 0;
  h4 = (h4 + h1) | 0;
  return hex32(h1 >>> 0) + hex32(h2 >>> 0) + hex32(h3 >>> 0) + hex32(h4 >>> 0);
}

/**
 * MurmurHash3_x86_128 (seed 0) of the little-endian bytes of `words[0..n)`, as the reference prints
 * it (the four 32-bit lanes h1..h4, each as 8 hex digits). One loop over local variables.
 */
export function murmurWords(words: readonly number[], n: number): string {
  const blocks = n - (n % 4);
  const [h1, h2, h3, h4] = murmurState(words, blocks);
  const at = (i: number): number => (i < n ? (words[i] as number) : 0);
  return finish(h1, h2, h3, h4, [at(blocks), at(blocks + 1), at(blocks + 2), 0], n * 4);
}

/** MurmurHash3_x86_128 (seed 0) of `bytes[0..len)`, as the reference prints it (the reference vectors' check). */
export function murmur3x86x128(bytes: Uint8Array, len = bytes.length): string {
  const whole = len - (len % 4);
  const words: number[] = [];
  for (let i = 0; i < whole; i += 4) words.push((bytes[i] as number) | ((bytes[i + 1] as number) << 8) | ((bytes[i + 2] as number) << 16) | ((bytes[i + 3] as number) << 24));
  let last = 0;
  for (let i = whole; i < len; i++) last |= (bytes[i] as number) << (8 * (i - whole));
  if (whole === len) return murmurWords(words, words.length);
  // A partial last word: hash the whole words' blocks, then finish with the bytes' true length.
  const blocks = whole - (whole % 16);
  const full = murmurState(words, blocks / 4);
  const tailWords = words.slice(blocks / 4);
  tailWords.push(last);
  const tail: [number, number, number, number] = [tailWords[0] ?? 0, tailWords[1] ?? 0, tailWords[2] ?? 0, tailWords[3] ?? 0];
  return finish(full[0], full[1], full[2], full[3], tail, len);
}

/** The lanes after the first `n` words (n a multiple of 4): the block loop of both entry points. */
function murmurState(words: readonly number[], n: number): [number, number, number, number] {
  let h1 = 0;
  let h2 = 0;
  let h3 = 0;
  let h4 = 0;
  for (let i = 0; i < n; i += 4) {
    h1 ^= Math.imul(rotl(Math.imul(words[i] as number, C1), 15), C2);
    h1 = (Math.imul(rotl(h1, 19) + h2, 5) + 0x561ccd1b) | 0;
    h2 ^= Math.imul(rotl(Math.imul(words[i + 1] as number, C2), 16), C3);
    h2 = (Math.imul(rotl(h2, 17) + h3, 5) + 0x0bcaa747) | 0;
    h3 ^= Math.imul(rotl(Math.imul(words[i + 2] as number, C3), 17), C4);
    h3 = (Math.imul(rotl(h3, 15) + h4, 5) + 0x96cd1c35) | 0;
    h4 ^= Math.imul(rotl(Math.imul(words[i + 3] as number, C4), 18), C1);
    h4 = (Math.imul(rotl(h4, 13) + h1, 5) + 0x32ac3b17) | 0;
  }
  return [h1, h2, h3, h4];
}

/**
 * A canonical token stream: `scalar`/`count` in the caller's fixed order, then `digest`. Tokens
 * are written as 32-bit words (tag words, Latin-1 text four characters a word, wider text two) to a
 * plain array the encoder owns: it is used for one id and dropped, nothing is shared between ids.
 */
export class TokenEncoder {
  private readonly words: number[] = [];
  /** A double's bits are read through these (made at the first double: an ArrayBuffer costs more than a token). */
  private f64: Float64Array | null = null;
  private bits: Uint32Array | null = null;

  /** Words written so far. */
  get wordLength(): number {
    return this.words.length;
  }

  /** A count (an array's length), so the tokens that follow cannot be read as another split. */
  count(n: number): void {
    this.words.push(TAG_COUNT, n | 0);
  }

  /**
   * One value, tagged by its type: `1`, `"1"`, `null` and `undefined` differ. Meant for scalars;
   * anything else (malformed input) is written whole, as `contentHash` would walk it.
   */
  scalar(v: unknown): void {
    if (v === null) return void this.words.push(TAG_NULL);
    switch (typeof v) {
      case 'number':
        return this.number(v);
      case 'string':
        return this.text(TAG_STRING, v);
      case 'boolean':
        return void this.words.push(v ? TAG_TRUE : TAG_FALSE);
      case 'undefined':
        return void this.words.push(TAG_UNDEFINED);
      case 'object':
        return this.value(v);
      default:
        return this.text(TAG_OTHER, String(v));
    }
  }

  private number(v: number): void {
    // Whole numbers below 2^24 (quantities, counts, most limits) in one word with their tag.
    if (v >= 0 && v < 0x1000000 && Number.isInteger(v) && !Object.is(v, -0)) return void this.words.push(TAG_UINT24 | (v << 8));
    if (!this.f64 || !this.bits) {
      this.f64 = new Float64Array(1);
      this.bits = new Uint32Array(this.f64.buffer);
    }
    // One NaN: a NaN's payload bits, which no rule can tell apart, never reach the id.
    this.f64[0] = Number.isNaN(v) ? Number.NaN : v;
    this.words.push(TAG_NUMBER, (this.bits[0] as number) | 0, (this.bits[1] as number) | 0);
  }

  /**
   * A string: its tag (TAG_STRING8 or TAG_OTHER8 for Latin-1 text, else the given tag), its length in
   * UTF-16 code units, then four Latin-1 characters a word, or two UTF-16 code units a word.
   */
  private text(tag: number, s: string): void {
    const w = this.words;
    const len = s.length;
    const start = w.length;
    w.push(tag === TAG_STRING ? TAG_STRING8 : TAG_OTHER8, len);
    let i = 0;
    let wide = false;
    for (; i + 3 < len; i += 4) {
      const a = s.charCodeAt(i);
      const b = s.charCodeAt(i + 1);
      const c = s.charCodeAt(i + 2);
      const d = s.charCodeAt(i + 3);
      if ((a | b | c | d) > 0xff) {
        wide = true;
        break;
      }
      w.push(a | (b << 8) | (c << 16) | (d << 24));
    }
    if (!wide && i < len) {
      let last = 0;
      for (let k = 0; i + k < len; k++) {
        const c = s.charCodeAt(i + k);
        if (c > 0xff) wide = true;
        last |= c << (8 * k);
      }
      if (!wide) w.push(last);
    }
    if (wide) {
      w.length = start;
      w.push(tag, len);
      for (i = 0; i + 1 < len; i += 2) w.push(s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16));
      if (i < len) w.push(s.charCodeAt(i));
    }
  }

  /** Any JSON-like value: arrays in order, objects by sorted key (an undefined entry counts as absent). */
  value(v: unknown): void {
    if (v === null || typeof v !== 'object') return this.scalar(v);
    if (Array.isArray(v)) {
      this.words.push(TAG_ARRAY, v.length);
      for (const item of v as readonly unknown[]) this.value(item);
      return;
    }
    const record = v as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort();
    this.words.push(TAG_OBJECT, keys.length);
    for (const key of keys) {
      this.text(TAG_STRING, key);
      this.value(record[key]);
    }
  }

  /** The stream's MurmurHash3_x86_128 (its words' little-endian bytes) as 32 hex characters. */
  digest(): string {
    return murmurWords(this.words, this.words.length);
  }
}

/** 128-bit id (32 hex characters) of a JSON-like value; key order does not matter, numbers by their bits. */
export function contentHash(input: unknown): string {
  const e = new TokenEncoder();
  e.value(input);
  return e.digest();
}
