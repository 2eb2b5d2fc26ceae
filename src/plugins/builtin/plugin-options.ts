// Validates a built-in plugin's options with its zod schema; the error names the option and what was expected.
import type { z } from "zod";
import { formatPath } from "../../config/load.js";

export function parsePluginOptions<Schema extends z.ZodTypeAny>(schema: Schema, options: unknown): z.output<Schema> {
  const result = schema.safeParse(options ?? {});
  if (result.success) return result.data;
  const problems = result.error.issues.map((issue) => {
    const where = formatPath(["options", ...issue.path]);
    if (issue.code === "unrecognized_keys") return `${where}: unknown key${issue.keys.length > 1 ? "s" : ""} ${issue.keys.map((key) => `"${key}"`).join(", ")}`;
    return `${where}: ${issue.message}`;
  });
  throw new TypeError(problems.join("; "));
}
