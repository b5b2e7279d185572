// duckdb_tumble.mjs - DuckDB running one batch query (bench/stream/run.py: the
// tumbling GROUP BY over the same CSV file), 2 threads, best of REPS runs.
//
//   node bench/stream/duckdb_tumble.mjs SQL [REPS]
//
// Prints the best time in seconds alone on the first line (after one warm-up run).
import { createRequire } from 'node:module';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(resolve(here, '..', '..', 'tests', 'node'), 'package.json'));
const { DuckDBInstance } = await import(require.resolve('@duckdb/node-api'));

const [sql, repsArg] = process.argv.slice(2);
const reps = Math.max(1, Number(repsArg ?? 3));
const db = await DuckDBInstance.create(':memory:', { threads: '2' });
const con = await db.connect();
const times = [];
await con.runAndReadAll(sql); // a warm-up run: the file in the page cache, like ours
while (times.length < reps) {
  const t0 = process.hrtime.bigint();
  await con.runAndReadAll(sql);
  times.push(Number(process.hrtime.bigint() - t0) / 1e9);
}
console.log(Math.min(...times).toFixed(4));
