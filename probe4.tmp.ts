import { createLlamaEngine } from "./src/engine/llama/llama-engine.js";
import { silentLogger } from "./src/logging/logger.js";
import { writeLoraAdapter } from "./test/helpers/lora-adapter.js";
const base = "../shared/models/stories260K.gguf";
writeLoraAdapter(base, "/tmp/probe/a.gguf");
writeLoraAdapter(base, "/tmp/probe/t.gguf", { transposed: true });
async function gen(lora?: any) {
  const engine = await createLlamaEngine({ modelPath: base, parallel: 1, threads: 1, maxQueue: 1, gpu: false, logger: silentLogger, lora, contextSize: 256 });
  let text = "";
  for await (const part of engine.stream({ messages: [{ role: "user", content: "Once upon a time" }], params: { maxTokens: 40, temperature: 0 } })) if (part.type === "text-delta") text += part.text;
  console.log(JSON.stringify(engine.info));
  await engine.close();
  return text;
}
for (const lora of [undefined, [{ path: "/tmp/probe/a.gguf", scale: 0 }], [{ path: "/tmp/probe/a.gguf", scale: 1 }], [{ path: "/tmp/probe/a.gguf", scale: 0.2 }]]) console.log(JSON.stringify(lora), "=>", JSON.stringify(await gen(lora)));
try { await gen([{ path: "/tmp/probe/t.gguf", scale: 1 }]); } catch (e) { console.log("ERR", (e as Error).message); }
try { await gen([{ path: "/tmp/probe/nope.gguf", scale: 1 }]); } catch (e) { console.log("ERR", (e as Error).message); }
