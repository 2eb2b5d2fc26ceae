// Clawbot's version (package.json's), for `--version`, heartbeats and the audit trail.
export const clawbotVersion = "0.1.0";
