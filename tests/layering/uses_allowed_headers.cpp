// Compiled by check_include.cmake only: what the batch layer may include (its own headers, the
// core layer's, the public ones). Must compile with the batch layer's include root.
#include "batch/row_source.hpp"
#include "core/rng.hpp"
#include "mouse/dataset_store.hpp"

int probe() { return static_cast<int>(sizeof(mouse::WindowSlot)); }
