// The Arrow C data interface and C stream interface (arrow.apache.org/docs/format/CDataInterface):
// zero-copy import of arrays and streams produced by another Arrow implementation (pyarrow,
// polars, DuckDB, the PyCapsule protocol), and export of ours to them. Imported buffers keep the
// producer's release callback as their shared owner, so no column data is copied either way.
#pragma once

#include <cstdint>
#include <memory>
#include <vector>

#include "mouse/arrow.hpp"

// The ABI structs, exactly as the specification defines them; the guard lets them coexist with
// another library's identical definitions.
#ifndef ARROW_C_DATA_INTERFACE
#define ARROW_C_DATA_INTERFACE

#define ARROW_FLAG_DICTIONARY_ORDERED 1
#define ARROW_FLAG_NULLABLE 2
#define ARROW_FLAG_MAP_KEYS_SORTED 4

extern "C" {
struct ArrowSchema {
  const char* format;
  const char* name;
  const char* metadata;
  int64_t flags;
  int64_t n_children;
  struct ArrowSchema** children;
  struct ArrowSchema* dictionary;
  void (*release)(struct ArrowSchema*);
  void* private_data;
};

struct ArrowArray {
  int64_t length;
  int64_t null_count;
  int64_t offset;
  int64_t n_buffers;
  int64_t n_children;
  const void** buffers;
  struct ArrowArray** children;
  struct ArrowArray* dictionary;
  void (*release)(struct ArrowArray*);
  void* private_data;
};
}
#endif  // ARROW_C_DATA_INTERFACE

#ifndef ARROW_C_STREAM_INTERFACE
#define ARROW_C_STREAM_INTERFACE
extern "C" {
struct ArrowArrayStream {
  int (*get_schema)(struct ArrowArrayStream*, struct ArrowSchema* out);
  int (*get_next)(struct ArrowArrayStream*, struct ArrowArray* out);
  const char* (*get_last_error)(struct ArrowArrayStream*);
  void (*release)(struct ArrowArrayStream*);
  void* private_data;
};
}
#endif  // ARROW_C_STREAM_INTERFACE

namespace mouse::arrow {

/// Reads a C schema describing one field (name, type, nullability, metadata). The schema is
/// only read, not released (the caller still owns it). Types outside mouse::arrow::TypeId
/// (dictionary, views, temporal, decimal, map, union ...) are a FormatError naming the field and
/// the format string.
Field import_field(const ArrowSchema& schema);

/// Reads a C schema of a struct type (a record batch schema) as a Schema, with its metadata
/// (e.g. the `huggingface` features JSON). FormatError when it is not a struct, or as
/// import_field. Does not release `schema`.
Schema import_schema(const ArrowSchema& schema);

/// Takes ownership of `array` (moved out: `array->release` is set to null) and views it as an
/// ArrayData of `type` without copying. Every buffer of the result (and of every child) shares
/// one owner that calls the producer's release callback when the last view dies, on any thread.
/// Buffer sizes are derived from the type, offset and length (the interface carries none); the
/// result is checked with validate(..., full = false). A null count of -1 is computed from the
/// bitmap. FormatError (naming `where`) for a structure that does not match the type.
ArrayPtr import_array(ArrowArray* array, const TypePtr& type, std::string_view where);

/// Takes ownership of a struct `array` (a record batch) and returns its columns as a
/// RecordBatch of `schema` (whose fields are the struct's members). FormatError when the array
/// has nulls at the top level or does not match.
RecordBatch import_record_batch(ArrowArray* array, std::shared_ptr<const Schema> schema,
                                std::string_view where);

/// Everything read from a C stream: the schema and every batch, in order.
struct ImportedStream {
  std::shared_ptr<const Schema> schema;
  std::vector<RecordBatch> batches;
};

/// Takes ownership of `stream` (released before returning, also on error) and reads its schema
/// and every batch without copying column data. FormatError / IoError naming `where` and the
/// producer's get_last_error() text when the producer fails.
ImportedStream import_stream(ArrowArrayStream* stream, std::string_view where);

/// Fills `out` (caller-allocated, to be released by the consumer through out->release) with a
/// C schema for `field`. Throws std::bad_alloc only.
void export_field(const Field& field, ArrowSchema* out);

/// Fills `out` with a struct C schema for `schema`, metadata included.
void export_schema(const Schema& schema, ArrowSchema* out);

/// Fills `out` with a C array viewing `array` without copying; `out->release` drops the
/// reference that keeps its buffers alive (on any thread).
void export_array(const ArrayPtr& array, ArrowArray* out);

/// Fills `out` with a C stream over `batches` of `schema` (zero-copy); the stream holds
/// references to the batches until it is released.
void export_stream(std::shared_ptr<const Schema> schema, std::vector<RecordBatch> batches,
                   ArrowArrayStream* out);

}  // namespace mouse::arrow
