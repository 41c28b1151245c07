"""A learner process for test_ray.py's crash test: connects to the test's Ray cluster, ingests
from two slow synthetic collectors with a flush every 0.3 s, and runs until it is killed."""

import sys
import time

import numpy as np
import ray

from mouse_data import DatasetStore
from mouse_data.ray import StoreIngest

import ray_streams


def main() -> None:
    address, path = sys.argv[1], sys.argv[2]
    ray.init(address=address, configure_logging=False, log_to_driver=False)
    store = DatasetStore(max_action_dim=4, max_obs_continuous_dim=2)
    ingest = StoreIngest(store, block_steps=ray_streams.BLOCK_STEPS, flush_path=path,
                         flush_every=0.3, log_every=0)
    write = ray.remote(ray_streams.write_stream)
    refs = [write.remote(ingest.writer(f"s{c}"), c, 0.02) for c in range(2)]
    print("started", flush=True)
    ray.get(refs)
    while True:  # the test kills this process
        time.sleep(1)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
