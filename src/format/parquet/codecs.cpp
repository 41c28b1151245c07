// Codecs. Every decompressor is told the exact output size from the page header, so a lying
// header cannot make us allocate more than it promised nor read past the input.
#include "format/parquet/codecs.hpp"

#include <brotli/decode.h>
#include <brotli/encode.h>
#include <fmt/format.h>
#include <lz4.h>
#include <snappy.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>

#include "format/parquet/metadata.hpp"
#include "mouse/error.hpp"

namespace mouse::parquet::detail {

namespace {

// Upper bound for one page: Parquet page sizes are int32.
constexpr int64_t kMaxPage = INT32_MAX;

[[noreturn]] void corrupt(std::string_view source, int64_t offset, int32_t codec,
                          const std::string& what) {
  throw FormatError(std::string(source), offset,
                    fmt::format("{} page data: {}", codec_name(codec), what));
}

// GZIP pages may hold several concatenated gzip members (concatenated_gzip_members.parquet).
void inflate_gzip(std::span<const uint8_t> in, std::vector<uint8_t>& out, std::string_view source,
                  int64_t offset) {
  z_stream z{};
  if (inflateInit2(&z, 15 + 32) != Z_OK) corrupt(source, offset, kGzip, "inflateInit failed");
  z.next_in = const_cast<Bytef*>(in.data());
  z.avail_in = static_cast<uInt>(in.size());
  z.next_out = out.data();
  z.avail_out = static_cast<uInt>(out.size());
  int rc = Z_OK;
  while (true) {
    rc = inflate(&z, Z_FINISH);
    if (rc == Z_STREAM_END) {
      if (z.avail_in == 0 || z.avail_out == 0) break;
      if (inflateReset(&z) != Z_OK) break;
      continue;
    }
    if (rc == Z_BUF_ERROR && z.avail_out == 0 && z.avail_in > 0) break;  // more input than room
    break;
  }
  int64_t produced = static_cast<int64_t>(out.size()) - z.avail_out;
  inflateEnd(&z);
  if (rc != Z_STREAM_END && !(rc == Z_BUF_ERROR && z.avail_out == 0)) {
    corrupt(source, offset, kGzip, fmt::format("zlib error {} after {} bytes", rc, produced));
  }
  if (produced != static_cast<int64_t>(out.size())) {
    corrupt(source, offset, kGzip,
            fmt::format("expected {} bytes, inflated {}", out.size(), produced));
  }
}

// The deprecated LZ4 codec: Hadoop framing (big-endian uncompressed and compressed lengths
// before each block) from parquet-mr, or a bare LZ4 block from older parquet-cpp.
bool lz4_hadoop(std::span<const uint8_t> in, std::vector<uint8_t>& out) {
  size_t ip = 0, op = 0;
  auto be32 = [&](size_t at) {
    return (uint32_t{in[at]} << 24) | (uint32_t{in[at + 1]} << 16) | (uint32_t{in[at + 2]} << 8) |
           uint32_t{in[at + 3]};
  };
  while (ip < in.size()) {
    if (in.size() - ip < 8) return false;
    uint32_t raw = be32(ip), comp = be32(ip + 4);
    ip += 8;
    if (comp > in.size() - ip || raw > out.size() - op) return false;
    int n = LZ4_decompress_safe(reinterpret_cast<const char*>(in.data() + ip),
                                reinterpret_cast<char*>(out.data() + op), static_cast<int>(comp),
                                static_cast<int>(raw));
    if (n < 0 || static_cast<uint32_t>(n) != raw) return false;
    ip += comp;
    op += raw;
  }
  return op == out.size();
}

bool lz4_block(std::span<const uint8_t> in, std::vector<uint8_t>& out) {
  int n = LZ4_decompress_safe(reinterpret_cast<const char*>(in.data()),
                              reinterpret_cast<char*>(out.data()), static_cast<int>(in.size()),
                              static_cast<int>(out.size()));
  return n >= 0 && static_cast<size_t>(n) == out.size();
}

}  // namespace

std::vector<uint8_t> decompress(int32_t codec, std::span<const uint8_t> in,
                                int64_t uncompressed_size, std::string_view source,
                                int64_t offset) {
  if (uncompressed_size < 0 || uncompressed_size > kMaxPage) {
    corrupt(source, offset, codec, fmt::format("uncompressed size {} out of range", uncompressed_size));
  }
  if (in.size() > static_cast<size_t>(kMaxPage)) corrupt(source, offset, codec, "page too large");
  if (in.empty() && uncompressed_size == 0) return {};
  std::vector<uint8_t> out(static_cast<size_t>(uncompressed_size));
  switch (codec) {
    case kUncompressed:
      if (in.size() != out.size()) {
        corrupt(source, offset, codec,
                fmt::format("expected {} bytes, page has {}", out.size(), in.size()));
      }
      if (!in.empty()) std::memcpy(out.data(), in.data(), in.size());
      return out;
    case kSnappy: {
      size_t n = 0;
      const char* p = reinterpret_cast<const char*>(in.data());
      if (!snappy::GetUncompressedLength(p, in.size(), &n)) {
        corrupt(source, offset, codec, "bad snappy length header");
      }
      if (n != out.size()) {
        corrupt(source, offset, codec,
                fmt::format("expected {} bytes, snappy header says {}", out.size(), n));
      }
      if (!snappy::RawUncompress(p, in.size(), reinterpret_cast<char*>(out.data()))) {
        corrupt(source, offset, codec, "corrupt snappy data");
      }
      return out;
    }
    case kGzip:
      inflate_gzip(in, out, source, offset);
      return out;
    case kZstd: {
      size_t n = ZSTD_decompress(out.data(), out.size(), in.data(), in.size());
      if (ZSTD_isError(n)) corrupt(source, offset, codec, ZSTD_getErrorName(n));
      if (n != out.size()) {
        corrupt(source, offset, codec, fmt::format("expected {} bytes, got {}", out.size(), n));
      }
      return out;
    }
    case kLz4Raw:
      if (!lz4_block(in, out)) {
        corrupt(source, offset, codec, fmt::format("corrupt or not {} bytes", out.size()));
      }
      return out;
    case kLz4Hadoop:
      if (!lz4_hadoop(in, out) && !lz4_block(in, out)) {
        corrupt(source, offset, codec,
                fmt::format("neither Hadoop-framed nor raw LZ4 of {} bytes", out.size()));
      }
      return out;
    case kBrotli: {
      size_t n = out.size();
      if (BrotliDecoderDecompress(in.size(), in.data(), &n, out.data()) != BROTLI_DECODER_RESULT_SUCCESS ||
          n != out.size()) {
        corrupt(source, offset, codec, fmt::format("corrupt or not {} bytes", out.size()));
      }
      return out;
    }
    default:
      corrupt(source, offset, codec, "codec not supported (UNCOMPRESSED, SNAPPY, GZIP, ZSTD, "
                                     "LZ4, LZ4_RAW, BROTLI are)");
  }
}

std::vector<uint8_t> compress(int32_t codec, std::span<const uint8_t> in, int level) {
  std::vector<uint8_t> out;
  switch (codec) {
    case kUncompressed:
      out.assign(in.begin(), in.end());
      return out;
    case kSnappy: {
      out.resize(snappy::MaxCompressedLength(in.size()));
      size_t n = 0;
      snappy::RawCompress(reinterpret_cast<const char*>(in.data()), in.size(),
                          reinterpret_cast<char*>(out.data()), &n);
      out.resize(n);
      return out;
    }
    case kZstd: {
      out.resize(ZSTD_compressBound(in.size()));
      size_t n = ZSTD_compress(out.data(), out.size(), in.data(), in.size(), level > 0 ? level : 1);
      if (ZSTD_isError(n)) throw Error(std::string("zstd compression failed: ") + ZSTD_getErrorName(n));
      out.resize(n);
      return out;
    }
    case kGzip: {
      z_stream z{};
      if (deflateInit2(&z, level > 0 ? level : 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        throw Error("gzip compression failed to initialise");
      }
      out.resize(deflateBound(&z, static_cast<uLong>(in.size())) + 32);
      z.next_in = const_cast<Bytef*>(in.data());
      z.avail_in = static_cast<uInt>(in.size());
      z.next_out = out.data();
      z.avail_out = static_cast<uInt>(out.size());
      int rc = deflate(&z, Z_FINISH);
      size_t n = out.size() - z.avail_out;
      deflateEnd(&z);
      if (rc != Z_STREAM_END) throw Error("gzip compression failed");
      out.resize(n);
      return out;
    }
    case kLz4Raw: {
      out.resize(static_cast<size_t>(LZ4_compressBound(static_cast<int>(in.size()))));
      int n = LZ4_compress_default(reinterpret_cast<const char*>(in.data()),
                                   reinterpret_cast<char*>(out.data()), static_cast<int>(in.size()),
                                   static_cast<int>(out.size()));
      if (n <= 0 && !in.empty()) throw Error("lz4 compression failed");
      out.resize(static_cast<size_t>(n));
      return out;
    }
    case kBrotli: {
      size_t n = BrotliEncoderMaxCompressedSize(in.size());
      out.resize(n == 0 ? in.size() + 1024 : n);
      n = out.size();
      if (!BrotliEncoderCompress(level > 0 ? level : BROTLI_DEFAULT_QUALITY, BROTLI_DEFAULT_WINDOW,
                                 BROTLI_MODE_GENERIC, in.size(), in.data(), &n, out.data())) {
        throw Error("brotli compression failed");
      }
      out.resize(n);
      return out;
    }
    default:
      throw InvalidArgument(fmt::format("cannot write codec {}", codec_name(codec)));
  }
}

}  // namespace mouse::parquet::detail
