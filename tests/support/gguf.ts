/**
 * A tiny random-weight GGUF (llama architecture) for tests: node-llama-cpp loads it in milliseconds,
 * picks its ChatML wrapper from `tokenizer.chat_template`, and can generate grammar-constrained JSON.
 * What it says is noise; tests assert on structure only.
 *
 * The GGUF v3 layout written here: header (magic, version, tensor count, KV count), KV metadata,
 * tensor infos, padding to `general.alignment`, then F32 tensor data, each tensor aligned.
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { mulberry32 as prng } from '../../contracts/random.ts';

/** Shape of the generated model. */
export interface TinyGgufOptions {
  /** PRNG seed: the same seed gives the same bytes. */
  seed?: number;
  embeddingLength?: number;
  blockCount?: number;
  headCount?: number;
  headCountKv?: number;
  feedForwardLength?: number;
  contextLength?: number;
  /**
   * Texts to learn the vocabulary from (byte-pair pieces, see learnedPieces), so they tokenize into
   * words and JSON fragments instead of characters; default: the fixed ~450-token vocabulary.
   */
  corpus?: readonly string[];
  /** Most pieces learned from `corpus` (default DEFAULT_MAX_LEARNED_PIECES). */
  maxLearnedPieces?: number;
  /** Bias the output layer towards short grammar-bound JSON answers (see SHORT_JSON_CHAR_BIAS). */
  shortJson?: boolean;
}

export const DEFAULT_TINY_GGUF_SEED = 7;
export const DEFAULT_TINY_GGUF_CONTEXT = 8192;
const ALIGNMENT = 32;
/** Vocabulary size the generator aims for. */
export const TINY_VOCAB_SIZE = 450;
/** Pieces a corpus-learned vocabulary holds at most. */
export const DEFAULT_MAX_LEARNED_PIECES = 4000;

/**
 * The output-layer bias of a `shortJson` model, summed over the characters of a token's text. Under
 * a JSON-schema grammar a token holding a quote closes the string it is in, `]` and `}` close an
 * array or object, `,` asks for one more item. So every string closes at (about) its first allowed
 * position and every array at (about) one item, and an answer is ~60-130 tokens whatever the seed.
 * Without it the answer length is the seed's luck: 45 to 490 tokens on average for seeds 1-8, up to
 * 826 (more than a 512-token budget: truncated, invalid).
 */
export const SHORT_JSON_CHAR_BIAS: Readonly<Record<string, number>> = Object.freeze({ '"': 12, ']': 5, '}': 5, ',': -10 });
/** Byte-fallback tokens (pieces of multi-byte characters) are never picked by a `shortJson` model. */
export const SHORT_JSON_BYTE_BIAS = -8;

/** ChatML, the template node-llama-cpp recognises as its ChatMLChatWrapper. */
export const CHATML_TEMPLATE =
  "{% for message in messages %}{{'<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n'}}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const enum GgufType {
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
}

type KvValue =
  | { type: 'u32'; value: number }
  | { type: 'i32'; value: number }
  | { type: 'f32'; value: number }
  | { type: 'bool'; value: boolean }
  | { type: 'str'; value: string }
  | { type: 'str[]'; value: string[] }
  | { type: 'f32[]'; value: number[] }
  | { type: 'i32[]'; value: number[] };

/** Little-endian byte writer that grows as needed. */
class Writer {
  private buf = Buffer.alloc(1 << 16);
  length = 0;

  private ensure(n: number): void {
    if (this.length + n <= this.buf.length) return;
    let size = this.buf.length * 2;
    while (size < this.length + n) size *= 2;
    const next = Buffer.alloc(size);
    this.buf.copy(next, 0, 0, this.length);
    this.buf = next;
  }
  u32(v: number): void {
    this.ensure(4);
    this.buf.writeUInt32LE(v, this.length);
    this.length += 4;
  }
  i32(v: number): void {
    this.ensure(4);
    this.buf.writeInt32LE(v, this.length);
    this.length += 4;
  }
  u64(v: number): void {
    this.ensure(8);
    this.buf.writeBigUInt64LE(BigInt(v), this.length);
    this.length += 8;
  }
  f32(v: number): void {
    this.ensure(4);
    this.buf.writeFloatLE(v, this.length);
    this.length += 4;
  }
  u8(v: number): void {
    this.ensure(1);
    this.buf.writeUInt8(v, this.length);
    this.length += 1;
  }
  str(s: string): void {
    const bytes = Buffer.from(s, 'utf8');
    this.u64(bytes.length);
    this.ensure(bytes.length);
    bytes.copy(this.buf, this.length);
    this.length += bytes.length;
  }
  pad(alignment: number): void {
    while (this.length % alignment !== 0) this.u8(0);
  }
  f32Array(values: Float32Array): void {
    const bytes = Buffer.from(values.buffer, values.byteOffset, values.byteLength);
    this.ensure(bytes.length);
    bytes.copy(this.buf, this.length);
    this.length += bytes.length;
  }
  toBuffer(): Buffer {
    return this.buf.subarray(0, this.length);
  }
}

