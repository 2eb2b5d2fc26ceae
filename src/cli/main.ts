// The `clawbot` command line: one file per command, wired together here.
import { Command } from "commander";
import { registerStartCommand } from "./start-command.js";
import { registerInitCommand } from "./init-command.js";
import { registerTokenCommand } from "./token-command.js";
import { registerAuthCommand } from "./auth-command.js";
import { registerChatCommand } from "./chat-command.js";
import { registerModelsCommand } from "./models-command.js";
import { registerAuditCommand } from "./audit-command.js";
import { registerBackupCommand } from "./backup-command.js";
import { registerRestoreCommand } from "./restore-command.js";
import { registerWatermarkCommand } from "./watermark-command.js";
import { registerEraseCommand } from "./erase-command.js";
import { clawbotVersion } from "../core/version.js";
import { registerKbCommand } from "./kb-command.js";
import { registerClusterCommand } from "./cluster-command.js";
import { registerDoctorCommand } from "./doctor-command.js";
import { registerReportCommand } from "./report-command.js";

export async function main(argv: string[]): Promise<void> {
  const program = new Command("clawbot")
    .description("Local-first AI agent gateway: a GGUF model in-process, served over WebSocket and an OpenAI-compatible HTTP API.")
    .version(clawbotVersion);
  registerStartCommand(program);
  registerInitCommand(program);
  registerTokenCommand(program);
  registerAuthCommand(program);
  registerChatCommand(program);
  registerModelsCommand(program);
  registerAuditCommand(program);
  registerBackupCommand(program);
  registerRestoreCommand(program);
  registerWatermarkCommand(program);
  registerEraseCommand(program);
  registerKbCommand(program);
  registerClusterCommand(program);
  registerDoctorCommand(program);
  registerReportCommand(program);
  await program.parseAsync(argv);
}
