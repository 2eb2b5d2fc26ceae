// `clawbot kb` in a cluster (config `cluster`): what ingest/delete changed here is published for every node to apply.
import type { KnowledgeChange } from "../knowledge/apply-documents.js";
import type { KbContext } from "./kb-context.js";

/**
 * Publishes the changes when the config has a `cluster` section; returns a line for the output ("" without one).
 * Throws, saying what happened, when NATS cannot be reached: the change is then on this node only.
 */
export async function publishKbChanges(context: KbContext, changes: readonly KnowledgeChange[]): Promise<string> {
  if (!context.cluster || changes.length === 0) return "";
  const { publishKnowledgeChanges } = await import("../cluster/replicated-knowledge.js");
  try {
    const published = await publishKnowledgeChanges(context.cluster.config, context.cluster.nodeId, changes);
    const large = published.tooLarge.length > 0 ? ` ${published.tooLarge.length} documents over NATS's message size stay on this node only: ${published.tooLarge.slice(0, 5).join(", ")}.` : "";
    return `Published to cluster "${context.cluster.config.name}" in ${published.messages} message${published.messages === 1 ? "" : "s"}.${large}\n`;
  } catch (error) {
    throw new Error(
      `the knowledge base here was changed, but the change could not be published to cluster "${context.cluster.config.name}" (${(error as Error).message}): the other nodes do not have it`,
      { cause: error },
    );
  }
}
