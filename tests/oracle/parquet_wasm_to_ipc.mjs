// Independent oracle for Parquet: parquet-wasm (arrow-rs / the Rust parquet crate compiled to
// WebAssembly) reads a Parquet file and writes what it decoded as an Arrow IPC stream, which
// tests then print with read_arrow.mjs.
//
// Usage: node tests/oracle/parquet_wasm_to_ipc.mjs IN.parquet OUT.arrows
// Exit status 0 on success, 1 (message on stderr) if parquet-wasm cannot read the file.
import { readFileSync, writeFileSync } from 'node:fs';
import { readParquet } from 'parquet-wasm/node';

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  process.stderr.write('usage: node parquet_wasm_to_ipc.mjs IN.parquet OUT.arrows\n');
  process.exit(2);
}
try {
  const table = readParquet(new Uint8Array(readFileSync(input)));
  writeFileSync(output, table.intoIPCStream());
} catch (e) {
  process.stderr.write(String(e && e.stack ? e.stack : e) + '\n');
  process.exit(1);
}
