// duckdb_rows.mjs - DuckDB reads Parquet files and prints their rows as JSON lines.
//
//   node duckdb_rows.mjs 'SELECT ... FROM read_parquet(''f.parquet'')'
//
// Each row is one JSON object; BIGINT and TIMESTAMP_NS values are printed as
// decimal strings (exact: timestamps in ns since the epoch), so a test in
// another language can compare them with its own values exactly.
import { DuckDBInstance } from '@duckdb/node-api';

const sql = process.argv[2];
if (!sql) {
  console.error("usage: node duckdb_rows.mjs 'SELECT ...'");
  process.exit(2);
}
const db = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await db.connect();
const reader = await con.runAndReadAll(sql);
const names = reader.columnNames();
for (const row of reader.getRows()) {
  const o = {};
  names.forEach((n, i) => {
    const v = row[i];
    if (typeof v === 'bigint') o[n] = v.toString();
    else if (v && typeof v === 'object' && 'nanos' in v) o[n] = v.nanos.toString();
    else if (v && typeof v === 'object' && 'micros' in v) o[n] = (v.micros * 1000n).toString();
    else o[n] = v === null ? null : v.toString();
  });
  process.stdout.write(JSON.stringify(o) + '\n');
}
