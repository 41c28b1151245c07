#include <cmath>
#include <fmt/format.h>

#include "mouse/arrow_json.hpp"
#include "mouse/error.hpp"

namespace mouse::arrow {

namespace {

// Length of the valid UTF-8 sequence starting at s[i], or 0 if it is not valid.
size_t utf8_sequence_length(std::string_view s, size_t i) {
  auto byte = [&](size_t k) { return static_cast<unsigned char>(s[k]); };
  unsigned char c = byte(i);
  size_t n;
  uint32_t cp;
  if (c < 0x80) return 1;
  if ((c & 0xE0) == 0xC0) {
    n = 2;
    cp = c & 0x1F;
  } else if ((c & 0xF0) == 0xE0) {
    n = 3;
    cp = c & 0x0F;
  } else if ((c & 0xF8) == 0xF0) {
    n = 4;
    cp = c & 0x07;
  } else {
    return 0;
  }
  if (i + n > s.size()) return 0;
  for (size_t k = 1; k < n; ++k) {
    if ((byte(i + k) & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (byte(i + k) & 0x3F);
  }
  // Reject overlong forms, surrogates and out-of-range code points.
  static constexpr uint32_t kMin[] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

template <class T>
void append_integer(std::string& out, T v) {
  fmt::format_to(std::back_inserter(out), "{}", v);
}

}  // namespace

void append_json_number(std::string& out, double value) {
  if (std::isnan(value)) {
    out += "\"nan\"";
  } else if (std::isinf(value)) {
    out += value > 0 ? "\"inf\"" : "\"-inf\"";
  } else {
    fmt::format_to(std::back_inserter(out), "{}", value);
  }
}

void append_json_number(std::string& out, float value) {
  if (std::isnan(value)) {
    out += "\"nan\"";
  } else if (std::isinf(value)) {
    out += value > 0 ? "\"inf\"" : "\"-inf\"";
  } else {
    fmt::format_to(std::back_inserter(out), "{}", value);
  }
}

void append_json_string(std::string& out, std::string_view text) {
  out += '"';
  for (size_t i = 0; i < text.size();) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    switch (c) {
      case '"': out += "\\\""; ++i; continue;
      case '\\': out += "\\\\"; ++i; continue;
      case '\n': out += "\\n"; ++i; continue;
      case '\r': out += "\\r"; ++i; continue;
      case '\t': out += "\\t"; ++i; continue;
      case '\b': out += "\\b"; ++i; continue;
      case '\f': out += "\\f"; ++i; continue;
      default: break;
    }
    if (c < 0x20) {
      fmt::format_to(std::back_inserter(out), "\\u{:04x}", c);
      ++i;
      continue;
    }
    size_t n = utf8_sequence_length(text, i);
    if (n == 0) {
      out += "\xEF\xBF\xBD";  // U+FFFD
      ++i;
    } else {
      out.append(text.substr(i, n));
      i += n;
    }
  }
  out += '"';
}

std::string base64_encode(std::string_view bytes) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  out.reserve((bytes.size() + 2) / 3 * 4);
  size_t i = 0;
  auto at = [&](size_t k) { return static_cast<uint32_t>(static_cast<unsigned char>(bytes[k])); };
  for (; i + 3 <= bytes.size(); i += 3) {
    uint32_t v = (at(i) << 16) | (at(i + 1) << 8) | at(i + 2);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += kAlphabet[v & 63];
  }
  size_t rest = bytes.size() - i;
  if (rest == 1) {
    uint32_t v = at(i) << 16;
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += "==";
  } else if (rest == 2) {
    uint32_t v = (at(i) << 16) | (at(i + 1) << 8);
    out += kAlphabet[(v >> 18) & 63];
    out += kAlphabet[(v >> 12) & 63];
    out += kAlphabet[(v >> 6) & 63];
    out += '=';
  }
  return out;
}

void append_json_value(std::string& out, const ArrayData& a, int64_t i) {
  if (!a.is_valid(i)) {
    out += "null";
    return;
  }
  switch (a.type->id) {
    case TypeId::kNull: out += "null"; return;
    case TypeId::kBool: out += bool_value(a, i) ? "true" : "false"; return;
    case TypeId::kInt8: append_integer(out, values<int8_t>(a)[i]); return;
    case TypeId::kInt16: append_integer(out, values<int16_t>(a)[i]); return;
    case TypeId::kInt32: append_integer(out, values<int32_t>(a)[i]); return;
    case TypeId::kInt64: append_integer(out, values<int64_t>(a)[i]); return;
    case TypeId::kUInt8: append_integer(out, values<uint8_t>(a)[i]); return;
    case TypeId::kUInt16: append_integer(out, values<uint16_t>(a)[i]); return;
    case TypeId::kUInt32: append_integer(out, values<uint32_t>(a)[i]); return;
    case TypeId::kUInt64: append_integer(out, values<uint64_t>(a)[i]); return;
    case TypeId::kFloat16: {
      // IEEE half -> float, exactly.
      uint16_t h = values<uint16_t>(a)[i];
      int exp = (h >> 10) & 0x1F;
      int mant = h & 0x3FF;
      float v;
      if (exp == 0) {
        v = std::ldexp(static_cast<float>(mant), -24);
      } else if (exp == 31) {
        v = mant ? NAN : INFINITY;
      } else {
        v = std::ldexp(static_cast<float>(mant | 0x400), exp - 25);
      }
      append_json_number(out, (h & 0x8000) ? -v : v);
      return;
    }
    case TypeId::kFloat32: append_json_number(out, values<float>(a)[i]); return;
    case TypeId::kFloat64: append_json_number(out, values<double>(a)[i]); return;
    case TypeId::kUtf8:
    case TypeId::kLargeUtf8: append_json_string(out, binary_value(a, i)); return;
    case TypeId::kBinary:
    case TypeId::kLargeBinary:
      out += '"';
      out += base64_encode(binary_value(a, i));
      out += '"';
      return;
    case TypeId::kList:
    case TypeId::kLargeList:
    case TypeId::kFixedSizeList: {
      int64_t begin, end;
      if (a.type->id == TypeId::kFixedSizeList) {
        begin = (a.offset + i) * a.type->list_size;
        end = begin + a.type->list_size;
      } else {
        std::tie(begin, end) = value_range(a, i);
      }
      const ArrayData& child = *a.children[0];
      out += '[';
      for (int64_t k = begin; k < end; ++k) {
        if (k != begin) out += ',';
        append_json_value(out, child, k);
      }
      out += ']';
      return;
    }
    case TypeId::kStruct: {
      out += '{';
      for (size_t f = 0; f < a.children.size(); ++f) {
        if (f) out += ',';
        append_json_string(out, a.type->children[f].name);
        out += ':';
        append_json_value(out, *a.children[f], a.offset + i);
      }
      out += '}';
      return;
    }
  }
  throw FormatError("", -1, fmt::format("cannot print a value of type id {}", static_cast<int>(a.type->id)));
}

}  // namespace mouse::arrow
