import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LlamaModel } from 'node-llama-cpp';
import { LlamaChat } from 'node-llama-cpp';
import { sharedLlama } from '../../agents/index.ts';
import { buildTinyGguf, tinyVocabulary, writeTinyGguf } from './gguf.ts';

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
