// Independent oracle: reads an Arrow IPC stream (or file) with apache-arrow (JS) and prints it
// as JSON, so tests can check what our writers produce against another implementation.
//
// Usage:
//   node tests/oracle/read_arrow.mjs FILE            one JSON object per row, one per line:
//                                                    {"<column>": <value>, ...}
//   node tests/oracle/read_arrow.mjs --schema FILE   one JSON object describing the schema:
//     {"fields": [F...], "metadata": {"<key>": "<value>", ...}, "batch_rows": [n, ...]}
//     F = {"name", "type", "js_type", "nullable", "metadata": {...}, "children": [F...]}
//     "type" is spelled as pyarrow prints it ("int64", "float", "double", "halffloat",
//     "string", "large_string", "binary", "large_binary", "bool", "null",
//     "list<item: float>", "large_list<item: int64>", "fixed_size_list<item: float>[4]",
//     "struct<a: int64, b: string>"); "js_type" is apache-arrow's own toString().
//
// Values: null -> null; bool -> true/false; integers -> numbers, or decimal strings when
// outside +-(2^53 - 1); floats -> numbers, NaN / +Infinity / -Infinity -> "nan" / "inf" /
// "-inf"; strings -> strings; binary -> base64 strings; list, large_list and fixed_size_list ->
// arrays; struct -> objects keyed by member name.
//
// Exit status 0 on success, 1 (message on stderr) if the file cannot be read. Compressed bodies
// are not decoded (apache-arrow needs codecs registered for that).
import { readFileSync } from 'node:fs';
import { RecordBatchReader, DataType, Type, Precision } from 'apache-arrow';
import { _InternalEmptyPlaceholderRecordBatch } from 'apache-arrow/recordbatch';

function usage() {
  process.stderr.write('usage: node read_arrow.mjs [--schema] FILE\n');
  process.exit(2);
}

function pyarrowType(type) {
  switch (type.typeId) {
    case Type.Null: return 'null';
    case Type.Bool: return 'bool';
    case Type.Int: return `${type.isSigned ? 'int' : 'uint'}${type.bitWidth}`;
    case Type.Float:
      return type.precision === Precision.HALF ? 'halffloat'
        : type.precision === Precision.SINGLE ? 'float' : 'double';
    case Type.Utf8: return 'string';
    case Type.LargeUtf8: return 'large_string';
    case Type.Binary: return 'binary';
    case Type.LargeBinary: return 'large_binary';
    case Type.List: return `list<${fieldString(type.children[0])}>`;
    case Type.LargeList: return `large_list<${fieldString(type.children[0])}>`;
    case Type.FixedSizeList:
      return `fixed_size_list<${fieldString(type.children[0])}>[${type.listSize}]`;
    case Type.Struct: return `struct<${type.children.map(fieldString).join(', ')}>`;
    default: return String(type);
  }
}

function fieldString(field) {
  return `${field.name}: ${pyarrowType(field.type)}`;
}

function metadataObject(map) {
  const out = {};
  if (map) for (const [k, v] of map) out[k] = v;
  return out;
}

function fieldJson(field) {
  return {
    name: field.name,
    type: pyarrowType(field.type),
    js_type: String(field.type),
    nullable: field.nullable,
    metadata: metadataObject(field.metadata),
    children: (field.type.children ?? []).map(fieldJson),
  };
}

function integer(v) {
  if (typeof v === 'bigint') {
    const n = Number(v);
    return Number.isSafeInteger(n) && BigInt(n) === v ? n : v.toString();
  }
  return v;
}

function float(v) {
  if (Number.isNaN(v)) return 'nan';
  if (v === Infinity) return 'inf';
  if (v === -Infinity) return '-inf';
  return v;
}

function convert(value, type) {
  if (value === null || value === undefined) return null;
  if (DataType.isNull(type)) return null;
  if (DataType.isBool(type)) return Boolean(value);
  if (DataType.isInt(type)) return integer(value);
  if (DataType.isFloat(type)) return float(Number(value));
  if (DataType.isUtf8(type) || DataType.isLargeUtf8(type)) return String(value);
  if (DataType.isBinary(type) || DataType.isLargeBinary(type)) {
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength).toString('base64');
  }
  if (DataType.isList(type) || DataType.isLargeList(type) || DataType.isFixedSizeList(type)) {
    const item = type.children[0].type;
    const out = [];
    for (let i = 0; i < value.length; ++i) out.push(convert(value.get(i), item));
    return out;
  }
  if (DataType.isStruct(type)) {
    const out = {};
    for (const child of type.children) out[child.name] = convert(value[child.name], child.type);
    return out;
  }
  throw new Error(`unsupported type ${String(type)}`);
}

function main() {
  const args = process.argv.slice(2);
  const schemaMode = args[0] === '--schema';
  const file = schemaMode ? args[1] : args[0];
  if (!file || args.length !== (schemaMode ? 2 : 1)) usage();

  const reader = RecordBatchReader.from(readFileSync(file)).open({ autoDestroy: false });
  const schema = reader.schema;
  if (!schema) throw new Error('no schema message');
  // apache-arrow yields a placeholder batch for a stream without record batches; drop it so
  // "batch_rows" lists the batches actually in the file.
  const batches = [...reader].filter((b) => !(b instanceof _InternalEmptyPlaceholderRecordBatch));

  if (schemaMode) {
    process.stdout.write(JSON.stringify({
      fields: schema.fields.map(fieldJson),
      metadata: metadataObject(schema.metadata),
      batch_rows: batches.map((b) => b.numRows),
    }) + '\n');
    return;
  }
  const lines = [];
  for (const batch of batches) {
    const columns = schema.fields.map((f, i) => [f, batch.getChildAt(i)]);
    for (let row = 0; row < batch.numRows; ++row) {
      const obj = {};
      for (const [field, column] of columns) obj[field.name] = convert(column.get(row), field.type);
      lines.push(JSON.stringify(obj));
    }
  }
  process.stdout.write(lines.length ? lines.join('\n') + '\n' : '');
}

try {
  main();
} catch (e) {
  process.stderr.write(`read_arrow.mjs: ${e && e.stack ? e.stack : e}\n`);
  process.exit(1);
}
