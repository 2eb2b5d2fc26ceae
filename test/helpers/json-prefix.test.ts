// The JSON-prefix helper the response_format tests rely on.
import { describe, expect, it } from "vitest";
import { jsonPrefixState } from "./json-prefix.js";

describe("jsonPrefixState", () => {
  it("tells complete JSON, a cut answer and text that can never be JSON apart", () => {
    expect(jsonPrefixState('{"a": [1, 2.5, true, null, "x\\n"]}')).toBe("complete");
    expect(jsonPrefixState('{"a": [1, 2.5, tr')).toBe("prefix");
    expect(jsonPrefixState('{ "Hi" : "x"\n   , "')).toBe("prefix");
    expect(jsonPrefixState('{"a": -')).toBe("prefix");
    expect(jsonPrefixState('{"a": 1.')).toBe("prefix");
    expect(jsonPrefixState('{"a": "\\u00')).toBe("prefix");
    expect(jsonPrefixState("")).toBe("prefix");
    expect(jsonPrefixState('{"a" 1}')).toBe("invalid");
    expect(jsonPrefixState("Once upon")).toBe("invalid");
    expect(jsonPrefixState('{"a": 1}}')).toBe("invalid");
    expect(jsonPrefixState('{"a": 1.}')).toBe("invalid");
  });
});
