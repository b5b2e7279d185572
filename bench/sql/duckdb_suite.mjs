// duckdb_suite.mjs - the DuckDB side of bench/sql/run.py: the same telemetry
// queries over the lake's own Parquet partitions.
//
//   node bench/sql/duckdb_suite.mjs DATA_DIR PREP_DIR QUERIES.tsv THREADS REPS
//
// PREP_DIR (written by run.py from the metadata) holds spans.txt, logs.txt,
// measures.txt (current partition files, relative to DATA_DIR), threads.csv
// (stream_id, process_id, thread_name) and processes.csv (process_id, exe).  Views over
// them stand for our tables: spans (every thread's thread_spans, with the
// stream id taken from the file's path), threads, log_entries, measures,
// processes.  Each query (the third field of QUERIES.tsv) runs once to warm
// up, then REPS times; prints "query NAME MEDIAN_MS BEST_MS ROWS" per query,
// tab-separated.  DuckDB runs with THREADS threads, TimeZone UTC.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(resolve(here, '..', '..', 'tests', 'node'), 'package.json'));
const { DuckDBInstance } = await import(require.resolve('@duckdb/node-api'));

const [dir, prep, qfile, threads, repsArg] = process.argv.slice(2);
const reps = Math.max(1, Number(repsArg ?? 3));
const list = (f) => readFileSync(join(prep, f), 'utf8').split('\n').filter(Boolean)
  .map((p) => `'${join(dir, p)}'`).join(', ');
const db = await DuckDBInstance.create(':memory:', { threads: String(threads ?? 2) });
const con = await db.connect();
await con.run("SET TimeZone = 'UTC'");
await con.run(`CREATE VIEW spans AS SELECT * EXCLUDE (file_path),
  regexp_extract(file_path, 'thread_spans/([^/]+)/', 1) AS stream_id
  FROM read_parquet([${list('spans.txt')}], filename = 'file_path')`);
await con.run(`CREATE VIEW log_entries AS SELECT * FROM read_parquet([${list('logs.txt')}])`);
await con.run(`CREATE VIEW measures AS SELECT * FROM read_parquet([${list('measures.txt')}])`);
await con.run(`CREATE TABLE threads AS SELECT * FROM read_csv('${join(prep, 'threads.csv')}')`);
await con.run(`CREATE TABLE processes AS SELECT * FROM read_csv('${join(prep, 'processes.csv')}')`);

for (const line of readFileSync(qfile, 'utf8').split('\n')) {
  if (!line || line.startsWith('#')) continue;
  const [name, , sql] = line.split('\t');
  let rows = 0;
  const times = [];
  for (let r = 0; r <= reps; r++) {
    const t0 = process.hrtime.bigint();
    const reader = await con.runAndReadAll(sql);
    rows = reader.getRows().length;
    const t = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r > 0) times.push(t);
  }
  times.sort((a, b) => a - b);
  console.log(['query', name, times[Math.floor(times.length / 2)].toFixed(2),
    times[0].toFixed(2), rows].join('\t'));
}
