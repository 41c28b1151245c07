// Python <-> C++ conversions. Arrays cross in both directions without copies: Arrow data through
// the C data interface capsules, tensors through nanobind's DLPack-based ndarray.
#include "convert.hpp"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <memory>

#include "mouse/arrow_c_data.hpp"
#include "mouse/error.hpp"

namespace mouse::py {

namespace {

using ArrayView = nb::ndarray<nb::ro, nb::device::cpu, nb::c_contig>;

// An owner for memory that belongs to a Python object: dropping it takes the GIL, since the last
// reference may go away on a worker thread.
std::shared_ptr<const void> python_owner(const ArrayView& view) {
  return std::shared_ptr<const void>(new ArrayView(view), [](const void* p) {
    nb::gil_scoped_acquire gil;
    delete static_cast<const ArrayView*>(p);
  });
}

bool try_array(nb::handle h, ArrayView& out) {
  if (nb::try_cast(h, out, false)) return true;
  // PIL images and other __array_interface__ objects: through numpy.asarray.
  if (nb::hasattr(h, "__array_interface__") || nb::hasattr(h, "__array__")) {
    nb::object arr = nb::module_::import_("numpy").attr("ascontiguousarray")(h);
    if (nb::try_cast(arr, out, false)) return true;
    // Non-native byte order (">f4" from a file): DLPack has no such arrays; native ones hold the
    // same values.
    nb::object dtype = arr.attr("dtype");
    const std::string order = nb::cast<std::string>(dtype.attr("byteorder"));
    if (order == ">" || order == "<") {
      arr = arr.attr("astype")(dtype.attr("newbyteorder")("="));
      return nb::try_cast(arr, out, false);
    }
  }
  return false;
}

struct DTypeMap {
  nb::dlpack::dtype dl;
  DType dtype;
};

const DTypeMap kTensorTypes[] = {
    {nb::dtype<bool>(), DType::kBool},       {nb::dtype<uint8_t>(), DType::kUInt8},
    {nb::dtype<int32_t>(), DType::kInt32},   {nb::dtype<int64_t>(), DType::kInt64},
    {nb::dtype<float>(), DType::kFloat32},   {nb::dtype<double>(), DType::kFloat64},
};

std::string dl_name(nb::dlpack::dtype d) {
  const char* kind = d.code == uint8_t(nb::dlpack::dtype_code::Int)     ? "int"
                     : d.code == uint8_t(nb::dlpack::dtype_code::UInt)  ? "uint"
                     : d.code == uint8_t(nb::dlpack::dtype_code::Float) ? "float"
                     : d.code == uint8_t(nb::dlpack::dtype_code::Bool)  ? "bool"
                                                                        : "other";
  return fmt::format("{}{}", kind, d.bits);
}

// Arrow type of a DLPack element type (the bulk append path).
arrow::TypePtr arrow_type_of(nb::dlpack::dtype d, std::string_view where) {
  using C = nb::dlpack::dtype_code;
  if (d.lanes == 1) {
    if (d.code == uint8_t(C::Bool) && d.bits == 8) return arrow::boolean();
    if (d.code == uint8_t(C::Int)) {
      switch (d.bits) {
        case 8: return arrow::int8();
        case 16: return arrow::int16();
        case 32: return arrow::int32();
        case 64: return arrow::int64();
      }
    }
    if (d.code == uint8_t(C::UInt)) {
      switch (d.bits) {
        case 8: return arrow::uint8();
        case 16: return arrow::uint16();
        case 32: return arrow::uint32();
        case 64: return arrow::uint64();
      }
    }
    if (d.code == uint8_t(C::Float)) {
      switch (d.bits) {
        case 16: return arrow::float16();
        case 32: return arrow::float32();
        case 64: return arrow::float64();
      }
    }
  }
  throw TypeError(fmt::format("{}: arrays of {} are not supported (bool, int8..uint64, float16/32/64)",
                              where, dl_name(d)));
}

// IEEE half bits as a double (exact).
double half_to_double(uint16_t h) {
  const int exp = (h >> 10) & 0x1F;
  const int mant = h & 0x3FF;
  double magnitude;
  if (exp == 0) {
    magnitude = std::ldexp(static_cast<double>(mant), -24);
  } else if (exp == 31) {
    magnitude = mant != 0 ? std::numeric_limits<double>::quiet_NaN()
                          : std::numeric_limits<double>::infinity();
  } else {
    magnitude = std::ldexp(static_cast<double>(mant | 0x400), exp - 25);
  }
  return (h & 0x8000) != 0 ? -magnitude : magnitude;
}

// Element `i` of a flat array of DLPack type `d`, as a step value.
StepValue element(const uint8_t* data, nb::dlpack::dtype d, int64_t i) {
  using C = nb::dlpack::dtype_code;
  const uint8_t* p = data + i * (d.bits / 8);
  auto load = [p]<class T>(T) {
    T v;
    std::memcpy(&v, p, sizeof(T));
    return v;
  };
  if (d.code == uint8_t(C::Bool)) return StepValue(*p != 0);
  if (d.code == uint8_t(C::Int)) {
    switch (d.bits) {
      case 8: return StepValue(int64_t{load(int8_t{})});
      case 16: return StepValue(int64_t{load(int16_t{})});
      case 32: return StepValue(int64_t{load(int32_t{})});
      default: return StepValue(load(int64_t{}));
    }
  }
  if (d.code == uint8_t(C::UInt)) {
    switch (d.bits) {
      case 8: return StepValue(int64_t{load(uint8_t{})});
      case 16: return StepValue(int64_t{load(uint16_t{})});
      case 32: return StepValue(int64_t{load(uint32_t{})});
      default: {
        const uint64_t v = load(uint64_t{});
        if (v > static_cast<uint64_t>(INT64_MAX)) {
          throw TypeError(fmt::format("uint64 value {} does not fit int64", v));
        }
        return StepValue(static_cast<int64_t>(v));
      }
    }
  }
  if (d.bits == 16) return StepValue(half_to_double(load(uint16_t{})));
  if (d.bits == 32) return StepValue(double{load(float{})});
  if (d.bits == 64) return StepValue(load(double{}));
  throw TypeError(fmt::format("float{} values are not supported (use float16, float32 or float64)",
                              d.bits));
}

StepValue nested_list(const uint8_t* data, nb::dlpack::dtype d, const int64_t* shape, int64_t ndim,
                      int64_t first) {
  StepValue::List out;
  out.reserve(static_cast<size_t>(shape[0]));
  if (ndim == 1) {
    for (int64_t i = 0; i < shape[0]; ++i) out.push_back(element(data, d, first + i));
    return StepValue(std::move(out));
  }
  int64_t inner = 1;
  for (int64_t k = 1; k < ndim; ++k) inner *= shape[k];
  for (int64_t i = 0; i < shape[0]; ++i) {
    out.push_back(nested_list(data, d, shape + 1, ndim - 1, first + i * inner));
  }
  return StepValue(std::move(out));
}

bool is_image_column(std::string_view column) { return column == "observation_image"; }

// Pixels of an H x W (x C) array for the image column.
StepValue image_from_array(const ArrayView& a, std::string_view column) {
  using C = nb::dlpack::dtype_code;
  const nb::dlpack::dtype d = a.dtype();
  ImagePixels img;
  img.height = static_cast<int64_t>(a.shape(0));
  img.width = static_cast<int64_t>(a.shape(1));
  img.channels = a.ndim() == 3 ? static_cast<int64_t>(a.shape(2)) : 1;
  const size_t n = a.size();
  if (d == nb::dtype<uint8_t>()) {
    const auto* p = static_cast<const uint8_t*>(a.data());
    img.pixels.assign(p, p + n);
    return StepValue(std::move(img));
  }
  if (d.code == uint8_t(C::Float)) {
    // [0, 1] intensities: the library scales them (DatasetStore::append, ImagePixels).
    img.float_pixels.resize(n);
    const auto* base = static_cast<const uint8_t*>(a.data());
    for (size_t i = 0; i < n; ++i) {
      img.float_pixels[i] = std::get<double>(element(base, d, static_cast<int64_t>(i)).value);
    }
    return StepValue(std::move(img));
  }
  if (d.code == uint8_t(C::Int) || d.code == uint8_t(C::UInt) || d.code == uint8_t(C::Bool)) {
    img.pixels.resize(n);
    const auto* base = static_cast<const uint8_t*>(a.data());
    for (size_t i = 0; i < n; ++i) {
      const int64_t v = std::get<int64_t>(element(base, d, static_cast<int64_t>(i)).value);
      if (v < 0 || v > 255) {
        throw TypeError(fmt::format("column \"{}\": pixel value {} at element {} is outside "
                                    "[0, 255]",
                                    column, v, i));
      }
      img.pixels[i] = static_cast<uint8_t>(v);
    }
    return StepValue(std::move(img));
  }
  throw TypeError(fmt::format("column \"{}\": image arrays of {} are not supported", column,
                              dl_name(d)));
}

StepValue value_from_python(nb::handle h, std::string_view column);

StepValue value_from_array(const ArrayView& a, std::string_view column) {
  const auto* data = static_cast<const uint8_t*>(a.data());
  const nb::dlpack::dtype d = a.dtype();
  arrow_type_of(d, fmt::format("column \"{}\"", column));  // rejects unsupported element types
  if (a.ndim() == 0) return element(data, d, 0);
  if (is_image_column(column) && (a.ndim() == 2 || a.ndim() == 3)) {
    return image_from_array(a, column);
  }
  std::vector<int64_t> shape(a.ndim());
  for (size_t k = 0; k < a.ndim(); ++k) shape[k] = static_cast<int64_t>(a.shape(k));
  return nested_list(data, d, shape.data(), static_cast<int64_t>(shape.size()), 0);
}

StepValue value_from_python(nb::handle h, std::string_view column) {
  if (h.is_none()) return StepValue();
  PyObject* o = h.ptr();
  if (PyBool_Check(o)) return StepValue(o == Py_True);
  if (PyLong_Check(o)) {
    int overflow = 0;
    const long long v = PyLong_AsLongLongAndOverflow(o, &overflow);
    if (overflow != 0) {
      throw TypeError(fmt::format("column \"{}\": integer {} does not fit int64", column,
                                  nb::cast<std::string>(nb::str(h))));
    }
    return StepValue(static_cast<int64_t>(v));
  }
  if (PyFloat_Check(o)) return StepValue(PyFloat_AS_DOUBLE(o));
  if (PyUnicode_Check(o)) return StepValue(nb::cast<std::string>(h));
  if (PyBytes_Check(o)) {
    return StepValue(EncodedImage{std::string(PyBytes_AS_STRING(o),
                                              static_cast<size_t>(PyBytes_GET_SIZE(o)))});
  }
  if (PyByteArray_Check(o) || PyMemoryView_Check(o)) {
    nb::object bytes = nb::steal(PyBytes_FromObject(o));
    if (!bytes.is_valid()) throw nb::python_error();
    return value_from_python(bytes, column);
  }
  if (PyDict_Check(o)) {
    // An HF Image value: {"bytes": ..., "path": ...}.
    nb::dict d = nb::borrow<nb::dict>(h);
    if (d.contains("bytes") && !d["bytes"].is_none()) return value_from_python(d["bytes"], column);
    if (d.contains("path") && !d["path"].is_none()) {
      nb::object f = nb::module_::import_("builtins").attr("open")(d["path"], "rb");
      nb::object bytes = f.attr("read")();
      f.attr("close")();
      return value_from_python(bytes, column);
    }
    throw TypeError(fmt::format("column \"{}\": a dict value must be an image "
                                "{{\"bytes\": ..., \"path\": ...}} with one of them set",
                                column));
  }
  if (PyList_Check(o) || PyTuple_Check(o)) {
    if (is_image_column(column)) {
      // Nested pixel lists, as the original accepts them through numpy.asarray.
      nb::object arr = nb::module_::import_("numpy").attr("asarray")(h);
      ArrayView view;
      if (try_array(arr, view) && (view.ndim() == 2 || view.ndim() == 3)) {
        return image_from_array(view, column);
      }
    }
    StepValue::List out;
    const Py_ssize_t n = PySequence_Fast_GET_SIZE(o);
    out.reserve(static_cast<size_t>(n));
    for (Py_ssize_t i = 0; i < n; ++i) {
      out.push_back(value_from_python(PySequence_Fast_GET_ITEM(o, i), column));
    }
    return StepValue(std::move(out));
  }
  // NumPy scalars and 0-dim arrays / tensors (of any dtype: bool, ints, float16..64) become
  // Python scalars; arrays and tensors are read in place.
  if (nb::hasattr(h, "dtype") && nb::hasattr(h, "ndim") && nb::cast<int>(h.attr("ndim")) == 0 &&
      nb::hasattr(h, "item")) {
    return value_from_python(h.attr("item")(), column);
  }
  // NumPy object arrays (lists of Python values in an array): their values, as lists.
  if (nb::hasattr(h, "dtype") && nb::hasattr(h, "tolist")) {
    nb::object dtype = h.attr("dtype");
    if (nb::hasattr(dtype, "kind") && nb::cast<std::string>(dtype.attr("kind")) == "O") {
      return value_from_python(h.attr("tolist")(), column);
    }
  }
  ArrayView view;
  if (try_array(h, view)) return value_from_array(view, column);
  throw TypeError(fmt::format("column \"{}\": values of type {} cannot be appended (int, float, "
                              "bool, str, None, lists, NumPy arrays, torch tensors, PIL images, "
                              "PNG/JPEG bytes, {{\"bytes\", \"path\"}} dicts)",
                              column, nb::cast<std::string>(nb::str(h.type()))));
}

// A flat primitive Arrow array viewing `view`'s memory (bool is bit-packed, so copied).
arrow::ArrayPtr primitive_array(const ArrayView& view, const arrow::TypePtr& type, int64_t n,
                                const std::shared_ptr<const void>& owner) {
  auto a = std::make_shared<arrow::ArrayData>();
  a->type = type;
  a->length = n;
  a->buffers.emplace_back();
  const auto* data = static_cast<const uint8_t*>(view.data());
  if (type->id == arrow::TypeId::kBool) {
    Buffer bits = Buffer::allocate((n + 7) / 8);
    uint8_t* out = bits.mutable_data();
    for (int64_t i = 0; i < n; ++i) {
      if (data[i] != 0) out[i >> 3] |= static_cast<uint8_t>(1u << (i & 7));
    }
    a->buffers.push_back(std::move(bits));
  } else {
    a->buffers.emplace_back(data, n * type->byte_width(), owner);
  }
  return a;
}

}  // namespace

Framework framework_from_name(std::string_view name) {
  if (name == "numpy") return Framework::kNumpy;
  if (name == "torch") return Framework::kTorch;
  throw InvalidArgument(fmt::format("output format \"{}\" is not one of \"torch\", \"numpy\"", name));
}

Dataset dataset_from_stream_capsule(nb::handle capsule, const std::string* features_json) {
  auto* stream = static_cast<ArrowArrayStream*>(
      PyCapsule_GetPointer(capsule.ptr(), "arrow_array_stream"));
  if (stream == nullptr) {
    PyErr_Clear();
    throw mouse::TypeError("expected an \"arrow_array_stream\" PyCapsule (__arrow_c_stream__)");
  }
  nb::gil_scoped_release release;
  arrow::ImportedStream imported = arrow::import_stream(stream, "Arrow C stream");
  std::optional<Features> features;
  if (features_json != nullptr) features = Features::from_json(*features_json, "features");
  return Dataset::from_batches(std::move(imported.schema), std::move(imported.batches),
                               std::move(features));
}

arrow::ArrayPtr array_from_capsules(nb::handle schema_capsule, nb::handle array_capsule,
                                    std::string_view where) {
  auto* schema = static_cast<ArrowSchema*>(PyCapsule_GetPointer(schema_capsule.ptr(), "arrow_schema"));
  auto* array = static_cast<ArrowArray*>(PyCapsule_GetPointer(array_capsule.ptr(), "arrow_array"));
  if (schema == nullptr || array == nullptr) {
    PyErr_Clear();
    throw mouse::TypeError(fmt::format("{}: __arrow_c_array__ must return (\"arrow_schema\", "
                                       "\"arrow_array\") PyCapsules",
                                       where));
  }
  arrow::Field field = arrow::import_field(*schema);
  return arrow::import_array(array, field.type, where);
}

nb::object dataset_to_stream_capsule(const Dataset& dataset) {
  auto* stream = new ArrowArrayStream{};
  arrow::export_stream(dataset.schema(), dataset.batches(), stream);
  PyObject* cap = PyCapsule_New(stream, "arrow_array_stream", [](PyObject* c) {
    auto* s = static_cast<ArrowArrayStream*>(PyCapsule_GetPointer(c, "arrow_array_stream"));
    if (s == nullptr) return;
    if (s->release != nullptr) s->release(s);
    delete s;
  });
  if (cap == nullptr) {
    stream->release(stream);
    delete stream;
    throw nb::python_error();
  }
  return nb::steal(cap);
}

Tensor tensor_from_array(nb::handle array, std::string_view name) {
  ArrayView view;
  if (!try_array(array, view)) {
    throw mouse::TypeError(fmt::format("\"{}\": expected a CPU array or tensor, got {}", name,
                                       nb::cast<std::string>(nb::str(array.type()))));
  }
  DType dtype{};
  bool found = false;
  for (const auto& m : kTensorTypes) {
    if (m.dl == view.dtype()) {
      dtype = m.dtype;
      found = true;
    }
  }
  if (!found) {
    throw mouse::TypeError(fmt::format("\"{}\": dtype {} is not supported (bool, uint8, int32, "
                                       "int64, float32, float64)",
                                       name, dl_name(view.dtype())));
  }
  std::vector<int64_t> shape(view.ndim());
  for (size_t k = 0; k < view.ndim(); ++k) shape[k] = static_cast<int64_t>(view.shape(k));
  const int64_t nbytes = static_cast<int64_t>(view.nbytes());
  static const uint8_t kEmpty[8] = {};
  const auto* data = nbytes == 0 ? kEmpty : static_cast<const uint8_t*>(view.data());
  return Tensor::from_buffer(Buffer(data, nbytes, python_owner(view)), std::move(shape), dtype);
}

TensorDict tensordict_from_mapping(nb::handle mapping, std::vector<int64_t> batch_size) {
  TensorDict out(std::move(batch_size));
  nb::object items = mapping.attr("items")();
  for (nb::handle item : items) {
    nb::handle key = item[0];
    nb::handle value = item[1];
    const std::string name = nb::cast<std::string>(nb::str(key));
    out.set(name, tensor_from_array(value, name));
  }
  return out;
}

nb::dict tensordict_to_python(const TensorDict& dict, Framework framework) {
  nb::dict out;
  for (const auto& [name, tensor] : dict) out[name.c_str()] = tensor_to_python(tensor, framework);
  return out;
}

StepRow step_row_from_python(nb::handle mapping) {
  if (!PyDict_Check(mapping.ptr()) && !nb::hasattr(mapping, "items")) {
    throw mouse::TypeError(fmt::format("append: a row must be a dict of column -> value, got {}",
                                       nb::cast<std::string>(nb::str(mapping.type()))));
  }
  StepRow row;
  for (nb::handle item : mapping.attr("items")()) {
    nb::handle key = item[0];
    if (!PyUnicode_Check(key.ptr())) {
      throw mouse::TypeError(fmt::format("append: column names must be str, got {}",
                                         nb::cast<std::string>(nb::str(key.type()))));
    }
    std::string name = nb::cast<std::string>(key);
    StepValue v = value_from_python(item[1], name);
    row.emplace(std::move(name), std::move(v));
  }
  return row;
}

bool columns_from_python(nb::handle mapping,
                         std::vector<std::pair<std::string, arrow::ArrayPtr>>& out) {
  out.clear();
  nb::module_ np = nb::module_::import_("numpy");
  for (nb::handle item : mapping.attr("items")()) {
    const std::string name = nb::cast<std::string>(nb::str(item[0]));
    nb::handle value = item[1];
    const std::string where = fmt::format("append_columns: column \"{}\"", name);
    if (nb::hasattr(value, "__arrow_c_array__")) {
      nb::tuple caps = nb::borrow<nb::tuple>(value.attr("__arrow_c_array__")());
      out.emplace_back(name, array_from_capsules(caps[0], caps[1], where));
      continue;
    }
    ArrayView view;
    nb::object holder;
    if (!try_array(value, view)) {
      holder = np.attr("asarray")(value);
      if (!try_array(holder, view)) {
        throw mouse::TypeError(fmt::format("{}: expected an array, a tensor or a list of numbers, "
                                           "got {}",
                                           where, nb::cast<std::string>(nb::str(value.type()))));
      }
    }
    if (view.ndim() == 0) throw InvalidArgument(fmt::format("{}: a 0-dim array has no rows", where));
    if (is_image_column(name) && (view.ndim() == 3 || view.ndim() == 4)) {
      out.clear();
      return false;
    }
    arrow::TypePtr leaf = arrow_type_of(view.dtype(), where);
    int64_t leaf_count = 1;
    for (size_t k = 0; k < view.ndim(); ++k) leaf_count *= static_cast<int64_t>(view.shape(k));
    arrow::ArrayPtr arr = primitive_array(view, leaf, leaf_count, python_owner(view));
    // Trailing dims become nested fixed-size lists, innermost first; the list at dim k holds
    // prod(shape[0..k)) elements.
    for (size_t k = view.ndim() - 1; k >= 1; --k) {
      int64_t length = 1;
      for (size_t j = 0; j < k; ++j) length *= static_cast<int64_t>(view.shape(j));
      auto list = std::make_shared<arrow::ArrayData>();
      list->type = arrow::fixed_size_list(arrow::Field{"item", arr->type, true, {}},
                                          static_cast<int32_t>(view.shape(k)));
      list->length = length;
      list->buffers.emplace_back();
      list->children.push_back(arr);
      arr = list;
    }
    out.emplace_back(name, arr);
  }
  return true;
}

std::vector<StepRow> rows_from_columns(nb::handle mapping) {
  std::vector<std::pair<std::string, nb::object>> cols;
  int64_t n = -1;
  for (nb::handle item : mapping.attr("items")()) {
    const std::string name = nb::cast<std::string>(nb::str(item[0]));
    const auto len = static_cast<int64_t>(nb::len(nb::handle(item[1])));
    if (n >= 0 && len != n) {
      throw InvalidArgument(fmt::format("append_columns: column \"{}\" has {} rows, the first "
                                        "column {}",
                                        name, len, n));
    }
    n = len;
    cols.emplace_back(name, nb::borrow(item[1]));
  }
  std::vector<StepRow> rows(static_cast<size_t>(n < 0 ? 0 : n));
  for (const auto& [name, col] : cols) {
    for (int64_t i = 0; i < n; ++i) {
      rows[static_cast<size_t>(i)].emplace(name, value_from_python(col[i], name));
    }
  }
  return rows;
}

}  // namespace mouse::py
