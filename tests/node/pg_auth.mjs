// pg_auth.mjs - node-postgres (`pg`) over TLS with SCRAM-SHA-256 against a
// streamlake server started with --tls-cert, --tls-key and --keys
// (tests/sql/test_pgwire_auth.py).
//
//   node tests/node/pg_auth.mjs PORT USER SECRET CA_FILE
//
// Prints one JSON object: what the right secret, a wrong one and an unknown
// user got back.
import fs from 'node:fs';
import pg from 'pg';

const [port, user, secret, caFile] = [Number(process.argv[2]), ...process.argv.slice(3)];
// the certificate is checked against the CA file and the address (its subjectAltName)
const ssl = { ca: fs.readFileSync(caFile, 'utf8') };
const out = {};

const client = new pg.Client({ host: '127.0.0.1', port, user, password: secret, database: 'lake', ssl });
await client.connect();
out.encrypted = client.connection.stream.encrypted === true;
out.protocol = client.connection.stream.getProtocol();
out.rows = (await client.query('SELECT $1::int + 1 AS n, current_user IS NOT NULL AS u', [41])).rows;
await client.end();

async function refused(u, password) {
  const c = new pg.Client({ host: '127.0.0.1', port, user: u, password, database: 'lake', ssl });
  try {
    await c.connect();
    await c.end();
    return null;
  } catch (e) {
    return { code: e.code, message: e.message };
  }
}
out.wrong = await refused(user, secret + 'x');
out.unknown = await refused('nobody', secret);

console.log(JSON.stringify(out));
