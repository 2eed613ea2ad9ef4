/**
 * Content ids of the risk controller: MurmurHash3_x86_128 (Austin Appleby's public-domain
 * reference, seed 0; tests/risk/decision-id.test.ts pins it to the reference's outputs) of a
 * canonical byte encoding of typed tokens. risk/ may not import node:crypto, and a SHA-256 in pure
 * JS (@noble/hashes) halved the controller's throughput: see docs/adr/0019-risk-id-hash.md.
 * The ids only have to be stable and well spread, not secret: no one gains by forging a decision id.
 *
 * The encoding, in 32-bit words (hashed as their little-endian bytes): every token starts with a tag
 * word; a whole number from 0 to 2^24 is one word (its tag in the low byte, the number above it), one
 * up to 2^53 two (its tag with the bits above 32, then the low 32 bits), other numbers their two IEEE-754 words (so -0 and 0 differ, as they may print differently; every
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
const TAG_UINT53 = 0x0d;

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
  for (let i = 0; i < whole; i += 4)
    words.push((bytes[i] as number) | ((bytes[i + 1] as number) << 8) | ((bytes[i + 2] as number) << 16) | ((bytes[i + 3] as number) << 24));
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

/** 2^k for k in [-1074, 1023] at POW2[k + 1074], made by exact doubling (a constant table). */
const POW2: readonly number[] = (() => {
  const t = new Array<number>(2098);
  let p = 2 ** -1074;
  for (let k = 0; k < 2098; k++, p *= 2) t[k] = p;
  return t;
})();
const pow2 = (k: number): number => POW2[k + 1074] as number;
const TWO_32 = 4294967296;
const TWO_52 = 4503599627370496;
const TWO_53 = 9007199254740992;
const TWO_M32 = 1 / TWO_32;

/**
 * The high IEEE-754 word of a double (sign, exponent, top 20 mantissa bits) and, through `lo`, the low
 * one, by arithmetic: a typed array per id costs more (its ArrayBuffer) than a whole decision's numbers.
 * Every NaN is one NaN (0x7ff80000 00000000, the bits V8 gives Number.NaN), -0 is 0x80000000 0.
 */
function doubleWords(v: number, out: { lo: number }): number {
  if (v !== v) {
    out.lo = 0;
    return 0x7ff80000;
  }
  const sign = v < 0 || Object.is(v, -0) ? 0x80000000 : 0;
  const a = Math.abs(v);
  if (a === 0) {
    out.lo = 0;
    return sign | 0;
  }
  if (a === Number.POSITIVE_INFINITY) {
    out.lo = 0;
    return sign | 0x7ff00000 | 0;
  }
  let biased: number;
  let mant: number;
  if (a < 2 ** -1022) {
    // Subnormal: exponent bits 0, mantissa a / 2^-1074 (scaled in two exact steps).
    biased = 0;
    mant = a * 2 ** 1022 * TWO_52;
  } else {
    let e: number;
    if (a >= 1 && a < TWO_53) {
      // The exponent is the top bit of the whole part (prices, amounts, times in ms): no log2 needed.
      const top = Math.floor(a / TWO_32);
      e = top > 0 ? 63 - Math.clz32(top) : 31 - Math.clz32(a >>> 0);
    } else if (a < 1 && a >= TWO_M32) {
      // Fractions (confidences, multipliers, rates): a x 2^32 is exact and in [1, 2^32), so the top
      // bit of its whole part, less 32, is the exponent.
      e = 31 - Math.clz32(Math.floor(a * TWO_32)) - 32;
    } else {
      e = Math.floor(Math.log2(a));
      // log2 may be off by one next to a power of two: settle e with exact comparisons.
      if (e > 1023) e = 1023;
      if (e < -1022) e = -1022;
      while (pow2(e) > a) e -= 1;
      while (e < 1023 && pow2(e + 1) <= a) e += 1;
    }
    biased = e + 1023;
    // a / 2^e is in [1, 2) and exact; its 52 fraction bits as a whole number, also exact.
    mant = (a * pow2(-e) - 1) * TWO_52;
  }
  const high = Math.floor(mant / TWO_32);
  out.lo = (mant - high * TWO_32) | 0;
  return sign | (biased << 20) | high | 0;
}

/**
 * A canonical token stream: `scalar`/`count` in the caller's fixed order, then `digest`. Tokens
 * are 32-bit words (tag words, Latin-1 text four characters a word, wider text two), mixed into the
 * encoder's own MurmurHash3_x86_128 lanes as they are written (the same hash as `murmurWords` of
 * the whole stream): an encoder is used for one id and dropped, nothing is shared between ids.
 */
export class TokenEncoder {
  private h1 = 0;
  private h2 = 0;
  private h3 = 0;
  private h4 = 0;
  /** The current block's first three words (the fourth completes it). */
  private b0 = 0;
  private b1 = 0;
  private b2 = 0;
  private n = 0;
  /** The low word of the last double (doubleWords' second result), kept on the encoder: no object per id. */
  lo = 0;

  /** Words written so far. */
  get wordLength(): number {
    return this.n;
  }

  private word(w: number): void {
    const k = this.n & 3;
    this.n += 1;
    if (k === 0) this.b0 = w;
    else if (k === 1) this.b1 = w;
    else if (k === 2) this.b2 = w;
    else this.block(w);
  }

