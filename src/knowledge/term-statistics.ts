// Chooses which of a query's terms BM25 ranks, from their document frequencies, so a query costs a bounded amount.
import type { SqliteDatabase } from "../store/database.js";
import { quoteTerms } from "./text-segmenter.js";

/**
 * Postings (chunk–term pairs) one ranked query reads at most, the rarest terms first. FTS5 scores every chunk that
 * matches any term, about 1–2 µs each: a term found in a third of 100k chunks alone would take ~50 ms.
 */
export const maxRankedPostings = 12_000;

/** How a keyword search runs: ranked by BM25 over `expression`, or (every term too common to rank by) unranked. */
export interface KeywordPlan {
  expression: string;
  ranked: boolean;
}

interface TermCost {
  term: string;
  /** The chunks holding all its tokens, at most (a term of several tokens is a phrase). */
  frequency: number;
  /** The postings matching it reads: the sum over its tokens. */
  postings: number;
}

/**
 * Plans the keyword search of a query's terms. Terms matching nothing are dropped. When the rest read more than
 * `maxRankedPostings`, so are terms in half the chunks or more (their BM25 weight, IDF, FTS5 clamps to ~0: they would
 * not change the order, only its cost), and the rarest terms are kept while their postings fit (always one). When every matching term is that common,
 * the rarest one is searched unranked. Stems come from an FTS5 table of the same tokenizer in the connection's temp
 * schema (it works on a read-only connection), frequencies from the index's fts5vocab table.
 */
export class TermStatistics {
  private statements: ReturnType<typeof prepareStemmer> | undefined;

  constructor(
    private readonly sqlite: SqliteDatabase,
    /** Postings one ranked query may read (a smaller one in tests). */
    private readonly maxPostings = maxRankedPostings,
  ) {}

  plan(terms: readonly string[]): KeywordPlan | undefined {
    if (terms.length === 0) return undefined;
    const costs = this.costs(terms);
    const chunks = (this.sqlite.prepare("SELECT COUNT(*) AS count FROM kb_chunks").get() as { count: number }).count;
    const matching = costs.filter((cost) => cost.frequency > 0).sort((a, b) => a.postings - b.postings || a.term.localeCompare(b.term));
    if (matching.length === 0) return undefined;
    const total = matching.reduce((sum, cost) => sum + cost.postings, 0);
    if (total <= this.maxPostings) return { expression: quoteTerms(matching.map((cost) => cost.term)), ranked: true };
    const informative = matching.filter((cost) => cost.frequency < chunks / 2);
    if (informative.length === 0) return { expression: quoteTerms([(matching[0] as TermCost).term]), ranked: false };
    const kept: string[] = [];
    let postings = 0;
    for (const cost of informative) {
      if (kept.length > 0 && postings + cost.postings > this.maxPostings) break;
      kept.push(cost.term);
      postings += cost.postings;
    }
    return { expression: quoteTerms(kept), ranked: true };
  }

  private costs(terms: readonly string[]): TermCost[] {
    const statements = (this.statements ??= prepareStemmer(this.sqlite));
    const stems = this.sqlite.transaction(() => {
      statements.clear.run();
      terms.forEach((term, index) => statements.insert.run(index + 1, term));
      const rows = statements.read.all();
      statements.clear.run();
      return rows;
    })();
    const stemsOf = new Map<number, string[]>();
    for (const row of stems) stemsOf.set(row.doc, [...(stemsOf.get(row.doc) ?? []), row.term]);
    const unique = [...new Set(stems.map((row) => row.term))];
    const frequencies = new Map<string, number>();
    if (unique.length > 0) {
      const rows = this.sqlite
        .prepare<string[], { term: string; doc: number }>(`SELECT term, doc FROM kb_chunk_terms WHERE term IN (${unique.map(() => "?").join(", ")})`)
        .all(...unique);
      for (const row of rows) frequencies.set(row.term, row.doc);
    }
    return terms.map((term, index) => {
      const counts = (stemsOf.get(index + 1) ?? []).map((stem) => frequencies.get(stem) ?? 0);
      return { term, frequency: counts.length === 0 ? 0 : Math.min(...counts), postings: counts.reduce((sum, count) => sum + count, 0) };
    });
  }
}

/** The temp FTS5 table that turns terms into the index's tokens (same tokenizer), and its per-token listing. */
function prepareStemmer(sqlite: SqliteDatabase) {
  sqlite.exec(
    `CREATE VIRTUAL TABLE IF NOT EXISTS temp.kb_query_stems USING fts5(term, tokenize = 'porter unicode61 remove_diacritics 2');
     CREATE VIRTUAL TABLE IF NOT EXISTS temp.kb_query_stem_tokens USING fts5vocab(temp, kb_query_stems, 'instance')`,
  );
  return {
    insert: sqlite.prepare<[number, string]>("INSERT INTO temp.kb_query_stems (rowid, term) VALUES (?, ?)"),
    read: sqlite.prepare<[], { doc: number; term: string }>("SELECT doc, term FROM temp.kb_query_stem_tokens"),
    clear: sqlite.prepare("DELETE FROM temp.kb_query_stems"),
  };
}
