// The fast image decoders against the reference ones (libpng for every PNG, a fresh libjpeg per
// JPEG: the decoder as it was): a corpus written here with libpng and libjpeg in every PNG
// colour type, bit depth, palette / tRNS and interlace variant, every filter, split IDATs, plus
// the real `datasets`-written PNGs of pusht_image; the pixels and the errors must be the same.
#include <gtest/gtest.h>
#include <jpeglib.h>
#include <png.h>
#include <zlib.h>
#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <span>
#include <thread>

#include "mouse/dataset.hpp"
#include "store/image_codec.hpp"
#include "store/png_fast.hpp"
#include "store_test_util.hpp"

namespace mouse {
namespace {

// A small deterministic generator for pixel bytes (xorshift).
struct Bytes {
  uint32_t s;
  uint8_t next() {
    s ^= s << 13;
    s ^= s >> 17;
    s ^= s << 5;
    return static_cast<uint8_t>(s >> 7);
  }
};

struct PngCase {
  std::string name;
  int width = 0, height = 0, depth = 8, colour = PNG_COLOR_TYPE_RGB;
  bool interlace = false;
  int palette = 0;   // palette entries (colour type 3)
  int trans = -1;    // tRNS: palette alpha entries, or 0 for a colour key; -1: none
  int filters = PNG_ALL_FILTERS;
  int level = 6;
  size_t idat = 8192;  // IDAT chunk size
  bool smooth = false; // gradients (compress well, pick Sub/Up/Paeth) rather than noise
  bool ancillary = false;  // gAMA, tEXt and an unknown ancillary chunk
};

int png_channels(int colour) {
  switch (colour) {
    case PNG_COLOR_TYPE_GRAY: return 1;
    case PNG_COLOR_TYPE_GRAY_ALPHA: return 2;
    case PNG_COLOR_TYPE_RGB: return 3;
    case PNG_COLOR_TYPE_RGB_ALPHA: return 4;
    default: return 1;  // palette indices
  }
}

void append_to_string(png_structp png, png_bytep data, png_size_t n) {
  static_cast<std::string*>(png_get_io_ptr(png))->append(reinterpret_cast<const char*>(data), n);
}

// PNG bytes for `c`, written with libpng's full writer (not the simplified API encode_png uses).
std::string write_png(const PngCase& c, uint32_t seed) {
  png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, nullptr, nullptr, nullptr);
  png_infop info = png_create_info_struct(png);
  std::string out;
  if (setjmp(png_jmpbuf(png))) {
    png_destroy_write_struct(&png, &info);
    ADD_FAILURE() << "libpng could not write case " << c.name;
    return {};
  }
  png_set_write_fn(png, &out, append_to_string, nullptr);
  png_set_IHDR(png, info, static_cast<png_uint_32>(c.width), static_cast<png_uint_32>(c.height),
               c.depth, c.colour, c.interlace ? PNG_INTERLACE_ADAM7 : PNG_INTERLACE_NONE,
               PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
  png_set_filter(png, 0, c.filters);
  png_set_compression_level(png, c.level);
  png_set_compression_buffer_size(png, c.idat);
  Bytes gen{seed * 2654435761u + 1};
  std::vector<png_color> palette(static_cast<size_t>(c.palette));
  for (auto& p : palette) p = {gen.next(), gen.next(), gen.next()};
  if (c.colour == PNG_COLOR_TYPE_PALETTE) png_set_PLTE(png, info, palette.data(), c.palette);
  const size_t row_bytes =
      (static_cast<size_t>(c.width) * png_channels(c.colour) * c.depth + 7) / 8;
  std::vector<uint8_t> pixels(row_bytes * static_cast<size_t>(c.height));
  const int max_index = c.colour == PNG_COLOR_TYPE_PALETTE ? c.palette : 256;
  for (size_t y = 0; y < static_cast<size_t>(c.height); ++y) {
    for (size_t i = 0; i < row_bytes; ++i) {
      uint8_t v = c.smooth ? static_cast<uint8_t>(y * 3 + i / 3 + (gen.next() & 3)) : gen.next();
      if (c.colour == PNG_COLOR_TYPE_PALETTE && c.depth == 8) v = static_cast<uint8_t>(v % max_index);
      pixels[y * row_bytes + i] = v;
    }
  }
  if (c.colour == PNG_COLOR_TYPE_PALETTE && c.depth < 8) {
    // Packed indices beyond the palette are allowed by libpng; keep them in range anyway.
    const int per_byte = 8 / c.depth;
    for (auto& b : pixels) {
      uint8_t packed = 0;
      for (int k = 0; k < per_byte; ++k) {
        packed = static_cast<uint8_t>((packed << c.depth) | (gen.next() % max_index));
      }
      b = packed;
    }
  }
  png_color_16 key{};
  std::vector<png_byte> alphas;
  if (c.trans >= 0) {
    if (c.colour == PNG_COLOR_TYPE_PALETTE) {
      for (int i = 0; i < c.trans; ++i) alphas.push_back(gen.next());
      png_set_tRNS(png, info, alphas.data(), c.trans, nullptr);
    } else {
      // The colour key is the first pixel, so some pixels do become transparent.
      auto sample = [&](int k) -> png_uint_16 {
        if (c.depth == 16) return static_cast<png_uint_16>(pixels[2 * k] << 8 | pixels[2 * k + 1]);
        if (c.depth == 8) return pixels[static_cast<size_t>(k)];
        return static_cast<png_uint_16>(pixels[0] >> (8 - c.depth));
      };
      if (c.colour == PNG_COLOR_TYPE_GRAY) {
        key.gray = sample(0);
      } else {
        key.red = sample(0);
        key.green = sample(1);
        key.blue = sample(2);
      }
      png_set_tRNS(png, info, nullptr, 0, &key);
    }
  }
  if (c.ancillary) {
    png_set_gAMA(png, info, 0.45455);
    png_text text{};
    text.compression = PNG_TEXT_COMPRESSION_NONE;
    text.key = const_cast<char*>("Comment");
    text.text = const_cast<char*>("written by image_decode_test");
    png_set_text(png, info, &text, 1);
    png_unknown_chunk unknown{};
    std::memcpy(unknown.name, "zzZz", 5);
    static png_byte kData[3] = {1, 2, 3};
    unknown.data = kData;
    unknown.size = 3;
    unknown.location = PNG_HAVE_IHDR;
    png_set_keep_unknown_chunks(png, PNG_HANDLE_CHUNK_ALWAYS, nullptr, 0);
    png_set_unknown_chunks(png, info, &unknown, 1);
  }
  png_write_info(png, info);
  std::vector<png_bytep> rows(static_cast<size_t>(c.height));
  for (size_t y = 0; y < rows.size(); ++y) rows[y] = pixels.data() + y * row_bytes;
  png_write_image(png, rows.data());
  png_write_end(png, info);
  png_destroy_write_struct(&png, &info);
  return out;
}

// Every colour type, bit depth, palette / tRNS variant and interlacing, in a few sizes.
std::vector<PngCase> png_corpus() {
  std::vector<PngCase> cases;
  struct Kind {
    int colour, depth;
    std::vector<int> trans;  // tRNS variants (-1 none)
  };
  const std::vector<Kind> kinds = {
      {PNG_COLOR_TYPE_GRAY, 1, {-1, 0}},       {PNG_COLOR_TYPE_GRAY, 2, {-1, 0}},
      {PNG_COLOR_TYPE_GRAY, 4, {-1, 0}},       {PNG_COLOR_TYPE_GRAY, 8, {-1, 0}},
      {PNG_COLOR_TYPE_GRAY, 16, {-1, 0}},      {PNG_COLOR_TYPE_GRAY_ALPHA, 8, {-1}},
      {PNG_COLOR_TYPE_GRAY_ALPHA, 16, {-1}},   {PNG_COLOR_TYPE_RGB, 8, {-1, 0}},
      {PNG_COLOR_TYPE_RGB, 16, {-1, 0}},       {PNG_COLOR_TYPE_RGB_ALPHA, 8, {-1}},
      {PNG_COLOR_TYPE_RGB_ALPHA, 16, {-1}},    {PNG_COLOR_TYPE_PALETTE, 1, {-1, 1}},
      {PNG_COLOR_TYPE_PALETTE, 2, {-1, 3}},    {PNG_COLOR_TYPE_PALETTE, 4, {-1, 7}},
      {PNG_COLOR_TYPE_PALETTE, 8, {-1, 100, 256}},
  };
  const std::pair<int, int> sizes[] = {{84, 84}, {32, 32}, {1, 1}, {33, 17}, {5, 3}};
  for (const Kind& k : kinds) {
    for (int trans : k.trans) {
      for (bool interlace : {false, true}) {
        for (auto [w, h] : sizes) {
          PngCase c;
          c.width = w;
          c.height = h;
          c.depth = k.depth;
          c.colour = k.colour;
          c.interlace = interlace;
          c.trans = trans;
          if (k.colour == PNG_COLOR_TYPE_PALETTE) {
            c.palette = std::min(1 << k.depth, trans > 0 ? std::max(trans, 40) : 40);
            c.palette = std::min(c.palette, 1 << k.depth);
          }
          c.smooth = (w + h) % 2 == 0;
          c.name = fmt::format("colour {} depth {} trans {} interlace {} {}x{}", k.colour, k.depth,
                               trans, interlace, w, h);
          cases.push_back(c);
        }
      }
    }
  }
  // The fast path's own variety: each filter alone, stored / fast / best zlib, many IDATs,
  // ancillary chunks, for 8-bit grey, grey + alpha, RGB and RGBA.
  const std::pair<int, const char*> filters[] = {
      {PNG_FILTER_NONE, "none"}, {PNG_FILTER_SUB, "sub"},     {PNG_FILTER_UP, "up"},
      {PNG_FILTER_AVG, "avg"},   {PNG_FILTER_PAETH, "paeth"}, {PNG_ALL_FILTERS, "all"}};
  for (int colour : {PNG_COLOR_TYPE_GRAY, PNG_COLOR_TYPE_GRAY_ALPHA, PNG_COLOR_TYPE_RGB,
                     PNG_COLOR_TYPE_RGB_ALPHA}) {
    for (auto [f, fname] : filters) {
      for (int level : {0, 1, 9}) {
        for (size_t idat : {size_t{8192}, size_t{64}}) {
          for (bool smooth : {false, true}) {
            PngCase c;
            c.width = 84;
            c.height = 84;
            c.colour = colour;
            c.filters = f;
            c.level = level;
            c.idat = idat;
            c.smooth = smooth;
            c.ancillary = idat == 64;
            c.name = fmt::format("colour {} filter {} level {} idat {} smooth {}", colour, fname,
                                 level, idat, smooth);
            cases.push_back(c);
          }
        }
      }
    }
  }
  return cases;
}

bool fast_path_expected(const PngCase& c) {
  return c.depth == 8 && c.colour != PNG_COLOR_TYPE_PALETTE && !c.interlace && c.trans < 0;
}

// The reference outcome: pixels, or the error message.
struct Outcome {
  bool ok = false;
  detail::DecodedImage image;
  std::string error;
};

Outcome reference(std::string_view bytes) {
  Outcome o;
  try {
    o.image = detail::decode_image_reference(bytes, "ref");
    o.ok = true;
  } catch (const FormatError& e) {
    o.error = e.what();
  }
  return o;
}

// decode_image_into (uint8 and int64, exact, short and long destinations) and decode_image give
// the reference's pixels, or throw FormatError naming `where` with the reference's message.
void expect_same_as_reference(std::string_view bytes, const std::string& label) {
  SCOPED_TRACE(label);
  const Outcome want = reference(bytes);
  if (!want.ok) {
    try {
      detail::decode_image(bytes, "ref");
      ADD_FAILURE() << "fast decode accepted bytes the reference refuses: " << want.error;
    } catch (const FormatError& e) {
      EXPECT_EQ(std::string(e.what()), want.error);
    }
    std::vector<uint8_t> dst(64);
    try {
      detail::decode_image_into(bytes, "the where", std::span<uint8_t>(dst));
      ADD_FAILURE() << "decode_image_into accepted bytes the reference refuses";
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find("the where"), std::string::npos) << e.what();
    }
    return;
  }
  const auto& px = want.image.pixels;
  const size_t n = px.size();
  detail::DecodedImage whole = detail::decode_image(bytes, "new");
  EXPECT_EQ(whole.height, want.image.height);
  EXPECT_EQ(whole.width, want.image.width);
  EXPECT_EQ(whole.channels, want.image.channels);
  ASSERT_EQ(whole.pixels, px);
  for (size_t size : {n, n + 7, n / 2, size_t{1}}) {
    std::vector<uint8_t> dst(size, 0xAB);
    detail::ImageInfo info = detail::decode_image_into(bytes, "new", std::span<uint8_t>(dst));
    EXPECT_EQ(info.height, want.image.height);
    EXPECT_EQ(info.width, want.image.width);
    EXPECT_EQ(info.channels, want.image.channels);
    std::vector<uint8_t> expect(px.begin(), px.begin() + static_cast<std::ptrdiff_t>(std::min(n, size)));
    expect.resize(size, 0);
    ASSERT_EQ(dst, expect) << "destination of " << size << " bytes";
    std::vector<int64_t> wide(size, -1);
    detail::decode_image_into(bytes, "new", std::span<int64_t>(wide));
    std::vector<int64_t> expect_wide(expect.begin(), expect.end());
    ASSERT_EQ(wide, expect_wide) << "int64 destination of " << size << " values";
  }
}

TEST(ImageDecode, PngCorpusDecodesAsLibpngDoes) {
  const std::vector<PngCase> cases = png_corpus();
  ASSERT_GT(cases.size(), 300u);
  int fast = 0;
  for (size_t k = 0; k < cases.size(); ++k) {
    const PngCase& c = cases[k];
    const std::string png = write_png(c, static_cast<uint32_t>(k));
    ASSERT_FALSE(png.empty()) << c.name;
    // The corpus exercises both paths: plain PNGs take the fast one, the rest libpng.
    EXPECT_EQ(detail::probe_plain_png(png).has_value(), fast_path_expected(c)) << c.name;
    fast += fast_path_expected(c);
    expect_same_as_reference(png, c.name);
    const Outcome want = reference(png);
    ASSERT_TRUE(want.ok) << c.name << ": " << want.error;
    EXPECT_EQ(want.image.channels,
              c.colour == PNG_COLOR_TYPE_PALETTE ? (c.trans >= 0 ? 4 : 3)
                                                 : png_channels(c.colour) + (c.trans >= 0 ? 1 : 0))
        << c.name;
  }
  EXPECT_GT(fast, 150);
}

TEST(ImageDecode, PilWrittenPushtFramesDecodeAsLibpngDoes) {
  MOUSE_REQUIRE_TESTDATA();
  Dataset real = Dataset::load_from_disk(test::testdata_dir() / "hf/lerobot-pusht_image/train");
  auto image = real.column("observation.image");
  int64_t frames = 0;
  for (const auto& chunk : image.chunks) {
    const auto& bytes = *chunk->children[0];
    for (int64_t r = 0; r < chunk->length; ++r) {
      std::string_view png = arrow::binary_value(bytes, chunk->offset + r);
      EXPECT_TRUE(detail::probe_plain_png(png).has_value()) << "row " << r;
      expect_same_as_reference(png, fmt::format("pusht_image row {}", r));
      ++frames;
    }
  }
  EXPECT_EQ(frames, 161);
}

std::string write_jpeg(int width, int height, int channels, int quality, int subsampling,
                       bool progressive, uint32_t seed) {
  jpeg_compress_struct cinfo;
  jpeg_error_mgr jerr;
  cinfo.err = jpeg_std_error(&jerr);
  jpeg_create_compress(&cinfo);
  unsigned char* out = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &out, &size);
  cinfo.image_width = static_cast<JDIMENSION>(width);
  cinfo.image_height = static_cast<JDIMENSION>(height);
  cinfo.input_components = channels;
  cinfo.in_color_space = channels == 1 ? JCS_GRAYSCALE : JCS_RGB;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, quality, TRUE);
  if (channels == 3) {  // 0: 4:4:4, 1: 4:2:2, 2: 4:2:0
    cinfo.comp_info[0].h_samp_factor = subsampling == 0 ? 1 : 2;
    cinfo.comp_info[0].v_samp_factor = subsampling == 2 ? 2 : 1;
  }
  if (progressive) jpeg_simple_progression(&cinfo);
  jpeg_start_compress(&cinfo, TRUE);
  Bytes gen{seed + 17};
  std::vector<uint8_t> row(static_cast<size_t>(width * channels));
  while (cinfo.next_scanline < cinfo.image_height) {
    for (size_t i = 0; i < row.size(); ++i) {
      row[i] = static_cast<uint8_t>(cinfo.next_scanline * 2 + i + (gen.next() & 15));
    }
    JSAMPROW p = row.data();
    jpeg_write_scanlines(&cinfo, &p, 1);
  }
  jpeg_finish_compress(&cinfo);
  std::string bytes(reinterpret_cast<char*>(out), size);
  jpeg_destroy_compress(&cinfo);
  std::free(out);
  return bytes;
}

