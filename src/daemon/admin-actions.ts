// The node's side of the admin API: lists sessions and tools, the console's status, revokes tokens and erases subjects (audited).
import type { AuditTrail } from "../audit/audit-trail.js";
import { eraseText } from "../audit/audit-canonical.js";
import type { AdminServices, RevocationRequest } from "../gateways/http/admin-services.js";
import { toolListing } from "../gateways/http/tool-listing.js";
import type { Logger } from "../logging/logger.js";
import type { Policy } from "../security/policy/policy-loader.js";
import type { PolicyStore } from "../security/policy/policy-store.js";
import type { RevocationList } from "../security/revocation-list.js";
import type { SqliteDatabase } from "../store/database.js";
import { listSessions } from "../store/session-listing.js";
import { storageError } from "../store/storage-error.js";
import type { ToolRegistry } from "../tools/tool-registry.js";
import { createConsoleStatus, type ConsoleStatusOptions } from "./console-status.js";
import { eraseSubject, type SubjectDataEraser } from "./subject-erasure.js";

export interface AdminActionsOptions {
  database: SqliteDatabase;
  dataDir: string;
  revocations: RevocationList;
  /** Undefined with `audit.enabled: false`: the actions are logged only. */
  audit: AuditTrail | undefined;
  logger: Logger;
  /** The policy store (security.policy_file); GET /admin/policy answers 404 while it holds none. */
  policy?: Pick<PolicyStore, "current" | "replace" | "file">;
  erasers?: readonly SubjectDataEraser[];
  /** The node's tools (GET /admin/tools); without them the listing is empty. */
  tools?: Pick<ToolRegistry, "all" | "servers">;
  /** What the operator console reads (GET /admin/status); without it the route answers 404. The database is this one. */
  console?: Omit<ConsoleStatusOptions, "database">;
}

export function createAdminActions(options: AdminActionsOptions): AdminServices {
  const { database, revocations, audit, logger } = options;
  // Its traffic sampler stops by itself once the node closes the database (the daemon has no step for it).
  const consoleStatus = options.console ? createConsoleStatus({ ...options.console, database }) : undefined;
  return {
    ...(options.policy ? { policy: adminPolicy(options.policy) } : {}),
    ...(consoleStatus ? { status: () => consoleStatus.read() } : {}),
    listSessions: (request) => listSessions(database, request),
    listTools: () => (options.tools ? toolListing(options.tools) : { tools: [], mcp_servers: [] }),
    revoke: (request: RevocationRequest, by: string) => {
      // The record and the revocation in one transaction: a revocation that cannot be audited does not happen.
      const revocation = guarded("Recording the revocation", database.transaction(() => {
        const expiresAt = request.expiresAt === undefined ? null : new Date(request.expiresAt).toISOString();
        audit?.recordEvent("token_revocation", {
          by,
          ...(request.jti !== undefined ? { jti: request.jti } : { subject: request.subject }),
          expires_at: expiresAt,
        });
        return request.jti !== undefined ? revocations.revokeToken(request.jti, request.expiresAt) : revocations.revokeSubject(request.subject as string, request.expiresAt);
      }));
      logger.info({ by, kind: revocation.kind }, "token revoked");
      return {
        revoked: revocation.kind === "jti" ? { jti: revocation.jti } : { subject: eraseText(request.subject as string) },
        revoked_at: new Date(revocation.revokedAt).toISOString(),
        expires_at: revocation.expiresAt === undefined ? null : new Date(revocation.expiresAt).toISOString(),
      };
    },
    erase: (subject, by) => {
      const result = guarded("Erasing the subject", () => eraseSubject({
        database,
        dataDir: options.dataDir,
        subject,
        by,
        ...(audit ? { recordTombstone: (body: Record<string, unknown>) => audit.recordEvent("erasure", body) } : {}),
        ...(options.erasers ? { erasers: options.erasers } : {}),
      }));
      logger.info({ by, kinds: result.kinds, counts: result.counts }, "subject erased");
      return { subject: result.subject, kinds: result.kinds, counts: result.counts, checkpointed: result.checkpointed };
    },
  };
}

/** Runs an admin action; an SQLite failure (disk full, the audit record refused) becomes a `storage_error`. */
function guarded<T>(what: string, action: () => T): T {
  try {
    return action();
  } catch (error) {
    throw storageError(what, error);
  }
}

/** The policy store as the admin API shows it: the document in force with its digest, origin and file. */
function adminPolicy(store: Pick<PolicyStore, "current" | "replace" | "file">) {
  const describe = (policy: Policy) => ({ digest: policy.digest, origin: policy.origin, file: store.file ?? null, policy: policy.document });
  return {
    current: () => {
      const policy = store.current();
      return policy ? describe(policy) : undefined;
    },
    // The store validates (bad_request naming the problem), audits the change with `by` (config_reload), then applies it.
    replace: (text: string, by: string) => describe(store.replace(text, by, "api")),
  };
}
