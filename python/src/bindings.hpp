// Binding groups defined outside module.cpp, called from its NB_MODULE.
#pragma once
#include <nanobind/nanobind.h>

namespace mouse::py {

/// StoreIngest as mouse_data._core.Ingest (ingest_bindings.cpp).
void bind_ingest(nanobind::module_& m);

}  // namespace mouse::py