TEST(ImageDecode, JpegCorpusDecodesAsTheReferenceDoes) {
  uint32_t seed = 0;
  const std::pair<int, int> sizes[] = {{84, 84}, {32, 32}, {33, 17}, {1, 1}, {250, 9}};
  for (int channels : {1, 3}) {
    for (int subsampling : {0, 1, 2}) {
      if (channels == 1 && subsampling > 0) continue;
      for (int quality : {50, 95, 100}) {
        for (bool progressive : {false, true}) {
          for (auto [w, h] : sizes) {
            const std::string jpg = write_jpeg(w, h, channels, quality, subsampling, progressive, ++seed);
            expect_same_as_reference(jpg, fmt::format("jpeg c{} sub{} q{} prog{} {}x{}", channels,
                                                      subsampling, quality, progressive, w, h));
          }
        }
      }
    }
  }
}

// PNG bytes assembled by hand: the chunks given, with correct CRCs unless a test breaks them.
std::string chunk(std::string_view type, std::string_view data) {
  std::string out(4, '\0');
  const uint32_t n = static_cast<uint32_t>(data.size());
  for (int i = 0; i < 4; ++i) out[static_cast<size_t>(i)] = static_cast<char>(n >> (24 - 8 * i));
  out += type;
  out += data;
  uint32_t crc = static_cast<uint32_t>(crc32(0, reinterpret_cast<const Bytef*>(out.data() + 4),
                                             static_cast<uInt>(4 + data.size())));
  for (int i = 0; i < 4; ++i) out.push_back(static_cast<char>(crc >> (24 - 8 * i)));
  return out;
}

