// pg_clients.mjs - node-postgres (`pg`) and the `postgres` package against a
// streamlake server's PostgreSQL protocol (tests/sql/test_pgwire.py).
//
//   node tests/node/pg_clients.mjs PORT
//
// Prints one JSON object: what each client got back.
import pg from 'pg';
import postgres from 'postgres';

const port = Number(process.argv[2]);
const out = {};

const client = new pg.Client({ host: '127.0.0.1', port, user: 'node', database: 'lake' });
await client.connect();
out.simple = (await client.query('SELECT 1 AS one, \'two\' AS two')).rows;
// parameters go through Parse / Bind / Execute
out.params = (await client.query('SELECT $1::int + 1 AS n, $2::text AS t, $3::bool AS b',
  [41, 'héllo', true])).rows;
// a named prepared statement, run twice
const named = { name: 'by_g', text: 'SELECT g, g * 2 AS d FROM generate_series(1, $1::int) g ORDER BY g' };
out.named1 = (await client.query({ ...named, values: [3] })).rows;
out.named2 = (await client.query({ ...named, values: [2] })).rows;
try {
  await client.query('SELECT $1::int / 0', [1]);
  out.error = null;
} catch (e) {
  out.error = { code: e.code, message: e.message };
}
out.after = (await client.query('SELECT $1::text AS still', ['here'])).rows;
out.nulls = (await client.query('SELECT $1::text AS a, $2::int AS b', [null, null])).rows;
await client.query('CREATE TABLE node_t (a int, b text)');
const ins = await client.query('INSERT INTO node_t VALUES ($1, $2), ($3, $4)', [1, 'x', 2, 'y']);
out.insert = { command: ins.command, rowCount: ins.rowCount };
out.rows = (await client.query('SELECT a, b FROM node_t WHERE a >= $1 ORDER BY a', [1])).rows;
await client.end();


const sql = postgres({ host: '127.0.0.1', port, user: 'node', database: 'lake', max: 1 });
out.postgres = await sql`SELECT ${5}::int + 1 AS n, ${'x'}::text || 'y' AS t, ${2.5}::float8 AS f`;
out.postgres = out.postgres.map((r) => ({ ...r }));
await sql.end();

console.log(JSON.stringify(out));
