// The outbound side against the DingTalk simulator: webhook vs OpenAPI, throttling, a revoked token, unreachable senders.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { silentLogger } from "../../../logging/logger.js";
import { DingtalkSimulator } from "../../../../test/helpers/dingtalk-simulator.js";
import { ImDeliveryError } from "../im-channel.js";
import { DingtalkApi, markdownTitle } from "./dingtalk-api.js";
import { parseBotMessage, type DingtalkTarget } from "./dingtalk-message.js";

let simulator: DingtalkSimulator;
let api: DingtalkApi;

beforeAll(async () => {
  simulator = await new DingtalkSimulator().start();
  api = new DingtalkApi({ apiBase: simulator.apiBase, clientId: simulator.clientId, clientSecret: simulator.clientSecret, robotCode: simulator.clientId, logger: silentLogger });
});
afterAll(() => simulator.close());

function targetOf(data: Record<string, unknown>): DingtalkTarget {
  const parsed = parseBotMessage(data);
  if ("error" in parsed) throw new Error(parsed.error);
  return parsed.target;
}

describe("DingtalkApi", () => {
  it("uses a valid sessionWebhook, else batchSend with a token", async () => {
    await api.send(targetOf(simulator.botMessage("q")), "## Answer\nbody");
    await api.send(targetOf(simulator.botMessage("q", { webhook: "expired", staffId: "s2" })), "second");
    expect(simulator.sent.slice(-2).map(({ via, to, title }) => ({ via, title, to: via === "batchSend" ? to : "session" }))).toEqual([
      { via: "sessionWebhook", title: "Answer", to: "session" },
      { via: "batchSend", title: "second", to: "s2" },
    ]);
  });

  it("maps 429 Throttling to a retryable error and 401 to an expired token", async () => {
    const target = targetOf(simulator.botMessage("q", { group: true, mentioned: true, webhook: "none" }));
    simulator.throttleNext = 1;
    await expect(api.send(target, "x")).rejects.toMatchObject({ retryable: true, retryAfterMs: 0, tokenExpired: false });
    simulator.expireTokens();
    const refused = await api.send(target, "x").catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ImDeliveryError);
    expect(refused).toMatchObject({ retryable: true, tokenExpired: true });
    api.tokens.invalidate();
    await api.send(target, "y");
    expect(simulator.sent.at(-1)).toMatchObject({ via: "groupSend", to: "cidGroup001==", text: "y" });
  });

  it("gives up on a direct message to a sender without a staff id once the webhook is gone", async () => {
    const { senderStaffId: _staff, ...external } = simulator.botMessage("q", { webhook: "expired" });
    await expect(api.send(targetOf(external), "x")).rejects.toMatchObject({ retryable: false });
  });

  it("does not follow a sessionWebhook outside DingTalk and api_base", async () => {
    const message = { ...simulator.botMessage("q", { staffId: "s-ssrf" }), sessionWebhook: "http://169.254.169.254/latest/meta-data" };
    await api.send(targetOf(message), "z");
    expect(simulator.sent.at(-1)).toMatchObject({ via: "batchSend", to: "s-ssrf", text: "z" });
  });

  it("titles a message with its first words, without markdown", () => {
    expect(markdownTitle("\n\n### **Hello** `world`, and a lot more words than thirty characters")).toBe("Hello world, and a lot more wo");
    expect(markdownTitle("   ")).toBe("Clawbot");
  });
});
