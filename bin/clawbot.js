#!/usr/bin/env node
// Entry point of the `clawbot` command: the compiled dist/ when it is built and current, else src/ through tsx (see choose-entry-point.js).
import { fileURLToPath } from "node:url";
import { chooseEntryPoint } from "./choose-entry-point.js";

let entry;
try {
  entry = chooseEntryPoint(fileURLToPath(new URL("..", import.meta.url)));
} catch (error) {
  process.stderr.write(`clawbot: ${error.message}\n`);
  process.exit(1);
}
// tsx's ES module and CommonJS loaders both: a plugin or adapter .ts file in a folder without "type": "module" is
// compiled to CommonJS, which needs the latter. The compiled CLI loads tsx itself, only for such files.
if (entry.kind === "source") await import("tsx");
const { main } = await import(entry.url);
await main(process.argv);
