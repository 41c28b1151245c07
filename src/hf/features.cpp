#include "hf/features.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "core/checked_file.hpp"
#include "mouse/error.hpp"

namespace mouse::detail {

namespace {

using nlohmann::ordered_json;

struct DtypeEntry {
  const char* name;
  arrow::TypeId id;
};

// The dtype strings `datasets` accepts for the Arrow types we support (string_to_arrow resolves
// them through pyarrow's factory names, so "utf8" and "string" are both valid).
constexpr DtypeEntry kDtypes[] = {
    {"null", arrow::TypeId::kNull},          {"bool", arrow::TypeId::kBool},
    {"int8", arrow::TypeId::kInt8},          {"int16", arrow::TypeId::kInt16},
    {"int32", arrow::TypeId::kInt32},        {"int64", arrow::TypeId::kInt64},
    {"uint8", arrow::TypeId::kUInt8},        {"uint16", arrow::TypeId::kUInt16},
    {"uint32", arrow::TypeId::kUInt32},      {"uint64", arrow::TypeId::kUInt64},
    {"float16", arrow::TypeId::kFloat16},    {"float32", arrow::TypeId::kFloat32},
    {"float64", arrow::TypeId::kFloat64},    {"string", arrow::TypeId::kUtf8},
    {"utf8", arrow::TypeId::kUtf8},          {"large_string", arrow::TypeId::kLargeUtf8},
    {"large_utf8", arrow::TypeId::kLargeUtf8}, {"binary", arrow::TypeId::kBinary},
    {"large_binary", arrow::TypeId::kLargeBinary},
};

// The dtype `datasets` writes for an Arrow type (_arrow_to_datasets_dtype).
const char* dtype_of(arrow::TypeId id) {
  switch (id) {
    case arrow::TypeId::kUtf8: return "string";
    case arrow::TypeId::kLargeUtf8: return "large_string";
    default: break;
  }
  for (const auto& e : kDtypes) {
    if (e.id == id) return e.name;
  }
  return nullptr;
}

const char* json_kind(const ordered_json& j) { return j.type_name(); }

[[noreturn]] void fail(const std::string& source, const std::string& path,
                       const std::string& what) {
  throw FormatError(source, -1, fmt::format("features: {}: {}", excerpt(path), what));
}

arrow::Field item_field(arrow::TypePtr t) { return arrow::Field{"item", std::move(t), true, {}}; }

arrow::TypePtr list_type(const arrow::TypePtr& item, int64_t length) {
  if (!item) return nullptr;
  if (length >= 0) return arrow::fixed_size_list(item_field(item), static_cast<int32_t>(length));
  return arrow::list(item_field(item));
}

arrow::TypePtr struct_type(const std::vector<std::pair<std::string, FeaturePtr>>& members,
                           int64_t list_length, bool wrap_in_lists) {
  std::vector<arrow::Field> fields;
  for (const auto& [name, f] : members) {
    arrow::TypePtr t = wrap_in_lists ? list_type(f->type, list_length) : f->type;
    if (!t) return nullptr;
    fields.push_back(arrow::Field{name, std::move(t), true, {}});
  }
  return arrow::struct_(std::move(fields));
}

arrow::TypePtr image_type() {
  return arrow::struct_({arrow::Field{"bytes", arrow::binary(), true, {}},
                         arrow::Field{"path", arrow::utf8(), true, {}}});
}

// "length" of a Sequence / List: absent or null or -1 means variable.
int64_t parse_length(const ordered_json& j, const std::string& source, const std::string& path) {
  auto it = j.find("length");
  if (it == j.end() || it->is_null()) return -1;
  if (!it->is_number_integer()) {
    fail(source, path, fmt::format("\"length\" must be an integer, found {}", json_kind(*it)));
  }
  const int64_t n = it->get<int64_t>();
  if (n < -1 || n > std::numeric_limits<int32_t>::max()) {
    fail(source, path, fmt::format("\"length\" must be -1 or in [0, 2^31), found {}", n));
  }
  return n;
}

FeaturePtr parse_struct(const ordered_json& j, const std::string& path, const std::string& source,
                        bool top) {
  auto f = std::make_shared<Feature>();
  f->kind = FeatureKind::kStruct;
  for (const auto& [name, value] : j.items()) {
    const std::string sub = top ? fmt::format("column \"{}\"", name)
                                : fmt::format("{}, member \"{}\"", path, name);
    f->members.emplace_back(name, parse_feature(value, sub, source));
  }
  f->type = struct_type(f->members, -1, false);
  f->json = j;
  return f;
}

}  // namespace

const Feature* FeaturesImpl::find(std::string_view name) const noexcept {
  for (const auto& [n, f] : columns) {
    if (n == name) return f.get();
  }
  return nullptr;
}

ordered_json FeaturesImpl::to_json() const {
  ordered_json out = ordered_json::object();
  for (const auto& [name, f] : columns) out[name] = f->json;
  return out;
}

FeaturePtr parse_feature(const ordered_json& j, const std::string& path,
                         const std::string& source) {
  if (j.is_array()) {
    if (j.size() != 1) {
      fail(source, path,
           fmt::format("a list feature [F] must hold exactly one feature, found {}", j.size()));
    }
    auto f = std::make_shared<Feature>();
    f->kind = FeatureKind::kListLiteral;
    f->item = parse_feature(j[0], path + ", [0]", source);
    f->type = list_type(f->item->type, -1);
    f->json = j;
    return f;
  }
  if (!j.is_object()) {
    fail(source, path,
         fmt::format("expected a feature (a JSON object or a one-element list), found {}",
                     json_kind(j)));
  }
  auto type_it = j.find("_type");
  // A dict without "_type" (or whose "_type" is itself a column) is a struct.
  if (type_it == j.end() || type_it->is_object()) return parse_struct(j, path, source, false);
  if (!type_it->is_string()) {
    fail(source, path, fmt::format("\"_type\" must be a string, found {}", json_kind(*type_it)));
  }
  auto f = std::make_shared<Feature>();
  f->type_name = type_it->get<std::string>();
  f->json = j;
  const std::string& t = f->type_name;
  if (t == "Value") {
    f->kind = FeatureKind::kValue;
    auto d = j.find("dtype");
    if (d == j.end() || !d->is_string()) {
      fail(source, path, "a Value needs a string \"dtype\"");
    }
    std::string dtype = d->get<std::string>();
    if (dtype == "float") dtype = "float32";
    if (dtype == "double") dtype = "float64";
    for (const auto& e : kDtypes) {
      if (dtype == e.name) f->type = arrow::primitive(e.id);
    }
    if (!f->type) {
      fail(source, path,
           fmt::format("Value dtype \"{}\" is not supported (supported: bool, int8..int64, "
                       "uint8..uint64, float16, float32, float64, string, large_string, binary, "
                       "large_binary, null)",
                       dtype));
    }
    f->dtype = std::move(dtype);
  } else if (t == "ClassLabel") {
    f->kind = FeatureKind::kClassLabel;
    auto names = j.find("names");
    if (names != j.end() && !names->is_null()) {
      if (!names->is_array()) fail(source, path, "ClassLabel \"names\" must be a list");
      for (const auto& n : *names) {
        if (!n.is_string()) fail(source, path, "ClassLabel \"names\" must be strings");
        f->class_names.push_back(n.get<std::string>());
      }
    } else {
      auto num = j.find("num_classes");
      if (num == j.end() || !num->is_number_integer() || num->get<int64_t>() < 0) {
        fail(source, path, "a ClassLabel needs \"names\" or a non-negative \"num_classes\"");
      }
      // Names are made for every class: a hostile count must not fill the memory first.
      constexpr int64_t kMaxClasses = int64_t{1} << 20;
      if (num->get<int64_t>() > kMaxClasses) {
        fail(source, path, fmt::format("ClassLabel \"num_classes\" {} is more than {}",
                                       num->get<int64_t>(), kMaxClasses));
      }
      for (int64_t i = 0; i < num->get<int64_t>(); ++i) f->class_names.push_back(std::to_string(i));
    }
    f->type = arrow::int64();
  } else if (t == "Sequence" || t == "List" || t == "LargeList") {
    f->kind = t == "Sequence" ? FeatureKind::kSequence
              : t == "List"   ? FeatureKind::kList
                              : FeatureKind::kLargeList;
    auto item = j.find("feature");
    if (item == j.end()) fail(source, path, fmt::format("a {} needs a \"feature\"", t));
    f->item = parse_feature(*item, path + ", feature", source);
    f->length = parse_length(j, source, path);
    if (f->kind == FeatureKind::kLargeList) {
      if (f->length >= 0) fail(source, path, "a LargeList has no fixed \"length\"");
      f->type = f->item->type ? arrow::large_list(item_field(f->item->type)) : nullptr;
    } else if (f->kind == FeatureKind::kSequence && f->item->kind == FeatureKind::kStruct) {
      // datasets (after tfds): a Sequence of a dict is stored as a dict of lists.
      f->type = struct_type(f->item->members, f->length, true);
    } else {
      f->type = list_type(f->item->type, f->length);
    }
  } else if (t == "Image") {
    f->kind = FeatureKind::kImage;
    f->type = image_type();
  } else {
    f->kind = FeatureKind::kUnknown;
  }
  return f;
}

std::shared_ptr<FeaturesImpl> parse_features(const ordered_json& j, const std::string& source) {
  if (!j.is_object()) {
    throw FormatError(source, -1,
                      fmt::format("features: expected an object of column name -> feature, "
                                  "found {}",
                                  json_kind(j)));
  }
  auto root = parse_struct(j, "", source, true);
  auto out = std::make_shared<FeaturesImpl>();
  out->columns = root->members;
  return out;
}

FeaturePtr infer_feature(const arrow::TypePtr& type) {
  auto f = std::make_shared<Feature>();
  f->type = type;
  switch (type->id) {
    case arrow::TypeId::kFixedSizeList:
    case arrow::TypeId::kList:
    case arrow::TypeId::kLargeList: {
      f->item = infer_feature(type->value_type());
      const bool fixed = type->id == arrow::TypeId::kFixedSizeList;
      f->length = fixed ? type->list_size : -1;
      if (type->id == arrow::TypeId::kLargeList) {
        f->kind = FeatureKind::kLargeList;
        f->type_name = "LargeList";
        f->json = ordered_json{{"feature", f->item->json}, {"_type", "LargeList"}};
      } else if (f->item->kind == FeatureKind::kStruct && !fixed) {
        f->kind = FeatureKind::kListLiteral;
        f->json = ordered_json::array({f->item->json});
      } else {
        // A Sequence of a dict would mean a dict of lists, so fixed-size lists of structs
        // need the datasets >= 4 List form.
        const bool list_form = f->item->kind == FeatureKind::kStruct;
        f->kind = list_form ? FeatureKind::kList : FeatureKind::kSequence;
        f->type_name = list_form ? "List" : "Sequence";
        f->json = ordered_json::object();
        f->json["feature"] = f->item->json;
        if (fixed) f->json["length"] = f->length;
        f->json["_type"] = f->type_name;
      }
      return f;
    }
    case arrow::TypeId::kStruct: {
      f->kind = FeatureKind::kStruct;
      f->json = ordered_json::object();
      for (const auto& field : type->children) {
        auto member = infer_feature(field.type);
        f->json[field.name] = member->json;
        f->members.emplace_back(field.name, std::move(member));
      }
      return f;
    }
    default: {
      f->kind = FeatureKind::kValue;
      f->type_name = "Value";
      const char* dtype = dtype_of(type->id);
      MOUSE_DCHECK(dtype != nullptr);
      f->dtype = dtype ? dtype : "null";
      f->json = ordered_json{{"dtype", f->dtype}, {"_type", "Value"}};
      return f;
    }
  }
}

std::shared_ptr<FeaturesImpl> infer_features(const arrow::Schema& schema) {
  auto out = std::make_shared<FeaturesImpl>();
  for (const auto& field : schema.fields) out->columns.emplace_back(field.name, infer_feature(field.type));
  return out;
}

namespace {

std::string expected_text(const Feature& f) {
  return f.type ? fmt::format("{} ({})", describe(f), f.type->to_string()) : describe(f);
}

FeaturePtr mismatch(const Feature& f, const arrow::TypePtr& actual, const std::string& path,
                    std::string& error) {
  error = fmt::format("{}: features say {}, the data has {}", path, expected_text(f),
                      actual ? actual->to_string() : "nothing");
  return nullptr;
}

// Matches dict members with the fields of a struct type (by name, result in the data's
// order); with `list_length` > -2 each data field must be a list of that length
// (-1: variable) whose items are matched instead (Sequence of a dict).
bool match_members(const Feature& dict, const arrow::DataType& actual, int64_t list_length,
                   bool lists, const std::string& path, std::string& error,
                   std::vector<std::pair<std::string, FeaturePtr>>& out) {
  if (actual.id != arrow::TypeId::kStruct || actual.children.size() != dict.members.size()) {
    return false;
  }
  for (const auto& field : actual.children) {
    auto it = std::find_if(dict.members.begin(), dict.members.end(),
                           [&](const auto& m) { return m.first == field.name; });
    if (it == dict.members.end()) return false;
    arrow::TypePtr t = field.type;
    const std::string sub = fmt::format("{}, member \"{}\"", path, field.name);
    if (lists) {
      const bool ok = list_length >= 0 ? (t->id == arrow::TypeId::kFixedSizeList &&
                                          t->list_size == list_length)
                                       : t->id == arrow::TypeId::kList;
      if (!ok) {
        error = fmt::format("{}: features say a Sequence{} of {}, the data has {}", sub,
                            list_length >= 0 ? fmt::format(" of length {}", list_length) : "",
                            describe(*it->second), t->to_string());
        return false;
      }
      t = t->value_type();
    }
    auto matched = match_feature(it->second, t, sub, error);
    if (!matched) return false;
    out.emplace_back(field.name, std::move(matched));
  }
  return true;
}

ordered_json members_json(const std::vector<std::pair<std::string, FeaturePtr>>& members) {
  ordered_json j = ordered_json::object();
  for (const auto& [name, f] : members) j[name] = f->json;
  return j;
}

}  // namespace

FeaturePtr match_feature(const FeaturePtr& feature, const arrow::TypePtr& actual,
                         const std::string& path, std::string& error) {
  const Feature& f = *feature;
  if (!actual) return mismatch(f, actual, path, error);
  auto out = std::make_shared<Feature>(f);
  out->type = actual;
  switch (f.kind) {
    case FeatureKind::kUnknown:
      return out;
    case FeatureKind::kValue:
    case FeatureKind::kClassLabel:
    case FeatureKind::kImage:
      if (!f.type || !storage_equal(*f.type, *actual)) return mismatch(f, actual, path, error);
      return out;
    case FeatureKind::kStruct: {
      out->members.clear();
      if (!match_members(f, *actual, -1, false, path, error, out->members)) {
        return error.empty() ? mismatch(f, actual, path, error) : nullptr;
      }
      out->json = members_json(out->members);
      return out;
    }
    case FeatureKind::kSequence:
    case FeatureKind::kList:
    case FeatureKind::kListLiteral:
    case FeatureKind::kLargeList: {
      if (f.kind == FeatureKind::kSequence && f.item->kind == FeatureKind::kStruct) {
        auto item = std::make_shared<Feature>(*f.item);
        item->members.clear();
        if (!match_members(*f.item, *actual, f.length, true, path + ", feature", error,
                           item->members)) {
          return error.empty() ? mismatch(f, actual, path, error) : nullptr;
        }
        item->json = members_json(item->members);
        std::vector<arrow::Field> fields;
        for (const auto& [name, m] : item->members) fields.push_back({name, m->type, true, {}});
        item->type = arrow::struct_(std::move(fields));
        out->item = item;
        out->json["feature"] = item->json;
        return out;
      }
      bool ok;
      if (f.kind == FeatureKind::kLargeList) {
        ok = actual->id == arrow::TypeId::kLargeList;
      } else if (f.length >= 0) {
        ok = actual->id == arrow::TypeId::kFixedSizeList && actual->list_size == f.length;
      } else {
        ok = actual->id == arrow::TypeId::kList;
      }
      if (!ok) return mismatch(f, actual, path, error);
      const std::string sub = path + (f.kind == FeatureKind::kListLiteral ? ", [0]" : ", feature");
      out->item = match_feature(f.item, actual->value_type(), sub, error);
      if (!out->item) return nullptr;
      if (f.kind == FeatureKind::kListLiteral) {
        out->json = ordered_json::array({out->item->json});
      } else {
        out->json["feature"] = out->item->json;
      }
      return out;
    }
  }
  return mismatch(f, actual, path, error);
}

std::shared_ptr<FeaturesImpl> match_features(const FeaturesImpl& features,
                                             const arrow::Schema& schema, std::string& error) {
  auto out = std::make_shared<FeaturesImpl>();
  for (const auto& field : schema.fields) {
    const auto it = std::find_if(features.columns.begin(), features.columns.end(),
                                 [&](const auto& c) { return c.first == field.name; });
    if (it == features.columns.end()) {
      error = fmt::format("column \"{}\" is in the data but not in the features", field.name);
      return nullptr;
    }
    auto matched = match_feature(it->second, field.type, fmt::format("column \"{}\"", field.name),
                                 error);
    if (!matched) return nullptr;
    out->columns.emplace_back(field.name, std::move(matched));
  }
  for (const auto& [name, f] : features.columns) {
    if (schema.field_index(name) < 0) {
      error = fmt::format("column \"{}\" is in the features but not in the data", name);
      return nullptr;
    }
  }
  return out;
}

std::string describe(const Feature& f) {
  switch (f.kind) {
    case FeatureKind::kValue:
      return fmt::format("Value({})", f.dtype);
    case FeatureKind::kClassLabel:
      return fmt::format("ClassLabel(num_classes={})", f.class_names.size());
    case FeatureKind::kSequence:
    case FeatureKind::kList: {
      const char* name = f.kind == FeatureKind::kSequence ? "Sequence" : "List";
      if (f.length >= 0) return fmt::format("{}({}, length={})", name, describe(*f.item), f.length);
      return fmt::format("{}({})", name, describe(*f.item));
    }
    case FeatureKind::kLargeList:
      return fmt::format("LargeList({})", describe(*f.item));
    case FeatureKind::kListLiteral:
      return fmt::format("[{}]", describe(*f.item));
    case FeatureKind::kImage:
      return "Image()";
    case FeatureKind::kStruct: {
      std::string out = "{";
      for (size_t i = 0; i < f.members.size(); ++i) {
        if (i) out += ", ";
        out += fmt::format("{}: {}", f.members[i].first, describe(*f.members[i].second));
      }
      return out + "}";
    }
    case FeatureKind::kUnknown:
      return fmt::format("{}(unsupported)", f.type_name);
  }
  return "?";
}

const Feature* find_unknown(const Feature& f) noexcept {
  if (f.kind == FeatureKind::kUnknown) return &f;
  if (f.item) {
    if (const Feature* u = find_unknown(*f.item)) return u;
  }
  for (const auto& [name, m] : f.members) {
    if (const Feature* u = find_unknown(*m)) return u;
  }
  return nullptr;
}

namespace {
// Sequence (of a non-dict), List and [F] all mean the same list type.
bool plain_list(const Feature& f) {
  return f.kind == FeatureKind::kList || f.kind == FeatureKind::kListLiteral ||
         (f.kind == FeatureKind::kSequence && f.item->kind != FeatureKind::kStruct);
}
}  // namespace

bool same_feature(const Feature& a, const Feature& b) noexcept {
  if (plain_list(a) && plain_list(b)) {
    return a.length == b.length && same_feature(*a.item, *b.item);
  }
  if (a.kind != b.kind) return false;
  switch (a.kind) {
    case FeatureKind::kValue:
      return a.type && b.type && storage_equal(*a.type, *b.type);
    case FeatureKind::kClassLabel:
      return a.class_names == b.class_names;
    case FeatureKind::kImage:
      return true;
    case FeatureKind::kUnknown:
      return a.type_name == b.type_name &&
             (!a.type || !b.type || storage_equal(*a.type, *b.type));
    case FeatureKind::kSequence:  // of a dict
    case FeatureKind::kLargeList:
      return a.length == b.length && same_feature(*a.item, *b.item);
    case FeatureKind::kStruct:
      if (a.members.size() != b.members.size()) return false;
      for (size_t i = 0; i < a.members.size(); ++i) {
        if (a.members[i].first != b.members[i].first ||
            !same_feature(*a.members[i].second, *b.members[i].second)) {
          return false;
        }
      }
      return true;
    case FeatureKind::kList:
    case FeatureKind::kListLiteral:
      return false;  // handled by plain_list above
  }
  return false;
}

bool storage_equal(const arrow::DataType& a, const arrow::DataType& b) noexcept {
  if (a.id != b.id || a.children.size() != b.children.size()) return false;
  if (a.id == arrow::TypeId::kFixedSizeList && a.list_size != b.list_size) return false;
  const bool is_struct = a.id == arrow::TypeId::kStruct;
  for (size_t i = 0; i < a.children.size(); ++i) {
    if (is_struct && a.children[i].name != b.children[i].name) return false;
    if (!a.children[i].type || !b.children[i].type) return false;
    if (!storage_equal(*a.children[i].type, *b.children[i].type)) return false;
  }
  return true;
}

}  // namespace mouse::detail
