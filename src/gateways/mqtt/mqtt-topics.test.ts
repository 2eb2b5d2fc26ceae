// MqttTopics: the request/response topic layout and the client id a request topic names.
import { describe, expect, it } from "vitest";
import { MqttTopics } from "./mqtt-topics.js";

describe("MqttTopics", () => {
  it("maps request topics to client ids and response topics", () => {
    const topics = new MqttTopics("site/clawbot");
    expect(topics.requestFilter).toBe("site/clawbot/req/+");
    expect(topics.clientIdOf("site/clawbot/req/sensor-7")).toBe("sensor-7");
    expect(topics.responseTopic("sensor-7")).toBe("site/clawbot/res/sensor-7");
    expect(topics.clientIdOf("site/clawbot/req/")).toBeUndefined();
    expect(topics.clientIdOf("site/clawbot/res/sensor-7")).toBeUndefined();
    expect(topics.clientIdOf("other/req/x")).toBeUndefined();
  });

  it("refuses wildcards in the prefix", () => {
    expect(() => new MqttTopics("clawbot/#")).toThrow(/wildcards/);
  });
});
