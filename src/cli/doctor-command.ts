// `clawbot doctor`: checks a machine and a config before a node runs there, one line per check with what to fix.
import type { Command } from "commander";
import { checksJson, formatChecks, type DoctorCheck } from "./doctor-check.js";

interface DoctorOptions {
  config?: string;
  json?: boolean;
}

/** Exit codes: 0 nothing failed (warnings allowed), 1 something failed, 2 usage error. */
const usageError = 2;

export function registerDoctorCommand(program: Command): void {
  program
    .command("doctor")
    .description("Check the config, model file, ports, data directory, secrets, clock and brokers before a node runs here; prints what to fix. Exit 0: nothing failed; 1: something failed; 2: usage error.")
    .option("-c, --config <file>", "the node's clawbot.yaml (default: ./clawbot.yaml when present, else the first-run defaults)")
    .option("--json", "print {checks: [{name, status, message, fix?}], ok} instead of lines")
    .exitOverride((error) => process.exit(error.exitCode === 0 ? 0 : usageError))
    .action(async (options: DoctorOptions) => {
      const checks = await runDoctor(options.config, process.env);
      process.stdout.write(options.json ? `${JSON.stringify(checksJson(checks))}\n` : formatChecks(checks));
      process.exitCode = checks.some((check) => check.status === "fail") ? 1 : 0;
    });
}

/** Every check, in a stable order; the ones that wait on the network run in parallel with the local ones. */
export async function runDoctor(configOption: string | undefined, environment: NodeJS.ProcessEnv): Promise<DoctorCheck[]> {
  const { loadDoctorConfig } = await import("./doctor-config.js");
  const { check, loaded, dataDir } = loadDoctorConfig(configOption, environment);
  if (!loaded || !dataDir) return [check];
  const [{ modelChecks, dataDirChecks, clockCheck }, { portChecks }, { secretChecks }, { reachabilityChecks }] = await Promise.all([
    import("./doctor-machine.js"),
    import("./doctor-ports.js"),
    import("./doctor-secrets.js"),
    import("./doctor-reachability.js"),
  ]);
  const reachable = reachabilityChecks(loaded);
  const clock = clockCheck();
  const model = await modelChecks(loaded, environment);
  const ports = await portChecks(loaded.config, dataDir);
  return [check, ...model, ...dataDirChecks(dataDir), ...ports, ...secretChecks(loaded), await clock, ...(await reachable)];
}
