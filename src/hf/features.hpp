// The Hugging Face `datasets` feature tree: what dataset_info.json["features"] (and the
// `huggingface` schema metadata) say each column is, and how that maps to Arrow types.
//
// Accepted forms (both older and datasets >= 4 writers):
//   {"dtype": D, "_type": "Value"}                     D: bool, int8..int64, uint8..uint64,
//                                                      float16/32/64 ("float", "double"), string,
//                                                      large_string, binary, large_binary, null
//   {"names": [...], "_type": "ClassLabel"}            -> int64
//   {"feature": F, "length": N?, "_type": "Sequence"}  -> list / fixed_size_list[N]; a Sequence of
//                                                      a dict is a struct of Sequences (tfds rule)
//   {"feature": F, "length": N?, "_type": "List"}      -> list / fixed_size_list[N] (datasets >= 4)
//   {"feature": F, "_type": "LargeList"}               -> large_list
//   {"_type": "Image", ...}                            -> struct<bytes: binary, path: string>
//   {name: F, ...} (no "_type")                        -> struct
//   [F]                                                -> list
// Any other "_type" (LeRobot's VideoFrame, Audio, Array2D...) is kept as an *unknown* feature:
// loading works and its Arrow type is taken from the data; interpreting it is an error
// (InvalidArgument naming the column and the type), see Features::require_supported.
//
// Every node keeps the JSON it was read from, so writing features back is lossless.
#pragma once

#include <cstdint>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "mouse/arrow.hpp"

namespace mouse::detail {

enum class FeatureKind {
  kValue,
  kClassLabel,
  kSequence,     ///< "_type": "Sequence" (older writers; datasets 4 still reads it)
  kList,         ///< "_type": "List" (datasets >= 4)
  kLargeList,    ///< "_type": "LargeList"
  kListLiteral,  ///< [F]
  kImage,
  kStruct,       ///< a plain dict
  kUnknown,      ///< any other "_type": opaque, typed by the data
};

struct Feature;
using FeaturePtr = std::shared_ptr<const Feature>;

/// One node of the feature tree. Immutable once built.
struct Feature {
  FeatureKind kind = FeatureKind::kValue;
  /// "_type" as written ("Value", "Sequence", "VideoFrame"...); empty for dicts and [F].
  std::string type_name;
  /// Value: the dtype, with the aliases "float"/"double" normalised to float32/float64.
  std::string dtype;
  /// Sequence / List: fixed length, or -1 for variable-length lists.
  int64_t length = -1;
  /// ClassLabel: the class names.
  std::vector<std::string> class_names;
  /// Sequence / List / LargeList / [F]: the item feature.
  FeaturePtr item;
  /// Dict: the members in order.
  std::vector<std::pair<std::string, FeaturePtr>> members;
  /// The Arrow storage type. Null while an unknown feature inside has not been matched with data.
  arrow::TypePtr type;
  /// The JSON this node was read from (or generated from an Arrow type); written back as is.
  nlohmann::ordered_json json;
};

/// An ordered column name -> feature map (the top level of `features`).
struct FeaturesImpl {
  std::vector<std::pair<std::string, FeaturePtr>> columns;

  /// The feature of column `name`, or nullptr.
  const Feature* find(std::string_view name) const noexcept;
  /// {"col": <json>, ...} in column order.
  nlohmann::ordered_json to_json() const;
};

/// Parses one feature; `path` names it in errors ("column \"x\"" ...), `source` is the file.
/// Throws FormatError(source, -1, "<path>: <what was expected, what was found>").
FeaturePtr parse_feature(const nlohmann::ordered_json& json, const std::string& path,
                         const std::string& source);

/// Parses a whole `features` object. FormatError naming `source` when it is not an object or a
/// feature is malformed.
std::shared_ptr<FeaturesImpl> parse_features(const nlohmann::ordered_json& json,
                                             const std::string& source);

/// The feature `datasets` would infer for an Arrow type: Value for primitives, Sequence (with
/// length for fixed_size_list) for lists of non-structs, [F] for list<struct>, LargeList for
/// large_list, a dict for struct; fixed_size_list<struct> becomes List(F, length) because the
/// older Sequence form cannot express it (a Sequence of a dict is a struct of lists).
FeaturePtr infer_feature(const arrow::TypePtr& type);

/// Features inferred from every field of `schema`.
std::shared_ptr<FeaturesImpl> infer_features(const arrow::Schema& schema);

/// Matches `feature` with the Arrow type `actual` of the data: fills in the types of unknown
/// features, reorders dict members to the data's order (as datasets' reorder_fields_as) and
/// checks everything else. On success returns the matched feature (its `type` is `actual`) and
/// leaves `error` empty; otherwise returns nullptr and sets `error` to a message starting with
/// `path`.
FeaturePtr match_feature(const FeaturePtr& feature, const arrow::TypePtr& actual,
                         const std::string& path, std::string& error);

/// Matches every column of `features` with the fields of `schema` (by name; the result is in
/// schema order). Returns nullptr and sets `error` (naming the column) on a mismatch, a column
/// missing from either side.
std::shared_ptr<FeaturesImpl> match_features(const FeaturesImpl& features,
                                             const arrow::Schema& schema, std::string& error);

/// Readable form: "Value(int64)", "Sequence(Value(float32), length=4)", "List(Value(int64))",
/// "LargeList(...)", "[Value(int64)]", "ClassLabel(num_classes=2)", "Image()",
/// "{a: Value(int64), b: Image()}", "VideoFrame(unsupported)".
std::string describe(const Feature& feature);

/// The first unknown feature inside `feature` (itself included), or nullptr.
const Feature* find_unknown(const Feature& feature) noexcept;

/// Whether two features describe the same column (a Sequence and a List with the same item
/// and length are the same; JSON spelling is ignored).
bool same_feature(const Feature& a, const Feature& b) noexcept;

/// Arrow type equality for features: like DataType::equals but ignores the names of list item
/// fields (pyarrow calls them "item", other writers "element").
bool storage_equal(const arrow::DataType& a, const arrow::DataType& b) noexcept;

}  // namespace mouse::detail
