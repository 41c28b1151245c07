// Umbrella header: every public header of mouse-data.
#pragma once

#include "mouse/arrow.hpp"
#include "mouse/arrow_ipc.hpp"
#include "mouse/arrow_json.hpp"
#include "mouse/augment.hpp"
#include "mouse/batch.hpp"
#include "mouse/buffer.hpp"
#include "mouse/dataset.hpp"
#include "mouse/dataset_store.hpp"
#include "mouse/dlpack.hpp"
#include "mouse/envs.hpp"
#include "mouse/error.hpp"
#include "mouse/hub.hpp"
#include "mouse/memory.hpp"
#include "mouse/parquet.hpp"
#include "mouse/tensor.hpp"
#include "mouse/tensor_dict.hpp"
