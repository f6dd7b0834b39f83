#!/usr/bin/python3
"""Deterministic OCI / Docker image builder and registry pusher (python3 standard library only).

The same description always gives the same bytes, hence the same digests: tar entries are sorted, carry
a fixed mtime (SOURCE_DATE_EPOCH, default 0), explicit owners and modes, no user/group names; gzip
streams have no name and mtime 0; JSON is written with sorted keys.

Library use (hack/test-images does this):
    import imagebuild as ib
    layer = ib.Layer([ib.File("bin/busybox", src="/bin/busybox", mode=0o755),
                      ib.Hardlink("bin/sh", "bin/busybox")])
    img = ib.Image([layer], config={"Cmd": ["sh"]})
    reg = ib.Registry("127.0.0.1:5000")
    reg.push("library/busybox", ["latest", "1.35"], img.build(cache))

CLI:
    imagebuild.py build SPEC.json [--registry HOST:PORT] [--oci-layout DIR] [--summary-json FILE]
    imagebuild.py bigimage --registry HOST:PORT --repo REPO [--tag T] [--layers 4] [--total-mb 200]
    imagebuild.py treeimage --registry HOST:PORT --repo REPO [--tag T] [--trees DIR,...] [--max-layers 4]
A SPEC is {"images": [IMAGE...]}; an IMAGE is {"repo", "tags", "format": "oci"|"docker",
"layers": [LAYER...], "config": {...}, "platform": {...}} or {"repo", "tags", "format",
"index": [IMAGE-without-repo...]}; a LAYER is {"compression": "gzip"|"zstd"|"none",
"entries": [ENTRY...]}; an ENTRY is {"type": "file"|"dir"|"symlink"|"hardlink"|"whiteout"|"opaque"|
"char"|"block"|"fifo"|"tree", "path", "data" | "data_b64" | "src", "target", "mode", "uid", "gid",
"major", "minor", "xattrs": {name: base64}, "prefix" (tree), "keep_owner" (tree)}. Relative "src" and
tree paths are relative to the spec file. Modes may be octal strings ("04755").
"""

import argparse
import base64
import concurrent.futures
import gzip
import hashlib
import io
import json
import os
import random
import stat
import subprocess
import sys
import tarfile
import threading
import time

from imagepush import Registry, RegistryError  # noqa: F401 (part of this module's interface)

EPOCH = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
CREATED = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(EPOCH))

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
LAYER_TYPES = {
    ("oci", "gzip"): "application/vnd.oci.image.layer.v1.tar+gzip",
    ("oci", "zstd"): "application/vnd.oci.image.layer.v1.tar+zstd",
    ("oci", "none"): "application/vnd.oci.image.layer.v1.tar",
    ("docker", "gzip"): "application/vnd.docker.image.rootfs.diff.tar.gzip",
    ("docker", "none"): "application/vnd.docker.image.rootfs.diff.tar",
}
# Keys of the config's "config" object that this builder writes (the Docker/OCI image config names).
CONFIG_KEYS = ("User", "Env", "Entrypoint", "Cmd", "WorkingDir", "ExposedPorts", "Volumes", "StopSignal",
               "Labels")


