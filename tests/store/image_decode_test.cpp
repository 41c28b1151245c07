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
#include "image_writers.hpp"
#include "store_test_util.hpp"

namespace mouse {
namespace {

using test::Bytes;
using test::PngCase;
using test::png_channels;
using test::write_jpeg;
using test::write_png;

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
