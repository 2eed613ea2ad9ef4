/**
 * A deterministic, dependency-free content hash for decision ids. risk/ may not import node:crypto,
 * and the id only has to be stable and well spread, not secret, so a 128-bit non-cryptographic hash
 * (the cyrb128 mixing) is fed with tagged, length-prefixed tokens: numbers by their bits, strings by
 * their UTF-16 code units, no intermediate string.
 *
 * Two ways in: `contentHash` walks any JSON-like value (object entries combined in an order-free way),
 * and a `TokenHash` takes a caller's tokens in a fixed order (the controller's decision id knows the
 * shape of its input): a canonical encoding too, written as 32-bit words into one reused buffer and
 * mixed in a single tight loop, a fraction of the walk's cost (no key hashing, no per-entry seeding,
 * no state kept between calls in module variables).
 */

// One shared scratch buffer to read a double's bits.
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** Object keys repeat in every decision; their hashes are cached (a pure memo, bounded by our schemas' keys). */
const keyCodes = new Map<string, number>();
const KEY_CACHE_MAX = 4096;

function keyCode(key: string): number {
  let code = keyCodes.get(key);
  if (code === undefined) {
    // FNV-1a over the key: it only has to tell field names apart (the length is mixed in too).
    code = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) code = Math.imul(code ^ key.charCodeAt(i), 16777619);
    code = (code ^ key.length) >>> 0;
    if (keyCodes.size < KEY_CACHE_MAX) keyCodes.set(key, code);
  }
  return code;
}

// The running state of the one hash being computed (contentHash is synchronous and not re-entrant).
let h1 = 0;
let h2 = 0;
let h3 = 0;
let h4 = 0;

function unit(k: number): void {
  h1 = h2 ^ Math.imul(h1 ^ k, 597399067);
  h2 = h3 ^ Math.imul(h2 ^ k, 2869860233);
  h3 = h4 ^ Math.imul(h3 ^ k, 951274213);
  h4 = h1 ^ Math.imul(h4 ^ k, 2716044179);
}

function text(s: string): void {
  let a = h1;
  let b = h2;
  let c = h3;
  let d = h4;
  // Two UTF-16 code units per step (the length is mixed in by the caller, so an odd tail is unambiguous).
  const n = s.length;
  for (let i = 0; i < n; i += 2) {
    const k = i + 1 < n ? s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16) : s.charCodeAt(i);
    a = b ^ Math.imul(a ^ k, 597399067);
    b = c ^ Math.imul(b ^ k, 2869860233);
    c = d ^ Math.imul(c ^ k, 951274213);
    d = a ^ Math.imul(d ^ k, 2716044179);
  }
  h1 = a;
  h2 = b;
  h3 = c;
  h4 = d;
}

function value(v: unknown): void {
  if (v === null) return unit(0x30);
  switch (typeof v) {
    case 'number':
      f64[0] = v;
      unit(0x31);
      unit(u32[0] as number);
      return unit(u32[1] as number);
    case 'string':
      // Tagged and length-prefixed, so ["ab"] and ["a","b"] never collide.
      unit(0x32);
      unit(v.length);
      return text(v);
    case 'boolean':
      return unit(v ? 0x33 : 0x34);
    case 'undefined':
      return unit(0x35);
    case 'object': {
      if (Array.isArray(v)) {
        unit(0x36);
        unit(v.length);
        for (let i = 0; i < v.length; i++) value(v[i]);
        return;
      }
      // Key order must not matter: each entry is hashed on its own from a fixed seed and the entry
      // hashes are summed (commutative), which needs no sorted copy of the keys.
      const record = v as Record<string, unknown>;
      const p1 = h1;
      const p2 = h2;
      const p3 = h3;
      const p4 = h4;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      let s4 = 0;
      let entries = 0;
      for (const key in record) {
        const item = record[key];
        // An absent optional field and an explicit undefined mean the same input.
        if (item === undefined || !Object.hasOwn(record, key)) continue;
        h1 = 1779033703;
        h2 = 3144134277;
        h3 = 1013904242;
        h4 = 2773480762;
        unit(keyCode(key));
        value(item);
        s1 = (s1 + h1) | 0;
        s2 = (s2 + h2) | 0;
        s3 = (s3 + h3) | 0;
        s4 = (s4 + h4) | 0;
        entries += 1;
      }
      h1 = p1;
      h2 = p2;
      h3 = p3;
      h4 = p4;
      unit(0x37);
      unit(entries);
      unit(s1);
      unit(s2);
      unit(s3);
      return unit(s4);
    }
    default: {
      const printed = String(v);
      unit(0x3a);
      unit(printed.length);
      return text(printed);
    }
  }
}

// Hex by bytes from a table: Number#toString(16) took about a microsecond per id.
const HEX_BYTES = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, '0'));
function hex(n: number): string {
  return (HEX_BYTES[n >>> 24] as string) + (HEX_BYTES[(n >>> 16) & 255] as string) + (HEX_BYTES[(n >>> 8) & 255] as string) + (HEX_BYTES[n & 255] as string);
}

/** 128-bit hash (32 hex characters) of a JSON-like value; key order does not matter, numbers hash by their bits. */
export function contentHash(input: unknown): string {
  h1 = 1779033703;
  h2 = 3144134277;
  h3 = 1013904242;
  h4 = 2773480762;
  value(input);
  return finish(h1, h2, h3, h4);
}

