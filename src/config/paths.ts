// Where Clawbot keeps its own files when the config does not say: $CLAWBOT_HOME or ~/.clawbot.
import os from "node:os";
import path from "node:path";

export function clawbotHome(environment: NodeJS.ProcessEnv = process.env): string {
  return environment.CLAWBOT_HOME || path.join(os.homedir(), ".clawbot");
}