  /** MurmurHash3_x86_128's block step on b0, b1, b2 and `w3` (murmurState's loop body). */
  private block(w3: number): void {
    let h1 = this.h1;
    let h2 = this.h2;
    let h3 = this.h3;
    let h4 = this.h4;
    h1 ^= Math.imul(rotl(Math.imul(this.b0, C1), 15), C2);
    h1 = (Math.imul(rotl(h1, 19) + h2, 5) + 0x561ccd1b) | 0;
    h2 ^= Math.imul(rotl(Math.imul(this.b1, C2), 16), C3);
    h2 = (Math.imul(rotl(h2, 17) + h3, 5) + 0x0bcaa747) | 0;
    h3 ^= Math.imul(rotl(Math.imul(this.b2, C3), 17), C4);
    h3 = (Math.imul(rotl(h3, 15) + h4, 5) + 0x96cd1c35) | 0;
    h4 ^= Math.imul(rotl(Math.imul(w3, C4), 18), C1);
    h4 = (Math.imul(rotl(h4, 13) + h1, 5) + 0x32ac3b17) | 0;
    this.h1 = h1;
    this.h2 = h2;
    this.h3 = h3;
    this.h4 = h4;
  }

  /** A count (an array's length), so the tokens that follow cannot be read as another split. */
  count(n: number): void {
    this.word(TAG_COUNT);
    this.word(n | 0);
  }

  /**
   * One value, tagged by its type: `1`, `"1"`, `null` and `undefined` differ. Meant for scalars;
   * anything else (malformed input) is written whole, as `contentHash` would walk it.
   */
  scalar(v: unknown): void {
    if (v === null) return this.word(TAG_NULL);
    switch (typeof v) {
      case 'number':
        return this.number(v);
      case 'string':
        return this.text(TAG_STRING, v);
      case 'boolean':
        return this.word(v ? TAG_TRUE : TAG_FALSE);
      case 'undefined':
        return this.word(TAG_UNDEFINED);
      case 'object':
        return this.value(v);
      default:
        return this.text(TAG_OTHER, String(v));
    }
  }

  private number(v: number): void {
    // Whole numbers below 2^24 (quantities, counts, most limits) in one word with their tag.
    if (v >= 0 && Number.isInteger(v) && !Object.is(v, -0)) {
      if (v < 0x1000000) return this.word(TAG_UINT24 | (v << 8));
      // Whole numbers up to 2^53 (times in milliseconds, share counts): the bits above 32 (at most 21)
      // with their tag, then the low 32 bits; no IEEE-754 split needed.
      if (v <= Number.MAX_SAFE_INTEGER) {
        this.word(TAG_UINT53 | (Math.floor(v / TWO_32) << 8));
        return this.word(v >>> 0);
      }
    }
    // The IEEE-754 words, low then high (a little-endian Float64 read as two 32-bit words).
    const high = doubleWords(v, this);
    this.word(TAG_NUMBER);
    this.word(this.lo);
    this.word(high);
  }

  /**
   * A string: its tag (TAG_STRING8 or TAG_OTHER8 for Latin-1 text, else the given tag), its length in
   * UTF-16 code units, then four Latin-1 characters a word, or two UTF-16 code units a word.
   */
  private text(tag: number, s: string): void {
    const len = s.length;
    // Written as Latin-1 in one pass; a wider character puts the lanes back as they were and writes
    // the string again, two code units a word (rare: tickers, ids and timestamps are ASCII).
    const { h1, h2, h3, h4, b0, b1, b2, n } = this;
    this.word(tag === TAG_STRING ? TAG_STRING8 : TAG_OTHER8);
    this.word(len);
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
      this.word(a | (b << 8) | (c << 16) | (d << 24));
    }
    if (!wide && i < len) {
      let last = 0;
      for (let k = 0; i + k < len; k++) {
        const c = s.charCodeAt(i + k);
        if (c > 0xff) wide = true;
        last |= c << (8 * k);
      }
      if (!wide) this.word(last);
    }
    if (!wide) return;
    this.h1 = h1;
    this.h2 = h2;
    this.h3 = h3;
    this.h4 = h4;
    this.b0 = b0;
    this.b1 = b1;
    this.b2 = b2;
    this.n = n;
    this.word(tag);
    this.word(len);
    for (i = 0; i + 1 < len; i += 2) this.word(s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16));
    if (i < len) this.word(s.charCodeAt(i));
  }

  /** Any JSON-like value: arrays in order, objects by sorted key (an undefined entry counts as absent). */
  value(v: unknown): void {
    if (v === null || typeof v !== 'object') return this.scalar(v);
    if (Array.isArray(v)) {
      this.word(TAG_ARRAY);
      this.word(v.length);
      for (const item of v as readonly unknown[]) this.value(item);
      return;
    }
    const record = v as Record<string, unknown>;
    const keys = Object.keys(record)
      .filter((k) => record[k] !== undefined)
      .sort();
    this.word(TAG_OBJECT);
    this.word(keys.length);
    for (const key of keys) {
      this.text(TAG_STRING, key);
      this.value(record[key]);
    }
  }

  /** The stream's MurmurHash3_x86_128 (its words' little-endian bytes) as 32 hex characters. */
  digest(): string {
    const k = this.n & 3;
    return finish(this.h1, this.h2, this.h3, this.h4, [k > 0 ? this.b0 : 0, k > 1 ? this.b1 : 0, k > 2 ? this.b2 : 0, 0], this.n * 4);
  }
}

/** 128-bit id (32 hex characters) of a JSON-like value; key order does not matter, numbers by their bits. */
export function contentHash(input: unknown): string {
  const e = new TokenEncoder();
  e.value(input);
  return e.digest();
}