class BuildError(Exception):
    pass


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def canonical_json(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def host_platform():
    machine = os.uname().machine
    arch = {"x86_64": "amd64", "aarch64": "arm64", "armv7l": "arm", "ppc64le": "ppc64le",
            "s390x": "s390x", "riscv64": "riscv64", "i686": "386"}.get(machine, machine)
    p = {"os": "linux", "architecture": arch}
    if arch == "arm64":
        p["variant"] = "v8"
    elif arch == "arm":
        p["variant"] = "v7"
    return p


def parse_mode(mode, default):
    if mode is None:
        return default
    if isinstance(mode, str):
        return int(mode, 8)
    return int(mode)


# ---------------------------------------------------------------------------------------------------
# Layer entries. Paths are relative to the layer root ("bin/sh"); a leading "/" or "./" is dropped.

class Entry:
    def __init__(self, kind, path, mode, uid=0, gid=0, data=b"", target="", major=0, minor=0,
                 xattrs=None):
        path = path.lstrip("/")
        while path.startswith("./"):
            path = path[2:]
        path = path.rstrip("/")
        if not path or ".." in path.split("/"):
            raise BuildError(f"bad entry path {path!r}: must be relative, without '..'")
        self.kind, self.path, self.mode, self.uid, self.gid = kind, path, mode, uid, gid
        self.data, self.target, self.major, self.minor = data, target, major, minor
        self.xattrs = dict(xattrs or {})

    def tarinfo(self):
        ti = tarfile.TarInfo(self.path)
        ti.mode, ti.uid, ti.gid, ti.mtime = self.mode & 0o7777, self.uid, self.gid, EPOCH
        ti.uname = ti.gname = ""
        ti.type = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE,
                   "hardlink": tarfile.LNKTYPE, "char": tarfile.CHRTYPE, "block": tarfile.BLKTYPE,
                   "fifo": tarfile.FIFOTYPE}[self.kind]
        if self.kind == "file":
            ti.size = len(self.data)
        if self.kind in ("symlink", "hardlink"):
            ti.linkname = self.target.lstrip("/") if self.kind == "hardlink" else self.target
        if self.kind in ("char", "block"):
            ti.devmajor, ti.devminor = self.major, self.minor
        if self.xattrs:
            # Binary values (security.capability) survive as hdrcharset=BINARY records.
            ti.pax_headers = {"SCHILY.xattr." + k: v.decode("utf-8", "surrogateescape")
                              if isinstance(v, bytes) else v for k, v in sorted(self.xattrs.items())}
        return ti


def File(path, data=b"", src=None, mode=0o644, uid=0, gid=0, xattrs=None):
    """A regular file with `data` (str or bytes) or the content of host file `src`."""
    if src is not None:
        with open(src, "rb") as f:
            data = f.read()
    if isinstance(data, str):
        data = data.encode()
    return Entry("file", path, mode, uid, gid, data=data, xattrs=xattrs)


def Dir(path, mode=0o755, uid=0, gid=0):
    return Entry("dir", path, mode, uid, gid)


def Symlink(path, target, uid=0, gid=0):
    return Entry("symlink", path, 0o777, uid, gid, target=target)


def Hardlink(path, target):
    """A hard link to `target`, an earlier entry of the same layer (path relative to the layer root). Its
    header carries the target's mode and owner."""
    return Entry("hardlink", path, 0o644, target=target)


def Whiteout(path):
    """Deletes `path` of lower layers: the entry `dir/.wh.name`."""
    d, _, name = path.strip("/").rpartition("/")
    return Entry("file", (d + "/" if d else "") + ".wh." + name, 0o644)


def Opaque(dirpath, mode=0o755):
    """Makes `dirpath` opaque (hides everything lower layers had in it): `dirpath/.wh..wh..opq`."""
    return Entry("file", dirpath.strip("/") + "/.wh..wh..opq", 0o644)


def Device(path, kind, major, minor, mode=0o666, uid=0, gid=0):
    return Entry(kind, path, mode, uid, gid, major=major, minor=minor)


def Fifo(path, mode=0o644, uid=0, gid=0):
    return Entry("fifo", path, mode, uid, gid)


def Tree(root, prefix="", keep_owner=False, uid=0, gid=0):
    """Entries for the host directory `root` (not following symlinks) placed under `prefix`. Modes come
    from the files; owners are uid/gid unless keep_owner; files sharing an inode become hard links."""
    out, seen = [], {}
    prefix = prefix.strip("/")
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(dirnames) + sorted(filenames):
            full = os.path.join(dirpath, name)
            rel = "/".join(p for p in (prefix, "" if rel_dir == "." else rel_dir, name) if p)
            st = os.lstat(full)
            o_uid, o_gid = (st.st_uid, st.st_gid) if keep_owner else (uid, gid)
            mode = st.st_mode & 0o7777
            if stat.S_ISDIR(st.st_mode):
                out.append(Dir(rel, mode, o_uid, o_gid))
            elif stat.S_ISLNK(st.st_mode):
                out.append(Symlink(rel, os.readlink(full), o_uid, o_gid))
            elif stat.S_ISREG(st.st_mode):
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in seen:
                    out.append(Hardlink(rel, seen[key]))
                else:
                    seen[key] = rel
                    out.append(File(rel, src=full, mode=mode, uid=o_uid, gid=o_gid))
            elif stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode):
                kind = "char" if stat.S_ISCHR(st.st_mode) else "block"
                out.append(Device(rel, kind, os.major(st.st_rdev), os.minor(st.st_rdev), mode, o_uid, o_gid))
            elif stat.S_ISFIFO(st.st_mode):
                out.append(Fifo(rel, mode, o_uid, o_gid))
            else:
                raise BuildError(f"{full}: unsupported file type (socket?)")
    return out


