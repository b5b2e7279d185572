// duckdb_floor.mjs - the floor of bench_trace: DuckDB reading the columns a trace
// needs (begin, end, name) from every thread_spans partition, in thread order.
//
//   node bench/duckdb_floor.mjs DATA_DIR FILE_LIST [REPS]
//
// FILE_LIST holds one partition path per line (relative to DATA_DIR), in the
// trace's thread order.  Each file is read with one query that materializes the
// three columns (max() over them, so DuckDB decodes every value); the time of all
// the queries together, best of REPS passes (default 3), is printed in seconds,
// alone on the first line.  DuckDB runs with 2 threads (this machine's cores),
// the connection is opened first.
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(resolve(here, '..', 'tests', 'node'), 'package.json'));
const { DuckDBInstance } = await import(require.resolve('@duckdb/node-api'));

const [dir, list, repsArg] = process.argv.slice(2);
const reps = Math.max(1, Number(repsArg ?? 3));
const files = readFileSync(list, 'utf8').split('\n').filter(Boolean).map((f) => join(dir, f));
const db = await DuckDBInstance.create(':memory:', { threads: '2' });
const con = await db.connect();
await con.run('SELECT 1');
let best = Infinity;
for (let r = 0; r < reps; r++) {
  const t0 = process.hrtime.bigint();
  for (const f of files)
    await con.runAndReadAll(`SELECT max("begin"), max("end"), max(name) FROM read_parquet('${f}')`);
  best = Math.min(best, Number(process.hrtime.bigint() - t0) / 1e9);
}
console.log(best.toFixed(4));
