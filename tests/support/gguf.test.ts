import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LlamaModel } from 'node-llama-cpp';
import { LlamaChat } from 'node-llama-cpp';
import { loadRolePrompts, loadToolTurnPrompt, sharedLlama } from '../../agents/index.ts';
import { loadConfig } from '../../config/index.ts';
import { evalGgufOptions, writeEvalGguf } from './eval-gguf.ts';
import { SHORT_JSON_BYTE_BIAS, SHORT_JSON_CHAR_BIAS, buildTinyGguf, learnedPieces, shortJsonBias, tinyVocabulary, writeTinyGguf } from './gguf.ts';

let model: LlamaModel;

beforeAll(async () => {
  const llama = await sharedLlama();
  model = await llama.loadModel({ modelPath: writeTinyGguf() });
});
afterAll(async () => {
  await model.dispose();
});

describe('tiny random-weight GGUF generator', () => {
  it('writes a GGUF v3 file of about 0.6 MB, the same bytes for the same seed', () => {
    const a = buildTinyGguf({ seed: 1 });
    expect(a.subarray(0, 4).toString('latin1')).toBe('GGUF');
    expect(a.readUInt32LE(4)).toBe(3);
    expect(a.length).toBeGreaterThan(400_000);
    expect(a.length).toBeLessThan(900_000);
    expect(buildTinyGguf({ seed: 1 }).equals(a)).toBe(true);
    expect(buildTinyGguf({ seed: 2 }).equals(a)).toBe(false);
  });

  it('has a ~450-token vocabulary with 256 byte-fallback tokens and every printable ASCII character', () => {
    const { tokens } = tinyVocabulary();
    expect(tokens.length).toBeGreaterThanOrEqual(440);
    expect(tokens.length).toBeLessThanOrEqual(460);
    expect(tokens.filter((t) => /^<0x[0-9A-F]{2}>$/.test(t))).toHaveLength(256);
    for (let c = 33; c < 127; c++) expect(tokens).toContain(String.fromCharCode(c));
  });

  it('loads in node-llama-cpp as a 2-layer, 64-wide llama model that gets the ChatML wrapper', async () => {
    expect(model.fileInfo.metadata.general.architecture).toBe('llama');
    expect(model.embeddingVectorSize).toBe(64);
    const context = await model.createContext({ contextSize: 512 });
    try {
      const chat = new LlamaChat({ contextSequence: context.getSequence() });
      expect(chat.chatWrapper.wrapperName).toBe('ChatML');
      chat.dispose();
    } finally {
      await context.dispose();
    }
  });

  it('round-trips JSON text through its tokenizer', () => {
    const text = '{"decision": "REDUCE", "sizeMultiplier": 0.5, "reasons": [~|`\\]}';
    expect(model.detokenize(model.tokenize(text))).toBe(text);
  });
});

describe('vocabulary learned from a corpus', () => {
  const corpus = ['The committee may shrink the proposal, never enlarge it.', '{"decision": "REDUCE", "sizeMultiplier": 0.5}', 'the proposal the proposal'];

  it('learns byte-pair pieces deterministically, each the join of two symbols that exist before it', () => {
    const pieces = learnedPieces(corpus, 200);
    expect(learnedPieces(corpus, 200)).toEqual(pieces);
    expect(pieces.length).toBeGreaterThan(10);
    expect(pieces).toContain('\u2581proposal');
    const known = new Set<string>();
    for (const doc of corpus) for (const ch of `\u2581${doc.replace(/ /g, '\u2581')}`) known.add(ch);
    for (const p of pieces) {
      const chars = [...p];
      const buildable = chars.some((_, i) => i > 0 && known.has(chars.slice(0, i).join('')) && known.has(chars.slice(i).join('')));
      expect(buildable, p).toBe(true);
      known.add(p);
    }
    // A piece never joins a letter run with a digit or punctuation run, nor holds a ▁ inside.
    for (const p of pieces) expect(p.slice(1).includes('\u2581') && !/^\u2581+$/.test(p), p).toBe(false);
    expect(learnedPieces(corpus, 3)).toEqual(pieces.slice(0, 3));
  });

  it('writes the eval model: under 1 MB, the production prompts in about a third of the tokens, same bytes every time', async () => {
    const prompts = loadRolePrompts(loadConfig({ env: {} }).agents);
    const options = evalGgufOptions(prompts);
    const bytes = buildTinyGguf(options);
    expect(bytes.length).toBeLessThan(1_000_000);
    expect(buildTinyGguf(options).equals(bytes)).toBe(true);
    const llama = await sharedLlama();
    const evalModel = await llama.loadModel({ modelPath: writeEvalGguf(prompts) });
    try {
      const text = prompts.committee.text;
      expect(evalModel.tokenize(text).length).toBeLessThan(text.length / 3);
      // The tool-request turn's prompt is learned too (two of the seven calls of a committee run).
      const toolPrompt = loadToolTurnPrompt().text;
      expect(evalModel.tokenize(toolPrompt).length).toBeLessThan(toolPrompt.length / 3);
      expect(model.tokenize(text).length).toBeGreaterThan(text.length * 0.9);
      const json = '{"decision": "REDUCE", "sizeMultiplier": 0.5, "reasons": [~|`\\]} naïve — ok';
      expect(evalModel.detokenize(evalModel.tokenize(json))).toBe(json);
    } finally {
      await evalModel.dispose();
    }
  });

  it('biases short JSON: quotes and closing brackets up, commas down', () => {
    expect(shortJsonBias('"')).toBe(SHORT_JSON_CHAR_BIAS['"']);
    expect(shortJsonBias('"]}')).toBeGreaterThan(shortJsonBias('"'));
    expect(shortJsonBias('","')).toBeLessThan(shortJsonBias('"]'));
    expect(shortJsonBias(']')).toBeLessThan(shortJsonBias('"'));
    expect(shortJsonBias('▁the')).toBe(0);
    expect(SHORT_JSON_BYTE_BIAS).toBeLessThan(0);
  });
});
