// Features: parsing every feature form, Arrow mapping, inference, lossless JSON, errors.
#include <gtest/gtest.h>

#include "hf/features.hpp"
#include "hf/py_json.hpp"
#include "hf_test_util.hpp"

namespace mouse {
namespace {

using test::ojson;

std::string one(const std::string& feature_json) {
  return fmt::format("{{\"c\": {}}}", feature_json);
}

arrow::TypePtr arrow_of(const std::string& feature_json) {
  return Features::from_json(one(feature_json)).arrow_type("c");
}

std::string type_of(const std::string& feature_json) {
  return Features::from_json(one(feature_json)).type_of("c");
}

TEST(PyDumps, WritesPythonSeparatorsAndAsciiEscapes) {
  auto j = ojson::parse(R"({"b": [1, 2.5, "x\u00e9\ud83d\ude00\n\u007f"], "a": {}, "n": null, "t": true, "e": []})");
  EXPECT_EQ(detail::py_dumps(j),
            R"({"b": [1, 2.5, "x\u00e9\ud83d\ude00\n\u007f"], "a": {}, "n": null, "t": true, "e": []})");
  EXPECT_EQ(detail::py_dumps(ojson::parse(R"({"a": [1, {"b": null}], "c": {}})"), 2),
            "{\n  \"a\": [\n    1,\n    {\n      \"b\": null\n    }\n  ],\n  \"c\": {}\n}");
}

TEST(PyDumps, FloatsUseReprForm) {
  auto dump = [](double v) { return detail::py_dumps(ojson(v)); };
  EXPECT_EQ(dump(1.0), "1.0");
  EXPECT_EQ(dump(-0.0), "-0.0");
  EXPECT_EQ(dump(0.1), "0.1");
  EXPECT_EQ(dump(0.0001), "0.0001");
  EXPECT_EQ(dump(0.00001), "1e-05");
  EXPECT_EQ(dump(1.5e-7), "1.5e-07");
  EXPECT_EQ(dump(1e15), "1000000000000000.0");
  EXPECT_EQ(dump(1e16), "1e+16");
  EXPECT_EQ(dump(123456.789), "123456.789");
  EXPECT_EQ(dump(1.2345e20), "1.2345e+20");
  EXPECT_EQ(dump(std::numeric_limits<double>::infinity()), "Infinity");
}

TEST(Features, ValueDtypesMapToArrowTypes) {
  const std::pair<const char*, arrow::TypePtr> cases[] = {
      {"bool", arrow::boolean()},      {"int8", arrow::int8()},
      {"int16", arrow::int16()},       {"int32", arrow::int32()},
      {"int64", arrow::int64()},       {"uint8", arrow::uint8()},
      {"uint16", arrow::uint16()},     {"uint32", arrow::uint32()},
      {"uint64", arrow::uint64()},     {"float16", arrow::float16()},
      {"float32", arrow::float32()},   {"float64", arrow::float64()},
      {"float", arrow::float32()},     {"double", arrow::float64()},
      {"string", arrow::utf8()},       {"large_string", arrow::large_utf8()},
      {"binary", arrow::binary()},     {"large_binary", arrow::large_binary()},
      {"null", arrow::null()},         {"utf8", arrow::utf8()},
  };
  for (const auto& [dtype, type] : cases) {
    auto t = arrow_of(fmt::format(R"({{"dtype": "{}", "_type": "Value"}})", dtype));
    EXPECT_TRUE(t->equals(*type)) << dtype << " -> " << t->to_string();
  }
  EXPECT_EQ(type_of(R"({"dtype": "float", "_type": "Value"})"), "Value(float32)");
  EXPECT_EQ(type_of(R"({"dtype": "double", "_type": "Value"})"), "Value(float64)");
}

TEST(Features, SequenceWithLengthIsFixedSizeListWithoutIsList) {
  auto fixed = arrow_of(R"({"feature": {"dtype": "float32", "_type": "Value"}, "length": 4, "_type": "Sequence"})");
  EXPECT_EQ(fixed->to_string(), "fixed_size_list<item: float>[4]");
  auto var = arrow_of(R"({"feature": {"dtype": "string", "_type": "Value"}, "_type": "Sequence"})");
  EXPECT_EQ(var->to_string(), "list<item: string>");
  auto minus_one = arrow_of(R"({"feature": {"dtype": "int64", "_type": "Value"}, "length": -1, "_type": "Sequence"})");
  EXPECT_EQ(minus_one->to_string(), "list<item: int64>");
  EXPECT_EQ(type_of(R"({"feature": {"dtype": "float32", "_type": "Value"}, "length": 4, "_type": "Sequence"})"),
            "Sequence(Value(float32), length=4)");
}

TEST(Features, SequenceOfDictIsDictOfLists) {
  const std::string j =
      R"({"feature": {"a": {"dtype": "int64", "_type": "Value"}, "b": {"feature": {"dtype": "float32", "_type": "Value"}, "_type": "Sequence"}}, "length": 2, "_type": "Sequence"})";
  EXPECT_EQ(arrow_of(j)->to_string(),
            "struct<a: fixed_size_list<item: int64>[2], b: fixed_size_list<item: list<item: float>>[2]>");
  EXPECT_EQ(type_of(j), "Sequence({a: Value(int64), b: Sequence(Value(float32))}, length=2)");
}

TEST(Features, DatasetsFourListAndLargeList) {
  EXPECT_EQ(arrow_of(R"({"feature": {"dtype": "int32", "_type": "Value"}, "_type": "List"})")->to_string(),
            "list<item: int32>");
  EXPECT_EQ(arrow_of(R"({"feature": {"dtype": "int32", "_type": "Value"}, "length": 3, "_type": "List"})")->to_string(),
            "fixed_size_list<item: int32>[3]");
  // A List of a dict is a list of structs (unlike a Sequence of a dict).
  EXPECT_EQ(arrow_of(R"({"feature": {"x": {"dtype": "int32", "_type": "Value"}}, "_type": "List"})")->to_string(),
            "list<item: struct<x: int32>>");
  EXPECT_EQ(arrow_of(R"({"feature": {"dtype": "int32", "_type": "Value"}, "_type": "LargeList"})")->to_string(),
            "large_list<item: int32>");
  EXPECT_EQ(type_of(R"({"feature": {"dtype": "int32", "_type": "Value"}, "_type": "LargeList"})"),
            "LargeList(Value(int32))");
}

TEST(Features, ImageClassLabelDictAndListLiteral) {
  EXPECT_EQ(arrow_of(R"({"_type": "Image"})")->to_string(), "struct<bytes: binary, path: string>");
  EXPECT_EQ(type_of(R"({"decode": true, "id": null, "_type": "Image"})"), "Image()");
  EXPECT_EQ(arrow_of(R"({"names": ["a", "b"], "_type": "ClassLabel"})")->to_string(), "int64");
  auto f = Features::from_json(one(R"({"names": ["neg", "pos"], "_type": "ClassLabel"})"));
  EXPECT_EQ(f.class_names("c"), (std::vector<std::string>{"neg", "pos"}));
  EXPECT_EQ(f.type_of("c"), "ClassLabel(num_classes=2)");
  auto g = Features::from_json(one(R"({"num_classes": 3, "_type": "ClassLabel"})"));
  EXPECT_EQ(g.class_names("c"), (std::vector<std::string>{"0", "1", "2"}));
  EXPECT_EQ(arrow_of(R"({"x": {"dtype": "int8", "_type": "Value"}, "y": {"_type": "Image"}})")->to_string(),
            "struct<x: int8, y: struct<bytes: binary, path: string>>");
  EXPECT_EQ(arrow_of(R"([{"dtype": "int8", "_type": "Value"}])")->to_string(), "list<item: int8>");
  EXPECT_EQ(type_of(R"([{"x": {"dtype": "int8", "_type": "Value"}}])"), "[{x: Value(int8)}]");
  EXPECT_THROW_MSG(Features::from_json(one(R"({"dtype": "int8", "_type": "Value"})")).class_names("c"),
                   InvalidArgument, "not a ClassLabel");
}

TEST(Features, ColumnNamedTypeIsAStructMember) {
  // "_type" holding an object is a column named "_type", as in datasets.
  auto t = arrow_of(R"({"_type": {"dtype": "int8", "_type": "Value"}})");
  EXPECT_EQ(t->to_string(), "struct<_type: int8>");
}

TEST(Features, UnknownTypeIsKeptOpaque) {
  auto f = Features::from_json(R"({"video": {"_type": "VideoFrame"}, "x": {"dtype": "int64", "_type": "Value"}})");
  EXPECT_EQ(f.type_of("video"), "VideoFrame(unsupported)");
  EXPECT_FALSE(f.is_supported("video"));
  EXPECT_TRUE(f.is_supported("x"));
  EXPECT_THROW_MSG(f.arrow_type("video"), InvalidArgument, "VideoFrame");
  EXPECT_THROW_MSG(f.require_supported("video"), InvalidArgument, "column \"video\" has feature type \"VideoFrame\"");
  EXPECT_EQ(f.to_json(), R"({"video": {"_type": "VideoFrame"}, "x": {"dtype": "int64", "_type": "Value"}})");
  // Nested unknown features are found too.
  auto g = Features::from_json(one(R"({"feature": {"_type": "Audio"}, "_type": "Sequence"})"));
  EXPECT_THROW_MSG(g.require_supported("c"), InvalidArgument, "\"Audio\"");
}

TEST(Features, UnknownTypeTakesItsArrowTypeFromData) {
  auto schema = std::make_shared<arrow::Schema>();
  auto vt = arrow::struct_({{"path", arrow::utf8(), true, {}}, {"timestamp", arrow::float32(), true, {}}});
  schema->fields = {{"video", vt, true, {}}};
  auto ds = Dataset::from_batches(schema, {}, Features::from_json(R"({"video": {"_type": "VideoFrame"}})"));
  EXPECT_TRUE(ds.features().arrow_type("video")->equals(*vt));
  EXPECT_EQ(ds.features().to_json(), R"({"video": {"_type": "VideoFrame"}})");
}

TEST(Features, ToJsonIsLossless) {
  const std::string j =
      R"({"a": {"dtype": "float", "id": null, "_type": "Value"}, "b": {"feature": {"dtype": "int64", "_type": "Value"}, "length": -1, "id": null, "_type": "Sequence"}, "c": {"num_classes": 2, "names": ["x", "\u00e9"], "names_file": null, "id": null, "_type": "ClassLabel"}, "d": [{"z": {"_type": "Image", "decode": true}}], "e": {"_type": "VideoFrame", "fps": 10.0}})";
  EXPECT_EQ(Features::from_json(j).to_json(), j);
}

TEST(Features, InferredFromArrowAsDatasetsWould) {
  using test::item;
  auto schema = std::make_shared<arrow::Schema>();
  schema->fields = {
      {"i", arrow::int64(), true, {}},
      {"s", arrow::utf8(), true, {}},
      {"fixed", arrow::fixed_size_list(item(arrow::float32()), 4), true, {}},
      {"var", arrow::list(item(arrow::utf8())), true, {}},
      {"large", arrow::large_list(item(arrow::int8())), true, {}},
      {"st", arrow::struct_({{"a", arrow::boolean(), true, {}}}), true, {}},
      {"lst_st", arrow::list(item(arrow::struct_({{"a", arrow::int32(), true, {}}}))), true, {}},
      {"fsl_st", arrow::fixed_size_list(item(arrow::struct_({{"a", arrow::int32(), true, {}}})), 2), true, {}},
  };
  auto f = Features::from_schema(*schema);
  EXPECT_EQ(
      f.to_json(),
      R"({"i": {"dtype": "int64", "_type": "Value"}, )"
      R"("s": {"dtype": "string", "_type": "Value"}, )"
      R"("fixed": {"feature": {"dtype": "float32", "_type": "Value"}, "length": 4, "_type": "Sequence"}, )"
      R"("var": {"feature": {"dtype": "string", "_type": "Value"}, "_type": "Sequence"}, )"
      R"("large": {"feature": {"dtype": "int8", "_type": "Value"}, "_type": "LargeList"}, )"
      R"("st": {"a": {"dtype": "bool", "_type": "Value"}}, )"
      R"("lst_st": [{"a": {"dtype": "int32", "_type": "Value"}}], )"
      R"("fsl_st": {"feature": {"a": {"dtype": "int32", "_type": "Value"}}, "length": 2, "_type": "List"}})");
  // Parsing the inferred JSON gives back the same Arrow types.
  auto back = Features::from_json(f.to_json());
  for (const auto& field : schema->fields) {
    EXPECT_TRUE(back.arrow_type(field.name)->equals(*field.type)) << field.name;
  }
  EXPECT_TRUE(back == f);
}

TEST(Features, SequenceEqualsDatasetsFourList) {
  auto a = Features::from_json(one(R"({"feature": {"dtype": "int64", "_type": "Value"}, "_type": "Sequence"})"));
  auto b = Features::from_json(one(R"({"feature": {"dtype": "int64", "_type": "Value"}, "_type": "List"})"));
  auto c = Features::from_json(one(R"([{"dtype": "int64", "_type": "Value"}])"));
  auto d = Features::from_json(one(R"({"feature": {"dtype": "int32", "_type": "Value"}, "_type": "List"})"));
  EXPECT_TRUE(a == b);
  EXPECT_TRUE(a == c);
  EXPECT_FALSE(a == d);
}

TEST(Features, MalformedFeaturesAreFormatErrorsNamingTheColumn) {
  EXPECT_THROW_MSG(Features::from_json(R"({"obs": {"dtype": "timestamp[s]", "_type": "Value"}})", "info.json"),
                   FormatError, "column \"obs\": Value dtype \"timestamp[s]\" is not supported");
  EXPECT_THROW_MSG(Features::from_json(R"({"obs": {"dtype": "timestamp[s]", "_type": "Value"}})", "info.json"),
                   FormatError, "info.json");
  EXPECT_THROW_MSG(Features::from_json(R"({"obs": {"_type": "Sequence"}})"), FormatError,
                   "column \"obs\": a Sequence needs a \"feature\"");
  EXPECT_THROW_MSG(Features::from_json(R"({"obs": {"_type": "Value"}})"), FormatError, "dtype");
  EXPECT_THROW_MSG(Features::from_json(R"({"obs": []})"), FormatError, "exactly one feature");
  EXPECT_THROW_MSG(Features::from_json(R"({"obs": 3})"), FormatError, "found number");
  EXPECT_THROW_MSG(Features::from_json(R"({"obs": {"_type": 3}})"), FormatError, "\"_type\" must be a string");
  EXPECT_THROW_MSG(Features::from_json(R"({"obs": {"feature": {"dtype": "int8", "_type": "Value"}, "length": "x", "_type": "Sequence"}})"),
                   FormatError, "\"length\" must be an integer");
  EXPECT_THROW_MSG(Features::from_json(R"({"obs": {"feature": {"x": {"dtype": "bad", "_type": "Value"}}, "_type": "Sequence"}})"),
                   FormatError, "column \"obs\", feature, member \"x\"");
  EXPECT_THROW_MSG(Features::from_json(R"([1, 2])"), FormatError, "expected an object");
  EXPECT_THROW_MSG(Features::from_json(R"({"obs": )"), FormatError, "invalid JSON");
}

TEST(Features, UnknownColumnIsKeyErrorListingColumns) {
  auto f = Features::from_json(R"({"a": {"dtype": "int8", "_type": "Value"}, "b": {"_type": "Image"}})");
  EXPECT_THROW_MSG(f.type_of("zz"), KeyError, "column \"zz\" not found; available columns: [\"a\", \"b\"]");
  EXPECT_THROW_MSG(f.arrow_type("zz"), KeyError, "\"zz\"");
  EXPECT_EQ(f.names(), (std::vector<std::string>{"a", "b"}));
  EXPECT_TRUE(f.contains("b"));
  EXPECT_EQ(f.size(), 2u);
}

TEST(Features, MatchingReordersDictMembersLikeDatasets) {
  auto f = detail::parse_features(
      ojson::parse(R"({"s": {"b": {"dtype": "int8", "_type": "Value"}, "a": {"dtype": "string", "_type": "Value"}}})"),
      "test");
  arrow::Schema schema;
  schema.fields = {{"s", arrow::struct_({{"a", arrow::utf8(), true, {}}, {"b", arrow::int8(), true, {}}}), true, {}}};
  std::string error;
  auto matched = detail::match_features(*f, schema, error);
  ASSERT_TRUE(matched) << error;
  EXPECT_EQ(detail::py_dumps(matched->to_json()),
            R"({"s": {"a": {"dtype": "string", "_type": "Value"}, "b": {"dtype": "int8", "_type": "Value"}}})");
}

TEST(Features, MismatchWithDataNamesTheColumn) {
  auto f = detail::parse_features(
      ojson::parse(R"({"x": {"feature": {"dtype": "float32", "_type": "Value"}, "length": 2, "_type": "Sequence"}, "y": {"dtype": "int64", "_type": "Value"}})"),
      "test");
  arrow::Schema schema;
  schema.fields = {{"x", arrow::fixed_size_list(test::item(arrow::float32()), 3), true, {}},
                   {"y", arrow::int64(), true, {}}};
  std::string error;
  EXPECT_FALSE(detail::match_features(*f, schema, error));
  EXPECT_NE(error.find("column \"x\": features say Sequence(Value(float32), length=2)"), std::string::npos) << error;
  EXPECT_NE(error.find("fixed_size_list<item: float>[3]"), std::string::npos) << error;

  arrow::Schema fewer;
  fewer.fields = {{"x", arrow::fixed_size_list(test::item(arrow::float32()), 2), true, {}}};
  error.clear();
  EXPECT_FALSE(detail::match_features(*f, fewer, error));
  EXPECT_NE(error.find("column \"y\" is in the features but not in the data"), std::string::npos) << error;

  arrow::Schema more = schema;
  more.fields[0].type = arrow::fixed_size_list(test::item(arrow::float32()), 2);
  more.fields.push_back({"z", arrow::int8(), true, {}});
  error.clear();
  EXPECT_FALSE(detail::match_features(*f, more, error));
  EXPECT_NE(error.find("column \"z\" is in the data but not in the features"), std::string::npos) << error;
}

TEST(Features, ListItemNamesDoNotMatter) {
  auto f = detail::parse_features(
      ojson::parse(R"({"x": {"feature": {"dtype": "int32", "_type": "Value"}, "_type": "Sequence"}})"), "test");
  arrow::Schema schema;
  schema.fields = {{"x", arrow::list({"element", arrow::int32(), true, {}}), true, {}}};
  std::string error;
  auto matched = detail::match_features(*f, schema, error);
  ASSERT_TRUE(matched) << error;
  EXPECT_EQ(matched->columns[0].second->type->children[0].name, "element");
}

}  // namespace
}  // namespace mouse
