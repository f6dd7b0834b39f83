"""Debian's containerd (1.6, CRI plugin, runc through the io.containerd.runc.v2 shim) started for a
comparison run in a directory of its own, and torn down so that nothing it made is left on the host.

    cd = Containerd(work, "127.0.0.1:PORT", mirrored=("docker.io", "registry.k8s.io"), bridge="crkxyz0",
                    subnet="10.236.0.0/16", sandbox_image="127.0.0.1:PORT/pause:3.9",
                    client=CriClient(crictl="/path/to/crictl"))
    cd.start()            # raises ContainerdError (with the tail of its log) when it does not get ready
    ... cd.endpoint ...   # unix://WORK/containerd.sock, for the runtime and the image service
    cd.stop()             # also after a failed start; idempotent; returns cd.leftovers
    cd.remove_work()

Everything lives in WORK: root (with containerd's temporary mounts, root/tmpmounts), state (sandbox shm,
container rootfs mounts, and the pods' network namespaces: netns_mounts_under_state_dir), runc's state
(the runc `Root` option), the gRPC and ttrpc sockets, the CNI config (one bridge conflist) and
host-local's IPAM data, the registry hosts (certs.d) and TMPDIR. Outside WORK it makes: the bridge and
the pods' veths; /run/containerd/s/* shim sockets (a path fixed in containerd 1.6; removed by each shim);
libcni's result cache /var/lib/cni/results/NETWORK-* (removed on CNI DEL; the directory too when it made
it); iptables NAT rules for ipMasq and portmap (removed on CNI DEL; the shared CNI-HOSTPORT-* chains stay,
as with any portmap user); cgroups /sys/fs/cgroup/*/k8s.io/<id> (containerd's default cgroups path when
the pod names no parent; removed by runc delete).

stop() removes the pods through the CRI (crictl rmp, or cricket-cri remove-all), stops containerd by its
pid, force-deletes containers runc still knows, kills shims of this instance that survived, unmounts
everything under WORK, deletes the bridge, removes libcni results of its network and the k8s.io cgroup
directories it created, and lists in `leftovers` what it could not remove.

Registry hosts: each name in `mirrored` and the registry's own address get a hosts.toml whose only
host, and whose `server`, is the local plain-HTTP registry. containerd keeps the repository path when it
goes to a mirror (docker.io/library/busybox -> http://REGISTRY/v2/library/busybox/...), so the registry
must hold each image under its original path, as hack/test-images pushes them.
"""

import json
import os
import shutil
import signal
import subprocess
import time


CNI_RESULTS = "/var/lib/cni/results"  # libcni's cache; containerd 1.6 has no setting for it


class ContainerdError(Exception):
    pass


PACKAGES = (("containerd", "/usr/bin/containerd"), ("runc", "/usr/sbin/runc"),
            ("containernetworking-plugins", "/usr/lib/cni/bridge"), ("iptables", "/usr/sbin/iptables"))


def ensure_packages(extra=(), log=print):
    """apt-get installs whichever of containerd, runc, the CNI plugins, iptables (and `extra`,
    (package, path) pairs) is missing."""
    missing = [p for p, path in (*PACKAGES, *extra) if not os.path.exists(path)]
    if missing:
        log("installing " + " ".join(missing))
        env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
        subprocess.run(["apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], check=True,
                       env=env)


def mount_points_under(root):
    """Mount points at or below `root` in this mount namespace, deepest first."""
    prefix = root.rstrip("/") + "/"
    found = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            # Field 5 is the mount point, with space, tab, newline and backslash escaped as \ooo.
            point = line.split()[4].encode().decode("unicode_escape")
            if point == root or point.startswith(prefix):
                found.append(point)
    return sorted(set(found), key=lambda p: p.count("/"), reverse=True)


def processes_with(needle, comm_prefix=""):
    """Pids (not this one) whose command line contains `needle` and whose comm starts with comm_prefix."""
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) == os.getpid():
            continue
        try:
            with open(f"/proc/{d}/comm") as f:
                if not f.read().startswith(comm_prefix):
                    continue
            with open(f"/proc/{d}/cmdline", "rb") as f:
                if needle.encode() not in f.read():
                    continue
        except OSError:
            continue
        found.append(int(d))
    return found