function writeKv(w: Writer, key: string, kv: KvValue): void {
  w.str(key);
  switch (kv.type) {
    case 'u32':
      w.u32(GgufType.UINT32);
      w.u32(kv.value);
      break;
    case 'i32':
      w.u32(GgufType.INT32);
      w.i32(kv.value);
      break;
    case 'f32':
      w.u32(GgufType.FLOAT32);
      w.f32(kv.value);
      break;
    case 'bool':
      w.u32(GgufType.BOOL);
      w.u8(kv.value ? 1 : 0);
      break;
    case 'str':
      w.u32(GgufType.STRING);
      w.str(kv.value);
      break;
    case 'str[]':
      w.u32(GgufType.ARRAY);
      w.u32(GgufType.STRING);
      w.u64(kv.value.length);
      for (const s of kv.value) w.str(s);
      break;
    case 'f32[]':
      w.u32(GgufType.ARRAY);
      w.u32(GgufType.FLOAT32);
      w.u64(kv.value.length);
      for (const v of kv.value) w.f32(v);
      break;
    case 'i32[]':
      w.u32(GgufType.ARRAY);
      w.u32(GgufType.INT32);
      w.u64(kv.value.length);
      for (const v of kv.value) w.i32(v);
      break;
  }
}

/** SentencePiece token types as llama.cpp reads them. */
const TOKEN_NORMAL = 1;
const TOKEN_UNKNOWN = 2;
const TOKEN_CONTROL = 3;
const TOKEN_BYTE = 6;

/** Frequent pieces so text does not tokenize purely char by char (SentencePiece marks spaces with ▁). */
const WORD_PIECES = [
  'the',
  'and',
  'to',
  'of',
  'in',
  'is',
  'for',
  'on',
  'that',
  'with',
  'as',
  'at',
  'by',
  'it',
  'be',
  'are',
  'this',
  'an',
  'or',
  'not',
  'from',
  'was',
  'has',
  'have',
  'will',
  'its',
  'but',
  'you',
  'your',
  'news',
  'stock',
  'price',
  'trade',
  'risk',
  'size',
  'buy',
  'sell',
  'bull',
  'bear',
  'market',
  'evidence',
  'claim',
  'claims',
  'stance',
  'support',
  'oppose',
  'neutral',
  'confidence',
  'summary',
  'decision',
  'APPROVE',
  'REDUCE',
  'REJECT',
  'ABSTAIN',
  'reasons',
  'dissent',
  'proposal',
  'ticker',
  'model',
  'probability',
  'return',
  'analyst',
  'committee',
  'data',
  'instructions',
  'JSON',
  'schema',
  'output',
  'only',
  'shares',
  'earnings',
  'revenue',
  'profit',
  'loss',
  'rose',
  'fell',
  'said',
  'company',
  'year',
  'quarter',
  'sales',
  'percent',
  'up',
  'down',
  'high',
  'low',
  'volume',
  'trend',
  'id',
  'text',
  'role',
  'user',
  'system',
  'assistant',
  'round',
  'multiplier',
  'reduce',
  'reject',
  'approve',
  'never',
  'must',
  'may',
  'can',
  'if',
  'no',
  'yes',
  'all',
  'one',
  'two',
  'new',
  'more',
  'less',
  'than',
  'which',
];

/** SentencePiece's word-boundary marker: the tokenizer turns every space into it. */
const SPACE = '\u2581';

/**
 * The base of every vocabulary: specials, ChatML markers, 256 byte tokens (any text tokenizes),
 * ▁ and every printable ASCII character as its own token (a grammar can always proceed).
 */
