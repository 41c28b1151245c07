"""Shared setup: every test gets its own mouse-data and HF caches, and HF stays offline.

The remote-source tests (test_remote.py) get session-wide loopback servers from here: a
SeaweedFS S3 endpoint and an nginx serving Hub layouts (see remote_servers.py). They start on
first use only, so the other test files never need ``weed`` or nginx; a missing binary is an
error of those tests, not a skip."""

import pytest


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "remote: needs the loopback S3 (weed) and HTTP (nginx) servers; fails, never "
                   "skips, when they cannot start")


@pytest.fixture(autouse=True)
def _isolated_caches(tmp_path, monkeypatch):
    monkeypatch.setenv("MOUSE_DATA_CACHE", str(tmp_path / "mouse-cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf-home"))
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")


# --- remote sources ------------------------------------------------------------------------------

from remote_servers import REMOTE_BUCKET, REMOTE_PREFIX, ROWS_PER_SHARD, SHARDS  # noqa: E402


@pytest.fixture(scope="session")
def hub_layout(tmp_path_factory):
    """A CartPole Hub layout: 8 Parquet shards of 3,000 rows (README data_files a glob)."""
    from remote_servers import make_hub_layout

    return make_hub_layout(tmp_path_factory.mktemp("layout") / "cartpole", ROWS_PER_SHARD,
                           SHARDS)


def _started(server):
    try:
        server.start()
    except Exception as e:  # a clear failure at the first test that needs it
        pytest.fail(f"{type(server).__name__} could not start: {e}", pytrace=False)
    return server


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory, hub_layout):
    """SeaweedFS S3 on 127.0.0.1 holding ``hub_layout`` at ``s3://mouse-data/cartpole``."""
    from remote_servers import WeedS3

    server = _started(WeedS3(tmp_path_factory.mktemp("weed")))
    try:
        server.upload_dir(hub_layout, REMOTE_BUCKET, REMOTE_PREFIX)
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3(s3_server, monkeypatch):
    """The session's S3 server, running, with the ``AWS_*`` variables pointing at it (a test
    that stops it gets it started again afterwards)."""
    if not s3_server.running:
        s3_server.start()
    for k, v in s3_server.env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    yield s3_server
    if not s3_server.running:
        s3_server.start()


@pytest.fixture(scope="session")
def nginx_server(tmp_path_factory, hub_layout):
    """nginx on 127.0.0.1 serving ``hub_layout`` as ``/plain/cartpole/`` (README listing its
    files) and as the Hub dataset ``mouse/cartpole`` (``server.urls`` has both URLs)."""
    import shutil

    from remote_servers import Nginx, readme_with_file_list

    root = tmp_path_factory.mktemp("nginx")
    server = _started(Nginx(root))
    try:
        plain = root / "plain-src"
        shutil.copytree(hub_layout, plain)
        readme_with_file_list(plain)
        server.urls = {"plain": server.add_plain(plain, "cartpole"),
                       "hf": server.add_hub(hub_layout, "mouse/cartpole")}
        yield server
    finally:
        server.stop()


@pytest.fixture
def nginx(nginx_server, monkeypatch):
    """The session's nginx, running, with ``HF_ENDPOINT`` (and a token) pointing at it and the
    Hub no longer offline."""
    if not nginx_server.running:
        nginx_server.start()
    for k, v in nginx_server.hf_env().items():
        monkeypatch.setenv(k, v)
    monkeypatch.delenv("HF_HUB_OFFLINE", raising=False)
    yield nginx_server
    if not nginx_server.running:
        nginx_server.start()
