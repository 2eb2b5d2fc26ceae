// Served model names: the model, its aliases, an absent name; anything else is model_not_found (unavailable while loading).
import { describe, expect, it } from "vitest";
import type { ClawError } from "../../core/errors.js";
import type { LanguageModel } from "../../engine/language-model.js";
import { ServedModels } from "./served-models.js";

function served(options: { model: string; aliases?: string[]; ready?: boolean }): ServedModels {
  const engine = { info: { model: options.model } } as unknown as LanguageModel;
  return new ServedModels({ engine, isReady: () => options.ready ?? true, modelAliases: options.aliases });
}

function thrown(run: () => unknown): ClawError | undefined {
  try {
    run();
    return undefined;
  } catch (error) {
    return error as ClawError;
  }
}

describe("ServedModels", () => {
  it("accepts the model, each alias, and an absent or empty name", () => {
    const models = served({ model: "qwen", aliases: ["gpt-4o-mini", "qwen"] });
    expect(models.names()).toEqual(["qwen", "gpt-4o-mini"]);
    for (const name of ["qwen", "gpt-4o-mini", undefined, null, ""]) expect(thrown(() => models.check(name))).toBeUndefined();
  });

  it("refuses other names with model_not_found naming the field and the served names", () => {
    const error = thrown(() => served({ model: "qwen", aliases: ["gpt-4o-mini"] }).check("gpt-4o"));
    expect(error).toMatchObject({ code: "model_not_found", status: 404, param: "model" });
    expect(error?.message).toContain('"gpt-4o"');
    expect(error?.message).toContain('"qwen", "gpt-4o-mini"');
    expect(thrown(() => served({ model: "qwen" }).retrieve(""))?.code).toBe("model_not_found");
  });

  it("says unavailable, not model_not_found, while the model loads (its name may not be known yet)", () => {
    const models = served({ model: "llama", ready: false });
    expect(thrown(() => models.check("qwen2.5-0.5b-instruct-q4_k_m"))?.code).toBe("unavailable");
    expect(thrown(() => models.check("llama"))).toBeUndefined();
  });

  it("caps a huge requested name in the message", () => {
    const error = thrown(() => served({ model: "qwen" }).check("x".repeat(100_000)));
    expect(error?.message.length).toBeLessThan(400);
  });
});
