import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync } from 'node:fs';
const db = await DuckDBInstance.create(':memory:', { threads: '1' });
const c = await db.connect();
const f = process.argv[2];
await c.run(`PRAGMA enable_profiling='json'`);
await c.run(`PRAGMA profiling_output='/tmp/prof.json'`);
function scan(n){ let t=0; if(/READ_PARQUET|SCAN/.test(n.operator_name||'')) t+=n.operator_timing; for(const k of n.children||[]) t+=scan(k); return t;}
const all='max(id),max(parent),max(depth),max(hash),max(begin),max("end"),max(duration),max(line),max(name),max(target),max(filename)';
for (const q of [all, 'max(id),max(parent),max(depth),max(hash),max(begin),max("end"),max(duration),max(line)', all]) {
  let best=1e9, bs=1e9;
  for (let i=0;i<7;i++){ const t0=process.hrtime.bigint(); await c.runAndReadAll(`select ${q} from read_parquet('${f}')`); best=Math.min(best, Number(process.hrtime.bigint()-t0)/1e9); bs=Math.min(bs, scan(JSON.parse(readFileSync('/tmp/prof.json','utf8'))));}
  console.log(q.slice(0,40).padEnd(40), best.toFixed(3), bs.toFixed(3));
}
