import { DuckDBInstance } from '@duckdb/node-api';
const inst = await DuckDBInstance.create(':memory:', {threads: '2'});
const c = await inst.connect();
const sql = process.argv[2];
for (const s of sql.split(';;')) { const r = await c.runAndReadAll(s); console.log(JSON.stringify(r.getRowObjectsJson ? r.getRowObjectsJson() : r.getRows(), null, 0)); }
