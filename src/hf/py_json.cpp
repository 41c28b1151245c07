#include "hf/py_json.hpp"

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstring>
#include <fmt/format.h>

#include "core/checked_file.hpp"
#include "mouse/error.hpp"

namespace mouse::detail {

namespace {

// Decodes the UTF-8 sequence at s[i]; returns its length, or 0 (cp untouched) if invalid.
size_t decode_utf8(std::string_view s, size_t i, uint32_t& cp) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char c = byte(i);
  size_t n;
  uint32_t v;
  if (c < 0x80) {
    cp = c;
    return 1;
  }
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    v = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    v = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    v = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    v = (v << 6) | (byte(i + k) & 0x3F);
  }
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (v < kMin[n] || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  cp = v;
  return n;
}

void append_u16(std::string& out, uint32_t unit) { fmt::format_to(std::back_inserter(out), "\\u{:04x}", unit); }

// Python's ensure_ascii escaping: everything outside ' '..'~' is escaped.
void append_string(std::string& out, std::string_view s) {
  out += '"';
  for (size_t i = 0; i < s.size();) {
    uint32_t cp = 0xFFFD;
    size_t n = decode_utf8(s, i, cp);
    if (n == 0) n = 1;  // invalid byte: U+FFFD, as Python's "replace" decoding would give
    i += n;
    switch (cp) {
      case '"': out += "\\\""; continue;
      case '\\': out += "\\\\"; continue;
      case '\n': out += "\\n"; continue;
      case '\r': out += "\\r"; continue;
      case '\t': out += "\\t"; continue;
      case '\b': out += "\\b"; continue;
      case '\f': out += "\\f"; continue;
      default: break;
    }
    if (cp >= 0x20 && cp <= 0x7E) {
      out += static_cast<char>(cp);
    } else if (cp < 0x10000) {
      append_u16(out, cp);
    } else {
      const uint32_t v = cp - 0x10000;
      append_u16(out, 0xD800 | (v >> 10));
      append_u16(out, 0xDC00 | (v & 0x3FF));
    }
  }
  out += '"';
}

// Python's float repr: shortest round-trip digits; scientific notation when the decimal
// exponent is < -4 or >= 16 ("1e-05", "1e+16"), otherwise positional with at least ".0".
void append_float(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "Infinity" : "-Infinity";
    return;
  }
  char buf[64];
  auto res = std::to_chars(buf, buf + sizeof buf, v, std::chars_format::scientific);
  std::string_view sci(buf, static_cast<size_t>(res.ptr - buf));
  bool negative = false;
  if (!sci.empty() && sci.front() == '-') {
    negative = true;
    sci.remove_prefix(1);
  }
  const size_t e_pos = sci.find('e');
  std::string_view mantissa = sci.substr(0, e_pos);
  int exponent = std::atoi(std::string(sci.substr(e_pos + 1)).c_str());
  std::string digits;
  for (char c : mantissa) {
    if (c != '.') digits += c;
  }
  if (negative) out += '-';
  if (exponent < -4 || exponent >= 16) {
    out += digits[0];
    if (digits.size() > 1) {
      out += '.';
      out.append(digits, 1);
    }
    fmt::format_to(std::back_inserter(out), "e{}{:02d}", exponent < 0 ? '-' : '+',
                   std::abs(exponent));
    return;
  }
  const int point = exponent + 1;  // digits before the decimal point
  if (point <= 0) {
    out += "0.";
    out.append(static_cast<size_t>(-point), '0');
    out += digits;
  } else if (static_cast<size_t>(point) >= digits.size()) {
    out += digits;
    out.append(static_cast<size_t>(point) - digits.size(), '0');
    out += ".0";
  } else {
    out.append(digits, 0, static_cast<size_t>(point));
    out += '.';
    out.append(digits, static_cast<size_t>(point));
  }
}

void newline(std::string& out, int indent, int depth) {
  out += '\n';
  out.append(static_cast<size_t>(indent * depth), ' ');
}

void dump(std::string& out, const nlohmann::ordered_json& j, int indent, int depth) {
  using T = nlohmann::ordered_json::value_t;
  switch (j.type()) {
    case T::null:
    case T::discarded:
      out += "null";
      return;
    case T::boolean:
      out += j.get<bool>() ? "true" : "false";
      return;
    case T::number_integer:
      fmt::format_to(std::back_inserter(out), "{}", j.get<int64_t>());
      return;
    case T::number_unsigned:
      fmt::format_to(std::back_inserter(out), "{}", j.get<uint64_t>());
      return;
    case T::number_float:
      append_float(out, j.get<double>());
      return;
    case T::string:
      append_string(out, j.get_ref<const std::string&>());
      return;
    case T::binary:
      out += "null";
      return;
    case T::array: {
      if (j.empty()) {
        out += "[]";
        return;
      }
      out += '[';
      bool first = true;
      for (const auto& v : j) {
        if (!first) out += indent >= 0 ? "," : ", ";
        first = false;
        if (indent >= 0) newline(out, indent, depth + 1);
        dump(out, v, indent, depth + 1);
      }
      if (indent >= 0) newline(out, indent, depth);
      out += ']';
      return;
    }
    case T::object: {
      if (j.empty()) {
        out += "{}";
        return;
      }
      out += '{';
      bool first = true;
      for (const auto& [k, v] : j.items()) {
        if (!first) out += indent >= 0 ? "," : ", ";
        first = false;
        if (indent >= 0) newline(out, indent, depth + 1);
        append_string(out, k);
        out += ": ";
        dump(out, v, indent, depth + 1);
      }
      if (indent >= 0) newline(out, indent, depth);
      out += '}';
      return;
    }
  }
}

}  // namespace

std::string py_dumps(const nlohmann::ordered_json& value, int indent) {
  std::string out;
  dump(out, value, indent, 0);
  return out;
}

nlohmann::ordered_json parse_json(std::string_view text, const std::string& source) {
  // nlohmann's parser is iterative, but everything that walks a value (features, dumps, our
  // checks) recurses: refuse deep nesting before parsing.
  if (const int64_t at = json_too_deep_at(text); at >= 0) {
    throw FormatError(source, at,
                      fmt::format("invalid JSON: nested deeper than {} arrays/objects",
                                  kMaxNestingDepth));
  }
  try {
    return nlohmann::ordered_json::parse(text.begin(), text.end());
  } catch (const nlohmann::json::parse_error& e) {
    // nlohmann counts the byte *after* the error position, 1-based.
    const int64_t at = e.byte > 0 ? static_cast<int64_t>(e.byte) - 1 : -1;
    std::string what = e.what();
    // Drop nlohmann's "[json.exception.parse_error.101] " prefix.
    if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    throw FormatError(source, at, fmt::format("invalid JSON: {}", excerpt(what)));
  } catch (const nlohmann::json::exception& e) {
    // A number out of range (1e999) and the like.
    std::string what = e.what();
    if (auto p = what.find("] "); p != std::string::npos) what = what.substr(p + 2);
    throw FormatError(source, -1, fmt::format("invalid JSON: {}", excerpt(what)));
  }
}

std::string json_excerpt(const nlohmann::ordered_json& value) {
  return excerpt(value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace));
}

nlohmann::ordered_json read_json_file(const std::filesystem::path& path) {
  return parse_json(read_small_file(path, kMaxMetadataFileBytes, "metadata file"), path.string());
}

}  // namespace mouse::detail