def make_tar(entries):
    """The uncompressed layer tar: parents created (0755 root) where not listed, entries sorted by path,
    hard links after every other entry so their targets precede them. Duplicate paths are an error."""
    by_path = {}
    for e in entries:
        if e.path in by_path:
            raise BuildError(f"duplicate layer entry {e.path!r}")
        by_path[e.path] = e
    for path in list(by_path):
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            parent = "/".join(parts[:i])
            if parent in by_path and by_path[parent].kind != "dir":
                raise BuildError(f"{path!r} is below {parent!r}, which is not a directory")
            by_path.setdefault(parent, Dir(parent))
    ordered = sorted((e for e in by_path.values() if e.kind != "hardlink"), key=lambda e: e.path)
    links = sorted((e for e in by_path.values() if e.kind == "hardlink"), key=lambda e: e.path)
    for link in links:
        target = by_path.get(link.target.lstrip("/"))
        if target is None or target.kind != "file":
            raise BuildError(f"hard link {link.path!r} -> {link.target!r}: target is not a file of the layer")
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for e in ordered + links:
            ti = e.tarinfo()
            if e.kind == "hardlink":
                # One inode, so the target's mode and owner, as tar writes them: containerd and moby
                # chmod/chown the link's path after linking, which would change the target too.
                t = by_path[e.target.lstrip("/")]
                ti.mode, ti.uid, ti.gid = t.mode & 0o7777, t.uid, t.gid
            tf.addfile(ti, io.BytesIO(e.data) if e.kind == "file" else None)
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------------
# Blobs, layers, images, indexes.

class Blob:
    """Content addressed bytes, held in memory (`data`) or in a file (`path`)."""

    def __init__(self, media_type, data=None, path=None, digest=None, size=None):
        self.media_type, self.data, self.path = media_type, data, path
        self.digest = digest or sha256(data)
        self.size = size if size is not None else len(data)

    def descriptor(self):
        return {"mediaType": self.media_type, "digest": self.digest, "size": self.size}

    def open(self):
        return open(self.path, "rb") if self.path else io.BytesIO(self.data)


class Cache:
    """Compressed layers by (uncompressed digest, compression), so a re-run compresses nothing."""

    def __init__(self, root):
        self.root = root
        if root:
            os.makedirs(os.path.join(root, "layers"), exist_ok=True)

    def get(self, key):
        if not self.root:
            return None
        p = os.path.join(self.root, "layers", key.replace(":", "-"))
        if not os.path.exists(p):
            return None
        with open(p, "rb") as f:
            return f.read()

    def put(self, key, data):
        if not self.root:
            return
        p = os.path.join(self.root, "layers", key.replace(":", "-"))
        tmp = f"{p}.tmp.{os.getpid()}.{threading.get_ident()}"
        with open(tmp, "wb") as f:
            f.write(data)
        os.replace(tmp, p)


def compress(data, compression, level=None):
    if compression == "none":
        return data
    if compression == "gzip":
        out = io.BytesIO()
        with gzip.GzipFile(filename="", mode="wb", fileobj=out, mtime=0,
                           compresslevel=6 if level is None else level) as g:
            g.write(data)
        return out.getvalue()
    if compression == "zstd":
        try:
            r = subprocess.run(["zstd", "-q", "-c", f"-{3 if level is None else level}"], input=data,
                               stdout=subprocess.PIPE, check=True)
        except FileNotFoundError:
            raise BuildError("zstd compression needs the zstd command (Debian package zstd)")
        return r.stdout
    raise BuildError(f"unknown compression {compression!r} (gzip, zstd or none)")


