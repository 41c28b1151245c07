// The public Features wrapper over the internal feature tree.
#include <fmt/format.h>

#include "hf/dataset_state.hpp"
#include "hf/features.hpp"
#include "hf/py_json.hpp"
#include "mouse/dataset.hpp"
#include "mouse/error.hpp"

namespace mouse {

namespace {
const detail::Feature& lookup(const detail::FeaturesImpl& impl, std::string_view name) {
  const detail::Feature* f = impl.find(name);
  if (f == nullptr) {
    std::vector<std::string> names;
    for (const auto& c : impl.columns) names.push_back(c.first);
    throw KeyError(detail::missing_column_message(name, names));
  }
  return *f;
}
}  // namespace

Features::Features() : impl_(std::make_shared<detail::FeaturesImpl>()) {}

Features::Features(std::shared_ptr<const detail::FeaturesImpl> impl) : impl_(std::move(impl)) {
  if (!impl_) impl_ = std::make_shared<detail::FeaturesImpl>();
}

Features Features::from_json(std::string_view json, std::string_view source) {
  const std::string src(source);
  return Features(detail::parse_features(detail::parse_json(json, src), src));
}

Features Features::from_schema(const arrow::Schema& schema) {
  return Features(detail::infer_features(schema));
}

std::string Features::to_json() const { return detail::py_dumps(impl_->to_json()); }

std::vector<std::string> Features::names() const {
  std::vector<std::string> out;
  out.reserve(impl_->columns.size());
  for (const auto& c : impl_->columns) out.push_back(c.first);
  return out;
}

size_t Features::size() const noexcept { return impl_->columns.size(); }

bool Features::contains(std::string_view name) const noexcept {
  return impl_->find(name) != nullptr;
}

std::string Features::type_of(std::string_view name) const {
  return detail::describe(lookup(*impl_, name));
}

arrow::TypePtr Features::arrow_type(std::string_view name) const {
  const detail::Feature& f = lookup(*impl_, name);
  if (!f.type) {
    const detail::Feature* u = detail::find_unknown(f);
    throw InvalidArgument(fmt::format(
        "column \"{}\": feature type \"{}\" is not supported by mouse-data, and its Arrow type "
        "is only known once the features are matched with data",
        name, u ? u->type_name : "?"));
  }
  return f.type;
}

bool Features::is_supported(std::string_view name) const {
  return detail::find_unknown(lookup(*impl_, name)) == nullptr;
}

void Features::require_supported(std::string_view name) const {
  if (const detail::Feature* u = detail::find_unknown(lookup(*impl_, name))) {
    throw InvalidArgument(
        fmt::format("column \"{}\" has feature type \"{}\", which mouse-data does not support",
                    name, u->type_name));
  }
}

std::vector<std::string> Features::class_names(std::string_view name) const {
  const detail::Feature& f = lookup(*impl_, name);
  if (f.kind != detail::FeatureKind::kClassLabel) {
    throw InvalidArgument(
        fmt::format("column \"{}\" is {}, not a ClassLabel", name, detail::describe(f)));
  }
  return f.class_names;
}

bool Features::operator==(const Features& other) const noexcept {
  const auto& a = impl_->columns;
  const auto& b = other.impl_->columns;
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first || !detail::same_feature(*a[i].second, *b[i].second)) {
      return false;
    }
  }
  return true;
}

}  // namespace mouse
