// Tensors out to NumPy and torch through NumPy's C API: a view costs well under a microsecond
// (a DLPack round trip through Python costs several). Its own file because numpy's headers
// define macros (import_array) that clash with names elsewhere.
#define NPY_NO_DEPRECATED_API NPY_1_7_API_VERSION
#include <numpy/arrayobject.h>

#include <vector>

#include "convert.hpp"

namespace mouse::py {

void init_numpy() {
  // numpy's C API table; numpy 2 headers build modules that also run on numpy 1.x.
  if (_import_array() < 0) throw nb::python_error();
}

namespace {

int numpy_type(DType dtype) {
  switch (dtype) {
    case DType::kBool: return NPY_BOOL;
    case DType::kUInt8: return NPY_UINT8;
    case DType::kInt32: return NPY_INT32;
    case DType::kInt64: return NPY_INT64;
    case DType::kFloat32: return NPY_FLOAT32;
    case DType::kFloat64: return NPY_FLOAT64;
  }
  return NPY_NOTYPE;
}

// A NumPy array viewing the tensor's storage; the array's base is a capsule holding a Tensor
// copy (shared storage). Through the C API this costs well under a microsecond, where a DLPack
// round trip through Python costs several.
nb::object numpy_view(const Tensor& tensor) {
  auto* keep = new Tensor(tensor);
  PyObject* base = PyCapsule_New(keep, "mouse_data.tensor", [](PyObject* c) {
    delete static_cast<Tensor*>(PyCapsule_GetPointer(c, "mouse_data.tensor"));
  });
  if (base == nullptr) {
    delete keep;
    throw nb::python_error();
  }
  std::vector<npy_intp> dims(tensor.shape().begin(), tensor.shape().end());
  static uint8_t kEmpty[8] = {};
  void* data = tensor.numel() == 0 ? kEmpty : const_cast<void*>(keep->data());
  PyObject* arr = PyArray_SimpleNewFromData(static_cast<int>(dims.size()), dims.data(),
                                            numpy_type(tensor.dtype()), data);
  if (arr == nullptr) {
    Py_DECREF(base);
    throw nb::python_error();
  }
  if (PyArray_SetBaseObject(reinterpret_cast<PyArrayObject*>(arr), base) < 0) {  // steals base
    Py_DECREF(arr);
    throw nb::python_error();
  }
  if (!tensor.is_writable()) {
    PyArray_CLEARFLAGS(reinterpret_cast<PyArrayObject*>(arr), NPY_ARRAY_WRITEABLE);
  }
  return nb::steal(arr);
}

}  // namespace

nb::object tensor_to_python(const Tensor& tensor, Framework framework) {
  nb::object arr = numpy_view(tensor);
  if (framework == Framework::kNumpy) return arr;
  // torch.from_numpy shares the memory and keeps the array (and so the Tensor) alive. Looked up
  // once and never released (the interpreter owns torch until exit).
  static PyObject* from_numpy = [] {
    nb::object f = nb::module_::import_("torch").attr("from_numpy");
    return f.release().ptr();
  }();
  PyObject* t = PyObject_CallOneArg(from_numpy, arr.ptr());
  if (t == nullptr) throw nb::python_error();
  return nb::steal(t);
}

}  // namespace mouse::py