class Layer:
    def __init__(self, entries, compression="gzip", level=None, comment=""):
        self.entries, self.compression, self.level, self.comment = list(entries), compression, level, comment

    def build(self, fmt, cache=None):
        """(blob, diff_id) for manifest format `fmt` ("oci" or "docker")."""
        media_type = LAYER_TYPES.get((fmt, self.compression))
        if media_type is None:
            raise BuildError(f"{fmt} manifests cannot carry {self.compression} layers")
        tar = make_tar(self.entries)
        diff_id = sha256(tar)
        if self.compression == "none":
            return Blob(media_type, tar), diff_id
        key = f"{diff_id}.{self.compression}{'' if self.level is None else self.level}"
        data = cache.get(key) if cache else None
        if data is None:
            data = compress(tar, self.compression, self.level)
            if cache:
                cache.put(key, data)
        return Blob(media_type, data), diff_id


class Built:
    """A built manifest or index: its bytes, blobs (config and layers), children (index only)."""

    def __init__(self, media_type, manifest, blobs=(), children=(), platform=None, config_digest=None):
        self.media_type, self.manifest = media_type, manifest
        self.digest, self.size = sha256(manifest), len(manifest)
        self.blobs, self.children = list(blobs), list(children)
        self.platform, self.config_digest = platform, config_digest

    def descriptor(self, with_platform=False):
        d = {"mediaType": self.media_type, "digest": self.digest, "size": self.size}
        if with_platform and self.platform:
            d["platform"] = self.platform
        return d


class Image:
    """One platform's image: layers (bottom first), the config's "config" object, platform."""

    def __init__(self, layers, config=None, platform=None, fmt="oci", annotations=None, history=True):
        self.layers, self.config = list(layers), dict(config or {})
        self.platform = dict(platform or host_platform())
        self.fmt, self.annotations, self.history = fmt, annotations, history
        unknown = set(self.config) - set(CONFIG_KEYS)
        if unknown:
            raise BuildError(f"unknown image config keys {sorted(unknown)} "
                             f"(known: {', '.join(CONFIG_KEYS)})")
        if fmt not in ("oci", "docker"):
            raise BuildError(f"unknown manifest format {fmt!r} (oci or docker)")

    def build(self, cache=None):
        blobs, diff_ids = [], []
        for layer in self.layers:
            blob, diff_id = layer.build(self.fmt, cache)
            blobs.append(blob)
            diff_ids.append(diff_id)
        cfg = {"created": CREATED, "architecture": self.platform["architecture"], "os": self.platform["os"],
               "config": self.config, "rootfs": {"type": "layers", "diff_ids": diff_ids}}
        if "variant" in self.platform:
            cfg["variant"] = self.platform["variant"]
        if self.history:
            cfg["history"] = [{"created": CREATED, "created_by": "imagebuild.py " + (l.comment or "layer")}
                              for l in self.layers]
        config = Blob(OCI_CONFIG if self.fmt == "oci" else DOCKER_CONFIG, canonical_json(cfg))
        manifest = {"schemaVersion": 2,
                    "mediaType": OCI_MANIFEST if self.fmt == "oci" else DOCKER_MANIFEST,
                    "config": config.descriptor(), "layers": [b.descriptor() for b in blobs]}
        if self.annotations:
            manifest["annotations"] = self.annotations
        return Built(manifest["mediaType"], canonical_json(manifest), [config] + blobs,
                     platform=self.platform, config_digest=config.digest)


class Index:
    """A multi-platform OCI index or Docker manifest list over images."""

    def __init__(self, images, fmt="oci"):
        self.images, self.fmt = list(images), fmt

    def build(self, cache=None):
        children = [img.build(cache) if isinstance(img, Image) else img for img in self.images]
        media_type = OCI_INDEX if self.fmt == "oci" else DOCKER_LIST
        for c in children:
            if (self.fmt == "docker") != (c.media_type == DOCKER_MANIFEST):
                raise BuildError(f"{self.fmt} index cannot list a {c.media_type}")
        index = {"schemaVersion": 2, "mediaType": media_type,
                 "manifests": [c.descriptor(with_platform=True) for c in children]}
        return Built(media_type, canonical_json(index), children=children)


def all_blobs(built):
    """Every blob below `built` (children's too), each once."""
    seen, out = set(), []
    for b in built.blobs + [x for c in built.children for x in c.blobs]:
        if b.digest not in seen:
            seen.add(b.digest)
            out.append(b)
    return out


# ---------------------------------------------------------------------------------------------------
# OCI image layout.

