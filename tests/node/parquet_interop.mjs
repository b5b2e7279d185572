// parquet_interop.mjs - DuckDB and our Parquet code check each other, both ways.
//
//   node parquet_interop.mjs PQ_TOOL WORKDIR
//
// Direction 1: `pq_tool gen` writes files from a deterministic generator and
// prints the rows it generated (canonical JSON lines, see pq_tool.c); DuckDB
// reads each file and must return exactly those values.  We also ask DuckDB
// range-filtered counts over several row groups: DuckDB prunes row groups
// with our min/max statistics, so a wrongly ordered statistic changes a count.
//
// Direction 2: DuckDB writes files (zstd, snappy, gzip, lz4, uncompressed;
// dictionary or not; format V1 and V2 with its DELTA_*, BYTE_STREAM_SPLIT and
// v2 data pages; nulls; several row groups); `pq_tool dump` reads them and
// must return exactly DuckDB's values.
//
// Known limit, asserted rather than hidden: DuckDB 1.5 has no nanosecond
// instant type, so it reads TIMESTAMP(isAdjustedToUTC=true, NANOS) as a
// microsecond TIMESTAMPTZ.  For such files we check DuckDB's value equals
// ours truncated to microseconds, and a --ts-local file (isAdjustedToUTC =
// false, which DuckDB reads as TIMESTAMP_NS) checks the nanoseconds exactly.
//
// Prints one line per case and a closing "N passed, N failed" line.
import { DuckDBInstance } from '@duckdb/node-api';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [pqTool, work] = process.argv.slice(2);
if (!pqTool || !work) {
  console.error('usage: node parquet_interop.mjs PQ_TOOL WORKDIR');
  process.exit(2);
}
mkdirSync(work, { recursive: true });

const db = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await db.connect();
const rows = async (sql) => (await con.runAndReadAll(sql)).getRows();

let passed = 0, failed = 0;
function report(name, errors) {
  if (errors.length === 0) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failed++;
    console.log(`FAIL ${name}`);
    for (const e of errors.slice(0, 8)) console.log(`     ${e}`);
  }
}

function doubleBits(x) {
  const dv = new DataView(new ArrayBuffer(8));
  dv.setFloat64(0, x);
  return '0x' + dv.getBigUint64(0).toString(16).padStart(16, '0');
}

// DuckDB types of a file's columns, in order.
async function describe(file) {
  return (await rows(`DESCRIBE SELECT * FROM read_parquet('${file}')`)).map((r) => ({
    name: r[0], type: r[1],
  }));
}

// DuckDB's rows of a file, each cell in the canonical form pq_tool prints.
async function duckRows(file, cols) {
  const sel = cols.map(({ name, type }) => {
    const q = `"${name}"`;
    if (type.startsWith('TIMESTAMP')) return `epoch_ns(${q})::VARCHAR`;
    if (type === 'BLOB') return `'hex:' || lower(hex(${q}))`;
    return q;
  });
  const out = await rows(`SELECT ${sel.join(', ')} FROM read_parquet('${file}')`);
  return out.map((r) =>
    r.map((v, i) => {
      if (v === null) return null;
      const t = cols[i].type;
      if (t === 'DOUBLE' || t === 'FLOAT') return doubleBits(v);
      if (t === 'BOOLEAN' || t === 'VARCHAR') return v;
      return String(v);
    }),
  );
}

function readJsonl(text) {
  const lines = text.split('\n').filter((l) => l.length > 0);
  return { header: JSON.parse(lines[0]), rows: lines.slice(1).map((l) => JSON.parse(l)) };
}

function compare(expected, got, cols, errors, transform = {}) {
  if (expected.length !== got.length) errors.push(`row count ${got.length}, expected ${expected.length}`);
  const n = Math.min(expected.length, got.length);
  for (let i = 0; i < n && errors.length < 8; i++) {
    for (let c = 0; c < cols.length; c++) {
      let want = expected[i][c];
      if (want !== null && transform[c]) want = transform[c](want);
      if (want !== got[i][c])
        errors.push(`row ${i} column ${cols[c].name}: got ${JSON.stringify(got[i][c])}, expected ${JSON.stringify(want)}`);
    }
  }
}

function pqDump(file) {
  return readJsonl(execFileSync(pqTool, ['dump', file], { maxBuffer: 1 << 30 }).toString());
}

// --- direction 1: our files, DuckDB reads ------------------------------------

const ours = [
  { name: 'zstd, dictionary, 5 row groups, small pages', args: ['--rows', '30000', '--rg', '7000', '--page', '16384', '--batch', '4096'] },
  { name: 'snappy, no dictionary', args: ['--codec', 'snappy', '--no-dict', '--rows', '20000', '--rg', '6000'] },
  { name: 'lz4_raw, low cardinality strings', args: ['--codec', 'lz4', '--rows', '20000', '--cardinality', '40', '--page', '4096'] },
  { name: 'uncompressed, one row per batch edge', args: ['--codec', 'none', '--rows', '3001', '--batch', '1000', '--rg', '1500'] },
  { name: 'dictionary falls back to plain mid-chunk', args: ['--rows', '20000', '--dict-max', '300', '--page', '8192', '--rg', '9000'] },
  { name: 'no nulls', args: ['--rows', '10000', '--nulls', '0', '--rg', '3000'] },
  { name: 'all nulls', args: ['--rows', '5000', '--nulls', '100', '--rg', '2000'] },
  { name: 'timestamps isAdjustedToUTC=false (exact ns in DuckDB)', args: ['--rows', '10000', '--ts-local', '--rg', '4000'] },
  { name: 'empty file (0 rows)', args: ['--rows', '0'] },
];

