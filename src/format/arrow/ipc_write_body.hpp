// Internal to the IPC writer: the body of a record batch message, i.e. every column flattened
// in pre-order into FieldNodes and body buffers laid out as pyarrow writes them.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "mouse/arrow.hpp"
#include "mouse/arrow_ipc.hpp"
#include "mouse/buffer.hpp"

namespace mouse::detail {

/// `n` rounded up to a multiple of 8 (IPC body and metadata alignment).
constexpr int64_t pad8(int64_t n) {
  return (n + 7) & ~int64_t{7};
}

/// A FieldNode of the format: two little-endian int64, as stored in the flatbuffer.
struct IpcFieldNode {
  int64_t length;
  int64_t null_count;
};

/// The nodes and body buffers of one record batch, in the order its message lists them.
struct IpcBody {
  std::vector<IpcFieldNode> nodes;
  std::vector<Buffer> buffers;
};

/// Appends `column`, written as `type`, to `body`: one node per array in pre-order; per node
/// the validity bitmap (an empty Buffer when there are no nulls) and the type's buffers, all
/// rebased so the written array starts at offset 0 (bitmaps shifted to bit 0, offsets starting
/// at 0, values and children sliced). Buffers are zero-copy slices of the column where
/// possible; a Null node has no buffers. Throws InvalidArgument, naming `where`, when the column
/// does not match `type` or its buffers are too small for its offset and length.
void append_column(IpcBody& body, const arrow::ArrayData& column, const arrow::DataType& type,
                   const std::string& where);

/// Compresses one body buffer as Arrow's BUFFER method does: int64 uncompressed length, then
/// one LZ4 frame or ZSTD frame. Empty buffers stay empty. Throws Error if the codec fails.
Buffer compress_body_buffer(const Buffer& in, arrow::IpcCompression codec);

}  // namespace mouse::detail
