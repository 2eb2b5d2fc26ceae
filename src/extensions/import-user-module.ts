// Imports a user's TypeScript or JavaScript file (a plugin, a gateway adapter) at run time and returns its default export.
import { pathToFileURL } from "node:url";
import { registerPackageAlias } from "./package-alias.js";
import { isTypeScriptFile, registerTypeScriptLoader } from "./type-script-loader.js";

/** Throws a TypeError when the file has no default export; import failures propagate with their own message. */
export async function importDefaultExport(file: string): Promise<unknown> {
  registerPackageAlias();
  if (isTypeScriptFile(file)) await registerTypeScriptLoader();
  const loaded = (await import(/* @vite-ignore */ pathToFileURL(file).href)) as { default?: unknown };
  if (loaded.default === undefined) throw new TypeError("the file has no default export");
  // A file compiled to CommonJS arrives as its exports object, {default: …}.
  const inner = (loaded.default as { default?: unknown } | null)?.default;
  return typeof loaded.default === "object" && inner !== undefined ? inner : loaded.default;
}
