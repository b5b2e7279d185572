// DuckDB's side of bench/sql/brc.py (a 1BRC-style aggregation over a CSV):
//   node bench/sql/brc_duckdb.mjs gen FILE ROWS        writes the CSV (station,temp)
//   node bench/sql/brc_duckdb.mjs time FILE THREADS REPS  median of REPS timed runs
// after one warm-up, in ms, as "duckdb\tMS".
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));
const require = createRequire(path.join(here, '..', '..', 'tests', 'node', 'package.json'));
const { DuckDBInstance } = await import(require.resolve('@duckdb/node-api'));

const [mode, file, a, b] = process.argv.slice(2);
if (mode === 'gen') {
  const db = await DuckDBInstance.create(':memory:', { threads: '2' });
  const con = await db.connect();
  // 400 stations, temperatures -50.0 .. 49.9 with one decimal, deterministic
  await con.run(`COPY (SELECT 'station_' || (hash(i) % 400)::VARCHAR AS station,
    round((hash(i * 7) % 10000)::DOUBLE / 100 - 50, 1) AS temp
    FROM range(${Number(a)}) t(i)) TO '${file}' (HEADER, DELIMITER ',')`);
} else if (mode === 'time') {
  const db = await DuckDBInstance.create(':memory:', { threads: String(a ?? 2) });
  const con = await db.connect();
  const q = `SELECT station, min(temp), avg(temp), max(temp) FROM read_csv('${file}')
             GROUP BY station ORDER BY station`;
  const reps = Number(b ?? 3);
  const times = [];
  for (let i = 0; i <= reps; i++) {
    const t0 = process.hrtime.bigint();
    await con.runAndReadAll(q);
    if (i) times.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  times.sort((x, y) => x - y);
  console.log(`duckdb\t${times[Math.floor(times.length / 2)].toFixed(1)}`);
} else {
  console.error('usage: brc_duckdb.mjs gen FILE ROWS | time FILE THREADS REPS');
  process.exit(2);
}
