// Chinese word segmentation (jieba) for the FTS5 index and its queries; English and mixed text too.
import fs from "node:fs";
import { Jieba } from "@node-rs/jieba";
import { dict } from "@node-rs/jieba/dict.js";
import { domainDictionary } from "./domain-words.js";

export interface TextSegmenterOptions {
  /** A user dictionary file (jieba's format: `word [frequency] [tag]` per line), added to the built-in domain words. */
  userDictionary?: string;
}

/** Terms a query keeps at most (the rest are dropped): bounds the work of one MATCH. */
export const maxQueryTerms = 64;

/** Words too common to rank by, dropped from queries (they stay in the index: phrase-free OR queries never need them). */
const stopwords = new Set([
  "的", "了", "是", "在", "和", "与", "及", "或", "也", "都", "就", "而", "被", "把", "对", "从", "这", "那", "有", "我", "你", "他",
  "她", "它", "们", "吗", "呢", "吧", "啊", "什么", "怎么", "如何", "哪些", "为什么", "请问", "一个",
  "the", "a", "an", "of", "to", "in", "on", "at", "for", "by", "with", "and", "or", "is", "are", "was", "were", "be",
  "been", "it", "its", "this", "that", "these", "those", "what", "which", "who", "how", "why", "when", "where", "do",
  "does", "did", "i", "you", "me", "my", "we", "our", "can", "there", "about", "any",
]);

/** A term has a letter or a digit; whitespace and punctuation-only tokens are not terms. */
const termPattern = /[\p{L}\p{N}]/u;

/** One jieba per user dictionary (loading one takes ~0.2 s and ~50 MB), shared by every segmenter of the process. */
const instances = new Map<string, Jieba>();

function jiebaFor(userDictionary: string | undefined): Jieba {
  const key = userDictionary ?? "";
  let jieba = instances.get(key);
  if (!jieba) {
    jieba = Jieba.withDict(dict);
    jieba.loadDict(domainDictionary());
    if (userDictionary !== undefined) jieba.loadDict(readUserDictionary(userDictionary));
    instances.set(key, jieba);
  }
  return jieba;
}

function readUserDictionary(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (error) {
    throw new Error(`Cannot read the knowledge base's user dictionary ${file} (knowledge.user_dictionary): ${(error as Error).message}`, { cause: error });
  }
}

export class TextSegmenter {
  private constructor(private readonly jieba: Jieba) {}

  /** Loads jieba's dictionary, the built-in domain words (智能体, 国密, 病历…) and the user dictionary. */
  static create(options: TextSegmenterOptions = {}): TextSegmenter {
    return new TextSegmenter(jiebaFor(options.userDictionary));
  }

  /** The text's terms in search mode (whole words and their dictionary parts), lower-cased, punctuation dropped. */
  terms(text: string): string[] {
    const terms: string[] = [];
    for (const token of this.jieba.cutForSearch(text, true)) {
      if (!termPattern.test(token)) continue;
      terms.push(normalizeTerm(token.trim().toLowerCase()));
    }
    return terms;
  }

  /** The text as space-separated terms for the FTS5 index (lower-cased; punctuation dropped). */
  indexText(text: string): string {
    return this.terms(text).join(" ");
  }

  /** A query's searchable terms: segmented like the index, deduplicated, without stopwords, at most `maxQueryTerms`. */
  queryTerms(query: string): string[] {
    const kept = new Set<string>();
    for (const term of this.terms(query)) {
      if (stopwords.has(term)) continue;
      kept.add(term);
      if (kept.size === maxQueryTerms) break;
    }
    return [...kept];
  }

  /** An FTS5 MATCH expression for a query (its terms, quoted, OR-ed); undefined when it has no searchable term. */
  matchExpression(query: string): string | undefined {
    const terms = this.queryTerms(query);
    return terms.length === 0 ? undefined : quoteTerms(terms);
  }
}

/** Terms as an FTS5 expression: each an FTS5 string ("" doubling a quote, so operators and columns are plain words), OR-ed. */
export function quoteTerms(terms: readonly string[]): string {
  return terms.map((term) => `"${term.replaceAll('"', '""')}"`).join(" OR ");
}

/**
 * English words ending in -sis as their -ses plural (diagnosis → diagnoses), in the index and in queries alike: the
 * porter stemmer makes "diagnosi" of the one and "diagnos" of the other (and of diagnosed), so they would not match.
 */
function normalizeTerm(term: string): string {
  return term.length >= 5 && /^[a-z]+sis$/.test(term) ? `${term.slice(0, -2)}es` : term;
}
