// A REQUIRED node can still hold nulls where an ancestor is null (Arrow keeps a slot there), so
// nullability is not checked per node; values and levels must agree instead.
//
// Each node scans the levels of one leaf below it: its elements are the entries that reach it
// (def >= def_ctx) and start a new slot at its nesting depth (rep <= rep_ctx). Leaves below a
// struct must agree on the element count; list offsets must match their items' count.
#include "format/parquet/assemble.hpp"

#include <fmt/format.h>

#include <cstring>

#include "mouse/error.hpp"

namespace mouse::parquet::detail {

namespace {

using arrow::ArrayData;
using arrow::TypeId;

struct Ctx {
  std::vector<LeafData>& leaves;
  const std::vector<LeafInfo>& infos;
  const std::string& source;
  const std::string& where;
  // Values consumed so far per leaf, and decoded per leaf (the values may be moved out).
  std::vector<int64_t> cursor;
  std::vector<int64_t> counts;
};

[[noreturn]] void fail(const Ctx& c, const std::string& what) {
  throw FormatError(c.source, -1, fmt::format("{}: {}", c.where, what));
}

struct Levels {
  const int16_t* def;
  const int16_t* rep;
  int64_t n;
  int16_t d(int64_t i) const { return def ? def[i] : 0; }
  int16_t r(int64_t i) const { return rep ? rep[i] : 0; }
};

Levels levels_of(const LeafData& l) {
  return {l.def.empty() ? nullptr : l.def.data(), l.rep.empty() ? nullptr : l.rep.data(), l.entries};
}

// Validity bitmap from a vector of flags; empty Buffer when all valid.
Buffer bitmap(const std::vector<uint8_t>& valid, int64_t* null_count) {
  int64_t nulls = 0;
  for (uint8_t v : valid) nulls += v ? 0 : 1;
  *null_count = nulls;
  if (nulls == 0) return Buffer();
  Buffer b = Buffer::allocate((static_cast<int64_t>(valid.size()) + 7) / 8);
  uint8_t* p = b.mutable_data();
  for (size_t i = 0; i < valid.size(); ++i) {
    if (valid[i]) p[i >> 3] |= static_cast<uint8_t>(1u << (i & 7));
  }
  return b;
}

arrow::ArrayPtr build(const Node& n, Ctx& c);

arrow::ArrayPtr build_leaf(const Node& n, Ctx& c) {
  const LeafData& L = c.leaves[n.leaf];
  const LeafInfo& info = c.infos[n.leaf];
  const Levels lv = levels_of(L);
  std::vector<uint8_t> valid;
  valid.reserve(static_cast<size_t>(lv.n));
  for (int64_t i = 0; i < lv.n; ++i) {
    if (lv.d(i) < n.def_ctx) continue;
    valid.push_back(lv.d(i) >= info.max_def ? 1 : 0);
  }
  const int64_t len = static_cast<int64_t>(valid.size());
  int64_t present = 0;
  for (uint8_t v : valid) present += v;
  const Values& vals = L.values;
  int64_t& cur = c.cursor[n.leaf];
  if (c.counts[n.leaf] - cur < present) {
    fail(c, fmt::format("column \"{}\": levels need {} values, {} were decoded", info.path, cur + present, c.counts[n.leaf]));
  }
  auto a = std::make_shared<ArrayData>();
  a->type = n.type;
  a->length = len;
  const TypeId id = n.type->id;
  if (id == TypeId::kNull) {
    a->null_count = len;
    a->buffers = {Buffer()};
    cur += present;
    return a;
  }
  a->buffers.push_back(bitmap(valid, &a->null_count));
  const bool dense = present == len;
  if (id == TypeId::kBool) {
    Buffer b = Buffer::allocate((len + 7) / 8);
    uint8_t* p = b.mutable_data();
    int64_t k = cur;
    for (int64_t i = 0; i < len; ++i) {
      if (valid[i] && vals.data[k++]) p[i >> 3] |= static_cast<uint8_t>(1u << (i & 7));
    }
    cur = k;
    a->buffers.push_back(b);
    return a;
  }
  if (n.type->is_binary_like()) {
    Buffer offs = Buffer::allocate((len + 1) * 4);
    auto* o = reinterpret_cast<int32_t*>(offs.mutable_data());
    const bool fixed = vals.width > 0;
    const int64_t w = vals.width;
    int64_t begin = fixed ? cur * w : vals.offsets[cur];
    int64_t total = 0;
    int64_t k = cur;
    o[0] = 0;
    for (int64_t i = 0; i < len; ++i) {
      if (valid[i]) {
        total += fixed ? w : vals.offsets[k + 1] - vals.offsets[k];
        ++k;
      }
      if (total > INT32_MAX) fail(c, fmt::format("column \"{}\": more than 2 GiB of strings in one row group", info.path));
      o[i + 1] = static_cast<int32_t>(total);
    }
    Buffer data = Buffer::allocate(total);
    if (total > 0) std::memcpy(data.mutable_data(), vals.data.data() + begin, static_cast<size_t>(total));
    cur = k;
    a->buffers.push_back(offs);
    a->buffers.push_back(data);
    return a;
  }
  const int out_w = n.type->byte_width();
  const int in_w = vals.width;
  if (out_w <= 0 || in_w <= 0 || out_w > in_w) fail(c, fmt::format("column \"{}\": cannot map values of {} bytes to {}", info.path, in_w, n.type->to_string()));
  if (dense && out_w == in_w && cur == 0 && len == vals.count()) {
    // The decoded values are exactly the column: hand their storage over instead of copying.
    auto owner = std::make_shared<std::vector<uint8_t>>(std::move(c.leaves[n.leaf].values.data));
    cur = len;
    a->buffers.push_back(Buffer(owner->data(), static_cast<int64_t>(owner->size()), owner));
    return a;
  }
  Buffer b = Buffer::allocate(len * out_w);
  uint8_t* dst = b.mutable_data();
  const uint8_t* src = vals.data.data() + cur * in_w;
  if (dense && out_w == in_w) {
    if (len > 0) std::memcpy(dst, src, static_cast<size_t>(len * in_w));
  } else {
    int64_t k = 0;
    for (int64_t i = 0; i < len; ++i) {
      if (valid[i]) {
        std::memcpy(dst + i * out_w, src + k * in_w, static_cast<size_t>(out_w));  // little-endian narrowing
        ++k;
      }
    }
  }
  cur += present;
  a->buffers.push_back(b);
  return a;
}

arrow::ArrayPtr build_struct(const Node& n, Ctx& c) {
  const Levels lv = levels_of(c.leaves[n.first_leaf]);
  std::vector<uint8_t> valid;
  for (int64_t i = 0; i < lv.n; ++i) {
    if (lv.d(i) < n.def_ctx || lv.r(i) > n.rep_ctx) continue;
    valid.push_back(lv.d(i) >= n.def_present ? 1 : 0);
  }
  auto a = std::make_shared<ArrayData>();
  a->type = n.type;
  a->length = static_cast<int64_t>(valid.size());
  a->buffers.push_back(bitmap(valid, &a->null_count));
  for (const Node& child : n.children) {
    auto ch = build(child, c);
    if (ch->length != a->length) {
      fail(c, fmt::format("struct \"{}\": member \"{}\" has {} elements, expected {}", n.name,
                          child.name, ch->length, a->length));
    }
    a->children.push_back(std::move(ch));
  }
  return a;
}

arrow::ArrayPtr build_list(const Node& n, Ctx& c) {
  const Levels lv = levels_of(c.leaves[n.first_leaf]);
  std::vector<uint8_t> valid;
  std::vector<int32_t> offsets{0};
  int64_t items = 0;
  for (int64_t i = 0; i < lv.n; ++i) {
    const int16_t d = lv.d(i), r = lv.r(i);
    if (d < n.def_ctx) continue;
    if (r <= n.rep_ctx) {
      if (!valid.empty()) offsets.push_back(static_cast<int32_t>(items));
      valid.push_back(d >= n.def_present ? 1 : 0);
      if (d >= n.list_def) ++items;
    } else if (valid.empty()) {
      fail(c, fmt::format("list \"{}\": first entry continues a list (repetition level {})", n.name, r));
    } else if (r <= n.list_rep && d >= n.list_def) {
      ++items;
    }
    if (items > INT32_MAX) fail(c, fmt::format("list \"{}\": more than 2^31 items", n.name));
  }
  if (!valid.empty()) offsets.push_back(static_cast<int32_t>(items));
  auto a = std::make_shared<ArrayData>();
  a->type = n.type;
  a->length = static_cast<int64_t>(valid.size());
  a->buffers.push_back(bitmap(valid, &a->null_count));
  Buffer offs = Buffer::copy_of({reinterpret_cast<const uint8_t*>(offsets.data()), offsets.size() * 4});
  a->buffers.push_back(offs);
  auto child = build(n.children.front(), c);
  if (child->length != items) {
    fail(c, fmt::format("list \"{}\": offsets count {} items, its values have {}", n.name, items, child->length));
  }
  a->children.push_back(std::move(child));
  return a;
}

arrow::ArrayPtr build(const Node& n, Ctx& c) {
  switch (n.kind) {
    case Node::Kind::kLeaf: return build_leaf(n, c);
    case Node::Kind::kStruct: return build_struct(n, c);
    case Node::Kind::kList: return build_list(n, c);
  }
  return nullptr;
}

}  // namespace

arrow::ArrayPtr assemble(const Node& node, std::vector<LeafData>& leaves,
                         const std::vector<LeafInfo>& infos, const std::string& source,
                         const std::string& where) {
  Ctx c{leaves, infos, source, where, std::vector<int64_t>(leaves.size(), 0), {}};
  for (const auto& l : leaves) c.counts.push_back(l.values.count());
  auto out = build(node, c);
  std::vector<int> used;
  collect_leaves(node, used);
  for (int l : used) {
    if (c.cursor[l] != c.counts[l]) {
      fail(c, fmt::format("column \"{}\": {} values decoded, the levels use {}", infos[l].path,
                          c.counts[l], c.cursor[l]));
    }
  }
  return out;
}

}  // namespace mouse::parquet::detail
