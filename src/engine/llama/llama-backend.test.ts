// Backend selection where the hardware cannot be had in CI: a detected GPU that fails under `auto` warns; a named one fails.
import { beforeEach, describe, expect, it, vi } from "vitest";

const binding = vi.hoisted(() => ({
  gpu: false as false | string,
  supported: [false] as (false | string)[],
  fail: undefined as Error | undefined,
  disposed: 0,
}));

vi.mock("node-llama-cpp", async (importOriginal) => ({
  ...(await importOriginal<typeof import("node-llama-cpp")>()),
  getLlama: async () => {
    if (binding.fail) throw binding.fail;
    return { gpu: binding.gpu, dispose: async () => void binding.disposed++ };
  },
  getLlamaGpuTypes: async () => binding.supported,
}));

const { flashAttentionFor, startLlama } = await import("./llama-backend.js");

function recordingLogger() {
  const warnings: string[] = [];
  const logger = { warn: (_fields: unknown, message: string) => warnings.push(message), error: () => {}, debug: () => {} };
  return { warnings, logger: logger as unknown as Parameters<typeof startLlama>[1] };
}

describe("startLlama", () => {
  beforeEach(() => Object.assign(binding, { gpu: false, supported: [false], fail: undefined, disposed: 0 }));

  it("auto: warns when a GPU runtime is installed but llama.cpp started on the CPU", async () => {
    Object.assign(binding, { supported: ["cuda", false] });
    const { warnings, logger } = recordingLogger();
    const { llama } = await startLlama("auto", logger);
    expect(llama.gpu).toBe(false);
    expect(warnings).toEqual(["a GPU (cuda) was detected but could not be initialised; running on the CPU"]);
  });

  it("auto: says nothing on a machine without a GPU, or when the GPU started", async () => {
    const { warnings, logger } = recordingLogger();
    await startLlama("auto", logger);
    Object.assign(binding, { gpu: "cuda", supported: ["cuda", false] });
    expect((await startLlama("auto", logger)).llama.gpu).toBe("cuda");
    expect(warnings).toEqual([]);
  });

  it("a named backend that cannot start is an error naming it, with the way out", async () => {
    binding.fail = Object.assign(new Error("NoBinaryFoundError"), { name: "NoBinaryFoundError" });
    await expect(startLlama("cuda", recordingLogger().logger)).rejects.toThrow(
      'agent.gpu is "cuda" but the CUDA backend could not be initialised: no working llama.cpp binary for it on this machine',
    );
  });

  it("a named backend that node-llama-cpp replaced by another is refused, and the binding released", async () => {
    binding.gpu = "vulkan";
    await expect(startLlama("metal", recordingLogger().logger)).rejects.toThrow(
      'agent.gpu is "metal" but the Metal backend is not available on this platform (llama.cpp started on vulkan)',
    );
    expect(binding.disposed).toBe(1);
  });
});

describe("flashAttentionFor", () => {
  it("turns auto into off on the CPU, leaves auto to llama.cpp on a GPU, and keeps an explicit choice", () => {
    expect(flashAttentionFor("auto", false)).toBe(false);
    expect(flashAttentionFor("auto", "cuda")).toBe("auto");
    expect(flashAttentionFor("auto", "metal")).toBe("auto");
    expect(flashAttentionFor(true, false)).toBe(true);
    expect(flashAttentionFor(false, "vulkan")).toBe(false);
  });
});
