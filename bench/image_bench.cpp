// Frame decoding for obs_image: frames/s on one core for each decoder on the same PNG (and JPEG)
// bytes, beside a memcpy of the decoded bytes. Decoders: the reference (libpng for every PNG,
// libjpeg one row per call: the decoder as it was), libspng (whole image, native format),
// decode_image_into (libdeflate fast path) into uint8 and int64 destinations, and decode_image
// (a new vector per frame).
//
// Frame sets: 84x84x3 and 32x32x3 frames written by our encode_png; the same pixels written by
// Pillow (`pil_*`, present once bench/python/pillow_decode.py --write-pil has run); the 161 real
// 96x96x3 frames of pusht_image (written by `datasets` through Pillow); 84x84x3 JPEGs at
// Pillow's default quality 75, 4:2:0. Every set, and the pixels decode_image gives it, is
// written to MOUSE_IMAGE_FRAMES_DIR (default /tmp/mouse-image-frames) so pillow_decode.py times
// Pillow on the same bytes and checks that Pillow's pixels are ours.
#include <benchmark/benchmark.h>
#include <fmt/format.h>
#include <jpeglib.h>
#include <spng.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/rng.hpp"
#include "mouse/arrow.hpp"
#include "mouse/dataset.hpp"
#include "store/image_codec.hpp"

namespace {

namespace fs = std::filesystem;

struct Frame {
  uint32_t height = 0, width = 0, channels = 0;
  std::string bytes;
};

// Frame files: "MFRAMES1", uint32 count, then per frame uint32 height, width, channels, byte
// length and the bytes (little-endian), read the same way by pillow_decode.py.
void write_frames(const fs::path& path, const std::vector<Frame>& frames) {
  std::ofstream out(path, std::ios::binary);
  auto u32 = [&](uint32_t v) { out.write(reinterpret_cast<const char*>(&v), 4); };
  out.write("MFRAMES1", 8);
  u32(static_cast<uint32_t>(frames.size()));
  for (const Frame& f : frames) {
    u32(f.height), u32(f.width), u32(f.channels), u32(static_cast<uint32_t>(f.bytes.size()));
    out.write(f.bytes.data(), static_cast<std::streamsize>(f.bytes.size()));
  }
  if (!out) throw std::runtime_error("cannot write " + path.string());
}

std::vector<Frame> read_frames(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::vector<Frame> frames;
  if (!in) return frames;
  char magic[8];
  auto u32 = [&] {
    uint32_t v = 0;
    in.read(reinterpret_cast<char*>(&v), 4);
    return v;
  };
  in.read(magic, 8);
  if (!in || std::memcmp(magic, "MFRAMES1", 8) != 0) {
    throw std::runtime_error(path.string() + ": not a frame file (expected MFRAMES1)");
  }
  const uint32_t n = u32();
  for (uint32_t k = 0; k < n && in; ++k) {
    Frame f;
    f.height = u32(), f.width = u32(), f.channels = u32();
    f.bytes.resize(u32());
    in.read(f.bytes.data(), static_cast<std::streamsize>(f.bytes.size()));
    frames.push_back(std::move(f));
  }
  if (!in) throw std::runtime_error(path.string() + ": truncated frame file");
  return frames;
}

// Raw pixels of `n` side x side x 3 frames: a moving gradient with a little noise, as
// batch_bench's BM_ImageBatchifier (compresses about as well as an Atari frame).
std::vector<Frame> raw_frames(uint32_t side, int n) {
  std::vector<Frame> out;
  mouse::detail::CounterRng rng(9, side);
  for (int r = 0; r < n; ++r) {
    Frame f{side, side, 3, std::string(size_t{side} * side * 3, '\0')};
    for (size_t i = 0; i < f.bytes.size(); ++i) {
      f.bytes[i] = static_cast<char>((i / 3 % side + static_cast<size_t>(r)) / 2 +
                                     (rng.uniform_u32() & 7));
    }
    out.push_back(std::move(f));
  }
  return out;
}

std::vector<Frame> encode_all_png(const std::vector<Frame>& raw) {
  std::vector<Frame> out;
  for (const Frame& f : raw) {
    out.push_back({f.height, f.width, f.channels,
                   mouse::detail::encode_png(reinterpret_cast<const uint8_t*>(f.bytes.data()),
                                             f.bytes.size(), f.height, f.width, f.channels)});
  }
  return out;
}

std::string jpeg_of(const Frame& f, int quality) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  unsigned char* buf = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buf, &size);
  cinfo.image_width = f.width;
  cinfo.image_height = f.height;
  cinfo.input_components = static_cast<int>(f.channels);
  cinfo.in_color_space = JCS_RGB;
  jpeg_set_defaults(&cinfo);  // 4:2:0, as Pillow's default
  jpeg_set_quality(&cinfo, quality, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    auto* row = reinterpret_cast<JSAMPROW>(const_cast<char*>(f.bytes.data())) +
                size_t{cinfo.next_scanline} * f.width * f.channels;
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  std::string out(reinterpret_cast<char*>(buf), size);
  jpeg_destroy_compress(&cinfo);
  std::free(buf);
  return out;
}

