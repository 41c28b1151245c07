// JSON text for Arrow values, in the one format scripts and cross-implementation checks rely on:
// null -> null; bool; integers as numbers; floats as numbers (shortest round-trip form of their
// own width) with NaN and +/-infinity as the strings "nan", "inf", "-inf"; strings as JSON
// strings; binary as base64 strings; lists and fixed-size lists as arrays; structs as objects.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "mouse/arrow.hpp"

namespace mouse::arrow {

/// Appends element `i` of `array` to `out` as JSON. Throws FormatError on corrupt offsets.
void append_json_value(std::string& out, const ArrayData& array, int64_t i);

/// Appends a double as JSON per the format above ("nan", "inf", "-inf" for non-finite).
void append_json_number(std::string& out, double value);

/// Appends a float (shortest float32 round-trip form) as JSON per the format above.
void append_json_number(std::string& out, float value);

/// Appends `text` as a quoted, escaped JSON string (UTF-8 passed through; control characters
/// escaped; invalid UTF-8 bytes replaced by U+FFFD so the output is always valid JSON).
void append_json_string(std::string& out, std::string_view text);

/// Standard base64 (RFC 4648, with padding) of `bytes`.
std::string base64_encode(std::string_view bytes);

}  // namespace mouse::arrow