std::string ihdr(uint32_t w, uint32_t h, int depth = 8, int colour = 2, int interlace = 0) {
  std::string d;
  for (uint32_t v : {w, h}) {
    for (int i = 0; i < 4; ++i) d.push_back(static_cast<char>(v >> (24 - 8 * i)));
  }
  d += {static_cast<char>(depth), static_cast<char>(colour), 0, 0, static_cast<char>(interlace)};
  return chunk("IHDR", d);
}

std::string zlib_of(std::string_view raw) {
  uLongf n = compressBound(static_cast<uLong>(raw.size()));
  std::string out(n, '\0');
  compress2(reinterpret_cast<Bytef*>(out.data()), &n, reinterpret_cast<const Bytef*>(raw.data()),
            static_cast<uLong>(raw.size()), 6);
  out.resize(n);
  return out;
}

const std::string kSignature = "\x89PNG\r\n\x1a\n";

// Filtered scanlines of a w x h RGB image: filter byte `filter` then gradient bytes.
std::string scanlines(int w, int h, char filter = 4) {
  std::string raw;
  for (int y = 0; y < h; ++y) {
    raw.push_back(filter);
    for (int i = 0; i < w * 3; ++i) raw.push_back(static_cast<char>(y * 5 + i));
  }
  return raw;
}