std::vector<Frame> pusht_frames() {
  const fs::path dir = fs::path(MOUSE_TESTDATA_DIR) / "hf/lerobot-pusht_image/train";
  std::vector<Frame> out;
  if (!fs::exists(dir)) {
    std::fprintf(stderr, "image_bench: SKIPPING pusht_96: corpus missing at %s\n", dir.c_str());
    return out;
  }
  mouse::Dataset ds = mouse::Dataset::load_from_disk(dir);
  for (const auto& chunk : ds.column("observation.image").chunks) {
    for (int64_t r = 0; r < chunk->length; ++r) {
      std::string_view png = mouse::arrow::binary_value(*chunk->children[0], chunk->offset + r);
      out.push_back({96, 96, 3, std::string(png)});
    }
  }
  return out;
}

// libspng, decoding the whole image in the PNG's own format (for 8-bit RGB: the bytes we want).
void spng_decode(const std::string& png, std::span<uint8_t> dst) {
  spng_ctx* ctx = spng_ctx_new(0);
  if (ctx == nullptr) throw std::bad_alloc();
  size_t size = 0;
  int rc = spng_set_png_buffer(ctx, png.data(), png.size());
  if (rc == 0) rc = spng_decoded_image_size(ctx, SPNG_FMT_PNG, &size);
  if (rc == 0 && size != dst.size()) rc = SPNG_EOVERFLOW;
  if (rc == 0) rc = spng_decode_image(ctx, dst.data(), dst.size(), SPNG_FMT_PNG, 0);
  spng_ctx_free(ctx);
  if (rc != 0) throw std::runtime_error(fmt::format("libspng: {}", spng_strerror(rc)));
}

using Decoder = std::function<void(const Frame&, std::span<uint8_t>, std::span<int64_t>)>;

