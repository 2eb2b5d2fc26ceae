// MqttTopics: the request/response topic layout, the client a request topic names, and the per-subject response-topic rule.
import { describe, expect, it } from "vitest";
import { MqttTopics } from "./mqtt-topics.js";

describe("MqttTopics", () => {
  it("maps request topics to client segments and subjects to their reply topics", () => {
    const topics = new MqttTopics("site/clawbot");
    expect(topics.requestFilter).toBe("site/clawbot/req/+");
    expect(topics.clientOf("site/clawbot/req/sensor-7")).toBe("sensor-7");
    expect(topics.responseTopic("sensor-7")).toBe("site/clawbot/res/sensor-7");
    expect(topics.clientOf("site/clawbot/req/")).toBeUndefined();
    expect(topics.clientOf("site/clawbot/res/sensor-7")).toBeUndefined();
    expect(topics.clientOf("other/req/x")).toBeUndefined();
  });

  it("accepts a response topic only at or below the subject's own reply topic", () => {
    const topics = new MqttTopics("clawbot");
    expect(topics.allowsResponseTopic("alice", "clawbot/res/alice")).toBe(true);
    expect(topics.allowsResponseTopic("alice", "clawbot/res/alice/inbox/7")).toBe(true);
    expect(topics.allowsResponseTopic("alice", "clawbot/res/bob")).toBe(false);
    expect(topics.allowsResponseTopic("alice", "clawbot/res/alice2")).toBe(false);
    expect(topics.allowsResponseTopic("alice", "clawbot/res/alice/")).toBe(false);
    expect(topics.allowsResponseTopic("alice", "clawbot/res/alice/#")).toBe(false);
    expect(topics.allowsResponseTopic("alice", "replies/alice")).toBe(false);
  });

  it("never gives a subject that cannot be one topic level a reply topic", () => {
    const topics = new MqttTopics("clawbot");
    for (const subject of ["", "a/b", "+", "#", "x#", "nul\u0000"]) {
      expect(topics.responseTopic(subject)).toBeUndefined();
      expect(topics.allowsResponseTopic(subject, `clawbot/res/${subject}`)).toBe(false);
    }
  });

  it("fills a configured template", () => {
    const topics = new MqttTopics("clawbot", "tenants/{subject}/{prefix}/answers");
    expect(topics.responseTopic("alice")).toBe("tenants/alice/clawbot/answers");
    expect(topics.allowsResponseTopic("alice", "tenants/alice/clawbot/answers/x")).toBe(true);
  });

  it("refuses wildcards in the prefix or template, and templates that reply on request topics", () => {
    expect(() => new MqttTopics("clawbot/#")).toThrow(/wildcards/);
    expect(() => new MqttTopics("clawbot", "{prefix}/res")).toThrow(/\{subject\}/);
    expect(() => new MqttTopics("clawbot", "{prefix}/+/{subject}")).toThrow(/wildcards/);
    expect(() => new MqttTopics("clawbot", "{prefix}/req/{subject}")).toThrow(/request topics/);
  });
});
