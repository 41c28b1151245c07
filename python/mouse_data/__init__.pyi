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

__version__: str

__all__: list[str] = [
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
