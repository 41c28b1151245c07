#include "remote/xml.hpp"

#include <charconv>
#include <optional>

#include <fmt/format.h>

#include "mouse/error.hpp"

namespace mouse::remote::detail {
namespace {

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

// An element's text: [begin, end) in the document, between <tag> and </tag>.
struct Span {
  size_t begin = 0;
  size_t end = 0;
};

// The first <tag>…</tag> in xml[from, limit); nullopt when there is no opening tag. An opening
// tag without its closing tag before `limit` is a FormatError.
std::optional<Span> find_element(std::string_view xml, std::string_view tag, size_t from,
                                 size_t limit, const std::string& source) {
  const std::string open = fmt::format("<{}>", tag);
  const std::string close = fmt::format("</{}>", tag);
  const size_t at = xml.substr(0, limit).find(open, from);
  if (at == std::string_view::npos) return std::nullopt;
  const size_t begin = at + open.size();
  const size_t end = xml.substr(0, limit).find(close, begin);
  if (end == std::string_view::npos) {
    throw FormatError(source, static_cast<int64_t>(at),
                      fmt::format("S3 listing: <{}> without </{}>", tag, tag));
  }
  return Span{begin, end};
}

std::string decoded(std::string_view xml, Span span, std::string_view tag,
                    const std::string& source) {
  std::string out;
  size_t bad_at = 0;
  if (!xml_decode(xml.substr(span.begin, span.end - span.begin), out, bad_at)) {
    throw FormatError(source, static_cast<int64_t>(span.begin + bad_at),
                      fmt::format("S3 listing: <{}> holds an unknown or malformed XML entity", tag));
  }
  return out;
}

}  // namespace

bool xml_decode(std::string_view text, std::string& out, size_t& bad_at) {
  out.clear();
  out.reserve(text.size());
  for (size_t i = 0; i < text.size();) {
    if (text[i] != '&') {
      out += text[i++];
      continue;
    }
    const size_t semi = text.find(';', i);
    if (semi == std::string_view::npos || semi - i > 10) {
      bad_at = i;
      return false;
    }
    const std::string_view name = text.substr(i + 1, semi - i - 1);
    if (name == "amp") {
      out += '&';
    } else if (name == "lt") {
      out += '<';
    } else if (name == "gt") {
      out += '>';
    } else if (name == "quot") {
      out += '"';
    } else if (name == "apos") {
      out += '\'';
    } else if (name.size() >= 2 && name[0] == '#') {
      const bool hex = name[1] == 'x' || name[1] == 'X';
      const std::string_view digits = name.substr(hex ? 2 : 1);
      uint32_t cp = 0;
      const auto [end, ec] =
          std::from_chars(digits.data(), digits.data() + digits.size(), cp, hex ? 16 : 10);
      if (digits.empty() || ec != std::errc() || end != digits.data() + digits.size() ||
          cp == 0 || cp > 0x10FFFF) {
        bad_at = i;
        return false;
      }
      append_utf8(out, cp);
    } else {
      bad_at = i;
      return false;
    }
    i = semi + 1;
  }
  return true;
}

std::string xml_first_text(std::string_view xml, std::string_view tag) {
  const std::string open = fmt::format("<{}>", tag);
  const std::string close = fmt::format("</{}>", tag);
  const size_t at = xml.find(open);
  if (at == std::string_view::npos) return {};
  const size_t begin = at + open.size();
  const size_t end = xml.find(close, begin);
  if (end == std::string_view::npos) return {};
  std::string out;
  size_t bad_at = 0;
  if (!xml_decode(xml.substr(begin, end - begin), out, bad_at)) return {};
  return out;
}

ListPage parse_list_objects_v2(std::string_view xml, const std::string& source) {
  const size_t root = xml.find("<ListBucketResult");
  if (root == std::string_view::npos) {
    throw FormatError(source, 0,
                      fmt::format("S3 listing: expected a ListBucketResult document, found {} "
                                  "bytes without one",
                                  xml.size()));
  }
  const size_t root_end = xml.find("</ListBucketResult>", root);
  if (root_end == std::string_view::npos) {
    throw FormatError(source, static_cast<int64_t>(root),
                      "S3 listing: <ListBucketResult> without </ListBucketResult> (truncated?)");
  }
  ListPage page;
  size_t from = root;
  while (auto contents = find_element(xml, "Contents", from, root_end, source)) {
    ListedObject object;
    const auto key = find_element(xml, "Key", contents->begin, contents->end, source);
    const auto size = find_element(xml, "Size", contents->begin, contents->end, source);
    if (!key || !size) {
      throw FormatError(source, static_cast<int64_t>(contents->begin),
                        fmt::format("S3 listing: a <Contents> entry without <{}>",
                                    key ? "Size" : "Key"));
    }
    object.key = decoded(xml, *key, "Key", source);
    if (object.key.empty()) {
      throw FormatError(source, static_cast<int64_t>(key->begin), "S3 listing: an empty <Key>");
    }
    const std::string_view size_text = xml.substr(size->begin, size->end - size->begin);
    const auto [end, ec] =
        std::from_chars(size_text.data(), size_text.data() + size_text.size(), object.size);
    if (size_text.empty() || ec != std::errc() || end != size_text.data() + size_text.size() ||
        object.size < 0) {
      throw FormatError(source, static_cast<int64_t>(size->begin),
                        fmt::format("S3 listing: <Size> of \"{}\" must be a non-negative integer, "
                                    "found \"{}\"",
                                    object.key, size_text.substr(0, 40)));
    }
    if (const auto etag = find_element(xml, "ETag", contents->begin, contents->end, source)) {
      object.etag = decoded(xml, *etag, "ETag", source);
    }
    page.objects.push_back(std::move(object));
    from = contents->end;
  }
  const auto truncated = find_element(xml, "IsTruncated", root, root_end, source);
  if (!truncated) {
    throw FormatError(source, static_cast<int64_t>(root), "S3 listing: no <IsTruncated>");
  }
  const std::string_view flag = xml.substr(truncated->begin, truncated->end - truncated->begin);
  if (flag != "true" && flag != "false") {
    throw FormatError(source, static_cast<int64_t>(truncated->begin),
                      fmt::format("S3 listing: <IsTruncated> must be true or false, found \"{}\"",
                                  flag.substr(0, 40)));
  }
  page.truncated = flag == "true";
  if (page.truncated) {
    const auto token = find_element(xml, "NextContinuationToken", root, root_end, source);
    if (token) page.next_token = decoded(xml, *token, "NextContinuationToken", source);
    if (page.next_token.empty()) {
      throw FormatError(source, static_cast<int64_t>(truncated->begin),
                        "S3 listing: a truncated page without <NextContinuationToken>");
    }
  }
  return page;
}

}  // namespace mouse::remote::detail