TEST(ImageDecode, HandMadePngsDecodeOrFailAsLibpngDoes) {
  const std::string good_idat = chunk("IDAT", zlib_of(scanlines(6, 4)));
  const std::string iend = chunk("IEND", "");
  const std::string good = kSignature + ihdr(6, 4) + good_idat + iend;
  ASSERT_TRUE(detail::probe_plain_png(good).has_value());
  expect_same_as_reference(good, "good");

  const std::string z = zlib_of(scanlines(6, 4));
  const std::string text = chunk("tEXt", std::string("k\0v", 3));
  struct Case {
    std::string label;
    std::string bytes;
    bool probe_declines;  // refused by the chunk walk, before any inflating
  };
  std::vector<Case> cases = {
      {"bad filter type", kSignature + ihdr(6, 4) + chunk("IDAT", zlib_of(scanlines(6, 4, 5))) + iend, false},
      {"too little data", kSignature + ihdr(6, 5) + good_idat + iend, false},
      {"too much data", kSignature + ihdr(6, 3) + good_idat + iend, false},
      {"bytes after the zlib stream", kSignature + ihdr(6, 4) + chunk("IDAT", z + "xyz") + iend, false},
      {"idat in three chunks", kSignature + ihdr(6, 4) + chunk("IDAT", z.substr(0, 1)) +
                                   chunk("IDAT", "") + chunk("IDAT", z.substr(1)) + iend, false},
      {"data after IEND", good + "trailing bytes", false},
      {"idat split by another chunk", kSignature + ihdr(6, 4) + chunk("IDAT", z.substr(0, 10)) +
                                          text + chunk("IDAT", z.substr(10)) + iend, true},
      {"no IEND", kSignature + ihdr(6, 4) + good_idat, true},
      {"no IDAT", kSignature + ihdr(6, 4) + iend, true},
      {"IHDR not first", kSignature + text + ihdr(6, 4) + good_idat + iend, true},
      {"unknown critical chunk", kSignature + ihdr(6, 4) + chunk("ZZZZ", "x") + good_idat + iend, true},
      {"chunk name not letters", kSignature + ihdr(6, 4) + chunk("z1zz", "x") + good_idat + iend, true},
      {"width over libpng's limit", kSignature + ihdr(1'000'001, 1) + good_idat + iend, true},
      {"zero width", kSignature + ihdr(0, 4) + good_idat + iend, true},
      {"bad bit depth", kSignature + ihdr(6, 4, 7) + good_idat + iend, true},
      {"bad colour type", kSignature + ihdr(6, 4, 8, 5) + good_idat + iend, true},
      {"bad interlace method", kSignature + ihdr(6, 4, 8, 2, 2) + good_idat + iend, true},
      {"claims 30000 x 30000 from 40 bytes", kSignature + ihdr(30000, 30000) + good_idat + iend, true},
  };
  // A broken Adler-32 under a correct CRC.
  std::string bad_adler = z;
  bad_adler.back() = static_cast<char>(bad_adler.back() ^ 1);
  cases.push_back({"bad adler32", kSignature + ihdr(6, 4) + chunk("IDAT", bad_adler) + iend, false});
  // Broken CRCs: of IHDR, IDAT, IEND (critical: the fast path declines) and of an ancillary chunk
  // (skipped by both decoders).
  for (const char* name : {"IHDR", "IDAT", "IEND", "tEXt"}) {
    std::string bytes = kSignature + ihdr(6, 4) + text + good_idat + iend;
    const size_t at = bytes.find(name);
    const uint32_t len = static_cast<uint32_t>(static_cast<uint8_t>(bytes[at - 1]));
    bytes[at + 4 + len] = static_cast<char>(bytes[at + 4 + len] ^ 0x40);
    cases.push_back({fmt::format("bad {} CRC", name), bytes, std::string_view(name) != "tEXt"});
  }
  for (const Case& c : cases) {
    if (c.probe_declines) {
      EXPECT_FALSE(detail::probe_plain_png(c.bytes).has_value()) << c.label;
    }
    // libpng would allocate the 2.7 GB claimed before finding the data short: not here.
    if (c.label.starts_with("claims")) continue;
    expect_same_as_reference(c.bytes, c.label);
  }
  for (const char* name : {"bad IDAT CRC", "bad filter type", "too little data", "no IEND"}) {
    auto it = std::find_if(cases.begin(), cases.end(), [&](const Case& c) { return c.label == name; });
    EXPECT_FALSE(reference(it->bytes).ok) << name;  // errors both decoders agree on
    EXPECT_THROW_MSG(detail::decode_image(it->bytes, "frame 7"), FormatError, "frame 7");
  }
}

