"""The 0.4 face of mouse_data: the data API of mouse-core 0.4.0 (``mouse_core.data``, unreleased)
on the mouse_data engine.

``from mouse_data.v04 import DataLoader, Datastore, Augmenter, ...`` gives the 0.4 names with
their keyword-only arguments, defaults and return types, while ``mouse_data`` itself keeps the
0.3.0 names and meanings. The mapping:

- ``Datastore`` is a ``mouse_data.DatasetStore`` whose ``store[indices]`` returns raw row dicts;
- ``DataLoader`` samples ragged windows (length ``1 .. sequence_length``, cut only at the end of
  a store) with ``PrefetchBatchifier(lengths="ragged", layout="packed")`` and returns
  ``list[list[dict]]``, or the preparer's output with ``preparer=``;
- ``Augmenter`` / ``SequenceAugmentModalitySpec`` augment those rows per window;
- ``load_stores_from_hub`` / ``push_stores_to_hub`` / ``push_to_hub`` use mouse_data's Hub
  layout reader and Parquet writer.

Worker threads need no free-threaded Python: sampling runs in C++ threads. The deliberate
differences from mouse-core 0.4.0 are listed in ``python/V04_DIFFERENCES.md``.
"""

from .augmenter import Augmenter, SequenceAugmentModalitySpec
from .dataloader import DataLoader
from .datastore import Datastore
from .hub import load_stores_from_hub, push_stores_to_hub, push_to_hub

__all__ = [
    "Augmenter",
    "DataLoader",
    "Datastore",
    "SequenceAugmentModalitySpec",
    "load_stores_from_hub",
    "push_stores_to_hub",
    "push_to_hub",
]
