// The built-in domain words jieba keeps whole (智能体, 国密, 病历…), in jieba's dictionary format.

/**
 * A frequency well above the words they would otherwise be cut into (智能 + 体, 电子 + 病历), so the whole word wins
 * in jieba's max-probability path; search-mode cutting still adds the parts, so a query for 病历 finds 电子病历.
 */
export const domainWordFrequency = 50_000;

/** Words of this project's domains (agents, Chinese national cryptography, medical records) jieba's dictionary lacks or splits. */
export const domainWords: readonly string[] = [
  "智能体",
  "大模型",
  "知识库",
  "国密",
  "病历",
  "电子病历",
  "主诉",
  "现病史",
  "既往史",
  "个人史",
  "家族史",
  "过敏史",
  "体格检查",
  "辅助检查",
  "鉴别诊断",
  "入院记录",
  "出院小结",
];

/** The words as a jieba dictionary (`word frequency` per line). */
export function domainDictionary(): Buffer {
  return Buffer.from(domainWords.map((word) => `${word} ${domainWordFrequency}\n`).join(""), "utf8");
}
