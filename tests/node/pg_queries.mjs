// pg_queries.mjs - runs SQL through node-postgres (`pg`) with parameters, that is
// through the extended query protocol (Parse / Bind / Describe / Execute / Sync;
// queryMode extended, so also without parameters),
// as Grafana's Go driver sends its parameterized queries (tests/sql/test_pgwire_tools.py).
//
//   node tests/node/pg_queries.mjs PORT < queries.json
//
// Standard input: a JSON list of {"text": SQL, "values": [...]}.  Prints a JSON
// list with, for each, {"fields": [[name, type oid], ...], "rows": [[...], ...]}
// (values as the text PostgreSQL sends), or {"error": {"code", "message"}}.
import fs from 'node:fs';
import pg from 'pg';

// every value as its text: the test compares them without node's conversions
const asText = { getTypeParser: () => (v) => v };
const port = Number(process.argv[2]);
const queries = JSON.parse(fs.readFileSync(0, 'utf8'));
const client = new pg.Client({ host: '127.0.0.1', port, user: 'grafana', database: 'lake' });
await client.connect();
const out = [];
for (const q of queries) {
  try {
    const r = await client.query({
      text: q.text, values: q.values || [], rowMode: 'array', types: asText, queryMode: 'extended',
    });
    out.push({ fields: r.fields.map((f) => [f.name, f.dataTypeID]), rows: r.rows });
  } catch (e) {
    out.push({ error: { code: e.code, message: e.message } });
  }
}
await client.end();
process.stdout.write(JSON.stringify(out));
