// Compiled by check_include.cmake only (never part of a target): code that includes an internal
// header of the store layer. With the batch layer's include root it must fail to compile; with
// the store layer's own root it compiles.
#include "store/store_state.hpp"

int probe() { return static_cast<int>(sizeof(mouse::detail::Snapshot)); }
