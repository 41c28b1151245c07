// The "ARROW:schema" key pyarrow (and the Hub) store in Parquet files: the Arrow types the
// columns had before writing (large_string, fixed_size_list for HF Sequence(length=N), ...).
// The reader uses it to give columns those types back where the Parquet types are compatible.
#pragma once

#include <memory>
#include <string>
#include <string_view>

#include "mouse/arrow.hpp"

namespace mouse::parquet::detail {

/// Decodes the base64 IPC schema message; nullptr if it is missing or unreadable (the key is a
/// hint: files without it, or with a broken one, are read with the Parquet types).
std::shared_ptr<const arrow::Schema> decode_arrow_schema(std::string_view base64);

/// The type to give a column read as `ours` when the file's Arrow schema says `hint`: `hint`'s
/// large/fixed-size variants and child names where the structure matches, otherwise `ours`.
arrow::TypePtr restore_type(const arrow::TypePtr& ours, const arrow::TypePtr& hint);

/// Converts `a` (of the type the Parquet schema gives) to `target` (from restore_type): widens
/// offsets, regroups lists into fixed-size lists, renames children. Throws FormatError naming
/// `source` and `where` if a list's length differs from the fixed size the hint declares.
arrow::ArrayPtr cast_to(const arrow::ArrayPtr& a, const arrow::TypePtr& target, const std::string& source,
                        const std::string& where);

}  // namespace mouse::parquet::detail
