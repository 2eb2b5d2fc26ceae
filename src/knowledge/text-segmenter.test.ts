import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { maxQueryTerms, TextSegmenter } from "./text-segmenter.js";

describe("TextSegmenter", () => {
  const segmenter = TextSegmenter.create();

  it("keeps the built-in domain words whole", () => {
    const terms = segmenter.indexText("智能体使用国密算法，电子病历的主诉和现病史、既往史；大模型知识库").split(" ");
    for (const word of ["智能体", "国密", "电子病历", "病历", "主诉", "现病史", "既往史", "大模型", "知识库"]) expect(terms).toContain(word);
  });

  it("lower-cases English, drops punctuation and whitespace, and passes mixed text through", () => {
    expect(segmenter.indexText("Patients DIAGNOSED with Diabetes... 患者（男）!")).toBe("patients diagnosed with diabetes 患者 男");
    expect(segmenter.indexText("  ，。！？ --- ...  ")).toBe("");
  });

  it("makes a quoted OR expression of a query's terms without stopwords or repeats", () => {
    expect(segmenter.matchExpression("What is the 国密 国密 algorithm?")).toBe('"国密" OR "algorithm"');
    expect(segmenter.matchExpression("病历的主诉")).toBe('"病历" OR "主诉"');
  });

  it("returns no expression for a query of punctuation, whitespace or stopwords only", () => {
    expect(segmenter.matchExpression("？！。…  ,,, ---")).toBeUndefined();
    expect(segmenter.matchExpression("")).toBeUndefined();
    expect(segmenter.matchExpression("the of 的 了 is")).toBeUndefined();
  });

  it("quotes terms so FTS5 operators and quotes in a query are plain words", () => {
    const expression = segmenter.matchExpression('NEAR AND OR NOT "quoted" col:x*') as string;
    expect(expression.split(" OR ").every((term) => /^"[^"]*"$/.test(term))).toBe(true);
    expect(expression).toContain('"near"');
    expect(expression).toContain('"not"');
  });

  it(`caps a query at ${maxQueryTerms} terms`, () => {
    const words = Array.from({ length: maxQueryTerms + 30 }, (_, index) => `word${index}`);
    expect(segmenter.matchExpression(words.join(" "))?.split(" OR ")).toHaveLength(maxQueryTerms);
  });

  it("adds the words of a user dictionary", () => {
    const directory = fs.mkdtempSync(path.join(os.tmpdir(), "clawbot-segmenter-"));
    const file = path.join(directory, "words.txt");
    fs.writeFileSync(file, "蓝鲸肺炎 50000\n");
    try {
      expect(segmenter.indexText("蓝鲸肺炎").split(" ")).not.toContain("蓝鲸肺炎");
      expect(TextSegmenter.create({ userDictionary: file }).indexText("蓝鲸肺炎").split(" ")).toContain("蓝鲸肺炎");
    } finally {
      fs.rmSync(directory, { recursive: true, force: true });
    }
  });

  it("names a user dictionary it cannot read", () => {
    expect(() => TextSegmenter.create({ userDictionary: "/nonexistent/words.txt" })).toThrow(/\/nonexistent\/words\.txt/);
  });
});
