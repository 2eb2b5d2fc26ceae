// Structured JSON logs (pino) to stderr; pretty-printed when stderr is a terminal.
import pino, { type Logger } from "pino";

export type { Logger };

export function createLogger(level: string = "info", options: { pretty?: boolean } = {}): Logger {
  const pretty = options.pretty ?? process.stderr.isTTY === true;
  if (pretty) {
    return pino({ level, transport: { target: "pino-pretty", options: { destination: 2, colorize: true, ignore: "pid,hostname" } } });
  }
  return pino({ level }, pino.destination({ dest: 2, sync: false }));
}

/** A logger that writes nothing, for tests and library use. */
export const silentLogger: Logger = pino({ level: "silent" });
