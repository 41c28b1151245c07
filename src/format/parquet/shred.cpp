// Arrow -> Parquet schema as pyarrow writes it (3-level LIST with "list"/"element", INTEGER
// annotations for the narrow and unsigned widths, STRING for utf8, FLOAT16), and shredding.
#include "format/parquet/shred.hpp"

#include <fmt/format.h>

#include <cstring>

#include "mouse/error.hpp"

namespace mouse::parquet::detail {

namespace {

using arrow::TypeId;

SchemaElement leaf_element(const std::string& name, bool nullable, const arrow::DataType& t,
                           WriteLeaf& leaf) {
  SchemaElement e;
  e.name = name;
  e.has_repetition = true;
  e.repetition = nullable ? kOptional : kRequired;
  auto integer = [&](int32_t phys, int bits, bool is_signed, int32_t converted) {
    e.type = phys;
    e.logical = kLInteger;
    e.int_bit_width = bits;
    e.int_signed = is_signed;
    e.converted_type = converted;
  };
  switch (t.id) {
    case TypeId::kBool: e.type = kBoolean; break;
    case TypeId::kInt8: integer(kInt32, 8, true, kInt8); break;
    case TypeId::kInt16: integer(kInt32, 16, true, kInt16); break;
    case TypeId::kInt32: e.type = kInt32; break;
    case TypeId::kInt64: e.type = kInt64; break;
    case TypeId::kUInt8: integer(kInt32, 8, false, kUint8); break;
    case TypeId::kUInt16: integer(kInt32, 16, false, kUint16); break;
    case TypeId::kUInt32: integer(kInt32, 32, false, kUint32); break;
    case TypeId::kUInt64: integer(kInt64, 64, false, kUint64); break;
    case TypeId::kFloat16:
      e.type = kFixedLenByteArray;
      e.type_length = 2;
      e.logical = kLFloat16;
      break;
    case TypeId::kFloat32: e.type = kFloat; break;
    case TypeId::kFloat64: e.type = kDouble; break;
    case TypeId::kUtf8:
    case TypeId::kLargeUtf8:
      e.type = kByteArray;
      e.logical = kLString;
      e.converted_type = kUtf8;
      break;
    case TypeId::kBinary:
    case TypeId::kLargeBinary: e.type = kByteArray; break;
    default:
      throw InvalidArgument(fmt::format("Parquet writer: column \"{}\" of type {} is not supported", name, t.to_string()));
  }
  leaf.physical_type = *e.type;
  leaf.type_length = e.type_length;
  leaf.arrow_type = t.id;
  return e;
}

template <class T>
void put(Values& v, T x) {
  const auto* p = reinterpret_cast<const uint8_t*>(&x);
  v.data.insert(v.data.end(), p, p + sizeof(T));
}

}  // namespace

Shredder::Shredder(const arrow::Schema& schema) {
  SchemaElement root;
  root.name = "schema";
  root.num_children = static_cast<int32_t>(schema.fields.size());
  elements_.push_back(root);
  for (const auto& f : schema.fields) roots_.push_back(add_field(f, 0, 0, {}));
}

Shredder::PlanNode Shredder::add_field(const arrow::Field& f, int16_t def, int16_t rep,
                                       std::vector<std::string> path) {
  const arrow::DataType& t = *f.type;
  PlanNode n;
  n.id = t.id;
  n.nullable = f.nullable;
  n.first_leaf = static_cast<int>(leaves_.size());
  const int16_t d = static_cast<int16_t>(def + (f.nullable ? 1 : 0));
  path.push_back(f.name);
  if (t.is_list_like()) {
    SchemaElement g;
    g.name = f.name;
    g.has_repetition = true;
    g.repetition = f.nullable ? kOptional : kRequired;
    g.num_children = 1;
    g.converted_type = kList;
    g.logical = kLList;
    elements_.push_back(g);
    SchemaElement r;
    r.name = "list";
    r.has_repetition = true;
    r.repetition = kRepeated;
    r.num_children = 1;
    elements_.push_back(r);
    n.rep_level = static_cast<int16_t>(rep + 1);
    n.list_size = t.id == TypeId::kFixedSizeList ? t.list_size : 0;
    path.push_back("list");
    arrow::Field item = t.children.front();
    item.name = "element";
    n.children.push_back(add_field(item, static_cast<int16_t>(d + 1), n.rep_level, path));
  } else if (t.id == TypeId::kStruct) {
    if (t.children.empty()) throw InvalidArgument(fmt::format("Parquet writer: struct column \"{}\" has no fields", f.name));
    SchemaElement g;
    g.name = f.name;
    g.has_repetition = true;
    g.repetition = f.nullable ? kOptional : kRequired;
    g.num_children = static_cast<int32_t>(t.children.size());
    elements_.push_back(g);
    for (const auto& c : t.children) n.children.push_back(add_field(c, d, rep, path));
  } else {
    WriteLeaf leaf;
    elements_.push_back(leaf_element(f.name, f.nullable, t, leaf));
    leaf.path = path;
    leaf.max_def = d;
    leaf.max_rep = rep;
    n.leaf = static_cast<int>(leaves_.size());
    leaves_.push_back(std::move(leaf));
  }
  n.end_leaf = static_cast<int>(leaves_.size());
  return n;
}

void Shredder::shred_row(const std::vector<arrow::ArrayPtr>& columns, int64_t row,
                         std::vector<LeafBuffer>& out) const {
  for (size_t c = 0; c < roots_.size(); ++c) shred(roots_[c], *columns[c], row, 0, 0, out);
}

void Shredder::empty(const PlanNode& n, int16_t def, int16_t rep, std::vector<LeafBuffer>& out) const {
  for (int l = n.first_leaf; l < n.end_leaf; ++l) {
    LeafBuffer& b = out[l];
    if (leaves_[l].max_def > 0) b.def.push_back(def);
    if (leaves_[l].max_rep > 0) b.rep.push_back(rep);
    ++b.nulls;
  }
}

void Shredder::shred(const PlanNode& n, const arrow::ArrayData& a, int64_t i, int16_t def,
                     int16_t rep, std::vector<LeafBuffer>& out) const {
  if (n.nullable && !a.is_valid(i)) {
    empty(n, def, rep, out);
    return;
  }
  const int16_t d = static_cast<int16_t>(def + (n.nullable ? 1 : 0));
  switch (n.id) {
    case TypeId::kList:
    case TypeId::kLargeList:
    case TypeId::kFixedSizeList: {
      int64_t b, e;
      if (n.id == TypeId::kFixedSizeList) {
        b = (a.offset + i) * n.list_size;
        e = b + n.list_size;
      } else {
        std::tie(b, e) = arrow::value_range(a, i);
      }
      if (b == e) {
        empty(n, d, rep, out);
        return;
      }
      for (int64_t k = b; k < e; ++k) {
        shred(n.children.front(), *a.children.front(), k, static_cast<int16_t>(d + 1), k == b ? rep : n.rep_level, out);
      }
      return;
    }
    case TypeId::kStruct:
      for (size_t c = 0; c < n.children.size(); ++c) shred(n.children[c], *a.children[c], a.offset + i, d, rep, out);
      return;
    default:
      break;
  }
  LeafBuffer& lb = out[n.leaf];
  const WriteLeaf& leaf = leaves_[n.leaf];
  if (leaf.max_def > 0) lb.def.push_back(d);
  if (leaf.max_rep > 0) lb.rep.push_back(rep);
  Values& v = lb.values;
  switch (n.id) {
    case TypeId::kBool: v.data.push_back(arrow::bool_value(a, i) ? 1 : 0); break;
    case TypeId::kInt8: put<int32_t>(v, arrow::values<int8_t>(a)[i]); break;
    case TypeId::kInt16: put<int32_t>(v, arrow::values<int16_t>(a)[i]); break;
    case TypeId::kInt32: put<int32_t>(v, arrow::values<int32_t>(a)[i]); break;
    case TypeId::kInt64: put<int64_t>(v, arrow::values<int64_t>(a)[i]); break;
    case TypeId::kUInt8: put<int32_t>(v, arrow::values<uint8_t>(a)[i]); break;
    case TypeId::kUInt16: put<int32_t>(v, arrow::values<uint16_t>(a)[i]); break;
    case TypeId::kUInt32: put<uint32_t>(v, arrow::values<uint32_t>(a)[i]); break;
    case TypeId::kUInt64: put<uint64_t>(v, arrow::values<uint64_t>(a)[i]); break;
    case TypeId::kFloat16: put<uint16_t>(v, arrow::values<uint16_t>(a)[i]); break;
    case TypeId::kFloat32: put<float>(v, arrow::values<float>(a)[i]); break;
    case TypeId::kFloat64: put<double>(v, arrow::values<double>(a)[i]); break;
    default: {
      std::string_view s = arrow::binary_value(a, i);
      v.data.insert(v.data.end(), s.begin(), s.end());
      v.offsets.push_back(static_cast<int64_t>(v.data.size()));
    }
  }
}

}  // namespace mouse::parquet::detail
