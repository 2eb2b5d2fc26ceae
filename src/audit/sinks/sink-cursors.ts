// Each audit sink's durable cursor (table audit_sink_cursors): the last sequence the sink confirmed, which only moves forward.
import type { SqliteDatabase } from "../../store/database.js";

export class SinkCursors {
  private readonly select;
  private readonly upsert;
  private readonly replace;

  constructor(database: SqliteDatabase) {
    this.select = database.prepare<[string], { sequence: number }>("SELECT sequence FROM audit_sink_cursors WHERE sink = ?");
    this.upsert = database.prepare<[string, number, number]>(
      `INSERT INTO audit_sink_cursors (sink, sequence, updated_at) VALUES (?, ?, ?)
       ON CONFLICT (sink) DO UPDATE SET sequence = excluded.sequence, updated_at = excluded.updated_at
       WHERE excluded.sequence > audit_sink_cursors.sequence`,
    );
    this.replace = database.prepare<[string, number, number]>("INSERT OR REPLACE INTO audit_sink_cursors (sink, sequence, updated_at) VALUES (?, ?, ?)");
  }

  /** The sink's cursor; 0 (ship from the first record) for a sink never seen. */
  read(sink: string): number {
    return this.select.get(sink)?.sequence ?? 0;
  }

  /** Moves the cursor to `sequence` when that is further on; throws the SQLite error when the write fails. */
  advance(sink: string, sequence: number): void {
    this.upsert.run(sink, sequence, Date.now());
  }

  /** Sets the cursor back (only for a ledger that is shorter than the cursor: a different chain). */
  reset(sink: string, sequence: number): void {
    this.replace.run(sink, sequence, Date.now());
  }
}
