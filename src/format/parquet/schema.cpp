// Schema conversion, following the Parquet LogicalTypes backward-compatibility rules for lists
// (3-level, legacy 2-level "array" / "<name>_tuple" / multi-field repeated groups) and maps.
#include "format/parquet/schema.hpp"

#include <fmt/format.h>

#include "mouse/error.hpp"

namespace mouse::parquet::detail {

namespace {

constexpr int kMaxDepth = 100;

class Builder {
 public:
  Builder(const FileMetaData& meta, const std::string& source) : s_(meta.schema), source_(source) {}

  SchemaPlan build() {
    if (s_.empty()) fail(-1, "schema with a root element, found an empty schema");
    const SchemaElement& root = s_[0];
    if (root.num_children < 0) fail(0, fmt::format("root num_children >= 0, found {}", root.num_children));
    size_t next = 1;
    for (int32_t c = 0; c < root.num_children; ++c) {
      int begin = static_cast<int>(plan_.leaves.size());
      plan_.fields.push_back(field(next, 0, 0, 0, 0, 1, ""));
      plan_.leaf_ranges.emplace_back(begin, static_cast<int>(plan_.leaves.size()));
    }
    if (next != s_.size()) {
      fail(static_cast<int64_t>(next), fmt::format("{} schema elements, the tree uses {}", s_.size(), next));
    }
    return std::move(plan_);
  }

 private:
  [[noreturn]] void fail(int64_t element, const std::string& what) const {
    throw FormatError(source_, -1,
                      element >= 0 ? fmt::format("schema element {}: {}", element, what)
                                   : fmt::format("schema: {}", what));
  }

  const SchemaElement& at(size_t idx) const {
    if (idx >= s_.size()) {
      fail(static_cast<int64_t>(idx), fmt::format("child element expected, the schema has only {}", s_.size()));
    }
    return s_[idx];
  }

  static std::string join(const std::string& prefix, const std::string& name) {
    return prefix.empty() ? name : prefix + "." + name;
  }

  // Applies the field's repetition, then converts its type. `next` walks the flattened tree.
  Node field(size_t& next, int16_t def, int16_t rep, int16_t dctx, int16_t rctx, int depth,
             const std::string& prefix) {
    if (depth > kMaxDepth) fail(static_cast<int64_t>(next), "nesting deeper than 100 levels");
    size_t idx = next;
    const SchemaElement& e = at(idx);
    if (e.repetition == kRepeated) {
      Node list;
      list.kind = Node::Kind::kList;
      list.name = e.name;
      list.nullable = false;
      list.def_ctx = dctx;
      list.rep_ctx = rctx;
      list.def_present = def;
      list.list_def = static_cast<int16_t>(def + 1);
      list.list_rep = static_cast<int16_t>(rep + 1);
      list.children.push_back(inner(next, list.list_def, list.list_rep, false, list.list_def,
                                    list.list_rep, depth + 1, prefix));
      finish_list(list);
      return list;
    }
    if (e.repetition != kOptional && e.repetition != kRequired) {
      fail(static_cast<int64_t>(idx), fmt::format("repetition 0..2, found {}", e.repetition));
    }
    const bool opt = e.repetition == kOptional;
    return inner(next, static_cast<int16_t>(def + (opt ? 1 : 0)), rep, opt, dctx, rctx, depth, prefix);
  }

  // Converts element `next` whose own repetition has been applied: `d` is its def_present.
  Node inner(size_t& next, int16_t d, int16_t r, bool nullable, int16_t dctx, int16_t rctx,
             int depth, const std::string& prefix) {
    if (depth > kMaxDepth) fail(static_cast<int64_t>(next), "nesting deeper than 100 levels");
    const size_t idx = next++;
    const SchemaElement& e = at(idx);
    Node n;
    n.name = e.name;
    n.nullable = nullable;
    n.def_ctx = dctx;
    n.rep_ctx = rctx;
    n.def_present = d;
    const std::string path = join(prefix, e.name);
    if (e.type) {
      if (e.num_children > 0) fail(static_cast<int64_t>(idx), fmt::format("primitive \"{}\" with {} children", path, e.num_children));
      n.kind = Node::Kind::kLeaf;
      n.leaf = static_cast<int>(plan_.leaves.size());
      n.first_leaf = n.leaf;
      LeafInfo info;
      info.path = path;
      info.physical_type = *e.type;
      info.type_length = e.type_length;
      info.max_def = d;
      info.max_rep = r;
      if (*e.type < 0 || *e.type > 7) fail(static_cast<int64_t>(idx), fmt::format("column \"{}\": physical type 0..7, found {}", path, *e.type));
      plan_.leaves.push_back(info);
      n.type = leaf_type(e, path, n.unsupported);
      return n;
    }
    if (e.num_children <= 0) {
      fail(static_cast<int64_t>(idx), fmt::format("group \"{}\" with at least one child, found {}", path, e.num_children));
    }
    const bool is_list = e.logical == kLList || e.converted_type == kList;
    const bool is_map = e.logical == kLMap || e.converted_type == kMap;
    if ((is_list || is_map) && e.num_children == 1 && at(next).repetition == kRepeated) {
      const size_t ridx = next;
      const SchemaElement& rep_el = at(ridx);
      n.kind = Node::Kind::kList;
      n.list_def = static_cast<int16_t>(d + 1);
      n.list_rep = static_cast<int16_t>(r + 1);
      const bool two_level = rep_el.type.has_value() || rep_el.num_children != 1 ||
                             rep_el.name == "array" || rep_el.name == e.name + "_tuple" || is_map;
      if (two_level) {
        n.children.push_back(inner(next, n.list_def, n.list_rep, false, n.list_def, n.list_rep,
                                   depth + 1, path));
        if (is_map && n.children.back().kind != Node::Kind::kStruct) {
          fail(static_cast<int64_t>(ridx), fmt::format("MAP \"{}\" with a key_value group", path));
        }
      } else {
        ++next;  // the repeated group itself carries no Arrow node
        n.children.push_back(field(next, n.list_def, n.list_rep, n.list_def, n.list_rep, depth + 1,
                                   join(path, rep_el.name)));
      }
      finish_list(n);
      return n;
    }
    n.kind = Node::Kind::kStruct;
    std::vector<arrow::Field> fields;
    for (int32_t c = 0; c < e.num_children; ++c) {
      n.children.push_back(field(next, d, r, dctx, rctx, depth + 1, path));
    }
    for (const Node& c : n.children) {
      if (n.unsupported.empty()) n.unsupported = c.unsupported;
      fields.push_back(arrow::Field{c.name, c.type, c.nullable, {}});
    }
    n.first_leaf = n.children.front().first_leaf;
    n.type = arrow::struct_(std::move(fields));
    return n;
  }

