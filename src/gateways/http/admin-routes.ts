// The admin HTTP API: GET/PUT /admin/policy, GET /admin/sessions, GET /admin/tools, GET /admin/status, POST /admin/tokens/revoke, POST /admin/erase (scope `admin`).
import type { FastifyInstance, FastifyRequest } from "fastify";
import { z } from "zod";
import { ClawError } from "../../core/errors.js";
import type { Principal } from "../../core/types.js";
import type { AdminServices } from "./admin-services.js";
import { replyJson } from "./http-io.js";
import { invalidBodyError } from "./invalid-body-error.js";

export interface AdminRouteContext {
  /** The node's admin services; without them every admin route answers 404 not_found. */
  admin: AdminServices | undefined;
  /** Route options whose onRequest hook checks the token before the body is read. */
  authenticated: { onRequest: (request: FastifyRequest) => Promise<void> };
  principalOf(request: FastifyRequest): Principal;
  /** Largest body accepted (the gateway's max_body). */
  maxBody: number;
}

/** The scope an admin token carries (`scope: "admin …"`, `scp` or a `scopes` array). */
export const adminScope = "admin";

/** Longest subject or token id the admin API takes. */
const maxIdentifier = 1024;

const sessionsQuerySchema = z
  .object({
    limit: z.coerce.number().int().min(1).max(500).default(50),
    offset: z.coerce.number().int().min(0).max(Number.MAX_SAFE_INTEGER).default(0),
    owner: z.string().min(1).max(maxIdentifier).optional(),
  })
  .strict();

const revokeBodySchema = z
  .object({
    jti: z.string().min(1).max(256).optional(),
    subject: z.string().min(1).max(maxIdentifier).optional(),
    /** The token's `exp` (epoch seconds): the entry is forgotten after it. */
    expires_at: z.number().int().positive().max(Number.MAX_SAFE_INTEGER / 1000).optional(),
  })
  .strict()
  .refine((body) => (body.jti === undefined) !== (body.subject === undefined), { message: 'give exactly one of "jti" or "subject"' });

const eraseBodySchema = z.object({ subject: z.string().min(1).max(maxIdentifier) }).strict();

/** Policy texts other than JSON: the body arrives as a string (in this route scope only). */
const policyTypes = ["application/yaml", "application/x-yaml", "text/yaml", "text/plain"];

export function registerAdminRoutes(app: FastifyInstance, route: AdminRouteContext): void {
  const adminOnly = {
    onRequest: [route.authenticated.onRequest, async (request: FastifyRequest) => requireAdmin(route.principalOf(request))],
    bodyLimit: route.maxBody,
  };
  const services = (): AdminServices => {
    if (!route.admin) throw new ClawError("not_found", "This node has no admin API.");
    return route.admin;
  };
  // An encapsulated scope: the YAML body parser applies to these routes only.
  void app.register(async (scope) => {
    scope.addContentTypeParser(policyTypes, { parseAs: "string" }, (_request, body, done) => done(null, body));
    scope.get("/admin/policy", adminOnly, async (_request, reply) => {
      const current = policyOf(services()).current();
      if (!current) throw new ClawError("not_found", "No policy is in force (security.policy_file is not set).");
      replyJson(reply, 200, current);
    });
    scope.put("/admin/policy", adminOnly, async (request, reply) => {
      const text = policyText(request.body);
      replyJson(reply, 200, await policyOf(services()).replace(text, route.principalOf(request).subject));
    });
    scope.get("/admin/sessions", adminOnly, async (request, reply) => {
      const query = sessionsQuerySchema.safeParse(request.query ?? {});
      if (!query.success) throw invalidBodyError(query.error);
      replyJson(reply, 200, services().listSessions(query.data));
    });
    scope.get("/admin/tools", adminOnly, async (request, reply) => {
      if (hasKeys(request.query)) throw new ClawError("bad_request", "GET /admin/tools takes no query parameters.");
      replyJson(reply, 200, services().listTools());
    });
    scope.get("/admin/status", adminOnly, async (request, reply) => {
      if (hasKeys(request.query)) throw new ClawError("bad_request", "GET /admin/status takes no query parameters.");
      const { status } = services();
      if (!status) throw new ClawError("not_found", "This node has no console status.");
      void reply.header("cache-control", "no-store");
      replyJson(reply, 200, await status());
    });
    scope.post("/admin/tokens/revoke", adminOnly, async (request, reply) => {
      const body = revokeBodySchema.safeParse(request.body);
      if (!body.success) throw invalidBodyError(body.error);
      const { jti, subject, expires_at: expiresAt } = body.data;
      const expiry = expiresAt === undefined ? {} : { expiresAt: expiresAt * 1000 };
      const revocation = jti !== undefined ? { jti, ...expiry } : { subject: subject as string, ...expiry };
      replyJson(reply, 200, services().revoke(revocation, route.principalOf(request).subject));
    });
    scope.post("/admin/erase", adminOnly, async (request, reply) => {
      const body = eraseBodySchema.safeParse(request.body);
      if (!body.success) throw invalidBodyError(body.error);
      replyJson(reply, 200, services().erase(body.data.subject, route.principalOf(request).subject));
    });
  });
}

function hasKeys(query: unknown): boolean {
  return query !== null && typeof query === "object" && Object.keys(query).length > 0;
}

/** Whether the principal's token carries the admin scope (`scope`/`scp`, or a `scopes` array claim). */
export function isAdmin(principal: Principal): boolean {
  if (principal.scopes.includes(adminScope)) return true;
  const scopes = principal.claims.scopes;
  return Array.isArray(scopes) && scopes.includes(adminScope);
}

function requireAdmin(principal: Principal): void {
  if (!isAdmin(principal)) throw new ClawError("forbidden", `The admin API needs a token with scope "${adminScope}".`);
}

function policyOf(services: AdminServices) {
  if (!services.policy) throw new ClawError("not_found", "This node has no policy store.");
  return services.policy;
}

/** The new policy's text: a YAML (or plain text) body as sent, a JSON body as JSON text (JSON is YAML too). */
function policyText(body: unknown): string {
  if (typeof body === "string") {
    if (body.trim().length === 0) throw new ClawError("bad_request", "The policy body is empty.");
    return body;
  }
  if (body !== null && typeof body === "object" && !Array.isArray(body)) return JSON.stringify(body);
  throw new ClawError("bad_request", "The body must be the policy: a YAML (content-type: application/yaml) or JSON mapping with roles:.");
}
