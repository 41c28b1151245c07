// Timing oracle for the Parquet benchmark: how long DuckDB (@duckdb/node-api, one thread) takes to
// read every column of a Parquet file into a materialized result, so bench/parquet_bench.cpp can
// hold our reader against it on the same file in the same run.
//
// Usage:
//   node tests/oracle/duckdb_time.mjs FILE REPS
//       runs `SELECT * FROM read_parquet(FILE)` once to warm up, then REPS timed times, and prints
//       one JSON line: {"seconds":[t1,...,tREPS],"cpu_seconds":[c1,...,cREPS],"rows":N,"columns":C}
//       with the wall time of each run and the CPU time the process spent in it (user + system;
//       the JavaScript thread only waits while DuckDB runs the query on its worker thread).
//
// Each timed run is `connection.run`, which executes the query to completion inside DuckDB and
// returns a materialized result (all rows held in DuckDB's memory); no value is converted to
// JavaScript. The row count of every result is checked against the file's metadata, so a lazy or
// partial read fails loudly instead of looking fast. The previous result is released (a full GC,
// with its native finalizer) before the next timed run starts.
//
// Exit status 0 on success, 1 (message on stderr) on failure, 2 on bad usage.
import { DuckDBInstance } from '@duckdb/node-api';
import v8 from 'node:v8';
import vm from 'node:vm';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc');

function quoteString(s) { return "'" + s.replaceAll("'", "''") + "'"; }

// A full GC, then one macrotask turn so the native finalizers that free DuckDB results have run.
async function releaseGarbage() {
  gc();
  await new Promise((resolve) => setImmediate(resolve));
  gc();
}

async function main() {
  const args = process.argv.slice(2);
  const reps = Number(args[1]);
  if (args.length !== 2 || !Number.isInteger(reps) || reps < 1) {
    process.stderr.write('usage: node duckdb_time.mjs FILE REPS (REPS a positive integer)\n');
    process.exit(2);
  }
  const file = args[0];
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const conn = await instance.connect();
  await conn.run('SET enable_geoparquet_conversion = false');
  const threads = (await conn.runAndReadAll("SELECT current_setting('threads')")).getRows()[0][0];
  if (Number(threads) !== 1) throw new Error(`DuckDB runs ${threads} threads, expected 1`);

  const meta = await conn.runAndReadAll(
    `SELECT CAST(sum(num_rows) AS BIGINT) FROM parquet_file_metadata(${quoteString(file)})`);
  const expectedRows = Number(meta.getRows()[0][0]);
  const query = `SELECT * FROM read_parquet(${quoteString(file)})`;

  let columns = 0;
  const check = (result) => {
    if (result.rowCount !== expectedRows) {
      throw new Error(`${file}: DuckDB materialized ${result.rowCount} rows, file metadata says ${expectedRows}`);
    }
    columns = result.columnCount;
  };

  check(await conn.run(query));
  const seconds = [];
  const cpuSeconds = [];
  for (let i = 0; i < reps; ++i) {
    await releaseGarbage();
    const cpuStart = process.cpuUsage();
    const start = process.hrtime.bigint();
    const result = await conn.run(query);
    const stop = process.hrtime.bigint();
    const cpu = process.cpuUsage(cpuStart);
    check(result);
    seconds.push(Number(stop - start) / 1e9);
    cpuSeconds.push((cpu.user + cpu.system) / 1e6);
  }
  process.stdout.write(
    JSON.stringify({ seconds, cpu_seconds: cpuSeconds, rows: expectedRows, columns }) + '\n');
}

main().catch((e) => {
  process.stderr.write('duckdb_time.mjs: ' + String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
