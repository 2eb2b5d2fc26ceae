#!/usr/bin/env node
// Entry point of the `clawbot` command: runs the TypeScript sources through tsx, no build step.
// tsx's ES module and CommonJS loaders both: a plugin or adapter .ts file in a folder without "type": "module"
// is compiled to CommonJS, which needs the latter.
import "tsx";

const { main } = await import("../src/cli/main.ts");
await main(process.argv);
