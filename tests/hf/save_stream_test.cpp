// save_stream_to_disk / save_streams_to_disk: the bytes of save_to_disk for the same batches
// (every column kind, every shard decision), no batch alive after its emit, and failures that
// leave no partial output.
#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>

#include "hf_test_util.hpp"
#include "mouse/dataset.hpp"
#include "mouse/hub.hpp"

namespace mouse {
namespace {

namespace fs = std::filesystem;

std::map<std::string, std::string> tree(const fs::path& dir) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    std::ifstream in(e.path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    out[fs::relative(e.path(), dir).string()] = ss.str();
  }
  return out;
}

std::vector<std::string> entries(const fs::path& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  std::sort(out.begin(), out.end());
  return out;
}

// A stream of the all-kinds rows in batches of `batch_rows`, made one at a time.
BatchStream all_kinds_stream(int64_t rows, int64_t batch_rows) {
  const Dataset layout = test::all_kinds_dataset(0, 1);
  BatchStream s;
  s.layout = layout;
  s.num_rows = rows;
  s.produce = [rows, batch_rows](const BatchStream::Emit& emit) {
    for (int64_t r = 0; r < rows; r += batch_rows) emit(test::all_kinds_batch(r, std::min(batch_rows, rows - r)));
  };
  return s;
}

// As all_kinds_stream, without the null column Parquet cannot hold.
BatchStream parquet_stream(int64_t rows, int64_t batch_rows) {
  BatchStream s;
  s.layout = test::all_kinds_without_null(0, 1);
  s.num_rows = rows;
  s.produce = [rows, batch_rows](const BatchStream::Emit& emit) {
    for (int64_t r = 0; r < rows; r += batch_rows) {
      emit(test::all_kinds_without_null_batch(r, std::min(batch_rows, rows - r)));
    }
  };
  return s;
}

std::vector<SaveOptions> layouts() {
  std::vector<SaveOptions> out(5);
  out[1].max_shard_bytes = 20'000;  // several shards, decided after a measuring pass
  out[2].num_shards = 4;
  out[3].max_batch_rows = 7;
  out[3].max_shard_bytes = 9'000;
  out[4].num_shards = 60;  // more shards than rows for the smaller counts: one per row
  return out;
}

TEST(SaveStream, WritesTheBytesOfSaveToDisk) {
  for (const int64_t rows : {int64_t{0}, int64_t{1}, int64_t{57}, int64_t{301}}) {
    for (const SaveOptions& save : layouts()) {
      SCOPED_TRACE(fmt::format("rows={} max_shard_bytes={} batch={} shards={}", rows,
                               save.max_shard_bytes, save.max_batch_rows, save.num_shards.value_or(0)));
      test::TempDir tmp;
      test::all_kinds_dataset(rows, 40).save_to_disk(tmp / "memory", save);
      save_stream_to_disk(all_kinds_stream(rows, 40), tmp / "stream", save);
      const auto a = tree(tmp / "memory");
      const auto b = tree(tmp / "stream");
      ASSERT_EQ(a.size(), b.size());
      for (const auto& [name, bytes] : a) {
        ASSERT_TRUE(b.count(name)) << name;
        EXPECT_TRUE(bytes == b.at(name)) << name;
      }
      EXPECT_EQ(entries(tmp.path()), (std::vector<std::string>{"memory", "stream"}));
    }
  }
}

TEST(SaveStream, DictWritesTheBytesOfDatasetDictSaveToDisk) {
  SaveOptions save;
  save.max_shard_bytes = 15'000;
  DatasetDict dict;
  dict.insert("train", test::all_kinds_dataset(200, 40));
  dict.insert("test", test::all_kinds_dataset(30, 40));
  test::TempDir tmp;
  dict.save_to_disk(tmp / "memory", save);
  save_streams_to_disk({{"train", all_kinds_stream(200, 40)}, {"test", all_kinds_stream(30, 40)}},
                       tmp / "stream", save);
  EXPECT_TRUE(tree(tmp / "memory") == tree(tmp / "stream"));
}

TEST(SaveStreamHub, WritesTheBytesOfSaveToHubLayout) {
  // One shard in one pass, several after a measuring pass (shards cut inside source batches),
  // one row per shard, small row groups so a shard holds several; two splits.
  for (const int64_t rows : {int64_t{0}, int64_t{1}, int64_t{57}, int64_t{301}}) {
    for (const int64_t max_shard_bytes : {int64_t{500'000'000}, int64_t{20'000}, int64_t{1}}) {
      for (const int64_t row_group_rows : {int64_t{1} << 20, int64_t{16}}) {
        SCOPED_TRACE(fmt::format("rows={} max_shard_bytes={} row_group_rows={}", rows,
                                 max_shard_bytes, row_group_rows));
        HubSaveOptions hub;
        hub.max_shard_bytes = max_shard_bytes;
        hub.parquet.row_group_rows = row_group_rows;
        test::TempDir tmp;
        DatasetDict dict;
        dict.insert("train", test::all_kinds_without_null(rows, 40));
        dict.insert("test", test::all_kinds_without_null(rows / 3, 40));
        save_to_hub_layout(dict, tmp / "memory", hub);
        save_streams_to_hub_layout(
            {{"train", parquet_stream(rows, 40)}, {"test", parquet_stream(rows / 3, 40)}},
            tmp / "stream", hub);
        const auto a = tree(tmp / "memory");
        const auto b = tree(tmp / "stream");
        ASSERT_EQ(a.size(), b.size());
        for (const auto& [name, bytes] : a) {
          ASSERT_TRUE(b.count(name)) << name;
          EXPECT_TRUE(bytes == b.at(name)) << name;
        }
        EXPECT_EQ(entries(tmp.path()), (std::vector<std::string>{"memory", "stream"}));
      }
    }
  }
}

TEST(SaveStreamHub, BadStreamsAreErrorsAndLeaveNothing) {
  test::TempDir tmp;
  const fs::path out = tmp / "hub";
  const auto fails = [&](std::vector<std::pair<std::string, BatchStream>> splits,
                         const std::string& needle, HubSaveOptions hub = {}) {
    try {
      save_streams_to_hub_layout(splits, out, hub);
      ADD_FAILURE() << "no error for " << needle;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
    EXPECT_TRUE(entries(tmp.path()).empty()) << needle;
  };
  fails({}, "expected at least one split");
  BatchStream short_stream = parquet_stream(50, 40);
  short_stream.num_rows = 60;
  fails({{"train", short_stream}}, "expected 60 rows, the stream produced 50");
  BatchStream long_stream = parquet_stream(50, 40);
  long_stream.num_rows = 45;
  fails({{"train", long_stream}}, "the stream produced at least 50");
  fails({{"train", parquet_stream(5, 5)}, {"train", parquet_stream(5, 5)}}, "given twice");
  fails({{"a*", parquet_stream(5, 5)}}, "cannot be used in a data/<split>-* pattern");
  BatchStream none;
  none.layout = test::all_kinds_without_null(0, 1);
  fails({{"train", none}}, "no produce function");
  // A second pass that differs from the first (the shard count needed one).
  auto calls = std::make_shared<int>(0);
  BatchStream fickle = parquet_stream(100, 40);
  fickle.produce = [calls](const BatchStream::Emit& emit) {
    const int64_t rows = ++*calls == 1 ? 100 : 99;
    for (int64_t r = 0; r < 100; r += 40) {
      emit(test::all_kinds_without_null_batch(r, std::min<int64_t>(40, rows - r)));
    }
  };
  HubSaveOptions small;
  small.max_shard_bytes = 1'000;
  fails({{"train", fickle}}, "on its second call", small);
  // A producer that throws midway: nothing left either.
  BatchStream throws = parquet_stream(100, 10);
  throws.produce = [](const BatchStream::Emit& emit) {
    emit(test::all_kinds_without_null_batch(0, 10));
    throw IoError("the producer failed");
  };
  EXPECT_THROW(save_streams_to_hub_layout({{"train", throws}}, out), IoError);
  EXPECT_TRUE(entries(tmp.path()).empty());
}

TEST(SaveStream, NoBatchOutlivesItsEmit) {
  // The producer keeps a weak reference to the last batch it emitted: when it makes the next
  // one, the writer must have let go of it (so memory holds one batch whatever the row count).
  for (const int64_t max_shard_bytes : {int64_t{500'000'000}, int64_t{20'000}}) {
    SCOPED_TRACE(max_shard_bytes);
    BatchStream s = all_kinds_stream(500, 25);
    int64_t emitted = 0;
    int64_t alive_at_next = 0;
    s.produce = [&](const BatchStream::Emit& emit) {
      std::weak_ptr<const arrow::ArrayData> last;
      for (int64_t r = 0; r < 500; r += 25) {
        if (!last.expired()) ++alive_at_next;
        arrow::RecordBatch batch = test::all_kinds_batch(r, 25);
        last = batch.columns.front();
        emit(batch);
        ++emitted;
      }
    };
    SaveOptions save;
    save.max_shard_bytes = max_shard_bytes;
    test::TempDir tmp;
    save_stream_to_disk(s, tmp / "out", save);
    EXPECT_EQ(alive_at_next, 0);
    EXPECT_EQ(emitted, max_shard_bytes == 20'000 ? 40 : 20);  // two passes for small shards
    EXPECT_EQ(Dataset::load_from_disk(tmp / "out").num_rows(), 500);
  }
}

TEST(SaveStreamErrors, BadStreamsAreInvalidArgumentAndLeaveNothing) {
  test::TempDir tmp;
  BatchStream s = all_kinds_stream(100, 40);
  s.num_rows = 120;
  EXPECT_THROW_MSG(save_stream_to_disk(s, tmp / "out"), InvalidArgument,
                   "expected 120 rows, the stream produced 100");
  s.num_rows = 90;
  EXPECT_THROW_MSG(save_stream_to_disk(s, tmp / "out"), InvalidArgument,
                   "expected 90 rows, the stream produced at least 100");
  s.num_rows = -1;
  EXPECT_THROW_MSG(save_stream_to_disk(s, tmp / "out"), InvalidArgument, "num_rows must be >= 0, got -1");
  s = all_kinds_stream(100, 40);
  s.produce = nullptr;
  EXPECT_THROW_MSG(save_stream_to_disk(s, tmp / "out"), InvalidArgument, "has no produce function");

  // A batch with another schema.
  s = all_kinds_stream(100, 40);
  s.produce = [](const BatchStream::Emit& emit) {
    emit(test::all_kinds_batch(0, 40));
    arrow::RecordBatch bad = test::all_kinds_batch(40, 60);
    bad.columns.pop_back();
    emit(bad);
  };
  EXPECT_THROW_MSG(save_stream_to_disk(s, tmp / "out"), InvalidArgument,
                   "save_stream_to_disk: record batch 1 has");

  // A second pass that differs from the first.
  s = all_kinds_stream(300, 40);
  int calls = 0;
  s.produce = [&calls](const BatchStream::Emit& emit) {
    const int64_t first = calls++ == 0 ? 0 : 1000;
    for (int64_t r = 0; r < 300; r += 100) emit(test::all_kinds_batch(first + r * 3, 100));
  };
  SaveOptions small;
  small.max_shard_bytes = 20'000;
  EXPECT_THROW_MSG(save_stream_to_disk(s, tmp / "out", small), InvalidArgument, "second call");

  EXPECT_THROW_MSG(save_streams_to_disk({}, tmp / "out"), InvalidArgument, "no splits given");
  EXPECT_THROW_MSG(save_streams_to_disk({{"..", all_kinds_stream(5, 5)}}, tmp / "out"), InvalidArgument,
                   "invalid split name \"..\"");
  EXPECT_THROW_MSG(save_streams_to_disk({{"a", all_kinds_stream(5, 5)}, {"a", all_kinds_stream(5, 5)}},
                                        tmp / "out"),
                   InvalidArgument, "split \"a\" is given twice");
  EXPECT_TRUE(entries(tmp.path()).empty());
}

TEST(SaveStreamErrors, AProducerThatThrowsLeavesTheOldDatasetAndNoLitter) {
  test::TempDir tmp;
  save_stream_to_disk(all_kinds_stream(50, 10), tmp / "out");
  const auto before = tree(tmp / "out");
  // Thrown in the only pass, in the measuring pass, and in the second (writing) pass.
  const std::pair<int64_t, int64_t> failures[] = {{500'000'000, 10}, {2'000, 10}, {2'000, 30}};
  for (const auto& [max_shard_bytes, fail_at] : failures) {
    SCOPED_TRACE(fmt::format("{} {}", max_shard_bytes, fail_at));
    // Throws at its fail_at-th batch, counted over both passes.
    auto failing = [fail_at = fail_at] {
      BatchStream s = all_kinds_stream(500, 25);
      auto made = std::make_shared<int64_t>(0);
      s.produce = [made, fail_at](const BatchStream::Emit& emit) {
        for (int64_t r = 0; r < 500; r += 25) {
          if (++*made == fail_at) throw IoError("the source went away");
          emit(test::all_kinds_batch(r, 25));
        }
      };
      return s;
    };
    SaveOptions save;
    save.max_shard_bytes = max_shard_bytes;
    EXPECT_THROW_MSG(save_stream_to_disk(failing(), tmp / "out", save), IoError, "the source went away");
    EXPECT_THROW_MSG(save_streams_to_disk({{"train", all_kinds_stream(10, 5)}, {"test", failing()}},
                                          tmp / "dict", save),
                     IoError, "the source went away");
    EXPECT_TRUE(tree(tmp / "out") == before);
    EXPECT_EQ(entries(tmp.path()), (std::vector<std::string>{"out"}));
  }
}

}  // namespace
}  // namespace mouse
