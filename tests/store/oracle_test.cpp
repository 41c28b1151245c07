// Cross-implementation check: a saved to_dataset() directory (source + appended rows, images,
// nulls) is read by apache-arrow (JS, tests/oracle/read_arrow.mjs) with the expected values.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <sstream>

#include "mouse/arrow_json.hpp"
#include "store/image_codec.hpp"
#include "store_test_util.hpp"

namespace mouse {
namespace {

using nlohmann::json;

std::vector<json> oracle_rows(const std::filesystem::path& file) {
  const auto script = test::oracle_dir() / "read_arrow.mjs";
  auto r = test::run_command(fmt::format("node '{}' '{}'", script.string(), file.string()));
  EXPECT_EQ(r.status, 0) << "oracle failed on " << file;
  std::vector<json> rows;
  std::istringstream lines(r.out);
  std::string line;
  while (std::getline(lines, line)) {
    if (!line.empty()) rows.push_back(json::parse(line));
  }
  return rows;
}

json oracle_schema(const std::filesystem::path& file) {
  const auto script = test::oracle_dir() / "read_arrow.mjs";
  auto r = test::run_command(fmt::format("node '{}' --schema '{}'", script.string(), file.string()));
  EXPECT_EQ(r.status, 0);
  return r.status == 0 ? json::parse(r.out) : json();
}

TEST(StoreOracle, ApacheArrowJsReadsSavedToDataset) {
  MOUSE_REQUIRE_ORACLE();
  // Source: 3 steps with observation fixed_size_list<float>[3] and a variable q_star list.
  DatasetStore store(9, 3);  // actions up to 8 with q-values
  store.from_dataset(test::step_dataset(3, 0, 3));
  // Buffer: rows typed by Python-like values, one without q_star, converted to the source types.
  StepRow a = test::step_row(7, 0.5, 2);
  a["episode_step"] = 11;
  a["observation"] = StepValue::List{1.5, -2.0, 3.25};
  a["metadata_q_star"] = StepValue::List{0.5, 1};
  store.append(a);
  StepRow b = test::step_row(8, -1.25, 0);
  b["observation"] = nullptr;
  store.append(b);
  test::TempDir dir;
  store.to_dataset().save_to_disk(dir / "mixed");
  const auto file = dir / "mixed" / "data-00000-of-00001.arrow";
  ASSERT_TRUE(std::filesystem::exists(file));
  std::vector<json> rows = oracle_rows(file);
  ASSERT_EQ(rows.size(), 5u);
  // Source rows as written by step_dataset.
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(rows[static_cast<size_t>(i)]["action"], i);
    EXPECT_EQ(rows[static_cast<size_t>(i)]["reward"], i / 2.0);
    EXPECT_EQ(rows[static_cast<size_t>(i)]["observation"], (json{i, i + 0.25, i + 0.5}));
  }
  EXPECT_EQ(rows[2]["metadata_q_star"], (json{2, 3}));
  // Appended rows, in the source's column types.
  EXPECT_EQ(rows[3]["action"], 7);
  EXPECT_EQ(rows[3]["reward"], 0.5);
  EXPECT_EQ(rows[3]["done"], 2);
  EXPECT_EQ(rows[3]["episode_step"], 11);
  EXPECT_EQ(rows[3]["observation"], (json{1.5, -2.0, 3.25}));
  EXPECT_EQ(rows[3]["metadata_q_star"], (json{0.5, 1}));
  EXPECT_EQ(rows[4]["action"], 8);
  EXPECT_EQ(rows[4]["reward"], -1.25);
  EXPECT_TRUE(rows[4]["observation"].is_null());
  EXPECT_TRUE(rows[4]["metadata_q_star"].is_null());
  EXPECT_TRUE(rows[4]["episode_step"].is_null());
  json schema = oracle_schema(file);
  EXPECT_EQ(schema["fields"][4]["name"], "observation");
  EXPECT_EQ(schema["fields"][4]["type"], "fixed_size_list<item: float>[3]");
  EXPECT_EQ(schema["fields"][1]["type"], "float");
}

TEST(StoreOracle, ApacheArrowJsReadsAppendedImagesAsPngImageStructs) {
  MOUSE_REQUIRE_ORACLE();
  DatasetStore store(2, 0, 0, 64);
  ImagePixels px{3, 2, 3, {}};
  for (int i = 0; i < 18; ++i) px.pixels.push_back(static_cast<uint8_t>(i * 13));
  StepRow r0 = test::step_row(1, 1.0, 0);
  r0["observation_image"] = px;
  r0["tag"] = "first";
  store.append(r0);
  StepRow r1 = test::step_row(2, 2.0, 1);
  r1["observation_discrete"] = StepValue::List{1, 2};
  store.append(r1);
  test::TempDir dir;
  store.to_dataset().save_to_disk(dir / "img");
  const auto file = dir / "img" / "data-00000-of-00001.arrow";
  std::vector<json> rows = oracle_rows(file);
  ASSERT_EQ(rows.size(), 2u);
  const std::string png = detail::encode_png(px.pixels.data(), px.pixels.size(), 3, 2, 3);
  EXPECT_EQ(rows[0]["observation_image"]["bytes"], arrow::base64_encode(png));
  EXPECT_TRUE(rows[0]["observation_image"]["path"].is_null());
  EXPECT_TRUE(rows[1]["observation_image"].is_null());
  EXPECT_EQ(rows[0]["tag"], "first");
  EXPECT_TRUE(rows[1]["tag"].is_null());
  EXPECT_TRUE(rows[0]["observation_discrete"].is_null());
  EXPECT_EQ(rows[1]["observation_discrete"], (json{1, 2}));
  json schema = oracle_schema(file);
  const auto features = json::parse(schema["metadata"]["huggingface"].get<std::string>())["info"]["features"];
  EXPECT_EQ(features["observation_image"], (json{{"_type", "Image"}}));
  bool found = false;
  for (const auto& f : schema["fields"]) {
    if (f["name"] == "observation_image") {
      found = true;
      EXPECT_EQ(f["type"], "struct<bytes: binary, path: string>");
    }
  }
  EXPECT_TRUE(found);
}

}  // namespace
}  // namespace mouse
