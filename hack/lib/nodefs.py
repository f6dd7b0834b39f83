"""Where the benchmarks keep a runtime's state. On a node /run is a tmpfs (systemd mounts one), and a
runtime's state there (bundles, sockets, pins) costs no disk; some machines (VMs booted without systemd's
/run) have it on their root filesystem instead, where every file made costs an inode search and a
journal. A benchmark that compares runtimes as they run on a node gives their state a tmpfs of its own
there, for every runtime alike.

    mounted = state_tmpfs(path, "bench-run", "0755")   # True when it mounted one (unmount it after)
"""
import subprocess

TMPFS_MAGIC = "1021994"  # statfs f_type 0x01021994, as `stat -f -c %t` prints it


def is_tmpfs(path):
    """Whether `path` is on a tmpfs."""
    r = subprocess.run(["stat", "-f", "-c", "%t", path], capture_output=True, text=True)
    return r.returncode == 0 and r.stdout.strip() == TMPFS_MAGIC


def state_tmpfs(path, name, mode):
    """Mounts a tmpfs named `name` with `mode` on the directory `path` when /run is not a tmpfs;
    returns whether it did (the caller unmounts it when done)."""
    if is_tmpfs("/run"):
        return False
    subprocess.run(["mount", "-t", "tmpfs", "-o", "mode=" + mode, name, path], check=True,
                   capture_output=True, text=True)
    return True
