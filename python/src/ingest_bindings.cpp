// Bindings of StoreIngest (SPEC §9): the learner's sequencer of collectors' blocks. The Python
// layer (mouse_data.ray) moves the blocks; ordering, dedup and the append are here.
#include <fmt/format.h>
#include <nanobind/nanobind.h>
#include <nanobind/stl/map.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>

#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "convert.hpp"
#include "mouse/error.hpp"
#include "mouse/store_ingest.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace mouse::py {
namespace {

const char* outcome_name(BlockOutcome o) {
  switch (o) {
    case BlockOutcome::kApplied: return "applied";
    case BlockOutcome::kHeld: return "held";
    case BlockOutcome::kDuplicate: return "duplicate";
    case BlockOutcome::kRefused: return "refused";
  }
  return "?";
}

nb::dict collector_dict(const CollectorIngestStats& c) {
  nb::dict d;
  d["applied"] = c.applied;
  d["received"] = c.received;
  d["runs"] = c.runs;
  d["blocks_applied"] = c.blocks_applied;
  d["steps_applied"] = c.steps_applied;
  d["blocks_held"] = c.blocks_held;
  d["steps_held"] = c.steps_held;
  d["duplicates"] = c.duplicates;
  d["refused"] = c.refused;
  return d;
}

}  // namespace

void bind_ingest(nb::module_& m) {
  nb::class_<StoreIngest>(m, "Ingest", "The C++ StoreIngest (SPEC §9).")
      .def(nb::init<DatasetStore&, int64_t>(), "store"_a, "max_buffer_steps"_a,
           nb::keep_alive<1, 2>())
      .def(
          "open",
          [](StoreIngest& s, const std::string& id) {
            nb::gil_scoped_release release;
            return s.open(id);
          },
          "collector"_a, "A writer (re)starts: drops held blocks, returns the last applied.")
      .def(
          "submit",
          [](StoreIngest& s, const std::string& id, int64_t number, nb::handle columns,
             bool release) {
            ColumnBlock cols;
            if (!columns_from_python(columns, cols)) {
              throw TypeError(fmt::format(
                  "StoreIngest: block {} of collector \"{}\" has image pixel columns; blocks "
                  "carry Arrow columns (encode images as PNG bytes or keep pixels in a "
                  "fixed-size list column)",
                  number, id));
            }
            SubmitResult r;
            {
              nb::gil_scoped_release unlocked;
              r = s.submit(id, number, std::move(cols), release);
            }
            return std::make_tuple(std::string(outcome_name(r.outcome)), r.applied,
                                   r.blocks_applied, r.steps_applied);
          },
          "collector"_a, "number"_a, "columns"_a, "release"_a,
          "Offers a block: (outcome, applied, blocks_applied, steps_applied).")
      .def(
          "stats",
          [](const StoreIngest& s) {
            const IngestStats t = s.stats();
            nb::dict d;
            d["blocks_in"] = t.blocks_in;
            d["steps_in"] = t.steps_in;
            d["blocks_applied"] = t.blocks_applied;
            d["steps_applied"] = t.steps_applied;
            d["blocks_held"] = t.blocks_held;
            d["steps_held"] = t.steps_held;
            d["duplicates"] = t.duplicates;
            d["refused"] = t.refused;
            nb::dict per;
            for (const CollectorIngestStats& c : t.collectors) per[nb::str(c.id.c_str())] = collector_dict(c);
            d["collectors"] = per;
            return d;
          },
          "The counters, totals and per collector.")
      .def("applied", &StoreIngest::applied, "Last applied block number per collector.")
      .def("restore", &StoreIngest::restore, "applied"_a,
           "Sets the last applied block numbers (from a save).");
}

}  // namespace mouse::py
