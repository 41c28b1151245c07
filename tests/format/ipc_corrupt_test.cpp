// Corrupt, truncated and hostile inputs for the Arrow IPC reader: the fuzz corpora of
// arrow-testing, Parquet files fed to the wrong reader, every truncation of small gold files,
// hand-patched metadata, and inputs found by our own fuzzing. Each must give a mouse::Error (with
// a message saying what and where) or a table that passes full validation; never a crash.
#include <fmt/format.h>
#include <cstring>

#include "format/arrow/flatbuf.hpp"
#include "format/arrow/ipc_fuzz.hpp"
#include "format/arrow/ipc_internal.hpp"
#include "mouse/arrow_ipc.hpp"
#include "mouse/error.hpp"
#include "test_support.hpp"

namespace mouse::arrow {
namespace {

namespace fs = std::filesystem;
namespace fb = detail::fb;
namespace fbs = detail::fbs;

fs::path arrow_data() {
  return test::testdata_dir() / "arrow-testing" / "data";
}
fs::path gold(const std::string& rel) {
  return arrow_data() / "arrow-ipc-stream" / "integration" / rel;
}

std::vector<uint8_t> read_bytes(const fs::path& p) {
  auto map = MappedFile::open(p);
  auto span = map->buffer().bytes();
  return {span.begin(), span.end()};
}

IpcTable read_bytes_as_ipc(const std::vector<uint8_t>& bytes, const std::string& source,
                           bool full = true) {
  IpcReadOptions options;
  options.validate_full = full;
  return read_ipc(Buffer::copy_of(bytes), source, options);
}

// Expects `fn` to throw FormatError whose message contains every one of `parts`.
template <class Fn>
void expect_format_error(Fn&& fn, std::initializer_list<std::string_view> parts) {
  try {
    fn();
    ADD_FAILURE() << "expected a FormatError";
  } catch (const FormatError& e) {
    for (std::string_view part : parts) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos)
          << "message \"" << e.what() << "\" lacks \"" << part << "\"";
    }
  }
}

// Reads the bytes as the fuzzer does, then re-validates whatever comes back.
void read_or_reject(const std::vector<uint8_t>& bytes, const std::string& source) {
  detail::fuzz_ipc(bytes.data(), bytes.size());
  try {
    IpcTable t = read_bytes_as_ipc(bytes, source);
    for (const auto& b : t.batches) {
      ASSERT_EQ(b.columns.size(), t.schema->fields.size()) << source;
      for (const auto& c : b.columns) EXPECT_NO_THROW(validate(*c, source, true));
    }
  } catch (const Error&) {
    // rejected: fine
  }
}

// Messages of a stream-framed (0xFFFFFFFF) IPC payload, found with the checked flatbuffer
// accessor so tests can patch exact fields.
struct MessageLayout {
  int64_t offset = 0;
  int64_t meta_pos = 0;
  uint32_t meta_len = 0;
  int64_t body_pos = 0;
  int64_t body_len = 0;
  uint8_t header_type = 0;
};

std::vector<MessageLayout> layout(const std::vector<uint8_t>& bytes) {
  std::vector<MessageLayout> out;
  int64_t pos = 0;
  while (pos + 8 <= static_cast<int64_t>(bytes.size())) {
    uint32_t cont, len;
    std::memcpy(&cont, bytes.data() + pos, 4);
    std::memcpy(&len, bytes.data() + pos + 4, 4);
    if (cont != 0xFFFFFFFFu || len == 0) break;
    MessageLayout m;
    m.offset = pos;
    m.meta_pos = pos + 8;
    m.meta_len = len;
    fb::Bytes fbb{bytes.data() + m.meta_pos, len, "layout", m.meta_pos};
    fb::Table msg = fb::Table::root(fbb);
    m.header_type = msg.scalar<uint8_t>(fbs::kMessageHeaderType, 0);
    m.body_len = msg.scalar<int64_t>(fbs::kMessageBodyLength, 0);
    m.body_pos = m.meta_pos + len;
    out.push_back(m);
    pos = m.body_pos + m.body_len;
  }
  return out;
}

// Runs `fn(header_table)` on the flatbuffer of message `m`.
template <class Fn>
void with_header(const std::vector<uint8_t>& bytes, const MessageLayout& m, Fn&& fn) {
  fb::Bytes fbb{bytes.data() + m.meta_pos, m.meta_len, "layout", m.meta_pos};
  fb::Table msg = fb::Table::root(fbb);
  fn(msg, *msg.table(fbs::kMessageHeader));
}

