// One real node per hostile test file: started before the first case, replaced when a case crashed it, killed at the end.
import { afterAll, beforeAll, beforeEach } from "vitest";
import { killAll, removeTempDirs } from "../helpers/cli-process.js";
import { startHostileNode, type HostileNode, type HostileNodeOptions } from "../helpers/hostile-node.js";
import { makeTokens, type TokenSet } from "./hostile-inputs.js";

/**
 * Registers the file's hooks. `options` is called for each (re)start, so a fresh port can be chosen; `started` receives
 * the node and its tokens. A crashed node has already failed its case: replacing it lets later cases still say something.
 */
export function useHostileNode(options: () => HostileNodeOptions | Promise<HostileNodeOptions>, started: (node: HostileNode, tokens: TokenSet) => void): void {
  let current: HostileNode | undefined;
  const ensureNode = async () => {
    if (current && (await current.stillAliveAfter(300))) return;
    current = await startHostileNode(await options());
    started(current, await makeTokens(current.secret));
  };
  beforeAll(ensureNode);
  beforeEach(ensureNode);
  afterAll(async () => {
    await killAll();
    removeTempDirs();
  });
}