function baseVocabulary(): { tokens: string[]; scores: number[]; types: number[]; add: (piece: string, score: number) => void } {
  const tokens: string[] = ['<unk>', '<s>', '</s>', '<|im_start|>', '<|im_end|>'];
  const types: number[] = [TOKEN_UNKNOWN, TOKEN_CONTROL, TOKEN_CONTROL, TOKEN_CONTROL, TOKEN_CONTROL];
  const scores: number[] = [0, 0, 0, 0, 0];
  for (let b = 0; b < 256; b++) {
    tokens.push(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
    types.push(TOKEN_BYTE);
    scores.push(0);
  }
  const seen = new Set(tokens);
  const add = (piece: string, score: number): void => {
    if (seen.has(piece)) return;
    seen.add(piece);
    tokens.push(piece);
    types.push(TOKEN_NORMAL);
    scores.push(score);
  };
  add(SPACE, -1);
  for (let c = 33; c < 127; c++) add(String.fromCharCode(c), -2);
  return { tokens, scores, types, add };
}

/** The fixed vocabulary: the base, then ▁-words and words; 450 tokens. */
export function tinyVocabulary(): { tokens: string[]; scores: number[]; types: number[] } {
  const { tokens, scores, types, add } = baseVocabulary();
  // Longer pieces score higher, so SentencePiece merges prefer them; the vocabulary stops at ~450.
  for (const w of WORD_PIECES) {
    if (tokens.length >= TINY_VOCAB_SIZE) break;
    add(`${SPACE}${w}`, -10 + Math.min(w.length, 8) * 0.5);
  }
  for (const w of WORD_PIECES) {
    if (tokens.length >= TINY_VOCAB_SIZE) break;
    add(w, -12 + Math.min(w.length, 8) * 0.5);
  }
  return { tokens, scores, types };
}

/**
 * The chunks byte-pair merges stay inside: a run of letters, of digits or of other characters,
 * each with the ▁ before it, or a run of newlines or of ▁. A piece never spans two chunks, so the
 * pieces learned from a table of chunk counts are the ones SentencePiece finds in running text.
 */
const CHUNK = /\u2581?[A-Za-z]+|\u2581?[0-9]+|\u2581?[^A-Za-z0-9\u2581\n]+|\n+|\u2581+/g;

/**
 * Byte-pair encoding learned from `corpus`: the pieces in merge order, each the concatenation of two
 * symbols present before it (so llama.cpp's SentencePiece merges can build it), most frequent pair
 * first, ties broken by the pair's text; stops at pairs seen once or at `maxPieces`. Deterministic.
 */
export function learnedPieces(corpus: readonly string[], maxPieces: number): string[] {
  const counts = new Map<string, number>();
  for (const doc of corpus) {
    for (const chunk of `${SPACE}${doc.replace(/ /g, SPACE)}`.match(CHUNK) ?? []) counts.set(chunk, (counts.get(chunk) ?? 0) + 1);
  }
  // Symbols are interned as numbers; a pair is a * 2^21 + b (fits a double exactly).
  const PAIR = 2 ** 21;
  const text: string[] = [];
  const idOf = new Map<string, number>();
  const intern = (s: string): number => {
    let id = idOf.get(s);
    if (id === undefined) {
      id = text.length;
      text.push(s);
      idOf.set(s, id);
    }
    return id;
  };
  const chunks = [...counts.keys()].sort();
  const words = chunks.map((c) => [...c].map(intern));
  const freq = chunks.map((c) => counts.get(c) ?? 0);
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const addPairs = (w: number, sign: 1 | -1): void => {
    const sym = words[w] as number[];
    for (let i = 0; i + 1 < sym.length; i++) {
      const key = (sym[i] as number) * PAIR + (sym[i + 1] as number);
      pairCount.set(key, (pairCount.get(key) ?? 0) + sign * (freq[w] as number));
      if (sign > 0) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(w);
      }
    }
  };
  words.forEach((_, w) => addPairs(w, 1));
  const pieces: string[] = [];
  const pieceSet = new Set<string>();
  while (pieces.length < maxPieces) {
    let best = -1;
    let bestCount = 2;
    let bestText = '';
    for (const [key, n] of pairCount) {
      if (n < bestCount) continue;
      const t = (text[Math.floor(key / PAIR)] as string) + (text[key % PAIR] as string);
      if (n > bestCount || best < 0 || t < bestText) {
        best = key;
        bestCount = n;
        bestText = t;
      }
    }
    if (best < 0) break;
    const a = Math.floor(best / PAIR);
    const b = best % PAIR;
    const merged = intern(bestText);
    if (!pieceSet.has(bestText)) {
      pieceSet.add(bestText);
      pieces.push(bestText);
    }
    for (const w of [...(pairWords.get(best) ?? [])]) {
      addPairs(w, -1);
      const sym = words[w] as number[];
      const next: number[] = [];
      for (let i = 0; i < sym.length; i++) {
        if (i + 1 < sym.length && sym[i] === a && sym[i + 1] === b) {
          next.push(merged);
          i++;
        } else next.push(sym[i] as number);
      }
      words[w] = next;
      addPairs(w, 1);
    }
    pairCount.delete(best);
    pairWords.delete(best);
  }
  return pieces;
}

