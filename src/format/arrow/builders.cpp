#include "format/arrow/builders.hpp"

#include <fmt/format.h>

#include <cstring>
#include <limits>

#include "mouse/error.hpp"

namespace mouse::arrow {

namespace {

void check_valid_size(const std::vector<bool>& valid, int64_t length, const char* what) {
  if (!valid.empty() && static_cast<int64_t>(valid.size()) != length) {
    throw InvalidArgument(
        fmt::format("{}: validity has {} entries, expected {}", what, valid.size(), length));
  }
}

std::vector<bool> validity_of(const std::vector<std::optional<std::string>>& values) {
  std::vector<bool> valid(values.size());
  for (size_t i = 0; i < values.size(); ++i) valid[i] = values[i].has_value();
  return valid;
}

template <class Offset>
ArrayPtr make_binary_like(TypePtr type, const std::vector<std::optional<std::string>>& values) {
  const auto length = static_cast<int64_t>(values.size());
  int64_t total = 0;
  for (const auto& v : values) total += v ? static_cast<int64_t>(v->size()) : 0;
  if (total > static_cast<int64_t>(std::numeric_limits<Offset>::max())) {
    throw InvalidArgument(fmt::format("{} array: {} bytes of data do not fit 32-bit offsets",
                                      type->to_string(), total));
  }
  Buffer offsets = Buffer::allocate((length + 1) * static_cast<int64_t>(sizeof(Offset)));
  Buffer data = Buffer::allocate(total);
  auto* off = reinterpret_cast<Offset*>(offsets.mutable_data());
  int64_t pos = 0;
  for (int64_t i = 0; i < length; ++i) {
    off[i] = static_cast<Offset>(pos);
    const auto& v = values[static_cast<size_t>(i)];
    if (v && !v->empty()) {
      std::memcpy(data.mutable_data() + pos, v->data(), v->size());
      pos += static_cast<int64_t>(v->size());
    }
  }
  off[length] = static_cast<Offset>(pos);
  auto a = std::make_shared<ArrayData>();
  a->type = std::move(type);
  a->length = length;
  a->buffers = {make_validity(validity_of(values), length, &a->null_count), std::move(offsets),
                std::move(data)};
  return a;
}

}  // namespace

Buffer make_validity(const std::vector<bool>& valid, int64_t length, int64_t* null_count) {
  check_valid_size(valid, length, "make_validity");
  *null_count = 0;
  for (bool v : valid) *null_count += v ? 0 : 1;
  if (*null_count == 0) return {};
  Buffer bits = Buffer::allocate((length + 7) / 8);
  for (int64_t i = 0; i < length; ++i) {
    if (valid[static_cast<size_t>(i)]) bits.mutable_data()[i >> 3] |= uint8_t(1u << (i & 7));
  }
  return bits;
}

ArrayPtr make_fixed_width(TypePtr type, const void* data, int64_t length,
                          const std::vector<bool>& valid) {
  const int width = type->byte_width();
  if (width <= 0) {
    throw InvalidArgument(
        fmt::format("make_fixed_width: {} is not fixed-width", type->to_string()));
  }
  Buffer values = Buffer::allocate(length * width);
  if (length > 0) std::memcpy(values.mutable_data(), data, static_cast<size_t>(length * width));
  auto a = std::make_shared<ArrayData>();
  a->type = std::move(type);
  a->length = length;
  a->buffers = {make_validity(valid, length, &a->null_count), std::move(values)};
  return a;
}

ArrayPtr make_float16(std::span<const uint16_t> bits, const std::vector<bool>& valid) {
  return make_fixed_width(float16(), bits.data(), static_cast<int64_t>(bits.size()), valid);
}

ArrayPtr make_bool(const std::vector<bool>& values, const std::vector<bool>& valid) {
  const auto length = static_cast<int64_t>(values.size());
  Buffer bits = Buffer::allocate((length + 7) / 8);
  for (int64_t i = 0; i < length; ++i) {
    if (values[static_cast<size_t>(i)]) bits.mutable_data()[i >> 3] |= uint8_t(1u << (i & 7));
  }
  auto a = std::make_shared<ArrayData>();
  a->type = boolean();
  a->length = length;
  a->buffers = {make_validity(valid, length, &a->null_count), std::move(bits)};
  return a;
}

ArrayPtr make_utf8(const std::vector<std::optional<std::string>>& values, bool large) {
  return large ? make_binary_like<int64_t>(large_utf8(), values)
               : make_binary_like<int32_t>(utf8(), values);
}

ArrayPtr make_binary(const std::vector<std::optional<std::string>>& values, bool large) {
  return large ? make_binary_like<int64_t>(large_binary(), values)
               : make_binary_like<int32_t>(binary(), values);
}

ArrayPtr make_list(std::span<const int64_t> offsets, ArrayPtr child, const std::vector<bool>& valid,
                   bool large) {
  if (offsets.empty()) throw InvalidArgument("make_list: offsets need length + 1 entries");
  const auto length = static_cast<int64_t>(offsets.size()) - 1;
  for (size_t i = 0; i < offsets.size(); ++i) {
    if (offsets[i] < 0 || offsets[i] > child->length || (i > 0 && offsets[i] < offsets[i - 1])) {
      throw InvalidArgument(fmt::format(
          "make_list: offset {} is {}; offsets must be non-decreasing within the child's {} "
          "elements",
          i, offsets[i], child->length));
    }
  }
  if (!large && child->length > std::numeric_limits<int32_t>::max()) {
    throw InvalidArgument("make_list: child too long for 32-bit offsets; use large");
  }
  const int64_t width = large ? 8 : 4;
  Buffer off = Buffer::allocate(static_cast<int64_t>(offsets.size()) * width);
  for (size_t i = 0; i < offsets.size(); ++i) {
    if (large) {
      reinterpret_cast<int64_t*>(off.mutable_data())[i] = offsets[i];
    } else {
      reinterpret_cast<int32_t*>(off.mutable_data())[i] = static_cast<int32_t>(offsets[i]);
    }
  }
  Field item{"item", child->type, true, {}};
  auto a = std::make_shared<ArrayData>();
  a->type = large ? large_list(std::move(item)) : list(std::move(item));
  a->length = length;
  a->buffers = {make_validity(valid, length, &a->null_count), std::move(off)};
  a->children = {std::move(child)};
  return a;
}

ArrayPtr make_fixed_size_list(ArrayPtr child, int32_t size, const std::vector<bool>& valid) {
  if (size < 0 || (size > 0 && child->length % size != 0)) {
    throw InvalidArgument(
        fmt::format("make_fixed_size_list: child of {} elements is not a multiple of list size {}",
                    child->length, size));
  }
  // With size 0 the length cannot come from the child; it is the size of `valid`.
  const int64_t length = size > 0 ? child->length / size : static_cast<int64_t>(valid.size());
  auto a = std::make_shared<ArrayData>();
  a->type = fixed_size_list(Field{"item", child->type, true, {}}, size);
  a->length = length;
  a->buffers = {make_validity(valid, length, &a->null_count)};
  a->children = {std::move(child)};
  return a;
}

ArrayPtr make_struct(const std::vector<std::string>& names, std::vector<ArrayPtr> children,
                     const std::vector<bool>& valid, int64_t length) {
  if (names.size() != children.size()) {
    throw InvalidArgument(
        fmt::format("make_struct: {} names for {} children", names.size(), children.size()));
  }
  if (length < 0) {
    if (!children.empty()) {
      length = children.front()->length;
    } else {
      length = static_cast<int64_t>(valid.size());
    }
  }
  std::vector<Field> fields;
  for (size_t i = 0; i < children.size(); ++i) {
    if (children[i]->length != length) {
      throw InvalidArgument(fmt::format("make_struct: child \"{}\" has {} elements, expected {}",
                                        names[i], children[i]->length, length));
    }
    fields.push_back(Field{names[i], children[i]->type, true, {}});
  }
  auto a = std::make_shared<ArrayData>();
  a->type = struct_(std::move(fields));
  a->length = length;
  a->buffers = {make_validity(valid, length, &a->null_count)};
  a->children = std::move(children);
  return a;
}

ArrayPtr make_null(int64_t length) {
  auto a = std::make_shared<ArrayData>();
  a->type = null();
  a->length = length;
  a->null_count = length;
  a->buffers = {Buffer{}};
  return a;
}

RecordBatch make_batch(const std::vector<std::string>& names, std::vector<ArrayPtr> columns,
                       KeyValueMetadata metadata) {
  if (names.size() != columns.size()) {
    throw InvalidArgument(
        fmt::format("make_batch: {} names for {} columns", names.size(), columns.size()));
  }
  auto schema = std::make_shared<Schema>();
  schema->metadata = std::move(metadata);
  RecordBatch batch;
  batch.num_rows = columns.empty() ? 0 : columns.front()->length;
  for (size_t i = 0; i < columns.size(); ++i) {
    if (columns[i]->length != batch.num_rows) {
      throw InvalidArgument(fmt::format("make_batch: column \"{}\" has {} rows, expected {}",
                                        names[i], columns[i]->length, batch.num_rows));
    }
    schema->fields.push_back(Field{names[i], columns[i]->type, true, {}});
  }
  batch.schema = std::move(schema);
  batch.columns = std::move(columns);
  return batch;
}

}  // namespace mouse::arrow
