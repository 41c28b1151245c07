// The store on the real Hugging Face directories of ../shared/testdata/hf: LeRobot pusht_image
// (161 rows, PNG Image column) and the SPIRAL DatasetDict. Decoded pixels are checked against
// a small PNG decoder written here on zlib alone (independent of libpng).
#include <gtest/gtest.h>
#include <zlib.h>

#include <cstring>
#include <nlohmann/json.hpp>

#include "store_test_util.hpp"

namespace mouse {
namespace {

using test::iota;
using test::values_of;

std::filesystem::path hf_dir() { return test::testdata_dir() / "hf"; }

uint32_t be32(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}

// Decodes an 8-bit, non-interlaced, grey/RGB/RGBA PNG by hand: IDAT chunks inflated with zlib,
// then the five scanline filters undone (PNG spec §9).
std::vector<uint8_t> reference_png_decode(std::string_view png, int* channels_out) {
  const auto* p = reinterpret_cast<const uint8_t*>(png.data());
  size_t pos = 8;
  uint32_t width = 0, height = 0;
  int channels = 0;
  std::string idat;
  while (pos + 8 <= png.size()) {
    const uint32_t len = be32(p + pos);
    const std::string type(png.data() + pos + 4, 4);
    const uint8_t* data = p + pos + 8;
    if (type == "IHDR") {
      width = be32(data);
      height = be32(data + 4);
      EXPECT_EQ(data[8], 8) << "bit depth";
      EXPECT_EQ(data[12], 0) << "interlace";
      channels = data[9] == 0 ? 1 : data[9] == 2 ? 3 : data[9] == 6 ? 4 : data[9] == 4 ? 2 : 0;
    } else if (type == "IDAT") {
      idat.append(reinterpret_cast<const char*>(data), len);
    }
    pos += 12 + len;
  }
  const size_t stride = static_cast<size_t>(width) * channels;
  std::vector<uint8_t> raw((stride + 1) * height);
  uLongf raw_size = raw.size();
  EXPECT_EQ(uncompress(raw.data(), &raw_size, reinterpret_cast<const Bytef*>(idat.data()), idat.size()), Z_OK);
  std::vector<uint8_t> out(stride * height);
  for (uint32_t y = 0; y < height; ++y) {
    const uint8_t filter = raw[y * (stride + 1)];
    const uint8_t* in = &raw[y * (stride + 1) + 1];
    uint8_t* row = &out[y * stride];
    const uint8_t* up = y ? &out[(y - 1) * stride] : nullptr;
    for (size_t x = 0; x < stride; ++x) {
      const int a = x >= static_cast<size_t>(channels) ? row[x - channels] : 0;
      const int b = up ? up[x] : 0;
      const int c = (up && x >= static_cast<size_t>(channels)) ? up[x - channels] : 0;
      int pred = 0;
      switch (filter) {
        case 1: pred = a; break;
        case 2: pred = b; break;
        case 3: pred = (a + b) / 2; break;
        case 4: {
          const int pa = std::abs(b - c), pb = std::abs(a - c), pc = std::abs(a + b - 2 * c);
          pred = (pa <= pb && pa <= pc) ? a : (pb <= pc ? b : c);
          break;
        }
        default: break;
      }
      row[x] = static_cast<uint8_t>(in[x] + pred);
    }
  }
  *channels_out = channels;
  return out;
}

// pusht_image's real columns under the names of the SPEC §3 contract (zero-copy: the arrays of
// the memory-mapped shard are reused as they are).
Dataset relabelled_pusht(const Dataset& real) {
  const std::vector<std::pair<std::string, std::string>> renames = {
      {"action", "frame_index"},          {"reward", "next.reward"},
      {"done", "next.done"},              {"episode_step", "index"},
      {"observation", "observation.state"}, {"metadata_q_star", "action"},
      {"observation_image", "observation.image"}};
  auto schema = std::make_shared<arrow::Schema>();
  std::vector<arrow::RecordBatch> batches(real.batches().size());
  for (const auto& [to, from] : renames) {
    const int index = real.schema()->field_index(from);
    arrow::Field f = real.schema()->fields[static_cast<size_t>(index)];
    f.name = to;
    schema->fields.push_back(f);
    for (size_t b = 0; b < batches.size(); ++b) {
      batches[b].num_rows = real.batches()[b].num_rows;
      batches[b].columns.push_back(real.batches()[b].columns[static_cast<size_t>(index)]);
    }
  }
  for (auto& b : batches) b.schema = schema;
  auto json = nlohmann::ordered_json::parse(Features::from_schema(*schema).to_json());
  json["observation_image"] = {{"_type", "Image"}};
  return Dataset::from_batches(schema, std::move(batches), Features::from_json(json.dump()));
}

TEST(RealData, LeRobotActionVectorIsNotADiscreteAction) {
  MOUSE_REQUIRE_TESTDATA();
  Dataset real = Dataset::load_from_disk(hf_dir() / "lerobot-pusht_image/train");
  DatasetStore store(2);
  EXPECT_THROW_MSG(store.from_dataset(real), InvalidArgument,
                   "column \"action\" has type fixed_size_list<item: float>[2], which cannot convert");
  EXPECT_THROW_MSG(store.from_dataset(real), InvalidArgument, "lerobot-pusht_image/train");
  EXPECT_EQ(store.size(), 0);
}

TEST(RealData, SpiralDatasetDictSplitErrorsListTheRealSplits) {
  MOUSE_REQUIRE_TESTDATA();
  DatasetDict dict = DatasetDict::load_from_disk(hf_dir() / "spiral-math-eval");
  DatasetStore store(2);
  EXPECT_THROW_MSG(store.from_dataset(dict, std::nullopt, std::vector<std::string>{"train*"}), KeyError,
                   "[\"aime\", \"amc\", \"math\", \"minerva\", \"olympiad_bench\"]");
  EXPECT_THROW_MSG(store.from_dataset(dict, std::vector<std::string>{"gsm8k"}), KeyError,
                   "split \"gsm8k\" not found");
  // The splits are maths problems, not steps: the required columns are missing.
  EXPECT_THROW_MSG(store.from_dataset(dict, std::nullopt, std::vector<std::string>{"a[!i]*"}),
                   InvalidArgument, "split \"amc\"");
  EXPECT_THROW_MSG(store.from_dataset(dict), InvalidArgument, "required column \"action\" is missing");
}

TEST(RealData, PushtImageEncodesEveryColumnAndDecodesItsPngs) {
  MOUSE_REQUIRE_TESTDATA();
  Dataset real = Dataset::load_from_disk(hf_dir() / "lerobot-pusht_image/train");
  ASSERT_EQ(real.num_rows(), 161);
  constexpr int64_t kPixels = 96 * 96 * 3;
  DatasetStore store(test::unchecked(4, 3, 0, kPixels + 5));  // frame_index as action
  store.from_dataset(relabelled_pusht(real));
  EXPECT_EQ(store.size(), 161);
  std::vector<int64_t> idx{0, 80, 160, -1, 17};
  TensorDict td = store.get(idx);
  EXPECT_EQ(td.keys(), (std::vector<std::string>{"action", "reward", "done", "time", "q_star",
                                                  "obs_continuous", "obs_image"}));
  // Expected values read straight from the real Arrow columns.
  auto frame = real.column("frame_index");
  auto reward = real.column("next.reward");
  auto done = real.column("next.done");
  auto state = real.column("observation.state");
  auto action = real.column("action");
  auto image = real.column("observation.image");
  auto a = values_of<int64_t>(td.at("action"));
  auto r = values_of<float>(td.at("reward"));
  auto d = values_of<int64_t>(td.at("done"));
  auto q = values_of<float>(td.at("q_star"));
  auto o = values_of<double>(td.at("obs_continuous"));
  auto px = values_of<int64_t>(td.at("obs_image"));
  for (size_t k = 0; k < idx.size(); ++k) {
    const int64_t row = idx[k] < 0 ? idx[k] + 161 : idx[k];
    SCOPED_TRACE(row);
    EXPECT_EQ(a[k], arrow::values<int64_t>(*frame.chunks[0])[row]);
    EXPECT_EQ(r[k], arrow::values<float>(*reward.chunks[0])[row]);
    EXPECT_EQ(d[k], arrow::bool_value(*done.chunks[0], row) ? 1 : 0);
    const float* st = arrow::values<float>(*state.chunks[0]->children[0]);
    EXPECT_EQ(o[k * 3 + 0], static_cast<double>(st[row * 2]));
    EXPECT_EQ(o[k * 3 + 1], static_cast<double>(st[row * 2 + 1]));
    EXPECT_EQ(o[k * 3 + 2], 0.0);
    const float* act = arrow::values<float>(*action.chunks[0]->children[0]);
    EXPECT_EQ(q[k * 4 + 0], act[row * 2]);
    EXPECT_EQ(q[k * 4 + 1], act[row * 2 + 1]);
    EXPECT_EQ(q[k * 4 + 2], test::kNegInf);
    const auto& img = *image.chunks[0];
    std::string_view png = arrow::binary_value(*img.children[0], img.offset + row);
    int channels = 0;
    std::vector<uint8_t> want = reference_png_decode(png, &channels);
    ASSERT_EQ(channels, 3);
    ASSERT_EQ(static_cast<int64_t>(want.size()), kPixels);
    int64_t nonzero = 0;
    for (int64_t j = 0; j < kPixels; ++j) {
      ASSERT_EQ(px[k * (kPixels + 5) + j], want[static_cast<size_t>(j)]) << "pixel " << j;
      nonzero += want[static_cast<size_t>(j)] != 0;
    }
    EXPECT_GT(nonzero, kPixels / 2);
    for (int64_t j = kPixels; j < kPixels + 5; ++j) EXPECT_EQ(px[k * (kPixels + 5) + j], 0);
  }
}

TEST(RealData, PushtPixelsAppendedRoundTripThroughToDatasetAndSaveToDisk) {
  MOUSE_REQUIRE_TESTDATA();
  Dataset real = Dataset::load_from_disk(hf_dir() / "lerobot-pusht_image/train");
  StoreConfig config;
  config.validate = false;  // row-numbered actions, past max_action_dim
  config.max_action_dim = 2;
  config.max_obs_continuous_dim = 2;
  config.max_obs_image_pixels = 96 * 96 * 3;
  config.obs_image_dtype = DType::kUInt8;
  DatasetStore source(config);
  source.from_dataset(relabelled_pusht(real));
  // Append the first 20 steps again as rows with decoded pixels (what an online actor does).
  DatasetStore store(config);
  auto image = real.column("observation.image");
  for (int64_t row = 0; row < 20; ++row) {
    std::vector<int64_t> one{row};
    TensorDict step = source.get(one);
    StepRow r;
    r["action"] = values_of<int64_t>(step.at("action"))[0];
    r["reward"] = static_cast<double>(values_of<float>(step.at("reward"))[0]);
    r["done"] = values_of<int64_t>(step.at("done"))[0];
    auto obs = values_of<double>(step.at("obs_continuous"));
    r["observation"] = StepValue::list(obs);
    int channels = 0;
    const auto& img = *image.chunks[0];
    r["observation_image"] = ImagePixels{
        96, 96, 3, reference_png_decode(arrow::binary_value(*img.children[0], img.offset + row), &channels)};
    store.append(r);
  }
  auto idx = iota(20);
  TensorDict want = store.get(idx);
  auto pixels_from_source = values_of<uint8_t>(source.get(idx).at("obs_image"));
  EXPECT_EQ(values_of<uint8_t>(want.at("obs_image")), pixels_from_source);
  test::TempDir dir;
  store.to_dataset().save_to_disk(dir / "pusht_buffer");
  DatasetStore again(config);
  again.from_dataset(Dataset::load_from_disk(dir / "pusht_buffer"));
  EXPECT_TRUE(again.get(idx).equals(want));
}

}  // namespace
}  // namespace mouse
