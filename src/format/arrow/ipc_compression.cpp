// Body-buffer decompression for Arrow IPC (LZ4 frame via liblz4's LZ4F API, ZSTD via libzstd).
#include <lz4frame.h>
#include <zstd.h>

#include <fmt/format.h>

#include "format/arrow/ipc_internal.hpp"
#include "mouse/error.hpp"

namespace mouse::detail {

namespace {

struct Lz4Ctx {
  LZ4F_dctx* ctx = nullptr;
  Lz4Ctx() {
    if (LZ4F_isError(LZ4F_createDecompressionContext(&ctx, LZ4F_VERSION))) ctx = nullptr;
  }
  ~Lz4Ctx() {
    if (ctx != nullptr) LZ4F_freeDecompressionContext(ctx);
  }
  Lz4Ctx(const Lz4Ctx&) = delete;
  Lz4Ctx& operator=(const Lz4Ctx&) = delete;
};

}  // namespace

Buffer decompress_buffer(arrow::IpcCompression codec, const uint8_t* src, int64_t src_size,
                         int64_t dst_size, std::string_view source, int64_t offset,
                         std::string_view what) {
  auto fail = [&](const std::string& msg) -> void {
    throw FormatError(std::string(source), offset, fmt::format("{}: {}", what, msg));
  };
  Buffer out = Buffer::allocate(dst_size);
  uint8_t* dst = out.mutable_data();
  if (codec == arrow::IpcCompression::kZstd) {
    const unsigned long long declared =
        ZSTD_getFrameContentSize(src, static_cast<size_t>(src_size));
    if (declared == ZSTD_CONTENTSIZE_ERROR) fail("not a ZSTD frame");
    if (declared != ZSTD_CONTENTSIZE_UNKNOWN && declared != static_cast<uint64_t>(dst_size)) {
      fail(fmt::format("ZSTD frame holds {} bytes, the buffer prefix says {}", declared, dst_size));
    }
    const size_t n =
        ZSTD_decompress(dst, static_cast<size_t>(dst_size), src, static_cast<size_t>(src_size));
    if (ZSTD_isError(n)) fail(fmt::format("ZSTD decompression failed: {}", ZSTD_getErrorName(n)));
    if (n != static_cast<size_t>(dst_size)) {
      fail(fmt::format("ZSTD data decompressed to {} bytes, expected {}", n, dst_size));
    }
    return out;
  }
  Lz4Ctx lz4;
  if (lz4.ctx == nullptr) throw std::bad_alloc();
  size_t in_pos = 0;
  size_t out_pos = 0;
  const size_t in_size = static_cast<size_t>(src_size);
  const size_t out_size = static_cast<size_t>(dst_size);
  // One frame per buffer; LZ4F_decompress returns 0 once the frame is complete.
  for (;;) {
    size_t in_chunk = in_size - in_pos;
    size_t out_chunk = out_size - out_pos;
    const size_t hint =
        LZ4F_decompress(lz4.ctx, dst + out_pos, &out_chunk, src + in_pos, &in_chunk, nullptr);
    if (LZ4F_isError(hint)) {
      fail(fmt::format("LZ4 frame decompression failed: {}", LZ4F_getErrorName(hint)));
    }
    in_pos += in_chunk;
    out_pos += out_chunk;
    if (hint == 0) break;
    if (in_chunk == 0 && out_chunk == 0) {
      fail(
          fmt::format("LZ4 frame is truncated or holds more than the {} bytes the buffer prefix "
                      "says",
                      dst_size));
    }
  }
  if (out_pos != out_size) {
    fail(fmt::format("LZ4 frame decompressed to {} bytes, expected {}", out_pos, dst_size));
  }
  return out;
}

}  // namespace mouse::detail
