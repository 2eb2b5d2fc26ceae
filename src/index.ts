// The public API of the `clawbot` package: what plugin and protocol-adapter authors import from "clawbot".

// Plugins.
export { BasePlugin } from "./plugins/base-plugin.js";
export { definePlugin, type PluginApi, type PluginDefinition } from "./plugins/define-plugin.js";
export type { PluginToolDefinition } from "./plugins/plugin-tools.js";
export type { ToolRunContext } from "./tools/tool-types.js";
export { createPluginContext, rejectCodes, type PluginContext, type PluginContextFields, type RejectCode } from "./plugins/plugin-context.js";
export { hookNames, type HookName, type PluginHooks, type StreamTransform } from "./plugins/plugin-hooks.js";
export { RedactPlugin, type RedactOptions, type RedactionTotals } from "./plugins/builtin/redact.js";
export { DisclaimerPlugin, type DisclaimerOptions } from "./plugins/builtin/disclaimer.js";
export { isValidChineseId } from "./plugins/builtin/chinese-id.js";
export { isLuhnValid } from "./plugins/builtin/luhn.js";

// Errors and the shapes every layer shares.
export { ClawError, errorTable, isErrorCode, type ErrorCode } from "./core/errors.js";
export type { ChatMessage, FinishPart, FinishReason, GenerationParams, Principal, Role, StreamPart, Timings, Usage } from "./core/types.js";

// Protocol adapters (custom gateways): the contract, and the shared frame handling an adapter can reuse.
export { defineGatewayAdapter, type GatewayAdapter, type GatewayExposure } from "./gateways/custom-adapter.js";
export type { Gateway, GatewayContext, GatewayStatus } from "./gateways/gateway.js";
export { ignoredGatewayEvents, type GatewayEvents } from "./gateways/gateway-events.js";
export { FrameSession, type FrameOptions, type FrameSessionOptions, type FrameSink, type ServerFrame } from "./gateways/frame-session.js";
export { errorFrame, parseClientFrame, serverFrame, type ChatFrame, type ClientFrame } from "./gateways/frames.js";
export { jsonFrameCodec, type DecodedFrame, type FrameCodec, type FrameCodecFactory } from "./gateways/frame-codec.js";
export { linkCodecs, type RecordTransport } from "./gateways/sm-frame-codec.js";
export { linkEncryptionSchema, type LinkEncryptionConfig } from "./config/schema.js";
