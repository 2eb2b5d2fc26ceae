// Lets plugin files anywhere on disk `import … from "clawbot"`: the name resolves to this running copy of Clawbot.
import module from "node:module";
import { fileURLToPath } from "node:url";

let registered = false;

/**
 * Maps the bare specifier "clawbot" to this running copy's index (src/index.ts, or dist/index.js when compiled), so
 * that a plugin outside any project that installs clawbot (say next to a config in ~/.clawbot) still loads, and a
 * plugin inside a clone gets the copy that runs, not the package's `exports` (dist/, which may not be built). Under
 * Vitest, modules are resolved by Vite (vitest.config.ts aliases "clawbot" to src/index.ts). Two routes need it: ES
 * modules (a resolve hook) and CommonJS (tsx compiles a `.ts` file outside an ESM package to CommonJS, whose
 * require() does not pass through ESM hooks). Such a plugin may get its own copy of the API modules; the host
 * recognises plugins and errors by marker and name, not by identity, so that works.
 */
export function registerPackageAlias(): void {
  if (registered || typeof module.register !== "function") return;
  registered = true;
  // This file is src/extensions/package-alias.ts, or dist/extensions/package-alias.js in the compiled package.
  const indexUrl = new URL(import.meta.url.endsWith(".ts") ? "../index.ts" : "../index.js", import.meta.url);
  module.register(`data:text/javascript,${encodeURIComponent(resolveHookSource)}`, { data: { indexUrl: indexUrl.href } });
  const commonJs = module as unknown as { _resolveFilename: (this: unknown, request: string, ...rest: unknown[]) => string };
  const resolveFilename = commonJs._resolveFilename;
  const indexPath = fileURLToPath(indexUrl);
  commonJs._resolveFilename = function (request, ...rest) {
    return request === "clawbot" ? indexPath : resolveFilename.call(this, request, ...rest);
  };
}

const resolveHookSource = `
let indexUrl;
export function initialize(data) { indexUrl = data.indexUrl; }
export async function resolve(specifier, context, nextResolve) {
  return nextResolve(specifier === "clawbot" ? indexUrl : specifier, context);
}
`;