for (const [i, c] of ours.entries()) {
  const file = join(work, `ours_${i}.parquet`), exp = join(work, `ours_${i}.jsonl`);
  const errors = [];
  try {
    execFileSync(pqTool, ['gen', file, '--expect', exp, '--seed', String(i + 1), ...c.args], { stdio: ['ignore', 'ignore', 'pipe'] });
    const want = readJsonl(readFileSync(exp, 'utf8'));
    const cols = await describe(file);
    if (cols.length !== want.header.columns.length) errors.push(`DuckDB sees ${cols.length} columns`);
    const names = cols.map((x) => x.name).join(',');
    if (names !== want.header.columns.map((x) => x.name).join(',')) errors.push(`columns ${names}`);
    // DuckDB has no nanosecond instant type: it truncates to microseconds.
    const transform = {};
    cols.forEach((col, k) => {
      if (col.type === 'TIMESTAMP WITH TIME ZONE') transform[k] = (v) => String((BigInt(v) / 1000n) * 1000n);
    });
    const got = await duckRows(file, cols);
    compare(want.rows, got, cols, errors, transform);
    // Our own reader must agree with the generator too.
    const back = pqDump(file);
    compare(want.rows, back.rows, cols, errors);
    const kv = await rows(`SELECT decode(key), decode(value) FROM parquet_kv_metadata('${file}') ORDER BY 1`);
    if (JSON.stringify(kv) !== JSON.stringify([['streamlake.schema_version', '1'], ['streamlake.view', 'interop']]))
      errors.push(`key/value metadata seen by DuckDB: ${JSON.stringify(kv)}`);
    // Row-group pruning by our statistics must not change any answer.
    if (want.rows.length > 0) await checkFilters(file, cols, want.rows, errors);
  } catch (e) {
    errors.push(String(e.message || e).split('\n').slice(0, 4).join(' | '));
  }
  report(`ours -> duckdb: ${c.name}`, errors);
}

// Counts of rows above the median of several columns, by DuckDB (which
// prunes row groups with our statistics) and by us from the generated rows.
async function checkFilters(file, cols, data, errors) {
  const checks = [
    { col: 'i64', big: true }, { col: 'i32' }, { col: 'u32' }, { col: 'u64', big: true, unsigned: true },
    { col: 'ts', big: true }, { col: 's', str: true }, { col: 'ds', str: true },
  ];
  for (const chk of checks) {
    const k = cols.findIndex((x) => x.name === chk.col);
    if (k < 0) continue;
    const vals = data.map((r) => r[k]).filter((v) => v !== null);
    if (vals.length === 0) continue;
    const key = (v) => (chk.str ? Buffer.from(v, 'utf8').toString('latin1') : BigInt(v));
    const sorted = [...vals].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
    const pivot = sorted[Math.floor(sorted.length / 2)];
    const want = vals.filter((v) => key(v) > key(pivot)).length;
    let lit;
    if (chk.str) lit = `'${pivot.replaceAll("'", "''")}'`;
    else if (chk.col === 'ts') lit = `make_timestamp_ns(${pivot})`;
    else lit = pivot;
    let where = `"${chk.col}" > ${lit}`;
    if (chk.col === 'ts' && cols[k].type === 'TIMESTAMP WITH TIME ZONE') {
      // Microsecond instants: compare on the truncated values DuckDB holds.
      const us = (BigInt(pivot) / 1000n).toString();
      where = `epoch_us("ts") > ${us}`;
      const w2 = vals.filter((v) => BigInt(v) / 1000n > BigInt(us)).length;
      const [[got]] = await rows(`SELECT count(*) FROM read_parquet('${file}') WHERE ${where}`);
      if (Number(got) !== w2) errors.push(`count where ${where}: DuckDB ${got}, expected ${w2}`);
      continue;
    }
    const [[got]] = await rows(`SELECT count(*) FROM read_parquet('${file}') WHERE ${where}`);
    if (Number(got) !== want) errors.push(`count where ${where}: DuckDB ${got}, expected ${want}`);
  }
}

// --- direction 2: DuckDB's files, we read -------------------------------------

