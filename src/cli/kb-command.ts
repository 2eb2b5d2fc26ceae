// `clawbot kb ingest|search|stats|delete|embed`: builds and queries the local knowledge base (docs/knowledge.md).
import { type Command, InvalidArgumentError } from "commander";
import type { KbDeleteOptions, KbEmbedOptions, KbSearchOptions } from "./kb-actions.js";
import type { KbCommonOptions } from "./kb-context.js";
import type { KbIngestOptions } from "./kb-ingest-action.js";

/** Repeatable and comma-separated: `--collection a --collection b,c`. */
function collect(value: string, previous: string[] = []): string[] {
  return [...previous, ...value.split(",").map((name) => name.trim()).filter((name) => name !== "")];
}

function positiveInteger(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number < 1 || number > 1000) throw new InvalidArgumentError("expected a whole number from 1 to 1000");
  return number;
}

function commonOptions(command: Command): Command {
  return command
    .option("-c, --config <file>", "the node's clawbot.yaml, for its knowledge: section and agent.data_dir (default: ./clawbot.yaml when present)")
    .option("--data-dir <dir>", "the node's data directory: the knowledge base is <dir>/knowledge.db unless knowledge.database is set")
    .option("--json", "print the result as one JSON object");
}

/** Runs an action (loaded lazily: `clawbot --help` needs none of it); a failure prints `clawbot kb <name>: message`, exit 1. */
function run(name: string, action: () => Promise<number>): Promise<void> {
  return action().then(
    (code) => {
      if (code !== 0) process.exitCode = code;
    },
    (error: unknown) => {
      process.stderr.write(`clawbot kb ${name}: ${(error as Error).message}\n`);
      process.exitCode = 1;
    },
  );
}

export function registerKbCommand(program: Command): void {
  const kb = program
    .command("kb")
    .description("The local knowledge base: ingest documents and records, search them, see sizes, delete, compute vectors (docs/knowledge.md).");

  commonOptions(
    kb
      .command("ingest")
      .description(
        "Read files and directories into a collection: .txt/.md (one document per file), .jsonl/.ndjson (one per line), .csv (one per row). " +
          "Unchanged files and records are skipped (SM3 content hash); a file that fails is reported, the rest still ingest (exit 1).",
      )
      .argument("<paths...>", "files and directories (hidden files and unknown extensions below a directory are skipped)")
      .option("--collection <name>", "the collection to write", "default")
      .option("--format <format>", "auto (from the extension), txt, md, jsonl or csv", "auto")
      .option("--id-field <field>", "record field holding the document id (absent: <file>:<line>)", "id")
      .option("--text-field <field>", "record field holding the text (absent: every other field as `name: value` lines)", "text")
      .option("--meta-fields <fields>", "record fields kept as metadata, comma-separated", "")
      .option("--delete-missing", "delete the documents of files that no longer exist")
      .option("--verbose", "name the files skipped"),
  ).action((paths: string[], options: KbIngestOptions) =>
    run("ingest", async () => (await import("./kb-ingest-action.js")).runKbIngest(paths, options)),
  );

  commonOptions(
    kb
      .command("search")
      .description("Search the knowledge base: BM25, or hybrid (BM25 and vectors fused) when knowledge.embedding_model_path is set and vectors are stored.")
      .argument("<query>", "what to look for")
      .option("--collection <name>", "search only this collection (repeatable, or a comma list)", collect)
      .option("-k, --top-k <count>", "results to show", positiveInteger, 5),
  ).action((query: string, options: KbSearchOptions) => run("search", async () => (await import("./kb-actions.js")).runKbSearch(query, options)));

  commonOptions(kb.command("stats").description("Documents, chunks and vectors per collection, the embedding model and the file's size.")).action(
    (options: KbCommonOptions) => run("stats", async () => (await import("./kb-actions.js")).runKbStats(options)),
  );

  commonOptions(
    kb
      .command("delete")
      .description("Delete a whole collection (--collection NAME), or one document (--doc ID, in every collection unless --collection is given).")
      .option("--collection <name>", "the collection")
      .option("--doc <id>", "the document id"),
  ).action((options: KbDeleteOptions) => run("delete", async () => (await import("./kb-actions.js")).runKbDelete(options)));

  commonOptions(
    kb
      .command("embed")
      .description("Compute vectors with knowledge.embedding_model_path for the chunks that have none (resumable); --reset first drops every vector.")
      .option("--reset", "drop every stored vector (and the model they were made with) first"),
  ).action((options: KbEmbedOptions) => run("embed", async () => (await import("./kb-actions.js")).runKbEmbed(options)));
}