template <class T>
void poke(std::vector<uint8_t>& bytes, int64_t at, T value) {
  ASSERT_GE(at, 0);
  ASSERT_LE(at + static_cast<int64_t>(sizeof(T)), static_cast<int64_t>(bytes.size()));
  std::memcpy(bytes.data() + at, &value, sizeof(T));
}

// --- corpora ----------------------------------------------------------------------------------

std::vector<fs::path> corpus_files() {
  std::vector<fs::path> out;
  for (const char* dir : {"arrow-ipc-stream", "arrow-ipc-file", "parquet"}) {
    const fs::path d = arrow_data() / dir;
    if (!fs::exists(d)) continue;
    for (const auto& e : fs::directory_iterator(d)) {
      if (!e.is_regular_file() || e.path().filename() == "README.md") continue;
      out.push_back(e.path());
    }
  }
  std::sort(out.begin(), out.end());
  return out;
}

TEST(IpcCorruptCorpus, FuzzCorporaAndParquetAreRejectedOrValid) {
  MOUSE_REQUIRE_TESTDATA();
  const auto files = corpus_files();
  ASSERT_GE(files.size(), 130u) << "fuzz corpora missing under " << arrow_data();
  int rejected = 0;
  int read = 0;
  for (const fs::path& p : files) {
    SCOPED_TRACE(p.string());
    read_or_reject(read_bytes(p), p.filename().string());
    try {
      IpcReadOptions full;
      full.validate_full = true;
      IpcTable t = read_ipc(p, full);
      ++read;
    } catch (const FormatError& e) {
      EXPECT_NE(std::string(e.what()).find(p.filename().string()), std::string::npos) << e.what();
      ++rejected;
    } catch (const Error&) {
      ++rejected;
    }
  }
  RecordProperty("rejected", rejected);
  RecordProperty("read", read);
  EXPECT_GT(rejected, 100);
}

TEST(IpcCorruptCorpus, ParquetIsNotMistakenForIpc) {
  MOUSE_REQUIRE_TESTDATA();
  const fs::path p = arrow_data() / "parquet" / "alltypes-java.parquet";
  expect_format_error([&] { (void)read_ipc(p); }, {"alltypes-java.parquet", "at byte 0"});
}

TEST(IpcCorrupt, MissingFileIsIoErrorNamingThePath) {
  const fs::path p = "/nonexistent-dir/no-such-file.arrow";
  try {
    (void)read_ipc(p);
    FAIL() << "read a missing file";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(p.string()), std::string::npos) << e.what();
  }
}

TEST(IpcCorrupt, EmptyInputIsFormatError) {
  expect_format_error([] { (void)read_bytes_as_ipc({}, "empty.arrow"); },
                      {"empty.arrow", "expected a 4-byte message length"});
}

// --- truncation -------------------------------------------------------------------------------

// Truncating a stream exactly at a message boundary gives the batches before it (a stream may
// end without its end-of-stream marker); every other truncation is a FormatError naming the
// source.
void check_stream_truncations(const fs::path& p) {
  const std::vector<uint8_t> bytes = read_bytes(p);
  const IpcTable whole = read_bytes_as_ipc(bytes, "whole");
  std::vector<int64_t> boundaries;  // end of the schema message and of each batch message
  for (const MessageLayout& m : layout(bytes)) boundaries.push_back(m.body_pos + m.body_len);
  ASSERT_EQ(boundaries.size(), whole.batches.size() + 1);
  size_t successes = 0;
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    const std::string source = fmt::format("{}[:{}]", p.filename().string(), n);
    auto it = std::find(boundaries.begin(), boundaries.end(), static_cast<int64_t>(n));
    if (it != boundaries.end()) {
      IpcTable t = read_bytes_as_ipc(prefix, source);
      const size_t k = static_cast<size_t>(it - boundaries.begin());
      ASSERT_EQ(t.batches.size(), k) << source;
      for (size_t b = 0; b < k; ++b) EXPECT_EQ(t.batches[b].num_rows, whole.batches[b].num_rows);
      ++successes;
    } else {
      expect_format_error([&] { (void)read_bytes_as_ipc(prefix, source); }, {source});
    }
  }
  EXPECT_EQ(successes, boundaries.size());
}

TEST(IpcTruncation, NestedStreamAtEveryByte) {
  MOUSE_REQUIRE_TESTDATA();
  check_stream_truncations(gold("cpp-21.0.0/generated_nested.stream"));
}

