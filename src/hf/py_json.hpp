// JSON text exactly as Python's `json.dumps` writes it, so the files and schema metadata we write
// are byte-identical to what `datasets` writes: ", " / ": " separators (or "," + newline and ": "
// with an indent), non-ASCII escaped as \uXXXX (ensure_ascii), floats in `repr` form.
#pragma once

#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>

namespace mouse::detail {

/// `json.dumps(value)` (indent < 0) or `json.dumps(value, indent=indent)`. Object keys keep
/// their order. Invalid UTF-8 in strings is written as U+FFFD.
std::string py_dumps(const nlohmann::ordered_json& value, int indent = -1);

/// Reads and parses a JSON file. IoError if it cannot be read; FormatError naming the file and
/// the byte offset if it is not valid JSON.
nlohmann::ordered_json read_json_file(const std::filesystem::path& path);

/// A short one-line excerpt of `value` as JSON for error messages (invalid UTF-8 replaced).
std::string json_excerpt(const nlohmann::ordered_json& value);

/// Parses JSON text; FormatError naming `source` on a syntax error.
nlohmann::ordered_json parse_json(std::string_view text, const std::string& source);

}  // namespace mouse::detail
