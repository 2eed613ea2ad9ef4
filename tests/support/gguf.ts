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
import { mulberry32 as prng } from './prng.ts';

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
}

export const DEFAULT_TINY_GGUF_SEED = 7;
export const DEFAULT_TINY_GGUF_CONTEXT = 8192;
const ALIGNMENT = 32;
/** Vocabulary size the generator aims for. */
export const TINY_VOCAB_SIZE = 450;

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
  'the', 'and', 'to', 'of', 'in', 'is', 'for', 'on', 'that', 'with', 'as', 'at', 'by', 'it', 'be', 'are', 'this',
  'an', 'or', 'not', 'from', 'was', 'has', 'have', 'will', 'its', 'but', 'you', 'your', 'news', 'stock', 'price',
  'trade', 'risk', 'size', 'buy', 'sell', 'bull', 'bear', 'market', 'evidence', 'claim', 'claims', 'stance',
  'support', 'oppose', 'neutral', 'confidence', 'summary', 'decision', 'APPROVE', 'REDUCE', 'REJECT', 'ABSTAIN',
  'reasons', 'dissent', 'proposal', 'ticker', 'model', 'probability', 'return', 'analyst', 'committee', 'data',
  'instructions', 'JSON', 'schema', 'output', 'only', 'shares', 'earnings', 'revenue', 'profit', 'loss', 'rose',
  'fell', 'said', 'company', 'year', 'quarter', 'sales', 'percent', 'up', 'down', 'high', 'low', 'volume', 'trend',
  'id', 'text', 'role', 'user', 'system', 'assistant', 'round', 'multiplier', 'reduce', 'reject', 'approve',
  'never', 'must', 'may', 'can', 'if', 'no', 'yes', 'all', 'one', 'two', 'new', 'more', 'less', 'than', 'which',
];

/** The vocabulary: specials, ChatML markers, 256 byte tokens, printable ASCII, ▁-words and words; 450 tokens. */
export function tinyVocabulary(): { tokens: string[]; scores: number[]; types: number[] } {
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
  // Every printable ASCII character as its own token (space is ▁), so a grammar can always proceed.
  add('\u2581', -1);
  for (let c = 33; c < 127; c++) add(String.fromCharCode(c), -2);
  // Longer pieces score higher, so SentencePiece merges prefer them; the vocabulary stops at ~450.
  for (const w of WORD_PIECES) {
    if (tokens.length >= TINY_VOCAB_SIZE) break;
    add(`\u2581${w}`, -10 + Math.min(w.length, 8) * 0.5);
  }
  for (const w of WORD_PIECES) {
    if (tokens.length >= TINY_VOCAB_SIZE) break;
    add(w, -12 + Math.min(w.length, 8) * 0.5);
  }
  return { tokens, scores, types };
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
  const vocab = tinyVocabulary();
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
    { name: 'output.weight', dims: [nEmbd, nVocab], data: random(nEmbd * nVocab, 0.5) },
  ];
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
