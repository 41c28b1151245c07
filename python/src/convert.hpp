// Conversions between Python objects and the mouse-data C++ types: Arrow PyCapsules, tensors
// (DLPack / NumPy / torch, zero-copy both ways), appended step values.
#pragma once

#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/string.h>

#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "mouse/arrow.hpp"
#include "mouse/dataset.hpp"
#include "mouse/dataset_store.hpp"
#include "mouse/tensor_dict.hpp"

namespace mouse::py {

namespace nb = nanobind;

/// Output framework of tensors handed to Python.
enum class Framework { kNumpy, kTorch };

/// "numpy" or "torch"; ValueError otherwise.
Framework framework_from_name(std::string_view name);

/// Imports an `arrow_array_stream` PyCapsule (moving the stream out of it) as a Dataset whose
/// features are `features_json` when given (else the schema's `huggingface` metadata, else
/// inferred). Column data is not copied. Called with the GIL held; the stream is drained with the
/// GIL released (producers such as pyarrow take it themselves when they need it).
Dataset dataset_from_stream_capsule(nb::handle capsule, const std::string* features_json);

/// Imports an (`arrow_schema`, `arrow_array`) PyCapsule pair (the `__arrow_c_array__` protocol)
/// as one array, zero-copy.
arrow::ArrayPtr array_from_capsules(nb::handle schema_capsule, nb::handle array_capsule,
                                    std::string_view where);

/// Exports `dataset` as an `arrow_array_stream` PyCapsule (zero-copy).
nb::object dataset_to_stream_capsule(const Dataset& dataset);

/// Views a CPU, C-contiguous array (NumPy, torch, anything speaking DLPack or the buffer
/// protocol) as a read-only mouse Tensor without copying; the Tensor keeps the Python array
/// alive (releasing it takes the GIL). TypeError for unsupported dtypes or devices.
Tensor tensor_from_array(nb::handle array, std::string_view name);

/// Views every member of a dict-like of arrays (a TensorDict, a dict) as a TensorDict with
/// batch size `batch_size`.
TensorDict tensordict_from_mapping(nb::handle mapping, std::vector<int64_t> batch_size);

/// Loads NumPy's C API; called once when the module is imported (ImportError without numpy).
void init_numpy();

/// Exports `tensor` to `framework` without copying (the Python object owns a reference to the
/// storage).
nb::object tensor_to_python(const Tensor& tensor, Framework framework);

/// Exports every member: a dict name → array, insertion order kept.
nb::dict tensordict_to_python(const TensorDict& dict, Framework framework);

/// One appended step from a Python mapping (str → value; values as DatasetStore.append
/// documents).
StepRow step_row_from_python(nb::handle mapping);

/// Arrow columns for DatasetStore::append_columns from a mapping name → array (NumPy / torch /
/// `__arrow_c_array__` objects), zero-copy where the layout allows. Returns false (and leaves
/// `out` empty) when a column holds image pixels, which only the row path encodes.
bool columns_from_python(nb::handle mapping,
                         std::vector<std::pair<std::string, arrow::ArrayPtr>>& out);

/// The rows of a column mapping (as columns_from_python takes) as StepRows: the path for image
/// pixel columns.
std::vector<StepRow> rows_from_columns(nb::handle mapping);

}  // namespace mouse::py
