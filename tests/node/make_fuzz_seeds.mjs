// make_fuzz_seeds.mjs - writes small DuckDB-made Parquet files into the fuzz
// corpus (tests/fuzz/corpus/parquet/d_*.parquet), so the fuzzer starts from
// what a real peer writes: V1 and V2 pages, DELTA_*, BYTE_STREAM_SPLIT,
// dictionaries of strings and numbers, nulls.  Run by hand after a DuckDB
// upgrade:  node tests/node/make_fuzz_seeds.mjs
import { DuckDBInstance } from '@duckdb/node-api';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const out = resolve(dirname(fileURLToPath(import.meta.url)), '../fuzz/corpus/parquet');
const db = await DuckDBInstance.create(':memory:', { threads: '1' });
const con = await db.connect();
const gen = `SELECT i::BIGINT AS id,
    CASE WHEN i % 7 = 3 THEN NULL ELSE (hash(i) % 1000000007)::BIGINT END AS i64,
    (i % 5)::INTEGER AS small,
    CASE WHEN i % 6 = 0 THEN NULL ELSE i / 7.0 END::DOUBLE AS d,
    (i / 3.0)::REAL AS f,
    make_timestamp_ns(1700000000000000000 + i * 1000003) AS ts,
    CASE WHEN i % 4 = 0 THEN NULL ELSE (i % 3 = 0) END AS b,
    'name_' || (i % 9)::VARCHAR AS s_dict,
    CASE WHEN i % 5 = 0 THEN NULL ELSE md5(i::VARCHAR) END AS s_plain
  FROM range(300) t(i)`;
const files = [
  ['d_v1_snappy.parquet', ''],
  ['d_v2_zstd.parquet', ', COMPRESSION zstd, PARQUET_VERSION V2'],
  ['d_v1_gzip.parquet', ', COMPRESSION gzip'],
  ['d_v2_uncompressed.parquet', ', COMPRESSION uncompressed, PARQUET_VERSION V2'],
];
for (const [name, opts] of files)
  await con.run(`COPY (${gen}) TO '${join(out, name)}' (FORMAT parquet, ROW_GROUP_SIZE 128${opts})`);
console.log(`wrote ${files.length} files to ${out}`);
