// mouse_data._core: the C++ API as a Python extension. Thin by design: convert the arguments,
// release the GIL, call the library, convert the result. The Python package (mouse_data/*.py)
// gives these the seed's names, defaults and return types.
#include <fmt/format.h>
#include <nanobind/nanobind.h>
#include <nanobind/ndarray.h>
#include <nanobind/stl/optional.h>
#include <nanobind/stl/pair.h>
#include <nanobind/stl/string.h>
#include <nanobind/stl/tuple.h>
#include <nanobind/stl/vector.h>

#include <algorithm>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "bindings.hpp"
#include "convert.hpp"
#include "mouse/augment.hpp"
#include "mouse/batch.hpp"
#include "mouse/dataset_store.hpp"
#include "mouse/dlpack.hpp"
#include "mouse/error.hpp"
#include "mouse/hub.hpp"

namespace nb = nanobind;
using namespace nb::literals;

namespace mouse::py {
namespace {

// The exception classes of mouse_data.errors (each a mouse_data.Error and the builtin it maps
// to), looked up once when the module initialises.
struct ErrorClasses {
  nb::object format, invalid_argument, wrong_type, missing_key, out_of_range, io, internal;
};
ErrorClasses* g_errors = nullptr;

void set_error(const nb::object& cls, const char* what) {
  PyErr_SetObject(cls.ptr(), nb::make_tuple(nb::str(what)).ptr());
}

void translate(const std::exception_ptr& p, void*) {
  try {
    std::rethrow_exception(p);
  } catch (const FormatError& e) {
    set_error(g_errors->format, e.what());
  } catch (const InvalidArgument& e) {
    set_error(g_errors->invalid_argument, e.what());
  } catch (const mouse::KeyError& e) {
    set_error(g_errors->missing_key, e.what());
  } catch (const mouse::IndexError& e) {
    set_error(g_errors->out_of_range, e.what());
  } catch (const mouse::TypeError& e) {
    set_error(g_errors->wrong_type, e.what());
  } catch (const IoError& e) {
    set_error(g_errors->io, e.what());
  } catch (const Error& e) {
    set_error(g_errors->internal, e.what());
  }
}

using IndexArray = nb::ndarray<const int64_t, nb::ndim<1>, nb::c_contig, nb::device::cpu>;

// A DLPack capsule ("dltensor") over `tensor`; its destructor frees the export unless a
// consumer took it (and renamed the capsule "used_dltensor", as the protocol says).
nb::object dlpack_capsule(const Tensor& tensor) {
  DLManagedTensor* managed = to_dlpack(tensor);
  PyObject* capsule = PyCapsule_New(managed, "dltensor", [](PyObject* c) {
    if (PyCapsule_IsValid(c, "dltensor")) {
      auto* m = static_cast<DLManagedTensor*>(PyCapsule_GetPointer(c, "dltensor"));
      if (m != nullptr && m->deleter != nullptr) m->deleter(m);
    }
  });
  if (capsule == nullptr) {
    managed->deleter(managed);
    throw nb::python_error();
  }
  return nb::steal(capsule);
}

nb::tuple export_batch(const TensorDict& td, Framework framework) {
  if (!td.empty() && td.begin()->second.is_cuda()) {
    // Device memory: DLPack capsules ({kDLCUDA, n}), which torch.from_dlpack takes as they are.
    nb::dict out;
    for (const auto& [name, t] : td) out[name.c_str()] = dlpack_capsule(t);
    return nb::make_tuple(td.batch_size(), out);
  }
  return nb::make_tuple(td.batch_size(), tensordict_to_python(td, framework));
}

StoreConfig store_config(int64_t a, int64_t c, int64_t d, int64_t i, const std::string& dtype,
                         const std::string& image_cache, bool validate, bool populate) {
  StoreConfig cfg;
  cfg.image_cache = image_cache;
  cfg.validate = validate;
  cfg.populate = populate;
  cfg.max_action_dim = a;
  cfg.max_obs_continuous_dim = c;
  cfg.max_obs_discrete_dim = d;
  cfg.max_obs_image_pixels = i;
  cfg.obs_image_dtype = dtype_from_name(dtype);
  if (cfg.obs_image_dtype != DType::kInt64 && cfg.obs_image_dtype != DType::kUInt8) {
    throw InvalidArgument(fmt::format("obs_image_dtype must be \"int64\" or \"uint8\", got \"{}\"",
                                      dtype));
  }
  return cfg;
}

HubLoadOptions hub_options(const std::optional<std::string>& config,
                           const std::optional<std::string>& cache_dir) {
  HubLoadOptions o;
  o.config_name = config;
  if (cache_dir) o.cache_dir = std::filesystem::path(*cache_dir);
  return o;
}

// --- augment configs: Python dataclasses <-> C++ structs --------------------------------------

std::optional<double> opt_double(nb::handle h) {
  if (h.is_none()) return std::nullopt;
  return nb::cast<double>(h);
}

AugmentScalarSpec spec_from(nb::handle h) {
  AugmentScalarSpec s;
  s.mean = nb::cast<double>(h.attr("mean"));
  s.std = nb::cast<double>(h.attr("std"));
  s.low = opt_double(h.attr("low"));
  s.high = opt_double(h.attr("high"));
  return s;
}

nb::dict spec_to(const AugmentScalarSpec& s) {
  nb::dict d;
  d["mean"] = s.mean;
  d["std"] = s.std;
  d["low"] = s.low ? nb::cast(*s.low) : nb::none();
  d["high"] = s.high ? nb::cast(*s.high) : nb::none();
  return d;
}

AugmentTokensConfig config_from(nb::handle h) {
  AugmentTokensConfig c;
  c.enabled = nb::cast<bool>(h.attr("enabled"));
  c.permute_tokens = nb::cast<bool>(h.attr("permute_tokens"));
  for (const AugmentScalarField& f : kAugmentScalarFields) {
    c.*f.member = spec_from(h.attr(std::string(f.name).c_str()));
  }
  c.permute_obs_discrete = nb::cast<bool>(h.attr("permute_obs_discrete"));
  nb::handle pa = h.attr("permute_action");
  if (PyBool_Check(pa.ptr())) {
    if (pa.ptr() == Py_True) {
      throw InvalidArgument("permute_action must be False or one of 'input', 'target', 'both'; "
                            "got True");
    }
    c.permute_action = PermuteAction::kOff;
  } else {
    c.permute_action = permute_action_from_name(nb::cast<std::string>(pa));
  }
  c.permute_done = nb::cast<bool>(h.attr("permute_done"));
  nb::handle mp = h.attr("mask_prob");
  for (const AugmentMaskField& f : kAugmentMaskFields) {
    c.mask_prob.*f.member = nb::cast<double>(mp.attr(std::string(f.name).c_str()));
  }
  c.validate();
  return c;
}

nb::dict config_to(AugmentTokensConfig c) {
  nb::dict d;
  d["enabled"] = c.enabled;
  d["permute_tokens"] = c.permute_tokens;
  for (const AugmentScalarField& f : kAugmentScalarFields) {
    d[std::string(f.name).c_str()] = spec_to(c.*f.member);
  }
  d["permute_obs_discrete"] = c.permute_obs_discrete;
  d["permute_action"] = c.permute_action == PermuteAction::kOff
                            ? nb::cast(false)
                            : nb::cast(std::string(permute_action_name(c.permute_action)));
  d["permute_done"] = c.permute_done;
  nb::dict mp;
  for (const AugmentMaskField& f : kAugmentMaskFields) {
    mp[std::string(f.name).c_str()] = c.mask_prob.*f.member;
  }
  d["mask_prob"] = mp;
  return d;
}

constexpr const char* kSnapshotScalars[] = {"r_scale", "r_shift",  "o_scale",
                                            "o_shift", "im_scale", "im_shift"};

std::optional<double>* snapshot_scalar(AugmentSnapshot& s, int i) {
  std::optional<double>* members[] = {&s.scale_reward, &s.shift_reward,    &s.scale_obs,
                                      &s.shift_obs,    &s.scale_obs_image, &s.shift_obs_image};
  return members[i];
}

nb::dict snapshot_to(AugmentSnapshot s, Framework fw) {
  nb::dict d;
  d["batch_size"] = s.batch_size;
  auto perm = [fw](const std::optional<Tensor>& t) {
    return t ? tensor_to_python(*t, fw) : nb::none();
  };
  d["perm_action"] = perm(s.action_perm);
  d["perm_done"] = perm(s.done_perm);
  d["perm_obs_discrete"] = perm(s.obs_discrete_perm);
  for (int i = 0; i < 6; ++i) {
    auto v = *snapshot_scalar(s, i);
    d[kSnapshotScalars[i]] = v ? nb::cast(*v) : nb::none();
  }
  return d;
}

AugmentSnapshot snapshot_from(nb::handle h) {
  AugmentSnapshot s;
  s.batch_size = nb::cast<int64_t>(h.attr("batch_size"));
  auto perm = [](nb::handle v, const char* name) -> std::optional<Tensor> {
    if (v.is_none()) return std::nullopt;
    if (nb::hasattr(v, "cpu")) v = v.attr("cpu")();
    return tensor_from_array(v, name).clone();
  };
  s.action_perm = perm(h.attr("perm_action"), "perm_action");
  s.done_perm = perm(h.attr("perm_done"), "perm_done");
  s.obs_discrete_perm = perm(h.attr("perm_obs_discrete"), "perm_obs_discrete");
  for (int i = 0; i < 6; ++i) *snapshot_scalar(s, i) = opt_double(h.attr(kSnapshotScalars[i]));
  return s;
}

std::vector<int64_t> batch_dims(nb::handle mapping) {
  if (nb::hasattr(mapping, "batch_size")) {
    std::vector<int64_t> out;
    for (nb::handle d : mapping.attr("batch_size")) out.push_back(nb::cast<int64_t>(d));
    return out;
  }
  // A plain dict: [B, S] from "action" (the augmenter requires it).
  nb::handle action = nb::borrow<nb::dict>(mapping)["action"];
  nb::object shape = action.attr("shape");
  return {nb::cast<int64_t>(shape[0]), nb::cast<int64_t>(shape[1])};
}

}  // namespace
}  // namespace mouse::py