TEST(IpcTruncation, CompressedStreamAtEveryByte) {
  MOUSE_REQUIRE_TESTDATA();
  check_stream_truncations(gold("2.0.0-compression/generated_zstd.stream"));
  check_stream_truncations(gold("2.0.0-compression/generated_lz4.stream"));
}

TEST(IpcTruncation, FileFramingAtEveryByteIsAnError) {
  MOUSE_REQUIRE_TESTDATA();
  const std::vector<uint8_t> bytes = read_bytes(gold("cpp-21.0.0/generated_nested.arrow_file"));
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::vector<uint8_t> prefix(bytes.begin(), bytes.begin() + static_cast<std::ptrdiff_t>(n));
    const std::string source = fmt::format("nested.arrow_file[:{}]", n);
    if (n < 6) {
      // Too short to carry the magic: read as a (broken) stream.
      expect_format_error([&] { (void)read_bytes_as_ipc(prefix, source); }, {source});
    } else {
      expect_format_error([&] { (void)read_bytes_as_ipc(prefix, source); }, {source, "file"});
    }
  }
}

// --- patched metadata -------------------------------------------------------------------------

class IpcPatched : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!fs::exists(test::testdata_dir())) GTEST_SKIP() << "SKIPPED: corpus missing";
    bytes_ = read_bytes(gold("cpp-21.0.0/generated_nested.stream"));
    msgs_ = layout(bytes_);
    ASSERT_EQ(msgs_.size(), 3u);  // schema + 2 batches
    ASSERT_EQ(msgs_[1].header_type, fbs::kHeaderRecordBatch);
  }
  std::vector<uint8_t> bytes_;
  std::vector<MessageLayout> msgs_;
};

TEST_F(IpcPatched, BodyLengthBeyondTheFile) {
  with_header(bytes_, msgs_[1], [&](const fb::Table& msg, const fb::Table&) {
    poke<int64_t>(bytes_, msg.field_file_offset(fbs::kMessageBodyLength, 8), 1 << 20);
  });
  expect_format_error([&] { (void)read_bytes_as_ipc(bytes_, "nested.stream"); },
                      {"nested.stream", fmt::format("at byte {}", msgs_[1].meta_pos),
                       "message body of 1048576 bytes does not fit"});
}

TEST_F(IpcPatched, NegativeBodyLength) {
  with_header(bytes_, msgs_[2], [&](const fb::Table& msg, const fb::Table&) {
    poke<int64_t>(bytes_, msg.field_file_offset(fbs::kMessageBodyLength, 8), -8);
  });
  expect_format_error([&] { (void)read_bytes_as_ipc(bytes_, "nested.stream"); },
                      {"nested.stream", "message body of -8 bytes"});
}

TEST_F(IpcPatched, BufferOffsetPastTheBody) {
  with_header(bytes_, msgs_[1], [&](const fb::Table&, const fb::Table& rb) {
    auto buffers = rb.vector(fbs::kBatchBuffers, 16, 8);
    ASSERT_TRUE(buffers && buffers->size() > 2);
    poke<int64_t>(bytes_, buffers->file_offset(1), msgs_[1].body_len + 64);
  });
  expect_format_error([&] { (void)read_bytes_as_ipc(bytes_, "nested.stream"); },
                      {"nested.stream", "record batch 0, column \"list_nullable\"", "buffer 1",
                       fmt::format("body has {}", msgs_[1].body_len)});
}

TEST_F(IpcPatched, NegativeBufferLength) {
  with_header(bytes_, msgs_[1], [&](const fb::Table&, const fb::Table& rb) {
    auto buffers = rb.vector(fbs::kBatchBuffers, 16, 8);
    poke<int64_t>(bytes_, buffers->file_offset(2) + 8, -1);
  });
  expect_format_error([&] { (void)read_bytes_as_ipc(bytes_, "nested.stream"); },
                      {"nested.stream", "buffer 2", "length -1"});
}

TEST_F(IpcPatched, NegativeNodeLength) {
  with_header(bytes_, msgs_[2], [&](const fb::Table&, const fb::Table& rb) {
    auto nodes = rb.vector(fbs::kBatchNodes, 16, 8);
    poke<int64_t>(bytes_, nodes->file_offset(0), -5);
  });
  expect_format_error([&] { (void)read_bytes_as_ipc(bytes_, "nested.stream"); },
                      {"nested.stream", "record batch 1", "node length -5"});
}