const odd = [
  '', 'plain', 'with "quotes"', 'line\nbreak', 'tab\tand\\backslash', 'café', '日本語', 'emoji 😀', "it's",
];
const oddSql = odd.map((s) => `'${s.replaceAll("'", "''")}'`).join(', ');
const genSql = (n) => `
  SELECT
    i::BIGINT AS id,
    CASE WHEN i % 7 = 3 THEN NULL ELSE (hash(i) % 9223372036854775807)::BIGINT - 4611686018427387904 END AS i64,
    CASE WHEN i % 5 = 1 THEN NULL ELSE (i * 7919 % 65536 - 32768)::INTEGER END AS i32,
    (i % 13)::BIGINT AS small64,
    CASE WHEN i % 11 = 0 THEN NULL ELSE (hash(i) % 4294967295)::UINTEGER END AS u32,
    CASE WHEN i % 9 = 0 THEN NULL ELSE hash(i * 3)::UBIGINT END AS u64,
    CASE WHEN i % 6 = 0 THEN NULL WHEN i % 17 = 0 THEN '-0.0'::DOUBLE WHEN i % 19 = 0 THEN 'inf'::DOUBLE
         ELSE (hash(i) % 1000000)::DOUBLE / 7.0 - 5000.0 END AS d,
    (i % 10)::DOUBLE / 4 AS dlow,
    CASE WHEN i % 6 = 1 THEN NULL ELSE (i / 3.0 - 1000)::REAL END AS f32,
    (i % 4)::REAL / 2 AS f32low,
    CASE WHEN i % 8 = 0 THEN NULL ELSE make_timestamp_ns(1700000000000000000 + i * 1000003) END AS ts_ns,
    make_timestamp(1700000000000000 + i * 997)::TIMESTAMPTZ AS ts_tz,
    CASE WHEN i % 4 = 0 THEN NULL ELSE (i % 3 = 0) END AS b,
    CASE WHEN i % 10 = 0 THEN NULL ELSE 'name_' || (i % 150)::VARCHAR END AS s_dict,
    CASE WHEN i % 12 = 0 THEN NULL ELSE md5(i::VARCHAR) || repeat('x', (i % 5)::INTEGER) END AS s_plain,
    [${oddSql}][1 + (i % ${odd.length})] AS s_odd,
    CASE WHEN i % 3 = 0 THEN NULL ELSE ('prefix_shared_' || lpad((i // 3)::VARCHAR, 8, '0'))::VARCHAR END AS s_sorted,
    CASE WHEN i % 5 = 0 THEN NULL ELSE unhex(md5(i::VARCHAR))[1:(i % 9)::INTEGER] END AS blob
  FROM range(${n}) t(i)`;

const theirs = [
  { name: 'default (snappy, V1)', opts: '' },
  { name: 'zstd V1', opts: ', COMPRESSION zstd' },
  { name: 'zstd V2 (DELTA_*, BYTE_STREAM_SPLIT, data page v2)', opts: ', COMPRESSION zstd, PARQUET_VERSION V2' },
  { name: 'snappy V2', opts: ', COMPRESSION snappy, PARQUET_VERSION V2' },
  { name: 'uncompressed V1', opts: ', COMPRESSION uncompressed' },
  { name: 'uncompressed V2', opts: ', COMPRESSION uncompressed, PARQUET_VERSION V2' },
  { name: 'gzip V1', opts: ', COMPRESSION gzip' },
  { name: 'lz4_raw V2', opts: ', COMPRESSION lz4_raw, PARQUET_VERSION V2' },
  { name: 'zstd, no dictionary', opts: ', COMPRESSION zstd, DICTIONARY_SIZE_LIMIT 1' },
  { name: 'zstd V2, no dictionary', opts: ', COMPRESSION zstd, PARQUET_VERSION V2, DICTIONARY_SIZE_LIMIT 1' },
];

for (const [i, c] of theirs.entries()) {
  const file = join(work, `theirs_${i}.parquet`);
  const errors = [];
  try {
    await con.run(`COPY (${genSql(25000)}) TO '${file}' (FORMAT parquet, ROW_GROUP_SIZE 8192${c.opts})`);
    const cols = await describe(file);
    const want = await duckRows(file, cols);
    const got = pqDump(file);
    const names = got.header.columns.map((x) => x.name).join(',');
    if (names !== cols.map((x) => x.name).join(',')) errors.push(`our columns ${names}`);
    compare(want, got.rows, cols, errors);
    const enc = await rows(`SELECT DISTINCT encodings FROM parquet_metadata('${file}') ORDER BY 1`);
    c.encodings = enc.map((r) => r[0]).join(' ');
  } catch (e) {
    errors.push(String(e.message || e).split('\n').slice(0, 4).join(' | '));
  }
  report(`duckdb -> ours: ${c.name} [${c.encodings || '?'}]`, errors);
}

// Empty DuckDB file.
{
  const file = join(work, 'theirs_empty.parquet');
  const errors = [];
  try {
    await con.run(`COPY (${genSql(0)}) TO '${file}' (FORMAT parquet)`);
    const got = pqDump(file);
    if (got.rows.length !== 0 || got.header.columns.length !== 18) errors.push(`read ${got.rows.length} rows, ${got.header.columns.length} columns`);
  } catch (e) {
    errors.push(String(e.message || e));
  }
  report('duckdb -> ours: empty file', errors);
}

writeFileSync(join(work, 'done'), `${passed} ${failed}\n`);
console.log(`${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
