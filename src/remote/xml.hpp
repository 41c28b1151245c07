// The little XML S3 speaks: a strict reader of ListObjectsV2 pages and a lenient lookup of
// one element's text (for error bodies). Not a general XML parser: elements are found by their
// plain tags (S3 puts no attributes on these), text is entity-decoded.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace mouse::remote::detail {

/// One <Contents> entry of a listing.
struct ListedObject {
  std::string key;
  int64_t size = 0;
  std::string etag;  ///< as served, quotes kept
};

/// One ListObjectsV2 page.
struct ListPage {
  std::vector<ListedObject> objects;
  bool truncated = false;
  std::string next_token;  ///< NextContinuationToken, set when truncated
};

/// Parses a ListObjectsV2 response body. FormatError naming `source` (the request URL) and the
/// byte offset for anything unexpected: no ListBucketResult, an entry without Key or Size, a
/// size that is not a non-negative integer, an unknown entity, a truncated page without a
/// continuation token.
ListPage parse_list_objects_v2(std::string_view xml, const std::string& source);

/// The decoded text of the first <tag>…</tag> in `xml`, "" when there is none or it does not
/// decode.
std::string xml_first_text(std::string_view xml, std::string_view tag);

/// Decodes the five XML entities and numeric character references (&#34; &#x22;). Returns
/// false on an unknown or malformed entity; `bad_at` is then its offset in `text`.
bool xml_decode(std::string_view text, std::string& out, size_t& bad_at);

}  // namespace mouse::remote::detail