TEST(ImageDecode, SixteenBitSamplesKeepTheirHighByteAndSubByteGreyIsScaled) {
  // 16-bit grey 0x12ab and 0xff00: the high byte (0x12), not the rounded 0x13.
  std::string raw("\0\x12\xab\xff\x00", 5);
  std::string png = kSignature + ihdr(2, 1, 16, 0) + chunk("IDAT", zlib_of(raw)) + chunk("IEND", "");
  EXPECT_EQ(detail::decode_image(png, "g16").pixels, (std::vector<uint8_t>{0x12, 0xff}));
  // 2-bit grey 0, 1, 2, 3 -> 0, 85, 170, 255; 4-bit 1 and 15 -> 17, 255; 1-bit 1 -> 255.
  png = kSignature + ihdr(4, 1, 2, 0) + chunk("IDAT", zlib_of(std::string("\0\x1b", 2))) + chunk("IEND", "");
  EXPECT_EQ(detail::decode_image(png, "g2").pixels, (std::vector<uint8_t>{0, 85, 170, 255}));
  png = kSignature + ihdr(2, 1, 4, 0) + chunk("IDAT", zlib_of(std::string("\0\x1f", 2))) + chunk("IEND", "");
  EXPECT_EQ(detail::decode_image(png, "g4").pixels, (std::vector<uint8_t>{17, 255}));
  png = kSignature + ihdr(3, 1, 1, 0) + chunk("IDAT", zlib_of(std::string("\0\xa0", 2))) + chunk("IEND", "");
  EXPECT_EQ(detail::decode_image(png, "g1").pixels, (std::vector<uint8_t>{255, 0, 255}));
}

