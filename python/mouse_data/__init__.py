"""mouse_data: a fast drop-in for ``mouse.data`` (mouse-core 0.3.0), backed by a C++20 core.

Change ``from mouse.data import ...`` to ``from mouse_data import ...``. Datasets are shared
with ``datasets`` / pyarrow through the Arrow C data interface (no copies), batches come back as
``tensordict.TensorDict`` of torch tensors (DLPack, no copies) or NumPy dicts, and every call
that works releases the GIL. Every exception raised is a ``mouse_data.Error`` and also the
builtin it always was (ValueError, KeyError, IndexError, TypeError, OSError): see
``mouse_data.errors``.
"""

# errors first: the extension looks its exception classes up there as it initialises.
from .errors import (
    Error,
    FormatError,
    InternalError,
    InvalidArgumentError,
    IoError,
    MissingDependencyError,
    MissingKeyError,
    NotFoundError,
    OutOfRangeError,
    UsedAfterForkError,
    WrongTypeError,
)
from .augment import (
    AugmentMaskProbConfig,
    AugmentScalarSpec,
    AugmentSnapshot,
    AugmentTokensConfig,
    TokenAugmenter,
)
from .batch import PrefetchBatchifier, SampledBatch
from .dataset_store import DatasetStore
from .hub import (
    hub_config_names,
    load_stores,
    push_stores_to_hub,
    push_to_hub,
    save_configs_to_hub_layout,
    save_stores_to_hub_layout,
    save_to_hub_layout,
)

__version__ = "0.1.0"

__all__ = [
    "AugmentMaskProbConfig",
    "AugmentScalarSpec",
    "AugmentSnapshot",
    "AugmentTokensConfig",
    "DatasetStore",
    "Error",
    "FormatError",
    "InternalError",
    "InvalidArgumentError",
    "IoError",
    "MissingDependencyError",
    "MissingKeyError",
    "NotFoundError",
    "OutOfRangeError",
    "PrefetchBatchifier",
    "SampledBatch",
    "TokenAugmenter",
    "UsedAfterForkError",
    "WrongTypeError",
    "hub_config_names",
    "load_stores",
    "push_stores_to_hub",
    "push_to_hub",
    "save_configs_to_hub_layout",
    "save_stores_to_hub_layout",
    "save_to_hub_layout",
]
