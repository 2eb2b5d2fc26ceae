// The `tools` section (docs/tools.md): the agent loop's limits, constrained decoding, MCP servers and the built-in tools.
import { z } from "zod";

/** A tool name as models and the OpenAI API take it (MCP tools are `server.tool`). */
export const toolNamePattern = /^[A-Za-z0-9_.-]{1,64}$/;

const environment = z.record(z.string());

/** An MCP server Clawbot connects to as a client: a command it starts (stdio) or a URL (streamable HTTP). */
export const mcpServerSchema = z.union([
  z.strictObject({
    /** Prefix of its tools' names (`name.tool`); letters, digits, `_` and `-`. */
    name: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/),
    command: z.string().min(1),
    args: z.array(z.string()).default([]),
    /** Added to a minimal environment (PATH, HOME…); the node's own secrets are not passed on. */
    env: environment.default({}),
    /** Working directory; relative to the config file. */
    cwd: z.string().min(1).optional(),
    /** Its tools that need the client's approval before each call: `tool` or `server.tool`; `*` for all of them. */
    confirm: z.array(z.string()).default([]),
  }),
  z.strictObject({
    name: z.string().regex(/^[A-Za-z0-9_-]{1,32}$/),
    url: z.string().url(),
    headers: z.record(z.string()).default({}),
    /** Its tools that need the client's approval before each call: `tool` or `server.tool`; `*` for all of them. */
    confirm: z.array(z.string()).default([]),
  }),
]);

/** One allowed target of the built-in `http_request` tool: a URL prefix and the methods allowed under it. */
export const httpAllowSchema = z.strictObject({
  prefix: z.string().url(),
  methods: z.array(z.enum(["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD"])).default(["GET"]),
});

export const toolsSchema = z.strictObject({
  /** Model calls (generate → run tools → generate) one request may take; the last step cannot call. */
  max_steps: z.number().int().min(1).max(50).default(5),
  /** Seconds one tool call may run before it is answered with a timeout. */
  timeout: z.number().positive().default(30),
  /**
   * Fill every call under a JSON-schema grammar, so it is always well-formed and its arguments validate (costs a
   * grammar per tool set, built once). Off: the model writes calls freely; a call whose arguments do not validate is
   * answered with the validation error and never runs.
   */
  constrained: z.boolean().default(true),
  /** A tool result longer than this (characters) is cut before it goes back to the model. */
  max_result_chars: z.number().int().min(100).default(8000),
  /** Seconds a `confirm: true` call waits for the client's approval before it is denied. */
  approval_timeout: z.number().positive().default(60),
  /** Names of the tools the default agent may use (`*` all); the policy's role `tools` narrows it further. */
  allow: z.array(z.string().min(1)).default(["*"]),
  mcp_servers: z.array(mcpServerSchema).default([]).superRefine((servers, context) => {
    const names = servers.map((server) => server.name);
    names.forEach((name, index) => {
      if (names.indexOf(name) !== index) context.addIssue({ code: "custom", path: [index, "name"], message: `duplicate MCP server name "${name}"` });
    });
  }),
  /**
   * The built-in `knowledge_search` tool (with `knowledge.enabled`): the model searches the knowledge base itself, for
   * agents that need more than the sources every turn already gets. Off by default: its catalog costs prompt tokens.
   */
  knowledge_search: z.strictObject({ enabled: z.boolean().default(false) }).default({}),
  /** The built-in `http_request` tool: off by default; only URLs under an allowed prefix, with its methods. */
  http_request: z
    .strictObject({
      enabled: z.boolean().default(false),
      allow: z.array(httpAllowSchema).default([]),
      /** Bytes of a response body passed back (the rest is cut). */
      max_response_bytes: z.number().int().min(256).default(65536),
      /** Calls that change something (POST, PUT, PATCH, DELETE) need the client's approval. */
      confirm_writes: z.boolean().default(true),
    })
    .default({}),
});

export type ToolsConfig = z.infer<typeof toolsSchema>;
export type McpServerConfig = z.infer<typeof mcpServerSchema>;