TEST_F(IpcPatched, NullCountAboveLength) {
  with_header(bytes_, msgs_[1], [&](const fb::Table&, const fb::Table& rb) {
    auto nodes = rb.vector(fbs::kBatchNodes, 16, 8);
    poke<int64_t>(bytes_, nodes->file_offset(0) + 8, 1000);
  });
  expect_format_error([&] { (void)read_bytes_as_ipc(bytes_, "nested.stream"); },
                      {"nested.stream", "null count 1000"});
}

TEST_F(IpcPatched, ChildLengthTooShortForOffsets) {
  // The list's item node claims fewer items than the list offsets reach.
  with_header(bytes_, msgs_[1], [&](const fb::Table&, const fb::Table& rb) {
    auto nodes = rb.vector(fbs::kBatchNodes, 16, 8);
    poke<int64_t>(bytes_, nodes->file_offset(1), 1);
    poke<int64_t>(bytes_, nodes->file_offset(1) + 8, 0);
  });
  expect_format_error([&] { (void)read_bytes_as_ipc(bytes_, "nested.stream", false); },
                      {"nested.stream", "column \"list_nullable\"", "length of the child"});
}

TEST_F(IpcPatched, NegativeMetadataLength) {
  poke<int32_t>(bytes_, msgs_[1].offset + 4, -16);
  expect_format_error([&] { (void)read_bytes_as_ipc(bytes_, "nested.stream"); },
                      {"nested.stream", fmt::format("at byte {}", msgs_[1].offset),
                       "negative metadata length -16"});
}

TEST_F(IpcPatched, MetadataLengthBeyondTheFile) {
  poke<int32_t>(bytes_, msgs_[1].offset + 4, 0x7ffffff0);
  expect_format_error([&] { (void)read_bytes_as_ipc(bytes_, "nested.stream"); },
                      {"nested.stream", "message metadata needs 2147483632 bytes"});
}

TEST_F(IpcPatched, VtableOutsideTheMetadata) {
  // The root table's soffset points its vtable far outside the flatbuffer.
  uint32_t root;
  std::memcpy(&root, bytes_.data() + msgs_[1].meta_pos, 4);
  poke<int32_t>(bytes_, msgs_[1].meta_pos + root, -0x100000);
  expect_format_error([&] { (void)read_bytes_as_ipc(bytes_, "nested.stream"); },
                      {"nested.stream", "flatbuffer metadata", "vtable"});
}

TEST_F(IpcPatched, DecreasingStringOffsetsCaughtByFullValidationAndAccessors) {
  // struct_nullable.f2 (utf8) offsets: make offset 1 larger than offset 2 inside batch 0. The
  // reader hands out views into its input, so the buffer's address gives its file position.
  const Buffer copy = Buffer::copy_of(bytes_);
  const IpcTable t = read_ipc(copy, "nested.stream");
  const ArrayData& g = *t.batches[0].columns[2]->children[1];
  ASSERT_EQ(g.type->id, TypeId::kUtf8);
  ASSERT_GE(g.length, 3);
  const int64_t file_pos = g.buffers[1].data() - copy.data();
  ASSERT_GT(file_pos, 0);
  int32_t off2;
  std::memcpy(&off2, bytes_.data() + file_pos + 8, 4);
  poke<int32_t>(bytes_, file_pos + 4, off2 + 1);
  expect_format_error([&] { (void)read_bytes_as_ipc(bytes_, "nested.stream", true); },
                      {"nested.stream", "column \"struct_nullable\"", "less than the previous"});
  // Structural validation alone accepts it; the accessor refuses the bad element.
  const IpcTable lazy = read_bytes_as_ipc(bytes_, "nested.stream", false);
  const ArrayData& h = *lazy.batches[0].columns[2]->children[1];
  EXPECT_THROW((void)binary_value(h, 1), FormatError);
}

TEST_F(IpcPatched, DictionaryBatchIsRejected) {
  with_header(bytes_, msgs_[1], [&](const fb::Table& msg, const fb::Table&) {
    poke<uint8_t>(bytes_, msg.field_file_offset(fbs::kMessageHeaderType, 1),
                  fbs::kHeaderDictionaryBatch);
  });
  expect_format_error([&] { (void)read_bytes_as_ipc(bytes_, "nested.stream"); },
                      {"nested.stream", "dictionary batches are not supported"});
}