TEST(ImageDecode, EveryTruncationOfAPngOrJpegIsTheReferencesOutcome) {
  PngCase c{"rgb", 32, 32};
  c.smooth = true;
  for (const std::string& bytes :
       {write_png(c, 1), detail::encode_png(std::vector<uint8_t>(32 * 32 * 3, 9).data(), 32 * 32 * 3,
                                            32, 32, 3),
        write_jpeg(32, 32, 3, 90, 2, false, 4), write_jpeg(32, 32, 1, 90, 0, true, 5)}) {
    for (size_t n = 0; n < bytes.size(); ++n) {
      expect_same_as_reference(std::string_view(bytes).substr(0, n), fmt::format("prefix {}", n));
    }
  }
  // A truncated PNG is an error naming where the bytes came from.
  const std::string png = write_png(c, 1);
  EXPECT_THROW_MSG(detail::decode_image_into(std::string_view(png).substr(0, png.size() - 3),
                                             "episode 3 frame 9", std::span<uint8_t>()),
                   FormatError, "episode 3 frame 9");
}

TEST(ImageDecode, CorruptJpegBytesAreTheReferencesOutcomeAndTheDecoderRecovers) {
  const std::string good = write_jpeg(33, 17, 3, 90, 2, false, 9);
  const std::vector<uint8_t> want = detail::decode_image_reference(good, "good").pixels;
  Bytes gen{77};
  for (int k = 0; k < 300; ++k) {
    std::string bad = good;
    const int flips = 1 + k % 4;
    for (int f = 0; f < flips; ++f) {
      bad[gen.next() * 7u % bad.size()] = static_cast<char>(gen.next());
    }
    expect_same_as_reference(bad, fmt::format("corrupt jpeg {}", k));
    // The per-thread decompressor is reset after an error: the next image decodes right.
    ASSERT_EQ(detail::decode_image(good, "good").pixels, want);
  }
  EXPECT_THROW_MSG(detail::decode_image(good.substr(0, 40), "frame 2"), FormatError,
                   "JPEG image does not decode");
}

TEST(ImageDecode, ThreadsDecodeAtOnceWithTheirOwnState) {
  PngCase c{"rgb", 84, 84};
  c.smooth = true;
  const std::vector<std::string> images = {write_png(c, 1), write_jpeg(84, 84, 3, 90, 2, false, 2),
                                           write_png(c, 2), write_jpeg(84, 84, 1, 90, 0, false, 3)};
  std::vector<std::vector<uint8_t>> want;
  for (const auto& b : images) want.push_back(detail::decode_image_reference(b, "ref").pixels);
  std::vector<int> bad(2, 0);
  std::vector<std::thread> threads;
  for (int t = 0; t < 2; ++t) {
    threads.emplace_back([&, t] {
      std::vector<uint8_t> dst(84 * 84 * 3);
      for (int k = 0; k < 200; ++k) {
        const size_t i = static_cast<size_t>(k + t) % images.size();
        detail::decode_image_into(images[i], "t", std::span<uint8_t>(dst));
        if (!std::equal(want[i].begin(), want[i].end(), dst.begin())) ++bad[static_cast<size_t>(t)];
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(bad, (std::vector<int>{0, 0}));
}

}  // namespace
}  // namespace mouse
