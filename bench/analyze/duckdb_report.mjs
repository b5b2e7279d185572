// duckdb_report.mjs - the peer of bench/analyze/run.py: DuckDB running the report's
// queries (docs/analyze.md) over the same Parquet partitions streamlake analyze reads.
//
//   node bench/analyze/duckdb_report.mjs SPEC.json
//
// SPEC holds {"thread": [[stream id, path] of each thread_spans file], "async": [paths of the
// process's async_events files], "top": N}.  The spans are the thread spans plus the
// async spans paired by span id, as process_spans(id, 'both') gives them; the queries
// are the report's: overall aggregates (with exact quantiles), per name and per
// target (with approx_quantile), the longest N, depths, the async begins and ends per
// span id, and self time per name (a join of each span to its children's sum: the
// part the report does in C).  Prints {"cold_s": first pass, "warm_s": second pass}
// for one DuckDB instance with 2 threads (this machine's cores).
import { createRequire } from 'node:module';
import { readFileSync } from 'node:fs';
import { join, dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const here = dirname(fileURLToPath(import.meta.url));
const require = createRequire(join(resolve(here, '..', '..', 'tests', 'node'), 'package.json'));
const { DuckDBInstance } = await import(require.resolve('@duckdb/node-api'));

const spec = JSON.parse(readFileSync(process.argv[2], 'utf8'));
const q = (xs) => '[' + xs.map((p) => `'${p}'`).join(', ') + ']';
const threadSql = spec.thread.map(([sid, p]) => `SELECT '${sid}' AS f, * FROM read_parquet('${p}')`).join(' UNION ALL ');
const spans = `WITH t AS (${threadSql}),
ev AS (SELECT * FROM read_parquet(${q(spec.async)})),
a AS (SELECT 'async' AS stream, b.span_id AS id, b.parent_span_id AS parent, b.depth, b.name, b.target,
      b.filename, epoch_ns(b.time) AS bg, epoch_ns(e.time) AS en, epoch_ns(e.time) - epoch_ns(b.time) AS duration
      FROM ev b JOIN ev e ON b.span_id = e.span_id AND b.event_type = 'begin' AND e.event_type = 'end'),
s AS (SELECT f AS stream, id, parent, depth, name, target, filename, epoch_ns("begin") AS bg,
      epoch_ns("end") AS en, duration FROM t UNION ALL SELECT * FROM a) `;
const queries = [
  `SELECT count(*), count(DISTINCT target), count(DISTINCT name), count(DISTINCT filename), sum(duration),
   avg(duration), min(duration), max(duration), stddev_samp(duration), quantile_cont(duration, 0.5),
   quantile_cont(duration, 0.9), quantile_cont(duration, 0.99), min(bg), max(en) FROM s`,
  `SELECT name, count(*), sum(duration), avg(duration), max(duration), stddev_samp(duration),
   approx_quantile(duration, 0.99) FROM s GROUP BY 1 ORDER BY 3 DESC`,
  `SELECT target, count(*), sum(duration), avg(duration), max(duration), stddev_samp(duration),
   approx_quantile(duration, 0.99) FROM s GROUP BY 1 ORDER BY 3 DESC`,
  `SELECT stream, id, name, target, bg, duration FROM s ORDER BY duration DESC, bg, id LIMIT ${spec.top}`,
  `SELECT depth, count(*) FROM s GROUP BY 1 ORDER BY 1`,
  `SELECT span_id, count(*) FILTER (WHERE event_type = 'begin'), count(*) FILTER (WHERE event_type = 'end')
   FROM read_parquet(${q(spec.async)}) GROUP BY 1`,
  `SELECT s.name, sum(s.duration - coalesce(c.child, 0)) FROM s LEFT JOIN
   (SELECT stream, parent, sum(duration) AS child FROM s GROUP BY 1, 2) c
   ON c.stream = s.stream AND c.parent = s.id GROUP BY 1`,
];
const db = await DuckDBInstance.create(':memory:', { threads: '2' });
const con = await db.connect();
await con.run('SELECT 1');
const pass = async () => {
  const t0 = process.hrtime.bigint();
  for (const sql of queries) await con.runAndReadAll(spans + sql);
  return Number(process.hrtime.bigint() - t0) / 1e9;
};
const cold = await pass();
const warm = await pass();
console.log(JSON.stringify({ cold_s: cold, warm_s: warm }));