TEST_F(IpcPatched, SecondSchemaIsRejected) {
  with_header(bytes_, msgs_[2], [&](const fb::Table& msg, const fb::Table&) {
    poke<uint8_t>(bytes_, msg.field_file_offset(fbs::kMessageHeaderType, 1), fbs::kHeaderSchema);
  });
  expect_format_error([&] { (void)read_bytes_as_ipc(bytes_, "nested.stream"); },
                      {"nested.stream", "second Schema"});
}

TEST_F(IpcPatched, FileBlockPastTheFooterIsRejected) {
  std::vector<uint8_t> file = read_bytes(gold("cpp-21.0.0/generated_nested.arrow_file"));
  int32_t footer_len;
  std::memcpy(&footer_len, file.data() + file.size() - 10, 4);
  const int64_t footer_pos = static_cast<int64_t>(file.size()) - 10 - footer_len;
  fb::Bytes fbb{file.data() + footer_pos, static_cast<uint32_t>(footer_len), "layout", footer_pos};
  fb::Table footer = fb::Table::root(fbb);
  auto blocks = footer.vector(fbs::kFooterRecordBatches, 24, 8);
  ASSERT_TRUE(blocks && blocks->size() == 2);
  poke<int64_t>(file, blocks->file_offset(1), footer_pos + 8);
  expect_format_error([&] { (void)read_bytes_as_ipc(file, "nested.arrow_file"); },
                      {"nested.arrow_file", "record batch block 1", "do not fit"});
}

// --- regressions found by fuzzing (inputs kept as literals) ------------------------------------

struct Regression {
  const char* name;
  std::vector<uint8_t> bytes;
  const char* message;  // substring of the expected FormatError
};

const std::vector<Regression>& fuzz_regressions() {
  static const std::vector<Regression> k = {
      // Hand-made: a root uoffset pointing at itself, so the vtable has size 0.
      {"self_referencing_root", {0xFF, 0xFF, 0xFF, 0xFF, 0x08, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, "vtable"},
      // Found by libFuzzer (UBSan: signed overflow formatting offset + length of a buffer whose
      // offset and length are both near INT64_MAX), rebuilt as a minimal stream: schema
      // {a: int8}, one batch of 1 row whose values buffer is (8502796096475496472,
      // 7021991863916961893).
      {"buffer_offset_plus_length_overflows",
       {
           0xff, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x14,
           0x00, 0x04, 0x00, 0x06, 0x00, 0x08, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10, 0x00,
           0x00, 0x00, 0x04, 0x00, 0x01, 0x00, 0x18, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
           0x00, 0x00, 0x00, 0x08, 0x00, 0x08, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00,
           0x0c, 0x00, 0x00, 0x00, 0x04, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00,
           0x00, 0x0c, 0x00, 0x10, 0x00, 0x04, 0x00, 0x08, 0x00, 0x09, 0x00, 0x0c, 0x00, 0x00, 0x00,
           0x00, 0x00, 0x10, 0x00, 0x00, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x14,
           0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x61, 0x00, 0x08, 0x00, 0x09, 0x00, 0x04, 0x00,
           0x08, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
           0x00, 0xff, 0xff, 0xff, 0xff, 0x88, 0x00, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x0c, 0x00,
           0x14, 0x00, 0x04, 0x00, 0x06, 0x00, 0x08, 0x00, 0x0c, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10,
           0x00, 0x00, 0x00, 0x04, 0x00, 0x03, 0x00, 0x18, 0x00, 0x00, 0x00, 0x08, 0x00, 0x00, 0x00,
           0x00, 0x00, 0x00, 0x00, 0x0a, 0x00, 0x14, 0x00, 0x04, 0x00, 0x0c, 0x00, 0x10, 0x00, 0x00,
           0x00, 0x0c, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x0c, 0x00,
           0x00, 0x00, 0x20, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x01,
           0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
           0x00, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
           0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x18, 0x00, 0x00, 0x00, 0x00, 0x00,
           0x00, 0x76, 0x65, 0x20, 0x74, 0x68, 0x65, 0x20, 0x73, 0x61, 0x00, 0x00, 0x00, 0x00, 0x00,
           0x00, 0x00, 0x00,
       },
       "needs 15524787960392458365 bytes, body has 8"},
  };
  return k;
}

TEST(IpcFuzzRegressions, AreRejectedWithTheExpectedMessage) {
  for (const Regression& r : fuzz_regressions()) {
    SCOPED_TRACE(r.name);
    read_or_reject(r.bytes, r.name);
    expect_format_error([&] { (void)read_bytes_as_ipc(r.bytes, r.name); }, {r.name, r.message});
  }
}

}  // namespace
}  // namespace mouse::arrow