class CriClient:
    """The two calls Containerd needs from a CRI client: crictl (cri-tools) or cricket-cri."""

    def __init__(self, crictl=None, cricket_cri=None):
        if not crictl and not cricket_cri:
            raise ContainerdError("need crictl or cricket-cri to talk to containerd's CRI")
        self.crictl, self.cricket_cri = crictl, cricket_cri

    def _run(self, endpoint, argv, timeout):
        if self.crictl:
            cmd = [self.crictl, "--runtime-endpoint", endpoint, "--image-endpoint", endpoint,
                   "--timeout", "60s", *argv]
        else:
            cmd = [self.cricket_cri, "--endpoint", endpoint, *argv]
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
        except subprocess.TimeoutExpired as e:
            return subprocess.CompletedProcess(cmd, 124, "", f"timed out after {e.timeout}s")

    def ready(self, endpoint):
        """True when the Status RPC answers with every condition true (RuntimeReady, NetworkReady)."""
        if not self.crictl:
            return self._run(endpoint, ["status"], 30).returncode == 0
        r = self._run(endpoint, ["info"], 30)
        if r.returncode != 0:
            return False
        try:
            conditions = json.loads(r.stdout)["status"]["conditions"]
        except (ValueError, KeyError, TypeError):
            return False
        return bool(conditions) and all(c.get("status") for c in conditions)

    def remove_all(self, endpoint):
        """Stops and removes every pod sandbox (so every container). Returns (ok, message)."""
        r = self._run(endpoint, ["rmp", "--all", "--force"] if self.crictl else ["remove-all"], 300)
        return r.returncode == 0, f"{r.args[0]} exit {r.returncode}: {(r.stderr or r.stdout).strip()}"