/** cyrb128's final avalanche of the four lanes, as 32 hex characters. */
function finish(h1: number, h2: number, h3: number, h4: number): string {
  let a = Math.imul(h3 ^ (h1 >>> 18), 597399067);
  let b = Math.imul(h4 ^ (h2 >>> 22), 2869860233);
  let c = Math.imul(a ^ (h3 >>> 17), 951274213);
  let d = Math.imul(b ^ (h4 >>> 19), 2716044179);
  a ^= b ^ c ^ d;
  b ^= a;
  c ^= a;
  d ^= a;
  return hex(a) + hex(b) + hex(c) + hex(d);
}

// Token tags of the word encoding (the walk above uses the same values for the same types).
const TAG_NULL = 0x30;
const TAG_NUMBER = 0x31;
const TAG_STRING = 0x32;
const TAG_TRUE = 0x33;
const TAG_FALSE = 0x34;
const TAG_UNDEFINED = 0x35;
const TAG_COUNT = 0x38;
const TAG_OBJECT = 0x39;
const TAG_OTHER = 0x3a;
const TAG_STRING8 = 0x3b;

/**
 * A hash over a stream of typed tokens: `reset`, then `scalar`/`count` in the caller's fixed order,
 * then `digest`. Every token is tagged and strings are length-prefixed (Latin-1 text packed four
 * characters a word under its own tag, wider text two), so the word sequence decodes to exactly one
 * token sequence: two streams share a digest only by a 128-bit chance. The words are
 * mixed with the same cyrb128 steps as `contentHash`. One instance is reused for every id (synchronous,
 * not re-entrant).
 */
export class TokenHash {
  private words = new Uint32Array(1024);
  private n = 0;
  private readonly f64 = new Float64Array(1);
  private readonly bits = new Uint32Array(this.f64.buffer);

  /** Starts a new stream. */
  reset(): void {
    this.n = 0;
  }

  private room(k: number): void {
    if (this.n + k <= this.words.length) return;
    const grown = new Uint32Array(Math.max(this.words.length * 2, this.n + k));
    grown.set(this.words.subarray(0, this.n));
    this.words = grown;
  }

  /** A count (an array's length), so the tokens that follow cannot be read as another split. */
  count(n: number): void {
    this.room(2);
    this.words[this.n++] = TAG_COUNT;
    this.words[this.n++] = n;
  }

  /**
   * One value, tagged by its type: `1`, `"1"`, `null` and `undefined` differ; numbers by their bits
   * (so -0 and 0 differ, as they may print differently). Meant for scalars; anything else (malformed
   * input) is added as the `contentHash` of all it holds.
   */
  scalar(v: unknown): void {
    if (v === null) return this.tag(TAG_NULL);
    switch (typeof v) {
      case 'number': {
        this.room(3);
        this.f64[0] = v;
        const w = this.words;
        w[this.n++] = TAG_NUMBER;
        w[this.n++] = this.bits[0] as number;
        w[this.n++] = this.bits[1] as number;
        return;
      }
      case 'string':
        return this.text(TAG_STRING, v);
      case 'boolean':
        return this.tag(v ? TAG_TRUE : TAG_FALSE);
      case 'undefined':
        return this.tag(TAG_UNDEFINED);
      case 'object':
        return this.text(TAG_OBJECT, contentHash(v));
      default:
        return this.text(TAG_OTHER, String(v));
    }
  }

  private tag(t: number): void {
    this.room(1);
    this.words[this.n++] = t;
  }

  private text(tag: number, s: string): void {
    const len = s.length;
    this.room(2 + ((len + 1) >> 1));
    const w = this.words;
    const start = this.n;
    let n = start;
    // Latin-1 text (ids, tickers, timestamps: nearly all of it) four characters a word, under its own
    // tag; anything wider two UTF-16 code units a word. The length makes a short last word unambiguous.
    w[n++] = tag === TAG_STRING ? TAG_STRING8 : tag;
    w[n++] = len;
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
      w[n++] = a | (b << 8) | (c << 16) | (d << 24);
    }
    if (!wide && i < len) {
      let last = 0;
      for (let k = 0; i + k < len; k++) {
        const c = s.charCodeAt(i + k);
        if (c > 0xff) wide = true;
        last |= c << (8 * k);
      }
      w[n++] = last;
    }
    if (wide) {
      n = start;
      w[n++] = tag;
      w[n++] = len;
      for (i = 0; i + 1 < len; i += 2) w[n++] = s.charCodeAt(i) | (s.charCodeAt(i + 1) << 16);
      if (i < len) w[n++] = s.charCodeAt(i);
    }
    this.n = n;
  }

  /** The stream's 128-bit hash as 32 hex characters. */
  digest(): string {
    const w = this.words;
    const n = this.n;
    let a = 1779033703;
    let b = 3144134277;
    let c = 1013904242;
    let d = 2773480762;
    for (let i = 0; i < n; i++) {
      const k = w[i] as number;
      a = b ^ Math.imul(a ^ k, 597399067);
      b = c ^ Math.imul(b ^ k, 2869860233);
      c = d ^ Math.imul(c ^ k, 951274213);
      d = a ^ Math.imul(d ^ k, 2716044179);
    }
    return finish(a, b, c, d);
  }
}
