// Parquet schema -> Arrow schema, plus the level thresholds the assembler needs to turn
// definition/repetition levels back into validity bitmaps and list offsets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "format/parquet/column_reader.hpp"
#include "format/parquet/metadata.hpp"
#include "mouse/arrow.hpp"

namespace mouse::parquet::detail {

/// One Arrow node (column, struct member or list item) and where its data lives in the levels.
/// Its elements are the level entries with def >= def_ctx and rep <= rep_ctx (one per slot of
/// its parent); an element is non-null when def >= def_present. A list's items are the entries
/// with def >= list_def and rep <= list_rep inside each element.
struct Node {
  enum class Kind { kLeaf, kStruct, kList };
  Kind kind = Kind::kLeaf;
  std::string name;
  bool nullable = false;
  int16_t def_ctx = 0, rep_ctx = 0;
  int16_t def_present = 0;
  int16_t list_def = 0, list_rep = 0;
  int leaf = -1;        ///< kLeaf: index into SchemaPlan::leaves (= column chunk index)
  int first_leaf = -1;  ///< the leaf whose levels this node's structure is read from
  std::vector<Node> children;
  arrow::TypePtr type;
  /// Non-empty when this node (or a descendant) has a type mouse-data cannot represent.
  std::string unsupported;
};

/// The converted schema: top-level nodes and the leaves in column-chunk order.
struct SchemaPlan {
  std::vector<Node> fields;
  std::vector<LeafInfo> leaves;
  /// Leaves under each top-level field, [begin, end) into `leaves`.
  std::vector<std::pair<int, int>> leaf_ranges;
};

/// Converts the flattened schema of `meta`. Throws FormatError (naming `source`) for a
/// malformed tree (bad child counts, missing types, nesting too deep, a LIST without a repeated
/// child). Unsupported leaf types are not errors here; they are recorded in Node::unsupported.
SchemaPlan build_schema(const FileMetaData& meta, const std::string& source);

/// Collects the leaf indices under `node`.
void collect_leaves(const Node& node, std::vector<int>& out);

}  // namespace mouse::parquet::detail