def write_oci_layout(root, refs):
    """Adds `refs` [(ref_name, built)] to the OCI layout at `root` (created if missing); entries of
    index.json with the same ref name are replaced."""
    blobs_dir = os.path.join(root, "blobs", "sha256")
    os.makedirs(blobs_dir, exist_ok=True)
    with open(os.path.join(root, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    index_path = os.path.join(root, "index.json")
    index = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": []}
    if os.path.exists(index_path):
        with open(index_path) as f:
            index = json.load(f)

    def put(digest, src):
        p = os.path.join(blobs_dir, digest.split(":", 1)[1])
        if not os.path.exists(p):
            tmp = f"{p}.tmp{os.getpid()}"
            with src() as r, open(tmp, "wb") as w:
                while chunk := r.read(1 << 20):
                    w.write(chunk)
            os.replace(tmp, p)

    for name, built in refs:
        for b in all_blobs(built):
            put(b.digest, b.open)
        for m in built.children + [built]:
            put(m.digest, lambda m=m: io.BytesIO(m.manifest))
        index["manifests"] = [m for m in index["manifests"]
                              if m.get("annotations", {}).get("org.opencontainers.image.ref.name") != name]
        d = built.descriptor()
        d["annotations"] = {"org.opencontainers.image.ref.name": name}
        index["manifests"].append(d)
    with open(f"{index_path}.tmp{os.getpid()}", "w") as f:
        json.dump(index, f, indent=1, sort_keys=True)
    os.replace(f"{index_path}.tmp{os.getpid()}", index_path)


# ---------------------------------------------------------------------------------------------------
# Big random images (pull benchmarks): N layers of one random file each, gzip level 1, huffman only
# (random data does not compress; skipping match search makes this ~3x faster while still producing
# a real deflate stream the puller must decode). Data comes from a seeded PRNG: the same
# (seed, layers, size) always gives the same digests, and the blobs are cached in files.

def random_layer(path, index, size, seed):
    rng = random.Random(f"{seed}/{index}")
    header = Dir("data").tarinfo().tobuf(format=tarfile.PAX_FORMAT)
    ti = tarfile.TarInfo(f"data/random-{index}.bin")
    ti.size, ti.mode, ti.mtime, ti.uname, ti.gname = size, 0o644, EPOCH, "", ""
    header += ti.tobuf(format=tarfile.PAX_FORMAT)
    tar_hash, gz_hash = hashlib.sha256(), hashlib.sha256()
    co = zlib_gzip()
    tmp = f"{path}.tmp{os.getpid()}"
    with open(tmp, "wb") as out:
        def emit(chunk):
            tar_hash.update(chunk)
            z = co.compress(chunk)
            gz_hash.update(z)
            out.write(z)
        emit(header)
        left = size
        while left:
            n = min(left, 1 << 20)
            emit(rng.randbytes(n))
            left -= n
        pad = (512 - size % 512) % 512
        emit(b"\0" * pad + b"\0" * 1024)
        z = co.flush()
        gz_hash.update(z)
        out.write(z)
    os.replace(tmp, path)
    return {"digest": "sha256:" + gz_hash.hexdigest(), "size": os.path.getsize(path),
            "diff_id": "sha256:" + tar_hash.hexdigest()}


def zlib_gzip():
    import zlib
    return zlib.compressobj(1, zlib.DEFLATED, 31, 9, zlib.Z_HUFFMAN_ONLY)


def gzip_layers_image(d, meta, fmt):
    """An image of the gzip layers described by `meta` (file under `d`, digest, size, diff_id), run as
    /bin/sh, for this host's platform."""
    blobs = [Blob(LAYER_TYPES[(fmt, "gzip")], path=os.path.join(d, m["file"]), digest=m["digest"],
                  size=m["size"]) for m in meta]
    platform = host_platform()
    cfg = {"created": CREATED, "architecture": platform["architecture"], "os": "linux",
           "config": {"Cmd": ["/bin/sh"]},
           "rootfs": {"type": "layers", "diff_ids": [m["diff_id"] for m in meta]}}
    config = Blob(OCI_CONFIG if fmt == "oci" else DOCKER_CONFIG, canonical_json(cfg))
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST if fmt == "oci" else DOCKER_MANIFEST,
                "config": config.descriptor(), "layers": [b.descriptor() for b in blobs]}
    return Built(manifest["mediaType"], canonical_json(manifest), [config] + blobs, platform=platform,
                 config_digest=config.digest)


def big_image(cache_dir, layers=4, total_mb=200, seed="cricket-bench", fmt="oci"):
    size = (total_mb << 20) // layers
    d = os.path.join(cache_dir, "big", f"{seed}-{layers}x{size}")
    os.makedirs(d, exist_ok=True)
    meta_path = os.path.join(d, "layers.json")
    if os.path.exists(meta_path):
        with open(meta_path) as f:
            meta = json.load(f)
    else:
        with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
            meta = list(ex.map(lambda i: random_layer(os.path.join(d, f"layer{i}.gz"), i, size, seed),
                               range(layers)))
        for i, m in enumerate(meta):
            m["file"] = f"layer{i}.gz"
        with open(f"{meta_path}.tmp{os.getpid()}", "w") as f:
            json.dump(meta, f)
        os.replace(f"{meta_path}.tmp{os.getpid()}", meta_path)
    return gzip_layers_image(d, meta, fmt)


# ---------------------------------------------------------------------------------------------------
# Realistic images (pull benchmarks): one gzip layer (level 6, what docker and buildkit use) per host
# directory tree, e.g. Debian's Go, gcc and header trees. tar(1) writes the stream (sorted names, mtime
# 0, numeric owners 0:0, so the same trees give the same digests), gzip(1) compresses it; both run as
# pipes, so nothing is held in memory. Cached by the trees' file list, sizes and mtimes.

DEFAULT_TREES = ["/usr/lib/go-1.19", "/usr/lib/gcc", "/usr/include", "/usr/lib/go-1.23",
                 "/usr/share/doc", "/usr/share/locale", "/usr/lib/python3", "/usr/share/perl"]


def tree_fingerprint(root):
    h = hashlib.sha256(root.encode())
    total = 0
    for d, dirs, files in os.walk(root):
        dirs.sort()
        for name in sorted(files):
            try:
                st = os.lstat(os.path.join(d, name))
            except OSError:
                continue
            total += st.st_size
            h.update(f"{d}/{name} {st.st_size} {int(st.st_mtime)}\n".encode())
    return h.hexdigest()[:24], total


def tree_layer(root, path):
    """Writes the gzip'd tar of `root` (as its path below /) to `path`; returns its digests."""
    tar = subprocess.Popen(["tar", "-C", "/", "--sort=name", "--mtime=@0", "--owner=0", "--group=0",
                            "--numeric-owner", "--format=posix", "--pax-option=delete=atime,delete=ctime",
                            "-cf", "-", root.lstrip("/")], stdout=subprocess.PIPE)
    tmp = f"{path}.tmp{os.getpid()}"
    tar_hash = hashlib.sha256()
    with open(tmp, "wb") as out:
        gz = subprocess.Popen(["gzip", "-6", "-n", "-c"], stdin=subprocess.PIPE, stdout=out)
        while chunk := tar.stdout.read(1 << 20):
            tar_hash.update(chunk)
            gz.stdin.write(chunk)
        gz.stdin.close()
        if tar.wait() != 0 or gz.wait() != 0:
            raise BuildError(f"tar | gzip of {root} failed")
    gz_hash = hashlib.sha256()
    with open(tmp, "rb") as f:
        while chunk := f.read(1 << 20):
            gz_hash.update(chunk)
    os.replace(tmp, path)
    return {"digest": "sha256:" + gz_hash.hexdigest(), "size": os.path.getsize(path),
            "diff_id": "sha256:" + tar_hash.hexdigest()}


def tree_image(cache_dir, trees, fmt="oci", max_layers=4, target_mb=800):
    """An image of one layer per existing tree of `trees` (bottom first), taken in order until
    `max_layers` or `target_mb` of file data. Returns (built, [(tree, unpacked bytes)])."""
    d = os.path.join(cache_dir, "trees")
    os.makedirs(d, exist_ok=True)
    used, prints = [], []
    for t in trees:
        if len(used) >= max_layers or sum(p[1] for p in prints) >= target_mb * 1e6:
            break
        if os.path.isdir(t):
            used.append(t)
            prints.append(tree_fingerprint(t))
    if not used:
        raise BuildError(f"none of the trees {trees} exists")

    def build(i):
        key = prints[i][0]
        meta_path = os.path.join(d, f"{key}.json")
        if os.path.exists(meta_path):
            with open(meta_path) as f:
                return json.load(f)
        m = tree_layer(used[i], os.path.join(d, f"{key}.gz"))
        m["file"] = f"{key}.gz"
        with open(f"{meta_path}.tmp{os.getpid()}", "w") as f:
            json.dump(m, f)
        os.replace(f"{meta_path}.tmp{os.getpid()}", meta_path)
        return m

    with concurrent.futures.ThreadPoolExecutor(max_workers=os.cpu_count() or 2) as ex:
        meta = list(ex.map(build, range(len(used))))
    return gzip_layers_image(d, meta, fmt), [(t, p[1]) for t, p in zip(used, prints)]


# ---------------------------------------------------------------------------------------------------
# JSON specs.

def entry_from_spec(e, base):
    kind = e.get("type", "file")
    path = e.get("path", "")
    uid, gid = int(e.get("uid", 0)), int(e.get("gid", 0))
    xattrs = {k: base64.b64decode(v) for k, v in e.get("xattrs", {}).items()}
    if kind == "file":
        src = os.path.join(base, e["src"]) if "src" in e else None
        data = base64.b64decode(e["data_b64"]) if "data_b64" in e else e.get("data", "")
        return [File(path, data, src, parse_mode(e.get("mode"), 0o644), uid, gid, xattrs)]
    if kind == "dir":
        return [Dir(path, parse_mode(e.get("mode"), 0o755), uid, gid)]
    if kind == "symlink":
        return [Symlink(path, e["target"], uid, gid)]
    if kind == "hardlink":
        return [Hardlink(path, e["target"])]
    if kind == "whiteout":
        return [Whiteout(path)]
    if kind == "opaque":
        return [Opaque(path)]
    if kind in ("char", "block"):
        mode = parse_mode(e.get("mode"), 0o666)
        return [Device(path, kind, int(e["major"]), int(e["minor"]), mode, uid, gid)]
    if kind == "fifo":
        return [Fifo(path, parse_mode(e.get("mode"), 0o644), uid, gid)]
    if kind == "tree":
        return Tree(os.path.join(base, e["src"]), e.get("prefix", ""), bool(e.get("keep_owner")), uid, gid)
    raise BuildError(f"unknown entry type {kind!r} for {path!r}")


def image_from_spec(spec, base, fmt):
    layers = []
    for i, l in enumerate(spec.get("layers", [])):
        entries = [x for e in l.get("entries", []) for x in entry_from_spec(e, base)]
        layers.append(Layer(entries, l.get("compression", "gzip"), l.get("level"),
                            l.get("comment", f"layer {i}")))
    return Image(layers, spec.get("config"), spec.get("platform"), spec.get("format", fmt),
                 spec.get("annotations"))


def built_from_spec(spec, base, cache):
    fmt = spec.get("format", "oci")
    if "index" in spec:
        return Index([image_from_spec(s, base, fmt) for s in spec["index"]], fmt).build(cache)
    return image_from_spec(spec, base, fmt).build(cache)


def describe(built):
    out = {"digest": built.digest, "mediaType": built.media_type}
    if built.config_digest:
        out["config"] = built.config_digest
    if built.children:
        out["manifests"] = [{"digest": c.digest, "config": c.config_digest, "platform": c.platform}
                            for c in built.children]
    return out


def registry_from_args(args):
    user = password = None
    if args.user:
        user, _, password = args.user.partition(":")
    return Registry(args.registry, tls=args.tls, cafile=args.ca, username=user, password=password,
                    certfile=args.cert, keyfile=args.key)


def add_registry_args(p):
    p.add_argument("--registry", help="HOST:PORT (or http[s]://HOST:PORT) to push to")
    p.add_argument("--tls", action="store_true", help="use https")
    p.add_argument("--ca", help="CA certificate file for https (implies --tls)")
    p.add_argument("--cert", help="client certificate (PEM)")
    p.add_argument("--key", help="client key (PEM)")
    p.add_argument("--user", help="USER:PASSWORD for basic auth or the token issuer")
    p.add_argument("--cache-dir", default=os.environ.get("CRICKET_IMAGE_CACHE", ""),
                   help="where compressed layers and big images are cached")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    sub = p.add_subparsers(dest="cmd", required=True)
    b = sub.add_parser("build", help="build the images of a JSON spec; push and/or write an OCI layout")
    b.add_argument("spec")
    add_registry_args(b)
    b.add_argument("--oci-layout", help="also write the images into this OCI layout directory")
    b.add_argument("--summary-json", help="write {ref: digests} here")
    g = sub.add_parser("bigimage", help="push an image of N random-data gzip layers")
    add_registry_args(g)
    g.add_argument("--repo", default="cricket-test/bench")
    g.add_argument("--tag", default=None)
    g.add_argument("--layers", type=int, default=4)
    g.add_argument("--total-mb", type=int, default=200)
    g.add_argument("--seed", default="cricket-bench")
    g.add_argument("--oci-layout")
    t = sub.add_parser("treeimage", help="push an image of one gzip layer per host directory tree")
    add_registry_args(t)
    t.add_argument("--repo", default="cricket-test/trees")
    t.add_argument("--tag", default="latest")
    t.add_argument("--trees", default=",".join(DEFAULT_TREES),
                   help="comma-separated directories, taken in order (missing ones skipped) up to "
                        "--max-layers layers or --target-mb of file data")
    t.add_argument("--max-layers", type=int, default=4)
    t.add_argument("--target-mb", type=int, default=800)
    t.add_argument("--oci-layout")
    t.add_argument("--summary-json")
    args = p.parse_args(argv)
    try:
        return run(args)
    except (BuildError, RegistryError, OSError, KeyError, ValueError) as e:
        print(f"imagebuild: {e}", file=sys.stderr)
        return 1


def run(args):
    cache = Cache(os.path.join(args.cache_dir, "imagebuild") if args.cache_dir else "")
    reg = registry_from_args(args) if args.registry else None
    results, layout_refs = {}, []
    if args.cmd == "build":
        with open(args.spec) as f:
            spec = json.load(f)
        base = os.path.dirname(os.path.abspath(args.spec))
        for s in spec.get("images", []):
            built = built_from_spec(s, base, cache)
            tags = s.get("tags") or ["latest"]
            results.update(publish(reg, s["repo"], tags, built))
            layout_refs += [(f"{s['repo']}:{t}", built) for t in tags]
    elif args.cmd == "treeimage":
        if not args.cache_dir:
            raise BuildError("treeimage needs --cache-dir (the compressed layers are kept there)")
        built, trees = tree_image(args.cache_dir, [t for t in args.trees.split(",") if t],
                                  max_layers=args.max_layers, target_mb=args.target_mb)
        for tree, size in trees:
            print(f"layer: {tree} ({size / 1e6:.0f} MB)")
        results.update(publish(reg, args.repo, [args.tag], built))
        layout_refs.append((f"{args.repo}:{args.tag}", built))
    else:
        if not args.cache_dir:
            raise BuildError("bigimage needs --cache-dir (the random layers are kept there)")
        tag = args.tag or f"{args.layers}x{args.total_mb}m"
        built = big_image(args.cache_dir, args.layers, args.total_mb, args.seed)
        results.update(publish(reg, args.repo, [tag], built))
        layout_refs.append((f"{args.repo}:{tag}", built))
    if args.oci_layout:
        write_oci_layout(args.oci_layout, layout_refs)
    if getattr(args, "summary_json", None):
        with open(args.summary_json, "w") as f:
            json.dump(results, f, indent=1, sort_keys=True)
    return 0


def publish(reg, repo, tags, built):
    """Pushes (when `reg`) and prints one line per tag: REF DIGEST [config ID] (pushed|unchanged)."""
    n = reg.push(repo, tags, built) if reg else 0
    host = reg.host if reg else "(local)"
    out = {}
    for t in tags:
        ref = f"{host}/{repo}:{t}"
        out[ref] = describe(built)
        state = "built" if not reg else ("pushed" if n else "unchanged")
        print(f"{ref} {built.digest}" + (f" id={built.config_digest}" if built.config_digest else "")
              + f" {state}")
    return out


if __name__ == "__main__":
    sys.exit(main())
