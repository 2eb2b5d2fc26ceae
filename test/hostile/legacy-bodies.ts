// Hostile bodies for /v1/completions and /v1/embeddings: valid ones, wrong types, token ids, huge numbers, bad UTF-8, deep JSON.
import fc from "fast-check";
import { badUtf8Arbitrary, deepJsonArbitrary, hugeNumberText, wrongTypeValue } from "./hostile-inputs.js";

const text = fc.oneof(fc.string({ maxLength: 40 }), fc.string({ unit: "grapheme", maxLength: 10 }), fc.constantFrom("", "\u0000", "<s>", "</s>", "x ".repeat(3000)));
const model = fc.constantFrom("echo", "gpt-4o-mini", "gpt-3.5-turbo-instruct", "text-embedding-3-small", "");

/** Bodies of POST /v1/completions. */
export function completionBodyArbitrary(maxBody: number): fc.Arbitrary<Buffer> {
  const valid = fc.record(
    {
      model,
      prompt: fc.oneof(text, fc.array(text, { maxLength: 3 }), fc.array(fc.integer(), { maxLength: 4 }), fc.array(fc.array(fc.integer(), { maxLength: 3 }), { maxLength: 2 })),
      max_tokens: fc.integer({ min: 1, max: 64 }),
      stream: fc.boolean(),
      stream_options: fc.record({ include_usage: fc.boolean() }),
      echo: fc.boolean(),
      temperature: fc.double({ min: 0, max: 2, noNaN: true }),
      stop: fc.oneof(fc.string({ maxLength: 4 }), fc.array(fc.string({ maxLength: 4 }), { maxLength: 9 })),
      n: fc.integer({ min: 0, max: 3 }),
      best_of: fc.integer({ min: 0, max: 3 }),
      suffix: fc.oneof(fc.constant(null), fc.string({ maxLength: 4 })),
      logprobs: fc.oneof(fc.constant(null), fc.integer({ min: 0, max: 5 })),
    },
    { requiredKeys: ["prompt"] },
  );
  const fields = ["model", "prompt", "max_tokens", "stream", "stream_options", "echo", "temperature", "top_p", "seed", "stop", "n", "best_of", "suffix", "logprobs", "logit_bias", "presence_penalty", "adapter", "user"];
  return bodies(valid, fields, '{"model":"echo","prompt":"a', maxBody);
}

/** Bodies of POST /v1/embeddings. */
export function embeddingBodyArbitrary(maxBody: number): fc.Arbitrary<Buffer> {
  const valid = fc.record(
    {
      model,
      input: fc.oneof(text, fc.array(text, { maxLength: 6 }), fc.array(fc.integer(), { maxLength: 4 }), fc.array(fc.array(fc.integer(), { maxLength: 3 }), { maxLength: 2 })),
      encoding_format: fc.constantFrom("float", "base64", "int8"),
      dimensions: fc.integer({ min: 0, max: 128 }),
    },
    { requiredKeys: ["input"] },
  );
  return bodies(valid, ["model", "input", "encoding_format", "dimensions", "user"], '{"model":"echo","input":"a', maxBody);
}

function bodies(valid: fc.Arbitrary<Record<string, unknown>>, fields: string[], openString: string, maxBody: number): fc.Arbitrary<Buffer> {
  const wrongType = fc.tuple(valid, fc.constantFrom(...fields), wrongTypeValue).map(([body, key, value]) => ({ ...body, [key]: value }));
  const hugeNumber = fc.tuple(fc.constantFrom(...fields), hugeNumberText).map(([key, number]) => `${openString}","${key}":${number}}`);
  const badUtf8 = badUtf8Arbitrary.map((bytes) => Buffer.concat([Buffer.from(openString), bytes, Buffer.from('b"}')]));
  return fc.oneof(
    { weight: 4, arbitrary: valid.map((body) => Buffer.from(JSON.stringify(body))) },
    { weight: 4, arbitrary: wrongType.map((body) => Buffer.from(JSON.stringify(body))) },
    { weight: 2, arbitrary: hugeNumber.map((body) => Buffer.from(body)) },
    { weight: 1, arbitrary: badUtf8 },
    { weight: 1, arbitrary: deepJsonArbitrary.map((body) => Buffer.from(body)) },
    { weight: 1, arbitrary: fc.json({ maxDepth: 4 }).map((body) => Buffer.from(body)) },
    { weight: 1, arbitrary: fc.integer({ min: maxBody + 1, max: maxBody + 4096 }).map((size) => Buffer.alloc(size, 0x20)) },
  );
}