  static void finish_list(Node& list) {
    const Node& item = list.children.front();
    list.first_leaf = item.first_leaf;
    list.unsupported = item.unsupported;
    list.type = arrow::list(arrow::Field{item.name, item.type, item.nullable, {}});
  }

  static arrow::TypePtr leaf_type(const SchemaElement& e, const std::string& path,
                                  std::string& unsupported) {
    auto no = [&](std::string_view what) {
      unsupported = fmt::format("column \"{}\": Parquet type {} is not supported (mouse-data reads "
                                "booleans, integers, floats, float16, strings and binary)",
                                path, what);
      return arrow::null();
    };
    const int32_t t = *e.type;
    const int32_t lt = e.logical;
    const int32_t ct = e.converted_type;
    if (lt == kLUnknown) return arrow::null();
    if (lt == kLDecimal || ct == kDecimal) {
      return no(fmt::format("DECIMAL({}, {}) on {}", e.precision, e.scale, physical_type_name(t)));
    }
    if (lt == kLDate || ct == kDate) return no("DATE");
    if (lt == kLTime || ct == kTimeMillis || ct == kTimeMicros) return no("TIME");
    if (lt == kLTimestamp || ct == kTimestampMillis || ct == kTimestampMicros) return no("TIMESTAMP");
    if (ct == kInterval) return no("INTERVAL");
    switch (t) {
      case kBoolean: return arrow::boolean();
      case kInt32:
      case kInt64: {
        int bits = t == kInt32 ? 32 : 64;
        bool is_signed = true;
        if (lt == kLInteger) {
          bits = e.int_bit_width;
          is_signed = e.int_signed;
        } else if (ct >= kUint8 && ct <= kInt64Conv) {
          static constexpr int kBits[] = {8, 16, 32, 64, 8, 16, 32, 64};
          bits = kBits[ct - kUint8];
          is_signed = ct >= kInt8;
        }
        const int max_bits = t == kInt32 ? 32 : 64;
        if ((bits != 8 && bits != 16 && bits != 32 && bits != 64) || bits > max_bits ||
            (t == kInt64 && bits != 64)) {
          return no(fmt::format("INTEGER({}, {}) on {}", bits, is_signed, physical_type_name(t)));
        }
        switch (bits) {
          case 8: return is_signed ? arrow::int8() : arrow::uint8();
          case 16: return is_signed ? arrow::int16() : arrow::uint16();
          case 32: return is_signed ? arrow::int32() : arrow::uint32();
          default: return is_signed ? arrow::int64() : arrow::uint64();
        }
      }
      case kInt96: return no("INT96 (legacy timestamp)");
      case kFloat: return arrow::float32();
      case kDouble: return arrow::float64();
      case kByteArray:
        if (lt == kLString || lt == kLEnum || lt == kLJson || ct == kUtf8 || ct == kEnum || ct == kJson) {
          return arrow::utf8();
        }
        return arrow::binary();
      case kFixedLenByteArray:
        if (lt == kLFloat16) {
          if (e.type_length != 2) return no(fmt::format("FLOAT16 of {} bytes", e.type_length));
          return arrow::float16();
        }
        return arrow::binary();
      default: return no(physical_type_name(t));
    }
  }

  const std::vector<SchemaElement>& s_;
  const std::string& source_;
  SchemaPlan plan_;
};

}  // namespace

SchemaPlan build_schema(const FileMetaData& meta, const std::string& source) {
  return Builder(meta, source).build();
}

void collect_leaves(const Node& node, std::vector<int>& out) {
  if (node.kind == Node::Kind::kLeaf) {
    out.push_back(node.leaf);
    return;
  }
  for (const Node& c : node.children) collect_leaves(c, out);
}

}  // namespace mouse::parquet::detail
