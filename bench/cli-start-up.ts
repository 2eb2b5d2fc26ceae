// How long `clawbot --help` and `clawbot --version` take (wall time), from dist/ and from the sources through tsx.
// Run: npm run build && node --import tsx bench/cli-start-up.ts [runs, default 10]
// Prints the median and the fastest run of each; `node -e 0` is the floor (Node's own start).
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";

const runs = Number(process.argv[2] ?? 10);
const root = fileURLToPath(new URL("..", import.meta.url));
const distMain = `${root}dist/cli/main.js`;
const sourceMain = `${root}src/cli/main.ts`;

// With --eval, process.argv is [node, ...arguments after "--"]; commander wants [node, script, ...arguments].
const callMain = (file: string) => `await (await import(${JSON.stringify(file)})).main([process.argv[0], "clawbot", ...process.argv.slice(1)])`;
const cases: { name: string; args: string[] }[] = [
  { name: "node -e 0 (floor)", args: ["-e", "0"] },
  { name: "--version, dist/", args: ["--input-type=module", "-e", callMain(distMain), "--", "--version"] },
  { name: "--help, dist/", args: ["--input-type=module", "-e", callMain(distMain), "--", "--help"] },
  { name: "--help, src/ through tsx", args: ["--import", "tsx", "--input-type=module", "-e", callMain(sourceMain), "--", "--help"] },
  { name: "--help, bin/clawbot.js (its choice)", args: [`${root}bin/clawbot.js`, "--help"] },
];

const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;
for (const { name, args } of cases) {
  const wall: number[] = [];
  for (let run = 0; run < runs; run += 1) {
    const startedAt = performance.now();
    const result = spawnSync(process.execPath, args, { cwd: root, encoding: "utf8" });
    wall.push(performance.now() - startedAt);
    if (result.status !== 0) throw new Error(`${name} failed: ${result.stderr}`);
  }
  console.log(`${name.padEnd(40)} median ${median(wall).toFixed(0).padStart(5)} ms, fastest ${Math.min(...wall).toFixed(0).padStart(5)} ms`);
}
