// Independent oracle for Parquet: DuckDB (@duckdb/node-api) reads a Parquet file and prints its
// rows as JSON, or runs a COPY statement that writes a Parquet file, so the tests can check our
// reader and writer against another implementation.
//
// Usage:
//   node tests/oracle/duckdb_parquet.mjs read FILE [COLUMN...]
//       one JSON object per row, one per line, keys in column order. Values: null -> null;
//       bool; integers as exact JSON numbers (BIGINTs never rounded through doubles); floats as numbers
//       with NaN / +Infinity / -Infinity as "nan" / "inf" / "-inf"; strings as strings; blobs
//       as base64; lists and arrays as arrays; structs as objects; maps as arrays of
//       {"key": k, "value": v} objects (the list<struct<key, value>> layout of Arrow maps).
//   node tests/oracle/duckdb_parquet.mjs sql STATEMENT...
//       runs each statement in order (e.g. CREATE TABLE ...; COPY ... TO 'f.parquet' (...)).
//
// Exit status 0 on success, 1 (message on stderr) on failure.
import { DuckDBInstance, DuckDBListValue, DuckDBStructValue, DuckDBMapValue, DuckDBBlobValue,
  DuckDBArrayValue } from '@duckdb/node-api';

function jsonValue(v) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') {
    if (Number.isNaN(v)) return '"nan"';
    if (v === Infinity) return '"inf"';
    if (v === -Infinity) return '"-inf"';
    return String(v);
  }
  if (typeof v === 'boolean' || typeof v === 'string') return JSON.stringify(v);
  if (v instanceof DuckDBListValue || v instanceof DuckDBArrayValue) {
    return '[' + v.items.map(jsonValue).join(',') + ']';
  }
  if (v instanceof DuckDBStructValue) {
    return '{' + Object.entries(v.entries).map(([k, x]) => JSON.stringify(k) + ':' + jsonValue(x))
      .join(',') + '}';
  }
  if (v instanceof DuckDBMapValue) {
    return '[' + v.entries.map((e) => `{"key":${jsonValue(e.key)},"value":${jsonValue(e.value)}}`)
      .join(',') + ']';
  }
  if (v instanceof DuckDBBlobValue) return JSON.stringify(Buffer.from(v.bytes).toString('base64'));
  return JSON.stringify(String(v));
}

function quoteIdent(name) { return '"' + name.replaceAll('"', '""') + '"'; }
function quoteString(s) { return "'" + s.replaceAll("'", "''") + "'"; }

async function main() {
  const [mode, ...args] = process.argv.slice(2);
  const instance = await DuckDBInstance.create(':memory:', { threads: '1' });
  const conn = await instance.connect();
  // Plain Parquet semantics: no GeoParquet conversion of binary columns.
  await conn.run('SET enable_geoparquet_conversion = false');
  if (mode === 'read' && args.length >= 1) {
    const [file, ...columns] = args;
    const select = columns.length ? columns.map(quoteIdent).join(', ') : '*';
    const reader = await conn.runAndReadAll(
      `SELECT ${select} FROM read_parquet(${quoteString(file)})`);
    const names = reader.columnNames();
    const out = [];
    for (const row of reader.getRows()) {
      out.push('{' + row.map((v, i) => JSON.stringify(names[i]) + ':' + jsonValue(v)).join(',') + '}');
    }
    process.stdout.write(out.join('\n') + (out.length ? '\n' : ''));
  } else if (mode === 'sql' && args.length >= 1) {
    for (const statement of args) await conn.run(statement);
  } else {
    process.stderr.write('usage: node duckdb_parquet.mjs read FILE [COLUMN...] | sql STATEMENT...\n');
    process.exit(2);
  }
}

main().catch((e) => {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
});