void run(benchmark::State& state, const std::vector<Frame>* frames, const Decoder& decode) {
  const size_t pixels = size_t{(*frames)[0].height} * (*frames)[0].width * (*frames)[0].channels;
  std::vector<uint8_t> dst(pixels);
  std::vector<int64_t> wide(pixels);
  size_t k = 0;
  int64_t bytes = 0;
  for (auto _ : state) {
    const Frame& f = (*frames)[k];
    decode(f, dst, wide);
    benchmark::DoNotOptimize(dst.data());
    benchmark::DoNotOptimize(wide.data());
    bytes += static_cast<int64_t>(pixels);
    k = k + 1 == frames->size() ? 0 : k + 1;
  }
  state.SetItemsProcessed(state.iterations());  // frames
  state.SetBytesProcessed(bytes);               // decoded pixel bytes
  state.counters["frames/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}

// Checks once, before timing, that a decoder gives the reference's pixels for every frame.
void check(const std::string& name, const std::vector<Frame>& frames, const Decoder& decode) {
  for (size_t k = 0; k < frames.size(); ++k) {
    const auto want = mouse::detail::decode_image_reference(frames[k].bytes, name).pixels;
    std::vector<uint8_t> dst(want.size());
    std::vector<int64_t> wide(want.size());
    decode(frames[k], dst, wide);
    if (dst != want && !std::equal(want.begin(), want.end(), wide.begin())) {
      throw std::runtime_error(fmt::format("{}: frame {} decodes to other pixels", name, k));
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  using mouse::detail::decode_image_into;
  const char* env = std::getenv("MOUSE_IMAGE_FRAMES_DIR");
  const fs::path dir = env != nullptr ? fs::path(env) : fs::path("/tmp/mouse-image-frames");
  fs::create_directories(dir);

  // Sets live until the end of main; the benchmarks hold pointers to them.
  std::vector<std::pair<std::string, std::vector<Frame>>> png_sets, jpeg_sets;
  for (uint32_t side : {84u, 32u}) {
    std::vector<Frame> raw = raw_frames(side, 256);
    write_frames(dir / fmt::format("raw_{}.frames", side), raw);
    png_sets.emplace_back(fmt::format("ours_{}", side), encode_all_png(raw));
    if (side == 84) {
      std::vector<Frame> jpegs;
      for (const Frame& f : raw) jpegs.push_back({f.height, f.width, f.channels, jpeg_of(f, 75)});
      jpeg_sets.emplace_back("jpeg_84", std::move(jpegs));
    }
  }
  for (uint32_t side : {84u, 32u}) {
    std::vector<Frame> pil = read_frames(dir / fmt::format("pil_{}.frames", side));
    if (pil.empty()) {
      std::fprintf(stderr,
                   "image_bench: no %s/pil_%u.frames yet (run bench/python/pillow_decode.py "
                   "--write-pil): Pillow-written frames not timed\n",
                   dir.c_str(), side);
    } else {
      png_sets.emplace_back(fmt::format("pil_{}", side), std::move(pil));
    }
  }
  if (std::vector<Frame> pusht = pusht_frames(); !pusht.empty()) {
    png_sets.emplace_back("pusht_96", std::move(pusht));
  }
  // Each set's bytes, and the pixels decode_image gives them, for pillow_decode.py to compare.
  for (const auto* sets : {&png_sets, &jpeg_sets}) {
    for (const auto& [name, frames] : *sets) {
      write_frames(dir / (name + ".frames"), frames);
      std::vector<Frame> decoded;
      for (const Frame& f : frames) {
        auto img = mouse::detail::decode_image(f.bytes, name);
        decoded.push_back({static_cast<uint32_t>(img.height), static_cast<uint32_t>(img.width),
                           static_cast<uint32_t>(img.channels),
                           std::string(img.pixels.begin(), img.pixels.end())});
      }
      write_frames(dir / (name + ".decoded.frames"), decoded);
    }
  }

  const std::vector<std::pair<std::string, Decoder>> png_decoders = {
      {"reference",
       [](const Frame& f, std::span<uint8_t> dst, std::span<int64_t>) {
         auto img = mouse::detail::decode_image_reference(f.bytes, "frame");
         std::memcpy(dst.data(), img.pixels.data(), std::min(dst.size(), img.pixels.size()));
       }},
      {"libspng", [](const Frame& f, std::span<uint8_t> dst, std::span<int64_t>) { spng_decode(f.bytes, dst); }},
      {"decode_image_into_u8",
       [](const Frame& f, std::span<uint8_t> dst, std::span<int64_t>) { decode_image_into(f.bytes, "frame", dst); }},
      {"decode_image_into_i64",
       [](const Frame& f, std::span<uint8_t>, std::span<int64_t> wide) { decode_image_into(f.bytes, "frame", wide); }},
      {"decode_image_vector",
       [](const Frame& f, std::span<uint8_t> dst, std::span<int64_t>) {
         auto img = mouse::detail::decode_image(f.bytes, "frame");
         std::memcpy(dst.data(), img.pixels.data(), std::min(dst.size(), img.pixels.size()));
       }},
  };
  const std::vector<std::pair<std::string, Decoder>> jpeg_decoders = {
      png_decoders[0], png_decoders[2], png_decoders[3]};
  auto add = [&](const std::vector<std::pair<std::string, std::vector<Frame>>>& sets,
                 const std::vector<std::pair<std::string, Decoder>>& decoders) {
    for (const auto& [set, frames] : sets) {
      for (const auto& [name, decode] : decoders) {
        check(set + "/" + name, frames, decode);
        benchmark::RegisterBenchmark(fmt::format("BM_Decode/{}/{}", set, name).c_str(),
                                     [frames = &frames, decode = decode](benchmark::State& s) {
                                       run(s, frames, decode);
                                     });
      }
      benchmark::RegisterBenchmark(
          fmt::format("BM_Decode/{}/memcpy_of_pixels", set).c_str(),
          [frames = &frames](benchmark::State& s) {
            std::vector<std::vector<uint8_t>> decoded;
            for (const Frame& f : *frames) decoded.push_back(mouse::detail::decode_image(f.bytes, "f").pixels);
            run(s, frames, [&decoded, frames](const Frame& f, std::span<uint8_t> dst, std::span<int64_t>) {
              const size_t k = static_cast<size_t>(&f - frames->data());
              std::memcpy(dst.data(), decoded[k].data(), dst.size());
            });
          });
    }
  };
  add(png_sets, png_decoders);
  add(jpeg_sets, jpeg_decoders);
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
