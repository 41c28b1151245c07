// Record shredding for the writer: Arrow schema -> Parquet schema elements, and Arrow arrays ->
// per-leaf definition levels, repetition levels and non-null values.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format/parquet/encodings.hpp"
#include "format/parquet/metadata.hpp"
#include "mouse/arrow.hpp"

namespace mouse::parquet::detail {

/// A leaf column as the writer sees it.
struct WriteLeaf {
  std::vector<std::string> path;
  int32_t physical_type = 0;
  int32_t type_length = 0;
  arrow::TypeId arrow_type = arrow::TypeId::kNull;
  int16_t max_def = 0;
  int16_t max_rep = 0;
};

/// Levels and values accumulated for one leaf (one row group's worth).
struct LeafBuffer {
  std::vector<int16_t> def, rep;
  Values values;
  int64_t nulls = 0;  ///< entries with def < max_def
  void clear() {
    def.clear();
    rep.clear();
    values.clear();
    nulls = 0;
  }
};

/// The Parquet schema of an Arrow schema, with one shredding plan node per Arrow node.
class Shredder {
 public:
  /// Throws InvalidArgument for a type the writer does not support (null, empty struct).
  explicit Shredder(const arrow::Schema& schema);

  const std::vector<SchemaElement>& elements() const noexcept { return elements_; }
  const std::vector<WriteLeaf>& leaves() const noexcept { return leaves_; }

  /// Appends row `row` of `columns` (one array per top-level field) to `out` (one per leaf).
  void shred_row(const std::vector<arrow::ArrayPtr>& columns, int64_t row,
                 std::vector<LeafBuffer>& out) const;

 private:
  struct PlanNode {
    arrow::TypeId id;
    bool nullable;
    int16_t rep_level = 0;  ///< lists: repetition level of the repeated group
    int leaf = -1;
    int first_leaf = 0, end_leaf = 0;  ///< leaves under this node: [first_leaf, end_leaf)
    int32_t list_size = 0;
    std::vector<PlanNode> children;
  };
  PlanNode add_field(const arrow::Field& f, int16_t def, int16_t rep, std::vector<std::string> path);
  void shred(const PlanNode& n, const arrow::ArrayData& a, int64_t i, int16_t def, int16_t rep,
             std::vector<LeafBuffer>& out) const;
  void empty(const PlanNode& n, int16_t def, int16_t rep, std::vector<LeafBuffer>& out) const;

  std::vector<SchemaElement> elements_;
  std::vector<WriteLeaf> leaves_;
  std::vector<PlanNode> roots_;
};

}  // namespace mouse::parquet::detail