/**
 * A vocabulary learned from `corpus`: the base, newline, then the byte-pair pieces, scored by merge order
 * (llama.cpp's SentencePiece tokenizer applies the highest-scoring merge first, so text tokenizes
 * as byte-pair encoding would).
 */
export function learnedVocabulary(corpus: readonly string[], maxPieces: number): { tokens: string[]; scores: number[]; types: number[] } {
  const { tokens, scores, types, add } = baseVocabulary();
  add('\n', -2);
  learnedPieces(corpus, maxPieces).forEach((piece, rank) => add(piece, -10 - rank));
  return { tokens, scores, types };
}

/** The `shortJson` output bias of a token's text. */
export function shortJsonBias(piece: string): number {
  let bias = 0;
  for (const ch of piece) bias += SHORT_JSON_CHAR_BIAS[ch] ?? 0;
  return bias;
}

interface Tensor {
  name: string;
  dims: number[];
  data: Float32Array;
}

/** Builds the GGUF bytes of a tiny random llama model. */
export function buildTinyGguf(options: TinyGgufOptions = {}): Buffer {
  const seed = options.seed ?? DEFAULT_TINY_GGUF_SEED;
  const nEmbd = options.embeddingLength ?? 64;
  const nLayer = options.blockCount ?? 2;
  const nHead = options.headCount ?? 4;
  const nHeadKv = options.headCountKv ?? 4;
  const nFf = options.feedForwardLength ?? 128;
  const nCtx = options.contextLength ?? DEFAULT_TINY_GGUF_CONTEXT;
  const headDim = nEmbd / nHead;
  const vocab = options.corpus ? learnedVocabulary(options.corpus, options.maxLearnedPieces ?? DEFAULT_MAX_LEARNED_PIECES) : tinyVocabulary();
  const nVocab = vocab.tokens.length;
  const rand = prng(seed);

  const random = (count: number, scale: number): Float32Array => {
    const a = new Float32Array(count);
    for (let i = 0; i < count; i++) a[i] = (rand() * 2 - 1) * scale;
    return a;
  };
  const ones = (count: number): Float32Array => new Float32Array(count).fill(1);

  // GGUF dims are innermost first: a [in, out] matrix maps `in` features to `out`.
  const tensors: Tensor[] = [
    { name: 'token_embd.weight', dims: [nEmbd, nVocab], data: random(nEmbd * nVocab, 0.5) },
    { name: 'output_norm.weight', dims: [nEmbd], data: ones(nEmbd) },
  ];
  const output = random(nEmbd * nVocab, 0.5);
  if (options.shortJson) {
    // Feature 0 of every token embedding is 1; the layers' weights are small, so it reaches the
    // output norm nearly unchanged and output.weight's feature 0 acts as a per-token bias.
    const embedding = (tensors[0] as Tensor).data;
    vocab.tokens.forEach((piece, t) => {
      embedding[t * nEmbd] = 1;
      output[t * nEmbd] = vocab.types[t] === TOKEN_BYTE ? SHORT_JSON_BYTE_BIAS : shortJsonBias(piece);
    });
  }
  tensors.push({ name: 'output.weight', dims: [nEmbd, nVocab], data: output });
  for (let l = 0; l < nLayer; l++) {
    const p = `blk.${l}.`;
    tensors.push(
      { name: `${p}attn_norm.weight`, dims: [nEmbd], data: ones(nEmbd) },
      { name: `${p}attn_q.weight`, dims: [nEmbd, nEmbd], data: random(nEmbd * nEmbd, 0.1) },
      { name: `${p}attn_k.weight`, dims: [nEmbd, headDim * nHeadKv], data: random(nEmbd * headDim * nHeadKv, 0.1) },
      { name: `${p}attn_v.weight`, dims: [nEmbd, headDim * nHeadKv], data: random(nEmbd * headDim * nHeadKv, 0.1) },
      { name: `${p}attn_output.weight`, dims: [nEmbd, nEmbd], data: random(nEmbd * nEmbd, 0.1) },
      { name: `${p}ffn_norm.weight`, dims: [nEmbd], data: ones(nEmbd) },
      { name: `${p}ffn_gate.weight`, dims: [nEmbd, nFf], data: random(nEmbd * nFf, 0.1) },
      { name: `${p}ffn_up.weight`, dims: [nEmbd, nFf], data: random(nEmbd * nFf, 0.1) },
      { name: `${p}ffn_down.weight`, dims: [nFf, nEmbd], data: random(nFf * nEmbd, 0.1) },
    );
  }

  const kvs: Array<[string, KvValue]> = [
    ['general.architecture', { type: 'str', value: 'llama' }],
    ['general.name', { type: 'str', value: `quorum-tiny-random-${seed}` }],
    ['general.alignment', { type: 'u32', value: ALIGNMENT }],
    ['llama.context_length', { type: 'u32', value: nCtx }],
    ['llama.embedding_length', { type: 'u32', value: nEmbd }],
    ['llama.block_count', { type: 'u32', value: nLayer }],
    ['llama.feed_forward_length', { type: 'u32', value: nFf }],
    ['llama.attention.head_count', { type: 'u32', value: nHead }],
    ['llama.attention.head_count_kv', { type: 'u32', value: nHeadKv }],
    ['llama.rope.dimension_count', { type: 'u32', value: headDim }],
    ['llama.attention.layer_norm_rms_epsilon', { type: 'f32', value: 1e-5 }],
    ['llama.vocab_size', { type: 'u32', value: nVocab }],
    ['tokenizer.ggml.model', { type: 'str', value: 'llama' }],
    ['tokenizer.ggml.tokens', { type: 'str[]', value: vocab.tokens }],
    ['tokenizer.ggml.scores', { type: 'f32[]', value: vocab.scores }],
    ['tokenizer.ggml.token_type', { type: 'i32[]', value: vocab.types }],
    ['tokenizer.ggml.unknown_token_id', { type: 'u32', value: 0 }],
    ['tokenizer.ggml.bos_token_id', { type: 'u32', value: 1 }],
    ['tokenizer.ggml.eos_token_id', { type: 'u32', value: 4 }],
    ['tokenizer.ggml.add_bos_token', { type: 'bool', value: true }],
    ['tokenizer.ggml.add_eos_token', { type: 'bool', value: false }],
    ['tokenizer.chat_template', { type: 'str', value: CHATML_TEMPLATE }],
  ];

  const w = new Writer();
  w.u32(0x46554747); // "GGUF" little-endian
  w.u32(3);
  w.u64(tensors.length);
  w.u64(kvs.length);
  for (const [key, value] of kvs) writeKv(w, key, value);

  let offset = 0;
  const offsets: number[] = [];
  for (const t of tensors) {
    offsets.push(offset);
    offset += t.data.byteLength;
    offset = Math.ceil(offset / ALIGNMENT) * ALIGNMENT;
  }
  tensors.forEach((t, i) => {
    w.str(t.name);
    w.u32(t.dims.length);
    for (const d of t.dims) w.u64(d);
    w.u32(0); // GGML_TYPE_F32
    w.u64(offsets[i] ?? 0);
  });
  w.pad(ALIGNMENT);
  for (const t of tensors) {
    w.f32Array(t.data);
    w.pad(ALIGNMENT);
  }
  return w.toBuffer();
}

/** Writes the tiny GGUF to `file` (default: a fresh temp path) and returns the path. */
export function writeTinyGguf(file?: string, options: TinyGgufOptions = {}): string {
  const target = file ?? path.join(mkdtempSync(path.join(tmpdir(), 'quorum-gguf-')), 'quorum-tiny.gguf');
  mkdirSync(path.dirname(target), { recursive: true });
  writeFileSync(target, buildTinyGguf(options));
  return target;
}
