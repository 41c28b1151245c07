// Record shredding in reverse: definition/repetition levels plus non-null values -> Arrow
// arrays with validity bitmaps and list offsets.
#pragma once

#include <string>
#include <vector>

#include "format/parquet/schema.hpp"

namespace mouse::parquet::detail {

/// Builds the Arrow array of `node` from the decoded chunks `leaves` (indexed like
/// SchemaPlan::leaves; only the leaves under `node` need to be filled). Throws FormatError
/// naming `source` and `where` when the levels of different leaves disagree, values run out or
/// are left over. The values of `leaves` may be moved into the result.
arrow::ArrayPtr assemble(const Node& node, std::vector<LeafData>& leaves,
                         const std::vector<LeafInfo>& infos, const std::string& source,
                         const std::string& where);

}  // namespace mouse::parquet::detail
