// Registers tsx, the TypeScript loader, the first time the compiled Clawbot imports a user's TypeScript file.

let registration: Promise<void> | undefined;

/** Plugin and adapter files that need a TypeScript loader; `.js`, `.mjs` and `.cjs` files load with Node alone. */
export function isTypeScriptFile(file: string): boolean {
  return /\.(?:ts|mts|cts|tsx)$/i.test(file);
}

/**
 * Registers tsx's ES module and CommonJS loaders once (a `.ts` file in a folder without `"type": "module"` is compiled
 * to CommonJS, which needs the latter). Running from the sources (src/ through tsx, or under Vitest) a TypeScript
 * loader is already in place, and nothing is registered.
 */
export function registerTypeScriptLoader(): Promise<void> {
  if (!import.meta.url.endsWith(".js")) return Promise.resolve();
  registration ??= Promise.all([import("tsx/esm/api"), import("tsx/cjs/api")]).then(([esm, commonJs]) => {
    esm.register();
    commonJs.register();
  });
  return registration;
}
