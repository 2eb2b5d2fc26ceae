// Frames per second through the encrypted SM link vs plain JSON over WebSocket (echo engine, one connection, sequential long answers).
import { ChatClient } from "../src/cli/chat-client.js";
import { startTestNode } from "../test/helpers/test-node.js";

const words = Array.from({ length: 400 }, (_, index) => `word${index}`).join(" ");
const rounds = Number(process.env.ROUNDS ?? 10);

async function measure(encrypted: boolean, engine: "echo" | "llama"): Promise<{ framesPerSecond: number; tokensPerSecond: number }> {
  const node = await startTestNode({ agent: { engine, max_tokens: 400, context_size: 4096 }, ...(encrypted ? { websocket: { encryption: { type: "sm" } } } : {}) });
  const client = new ChatClient(encrypted ? { sm: {} } : {});
  try {
    await client.connect(node.wsUrl, await node.token());
    const message = engine === "echo" ? words : "Once upon a time";
    await client.ask(message, { max_tokens: 400 });
    let frames = 0;
    let tokens = 0;
    const started = performance.now();
    for (let round = 0; round < rounds; round += 1) {
      const finish = await client.ask(message, { max_tokens: 400, temperature: 0.8, seed: round }, () => (frames += 1));
      frames += 1;
      tokens += finish.usage.completion_tokens;
    }
    const seconds = (performance.now() - started) / 1000;
    return { framesPerSecond: frames / seconds, tokensPerSecond: tokens / seconds };
  } finally {
    await client.close();
    await node.close();
  }
}

for (const engine of ["echo", "llama"] as const) {
  const plain = await measure(false, engine);
  const sealed = await measure(true, engine);
  console.log(
    `${engine}: plain ${plain.framesPerSecond.toFixed(0)} frames/s ${plain.tokensPerSecond.toFixed(0)} tok/s · SM link ${sealed.framesPerSecond.toFixed(0)} frames/s ${sealed.tokensPerSecond.toFixed(0)} tok/s (${((sealed.framesPerSecond / plain.framesPerSecond) * 100).toFixed(0)} %)`,
  );
}