class Containerd:
    def __init__(self, work, registry, mirrored, bridge, subnet, sandbox_image, client, port_mapping=True,
                 ip_masq=True, hairpin=True, log_level="info", network_name=None):
        self.work = os.path.abspath(work)
        self.registry, self.mirrored = registry, tuple(mirrored)
        self.bridge, self.subnet, self.sandbox_image = bridge, subnet, sandbox_image
        self.client = client
        self.port_mapping, self.ip_masq, self.hairpin = port_mapping, ip_masq, hairpin
        self.log_level = log_level
        self.network = network_name or f"crk-{bridge}"
        self.sock = os.path.join(self.work, "containerd.sock")
        self.endpoint = "unix://" + self.sock
        self.logfile = os.path.join(self.work, "containerd.log")
        self.runc_root = os.path.join(self.work, "runc")
        self.proc = None
        self.leftovers = []
        self._cgroups_before = None
        self._had_cni_results = True

    # ---- configuration
    def conflist(self):
        plugins = [{"type": "bridge", "bridge": self.bridge, "isGateway": True, "ipMasq": self.ip_masq,
                    "hairpinMode": self.hairpin,
                    "ipam": {"type": "host-local", "ranges": [[{"subnet": self.subnet}]],
                             "routes": [{"dst": "0.0.0.0/0"}], "dataDir": os.path.join(self.work, "ipam")}}]
        if self.port_mapping:
            plugins.append({"type": "portmap", "capabilities": {"portMappings": True}})
        return json.dumps({"cniVersion": "1.0.0", "name": self.network, "plugins": plugins}, indent=1)

    def hosts_toml(self):
        # The local registry is the only host and the fallback `server`: nothing on the internet is tried.
        return (f'server = "http://{self.registry}"\n\n[host."http://{self.registry}"]\n'
                f'  capabilities = ["pull", "resolve"]\n  skip_verify = true\n')

    def config_toml(self):
        w = self.work
        return f"""version = 2
root = "{w}/root"
state = "{w}/state"
oom_score = 0
[grpc]
  address = "{self.sock}"
[ttrpc]
  address = "{self.sock}.ttrpc"
[debug]
  address = ""
  level = "{self.log_level}"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "{w}/opt"
[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = "{self.sandbox_image}"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  disable_apparmor = true
  # Root here may lack CAP_SYS_RESOURCE: the sandbox's oom_score_adj (-998) would fail in runc.
  restrict_oom_score_adj = true
  # The pods' network namespaces under the state directory, not /run/netns.
  netns_mounts_under_state_dir = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = "{self.runc_root}"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "{w}/cni"
    max_conf_num = 1
  [plugins."io.containerd.grpc.v1.cri".registry]
    config_path = "{w}/certs.d"
"""

    def write_config(self):
        for d in ("cni", "tmp", "certs.d"):
            os.makedirs(os.path.join(self.work, d), exist_ok=True)
        with open(os.path.join(self.work, "cni", "10-bench.conflist"), "w") as f:
            f.write(self.conflist())
        for host in (*self.mirrored, self.registry):
            d = os.path.join(self.work, "certs.d", host)
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "hosts.toml"), "w") as f:
                f.write(self.hosts_toml())
        with open(os.path.join(self.work, "config.toml"), "w") as f:
            f.write(self.config_toml())

    # ---- lifecycle
    def start(self, timeout=30):
        os.makedirs(self.work, exist_ok=True)
        self._cgroups_before = {d for d in self._k8s_cgroup_dirs() if os.path.isdir(d)}
        self._had_cni_results = os.path.isdir(CNI_RESULTS)
        self.write_config()
        env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
        env["TMPDIR"] = os.path.join(self.work, "tmp")
        with open(self.logfile, "w") as log:
            self.proc = subprocess.Popen(
                ["/usr/bin/containerd", "--config", os.path.join(self.work, "config.toml")], stdout=log,
                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            if os.path.exists(self.sock) and self.client.ready(self.endpoint):
                return
            time.sleep(0.2)
        raise ContainerdError(f"containerd did not become ready (CRI Status) in {timeout}s:\n"
                              + self.log_tail())

    def log_tail(self, chars=4000):
        try:
            with open(self.logfile, errors="replace") as f:
                return f.read()[-chars:]
        except OSError:
            return ""

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def stop(self):
        """Removes the pods, stops containerd and everything it left; fills self.leftovers."""
        self.leftovers = []
        if self.running():
            ok, msg = self.client.remove_all(self.endpoint)
            if not ok:
                self.leftovers.append(f"removing the pods failed: {msg}")
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self._delete_runc_containers()
        self._kill_shims()
        for m in mount_points_under(self.work):
            subprocess.run(["umount", "-l", m], capture_output=True)
        if os.path.exists(f"/sys/class/net/{self.bridge}"):
            subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        if os.path.isdir(CNI_RESULTS):
            for name in os.listdir(CNI_RESULTS):
                if name.startswith(self.network + "-"):
                    os.unlink(os.path.join(CNI_RESULTS, name))
            if not self._had_cni_results:
                try:
                    os.rmdir(CNI_RESULTS)  # libcni made it for this instance; kept when others use it
                except OSError:
                    pass
        self._remove_cgroup_dirs()
        self._check_leftovers()
        return self.leftovers

    def _delete_runc_containers(self):
        """Containers runc still knows (containerd died before deleting them): killed and deleted."""
        for ns in (os.listdir(self.runc_root) if os.path.isdir(self.runc_root) else []):
            root = os.path.join(self.runc_root, ns)
            for cid in os.listdir(root):
                subprocess.run(["runc", "--root", root, "delete", "--force", cid], capture_output=True)

    def _kill_shims(self):
        # The shim's command line names this instance's socket (-address WORK/containerd.sock).
        for _ in range(50):
            shims = processes_with(self.sock, "containerd-shim")
            if not shims:
                return
            for pid in shims:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.1)

    def _k8s_cgroup_dirs(self):
        base = "/sys/fs/cgroup"
        return [os.path.join(base, c, "k8s.io") for c in sorted(os.listdir(base))
                if os.path.isdir(os.path.join(base, c))] + [os.path.join(base, "k8s.io")]

    def _remove_cgroup_dirs(self):
        """The k8s.io parents this run created, when nothing is left below them (rmdir fails otherwise)."""
        if self._cgroups_before is None:
            return
        for d in self._k8s_cgroup_dirs():
            if d not in self._cgroups_before and os.path.isdir(d):
                try:
                    os.rmdir(d)
                except OSError as e:
                    self.leftovers.append(f"cgroup {d}: {e.strerror}")

    def _check_leftovers(self):
        if self.running():
            self.leftovers.append(f"containerd pid {self.proc.pid} still running")
        self.leftovers += [f"mount {m}" for m in mount_points_under(self.work)]
        self.leftovers += [f"shim pid {p}" for p in processes_with(self.sock, "containerd-shim")]
        if os.path.exists(f"/sys/class/net/{self.bridge}"):
            self.leftovers.append(f"bridge {self.bridge}")
        r = subprocess.run(["iptables-save", "-t", "nat"], capture_output=True, text=True)
        rules = [line for line in r.stdout.splitlines() if f'name: \\"{self.network}\\"' in line
                 or f'name: "{self.network}"' in line]
        if rules:
            self.leftovers.append(f"{len(rules)} iptables nat rules of CNI network {self.network}")

    def remove_work(self):
        """Removes WORK unless something is still mounted below it (then it is reported, not crossed)."""
        if mount_points_under(self.work):
            self.leftovers.append(f"{self.work} kept: mounts remain below it")
            return False
        shutil.rmtree(self.work, ignore_errors=True)
        return True