NB_MODULE(_core, m) {
  using namespace mouse;
  using namespace mouse::py;
  m.doc() = "mouse-data C++ core (use the mouse_data package, not this module directly)";

  {
    nb::module_ errors = nb::module_::import_("mouse_data.errors");
    // Kept for the life of the process: the translator may run until interpreter exit.
    g_errors = new ErrorClasses{errors.attr("FormatError"),     errors.attr("InvalidArgumentError"),
                                errors.attr("WrongTypeError"),  errors.attr("MissingKeyError"),
                                errors.attr("OutOfRangeError"), errors.attr("IoError"),
                                errors.attr("InternalError")};
  }
  m.attr("FormatError") = g_errors->format;
  nb::register_exception_translator(translate);
  init_numpy();

  // --- DatasetStore ----------------------------------------------------------------------------
  nb::class_<DatasetStore>(m, "Store", "The C++ DatasetStore (SPEC §4).")
      .def(
          "__init__",
          [](DatasetStore* self, int64_t a, int64_t c, int64_t d, int64_t i,
             const std::string& dtype, const std::string& image_cache, bool validate,
             bool populate) {
            new (self) DatasetStore(
                store_config(a, c, d, i, dtype, image_cache, validate, populate));
          },
          "max_action_dim"_a, "max_obs_continuous_dim"_a, "max_obs_discrete_dim"_a,
          "max_obs_image_pixels"_a, "obs_image_dtype"_a, "image_cache"_a = "",
          "validate"_a = true, "populate"_a = false)
      .def(
          "add_streams",
          [](DatasetStore& s, const std::vector<std::tuple<std::string, nb::object,
                                                           std::optional<std::string>>>& parts,
             bool is_dict, std::optional<std::vector<std::string>> splits,
             std::optional<std::vector<std::string>> pattern) {
            DatasetDict dict;
            std::vector<Dataset> single;
            for (const auto& [name, capsule, features] : parts) {
              Dataset ds = dataset_from_stream_capsule(capsule, features ? &*features : nullptr);
              if (is_dict) {
                dict.insert(name, std::move(ds));
              } else {
                single.push_back(std::move(ds));
              }
            }
            nb::gil_scoped_release release;
            if (is_dict) {
              s.from_dataset(dict, std::move(splits), std::move(pattern));
            } else {
              for (const auto& ds : single) s.from_dataset(ds);
            }
          },
          "parts"_a, "is_dict"_a, "splits"_a.none(), "split_pattern"_a.none(),
          "Loads (split name, arrow_array_stream capsule, features JSON) parts, zero-copy.")
      .def(
          "add_path",
          [](DatasetStore& s, const std::string& path, std::optional<std::vector<std::string>> splits,
             std::optional<std::vector<std::string>> pattern, std::optional<std::string> config,
             std::optional<std::string> cache_dir) {
            nb::gil_scoped_release release;
            DatasetDict dict = load_dataset(path, hub_options(config, cache_dir));
            s.from_dataset(dict, std::move(splits), std::move(pattern));
          },
          "path"_a, "splits"_a.none(), "split_pattern"_a.none(), "config"_a.none(),
          "cache_dir"_a.none(), "Loads a save_to_disk directory or a Hub layout.")
      .def(
          "add_remote",
          [](DatasetStore& s, const std::string& url, std::optional<std::vector<std::string>> splits,
             std::optional<std::vector<std::string>> pattern, std::optional<std::string> config,
             std::optional<std::string> cache_dir, std::optional<int64_t> cache_limit,
             int64_t prefetch_shards, int64_t active_shards, std::optional<std::string> endpoint_url,
             std::optional<double> retry_max_seconds, bool log) {
            RemoteStoreOptions o;
            o.splits = std::move(splits);
            o.split_pattern = std::move(pattern);
            o.config = std::move(config);
            if (cache_dir) o.cache_dir = *cache_dir;
            o.cache_limit = cache_limit;
            o.prefetch_shards = prefetch_shards;
            o.active_shards = active_shards;
            if (endpoint_url) o.remote.endpoint_url = *endpoint_url;
            if (retry_max_seconds) {
              if (!(*retry_max_seconds > 0)) {
                throw InvalidArgument(fmt::format(
                    "DatasetStore.from_dataset: retry_max_seconds must be > 0, got {}",
                    *retry_max_seconds));
              }
              o.remote.retry.max_total_s = *retry_max_seconds;
              o.remote.retry.max_backoff_s =
                  std::min(o.remote.retry.max_backoff_s, *retry_max_seconds / 4);
              o.remote.retry.initial_backoff_s =
                  std::min(o.remote.retry.initial_backoff_s, o.remote.retry.max_backoff_s);
              o.remote.retry.max_attempts = 1000;
            }
            o.log = log;
            nb::gil_scoped_release release;
            s.from_remote(url, o);
          },
          "url"_a, "splits"_a.none(), "split_pattern"_a.none(), "config"_a.none(),
          "cache_dir"_a.none(), "cache_limit"_a.none(), "prefetch_shards"_a, "active_shards"_a,
          "endpoint_url"_a.none(), "retry_max_seconds"_a.none(), "log"_a,
          "Loads a remote Hub layout (s3://, hf://, http(s)://).")
      .def(
          "cache_stats",
          [](const DatasetStore& s) {
            const ShardCacheStats c = s.cache_stats();
            nb::dict d;
            d["shards"] = c.shards;
            d["shards_fetched"] = c.shards_fetched;
            d["bytes_fetched"] = c.bytes_fetched;
            d["cache_hits"] = c.cache_hits;
            d["evictions"] = c.evictions;
            d["stalls"] = c.stalls;
            d["stall_seconds"] = c.stall_seconds;
            d["resident"] = c.resident;
            d["cache_bytes"] = c.cache_bytes;
            d["cache_bytes_peak"] = c.cache_bytes_peak;
            d["cache_limit"] = c.cache_limit;
            d["requests"] = c.requests;
            d["retries"] = c.retries;
            return d;
          },
          "The shard cache's counters (zeros for a local store).")
      .def(
          "append",
          [](DatasetStore& s, nb::handle row) {
            StepRow r = step_row_from_python(row);
            nb::gil_scoped_release release;
            s.append(r);
          },
          "row"_a)
      .def(
          "append_columns",
          [](DatasetStore& s, nb::handle columns) {
            std::vector<std::pair<std::string, arrow::ArrayPtr>> cols;
            if (columns_from_python(columns, cols)) {
              nb::gil_scoped_release release;
              s.append_columns(cols);
              return;
            }
            std::vector<StepRow> rows = rows_from_columns(columns);
            nb::gil_scoped_release release;
            s.append_rows(rows);
          },
          "columns"_a)
      .def("__len__", &DatasetStore::size)
      .def("source_size", &DatasetStore::source_size)
      .def("segment_starts", &DatasetStore::segment_starts)
      .def(
          "get",
          [](const DatasetStore& s, IndexArray idx, const std::string& fmt) {
            const Framework fw = framework_from_name(fmt);
            TensorDict td;
            {
              nb::gil_scoped_release release;
              td = s.get(std::span<const int64_t>(idx.data(), idx.shape(0)));
            }
            return export_batch(td, fw);
          },
          "indices"_a, "format"_a)
      .def(
          "encode_hf_rows",
          [](const DatasetStore& s, nb::handle capsule, std::optional<std::string> features,
             const std::string& fmt) {
            const Framework fw = framework_from_name(fmt);
            Dataset ds = dataset_from_stream_capsule(capsule, features ? &*features : nullptr);
            TensorDict td;
            {
              nb::gil_scoped_release release;
              td = s.encode_hf_rows(ds);
            }
            return export_batch(td, fw);
          },
          "stream"_a, "features"_a.none(), "format"_a)
      .def(
          "to_dataset",
          [](const DatasetStore& s) {
            Dataset ds;
            {
              nb::gil_scoped_release release;
              ds = s.to_dataset();
            }
            return nb::make_tuple(dataset_to_stream_capsule(ds), ds.features().to_json());
          },
          "Every step: (arrow_array_stream capsule, features JSON).")
      .def(
          "buffer_to_dataset",
          [](const DatasetStore& s) {
            Dataset ds;
            {
              nb::gil_scoped_release release;
              ds = s.buffer_to_dataset();
            }
            return nb::make_tuple(dataset_to_stream_capsule(ds), ds.features().to_json());
          },
          "The appended rows in their own types: (arrow_array_stream capsule, features JSON).")
      .def_static(
          "merge",
          [](const std::vector<const DatasetStore*>& stores) {
            Dataset ds;
            {
              nb::gil_scoped_release release;
              ds = DatasetStore::merge_stores_to_dataset(stores);
            }
            return nb::make_tuple(dataset_to_stream_capsule(ds), ds.features().to_json());
          },
          "stores"_a)
      .def(
          "clear",
          [](DatasetStore& s) {
            nb::gil_scoped_release release;
            s.clear();
          })
      .def_prop_ro("obs_image_dtype",
                   [](const DatasetStore& s) { return std::string(dtype_name(s.config().obs_image_dtype)); });

  // --- TokenAugmenter --------------------------------------------------------------------------
  nb::class_<TokenAugmenter>(m, "Augmenter", "The C++ TokenAugmenter (SPEC §6).")
      .def(
          "__init__",
          [](TokenAugmenter* self, nb::handle config, int64_t actions, int64_t discrete,
             uint64_t seed) { new (self) TokenAugmenter(config_from(config), actions, discrete, seed); },
          "config"_a, "max_num_actions"_a, "max_num_obs_discrete"_a, "seed"_a)
      .def_prop_ro("enabled", &TokenAugmenter::enabled)
      .def_prop_ro("seed", &TokenAugmenter::seed)
      .def(
          "update_augmentations",
          [](TokenAugmenter& a, nb::handle batch) {
            TensorDict td = tensordict_from_mapping(batch, batch_dims(batch));
            nb::gil_scoped_release release;
            a.update_augmentations(td);
          },
          "batch"_a)
      .def(
          "augment",
          [](TokenAugmenter& a, nb::handle batch, const std::string& fmt) {
            const Framework fw = framework_from_name(fmt);
            TensorDict td = tensordict_from_mapping(batch, batch_dims(batch));
            TensorDict out;
            {
              nb::gil_scoped_release release;
              out = a.augment(td);
            }
            // A member no transform changed shares the input's storage: give back the caller's
            // own object (writable, as they gave it), when it already is of the output's kind;
            // else a copy, so that nothing handed out aliases the input read-only.
            nb::dict members;
            // Looked up once and kept (the interpreter owns numpy until exit).
            static const nb::handle np_ndarray =
                nb::object(nb::module_::import_("numpy").attr("ndarray")).release();
            for (const auto& [name, tensor] : out) {
              if (!td.contains(name) || td.at(name).data() != tensor.data() ||
                  tensor.nbytes() == 0) {
                members[name.c_str()] = tensor_to_python(tensor, fw);
                continue;
              }
              nb::object mine = batch[name.c_str()];
              const bool is_numpy = nb::isinstance(mine, np_ndarray);
              const bool same_kind =
                  fw == Framework::kNumpy ? is_numpy : !is_numpy && nb::hasattr(mine, "data_ptr");
              members[name.c_str()] = same_kind ? mine : tensor_to_python(tensor.clone(), fw);
            }
            return nb::make_tuple(out.batch_size(), members);
          },
          "batch"_a, "format"_a)
      .def("clear_augmentations", &TokenAugmenter::clear_augmentations)
      .def("has_snapshot", &TokenAugmenter::has_snapshot)
      .def(
          "snapshot",
          [](const TokenAugmenter& a, const std::string& fmt) {
            return snapshot_to(a.snapshot(), framework_from_name(fmt));
          },
          "format"_a)
      .def(
          "set_snapshot",
          [](TokenAugmenter& a, nb::handle snap) { a.set_snapshot(snapshot_from(snap)); },
          "snapshot"_a);

  m.def(
      "config_from_yaml",
      [](const std::string& text, const std::string& source) {
        return config_to(AugmentTokensConfig::from_yaml_string(text, source));
      },
      "text"_a, "source"_a);
  m.def(
      "config_from_yaml_file",
      [](const std::string& path) { return config_to(AugmentTokensConfig::from_yaml_file(path)); },
      "path"_a);
  m.def(
      "validate_config", [](nb::handle config) { config_from(config); }, "config"_a,
      "Raises ValueError naming the field when the config is invalid.");

  // --- PrefetchBatchifier ----------------------------------------------------------------------
  nb::class_<BatchifierOptions>(m, "BatchifierOptions",
                                "The C++ BatchifierOptions (SPEC §5): every setting besides the "
                                "stores, S, B and the augmenter.")
      .def(nb::init<>())
      .def_rw("sampling", &BatchifierOptions::sampling)
      .def_rw("prefetch", &BatchifierOptions::prefetch)
      .def_rw("num_workers", &BatchifierOptions::num_workers)
      .def_rw("pin_memory", &BatchifierOptions::pin_memory)
      .def_rw("seed", &BatchifierOptions::seed)
      .def_rw("boundaries", &BatchifierOptions::boundaries)
      .def_rw("rank", &BatchifierOptions::rank)
      .def_rw("world_size", &BatchifierOptions::world_size)
      .def_rw("drop_last", &BatchifierOptions::drop_last)
      .def_rw("weights", &BatchifierOptions::weights)
      .def_rw("weight_mode", &BatchifierOptions::weight_mode)
      .def_rw("lengths", &BatchifierOptions::lengths)
      .def_rw("min_length", &BatchifierOptions::min_length)
      .def_rw("layout", &BatchifierOptions::layout)
      .def_rw("max_tokens", &BatchifierOptions::max_tokens)
      .def_rw("device", &BatchifierOptions::device);

  nb::class_<PrefetchBatchifier>(m, "Batchifier", "The C++ PrefetchBatchifier (SPEC §5).")
      .def(
          "__init__",
          [](PrefetchBatchifier* self, const std::vector<const DatasetStore*>& stores, int64_t S,
             int64_t B, BatchifierOptions o, const TokenAugmenter* augmenter) {
            if (augmenter != nullptr && augmenter->enabled()) {
              o.transform = [augmenter, S](TensorDict b, int64_t n, const Allocator& a) {
                if (b.batch_size().empty()) {  // layout "packed"
                  return augmenter->apply_fresh_packed_in_place(std::move(b),
                                                                static_cast<uint64_t>(n), S, a);
                }
                return augmenter->apply_fresh_in_place(std::move(b), static_cast<uint64_t>(n), a);
              };
            }
            nb::gil_scoped_release release;
            new (self) PrefetchBatchifier(stores, S, B, std::move(o));
          },
          "stores"_a, "sequence_length"_a, "batch_size"_a, "options"_a, "augmenter"_a.none(),
          nb::keep_alive<1, 2>(), nb::keep_alive<1, 6>())
      .def(
          "next_batch",
          [](PrefetchBatchifier& b, const std::string& fmt, uintptr_t stream) {
            const Framework fw = framework_from_name(fmt);
            TensorDict td;
            {
              nb::gil_scoped_release release;
              td = b.next_batch(reinterpret_cast<void*>(stream));
            }
            return export_batch(td, fw);
          },
          "format"_a, "stream"_a = 0,
          "(batch_size, {name: array}) of the next batch; on a GPU {name: DLPack capsule}, "
          "the copy ordered before the work `stream` (a cudaStream_t as an int; 0: the legacy "
          "default stream) queues next.")
      .def(
          "next",
          [](PrefetchBatchifier& b, const std::string& fmt, uintptr_t stream) {
            const Framework fw = framework_from_name(fmt);
            SampledBatch sb;
            {
              nb::gil_scoped_release release;
              sb = b.next(reinterpret_cast<void*>(stream));
            }
            return nb::make_tuple(export_batch(sb.data, fw), sb.starts, sb.number, sb.epoch,
                                  sb.stores, sb.lengths, sb.efficiency);
          },
          "format"_a, "stream"_a = 0,
          "(batch, starts, number, epoch, stores, lengths, efficiency) of the next batch.")
      .def("close",
           [](PrefetchBatchifier& b) {
             nb::gil_scoped_release release;
             b.close();
           })
      .def_prop_ro("closed", &PrefetchBatchifier::closed)
      .def("pause_workers",
           [](PrefetchBatchifier& b) {
             nb::gil_scoped_release release;
             b.pause_workers();
           })
      .def("resume_workers",
           [](PrefetchBatchifier& b) {
             nb::gil_scoped_release release;
             b.resume_workers();
           })
      .def("total_batches",
           [](const PrefetchBatchifier& b) {
             nb::gil_scoped_release release;
             return b.total_batches();
           })
      .def("state", [](const PrefetchBatchifier& b) { return b.state().to_json(); })
      .def(
          "restore",
          [](PrefetchBatchifier& b, const std::string& json) {
            BatchifierState st = BatchifierState::from_json(json);
            nb::gil_scoped_release release;
            b.restore(st);
          },
          "state"_a)
      .def_prop_ro(
          "next_epoch", [](const PrefetchBatchifier& b) { return b.state().epoch; },
          "Epoch of the next batch to be delivered (sequential / batch modes).")
      .def_prop_ro("pinned", &PrefetchBatchifier::pinned)
      .def_prop_ro("cuda_device", &PrefetchBatchifier::cuda_device)
      .def_prop_ro("seed", [](const PrefetchBatchifier& b) { return *b.options().seed; });

  // --- Hub layout ------------------------------------------------------------------------------
  m.def(
      "save_hub_layout",
      [](std::vector<std::pair<std::string, std::vector<const DatasetStore*>>> splits,
         const std::string& dir, const std::string& config_name, int64_t max_shard_bytes) {
        StoreConfigSplits config{config_name, {}};
        for (auto& [name, stores] : splits) config.splits.push_back({name, std::move(stores)});
        HubSaveOptions o;
        o.max_shard_bytes = max_shard_bytes;
        nb::gil_scoped_release release;
        return save_stores_to_hub_layout(config, dir, o);
      },
      "splits"_a, "dir"_a, "config_name"_a, "max_shard_bytes"_a,
      "save_stores_to_hub_layout for one config; False when every split is empty.");
  m.def(
      "save_hub_configs",
      [](std::vector<std::pair<
             std::string, std::vector<std::pair<std::string, std::vector<const DatasetStore*>>>>>
             parts,
         const std::string& dir, int64_t max_shard_bytes) {
        std::vector<StoreConfigSplits> configs;
        for (auto& [config, splits] : parts) {
          configs.push_back({config, {}});
          for (auto& [name, stores] : splits) {
            configs.back().splits.push_back({name, std::move(stores)});
          }
        }
        HubSaveOptions o;
        o.max_shard_bytes = max_shard_bytes;
        nb::gil_scoped_release release;
        return save_stores_to_hub_layout(configs, dir, o);
      },
      "configs"_a, "dir"_a, "max_shard_bytes"_a,
      "save_stores_to_hub_layout for several configs; False when all are empty.");
  m.def(
      "hub_config_names",
      [](const std::string& dir) {
        nb::gil_scoped_release release;
        return hub_config_names(dir);
      },
      "dir"_a, "The configs of a Hub layout, in README order (or by directory).");
  m.def(
      "forget_after_fork",
      [](nb::handle obj) {
        // In a forked child the object's threads do not exist: its destructor would join them
        // forever. Keep one reference for good, so it is never destroyed, and stay quiet about
        // it at exit.
        obj.inc_ref();
        nb::set_leak_warnings(false);
      },
      "obj"_a, "Never destroy obj (a batchifier inherited by a forked child).");
  m.def(
      "default_hub_cache_dir", [] { return default_hub_cache_dir().string(); },
      "Where Hub-layout Parquet shards are cached as Arrow.");
  bind_ingest(m);
}
