"""A cricketd of its own for the hack/ scripts that drive one (hack/soak, hack/bench/events): everything in
one temporary directory WORK, a CNI bridge network of its own, and a stop that leaves nothing behind.

    addr, image = busybox_registry(repo, WORK + "/registry", WORK + "/registries.conf")
    d = Cricketd(bin_dir, WORK, network="soak", bridge="crksoak0", subnet="10.238.0.0/16",
                 registries_conf=WORK + "/registries.conf", extra_config="[crio.metrics]\\n...")
    d.start()            # RuntimeError naming its log when it exits or does not get ready
    run(d.cri("pull", "--image", image))
    d.stop()             # pods removed through the CRI, SIGTERM, bridge deleted, mounts under WORK unmounted
    stop_registry(repo, WORK + "/registry")

Layout in WORK: root/ (the store), run/ (runroot: pins under run/ns), logs/, cni/ (one bridge conflist),
ipam/ (host-local's data), conf.d/, cricket.conf, cricketd.log, cricket.sock.
"""
import json
import os
import signal
import subprocess
import time


def busybox_registry(repo, registry_dir, registries_conf):
    """Starts a docker-registry in `registry_dir` (hack/lib/registry.sh), pushes busybox to it
    (hack/test-images, static busybox) and writes a registries.conf for it. Returns (address, image)."""
    addr = subprocess.run([os.path.join(repo, "hack/lib/registry.sh"), "start", registry_dir], check=True,
                          capture_output=True, text=True).stdout.strip()
    subprocess.run([os.path.join(repo, "hack/test-images"), "--registry", addr, "--only", "library/busybox",
                    "--static-busybox", "--registries-conf", registries_conf], check=True, capture_output=True,
                   text=True)
    return addr, f"{addr}/library/busybox:latest"


def stop_registry(repo, registry_dir):
    subprocess.run([os.path.join(repo, "hack/lib/registry.sh"), "stop", registry_dir], capture_output=True)


class Cricketd:
    def __init__(self, bin_dir, work, network, bridge, subnet, registries_conf, extra_config="",
                 default_route=False, log_level="info"):
        self.bin, self.work = bin_dir, work
        self.network, self.bridge, self.subnet = network, bridge, subnet
        self.registries_conf, self.extra_config = registries_conf, extra_config
        self.default_route, self.log_level = default_route, log_level
        self.sock = os.path.join(work, "cricket.sock")
        self.log = os.path.join(work, "cricketd.log")
        self.proc = None

    @property
    def pid(self):
        return self.proc.pid

    def cri(self, *argv):
        """The argv of cricket-cri against this cricketd."""
        return [os.path.join(self.bin, "cricket-cri"), "--endpoint", "unix://" + self.sock, *argv]

    def start(self):
        w = self.work
        os.makedirs(os.path.join(w, "cni"))
        ipam = {"type": "host-local", "ranges": [[{"subnet": self.subnet}]], "dataDir": f"{w}/ipam"}
        if self.default_route:
            ipam["routes"] = [{"dst": "0.0.0.0/0"}]
        with open(os.path.join(w, "cni", f"10-{self.network}.conflist"), "w") as f:
            json.dump({"cniVersion": "1.0.0", "name": self.network,
                       "plugins": [{"type": "bridge", "bridge": self.bridge, "isGateway": True, "ipam": ipam}]},
                      f)
        with open(os.path.join(w, "cricket.conf"), "w") as f:
            f.write(f"""[crio]
root = "{w}/root"
runroot = "{w}/run"
log_dir = "{w}/logs"
[crio.api]
listen = "{self.sock}"
[crio.runtime]
log_level = "{self.log_level}"
[crio.image]
registries_conf = "{self.registries_conf}"
registries_conf_dir = "{w}/registries.conf.d"
[crio.network]
network_dir = "{w}/cni"
""" + self.extra_config)
        with open(self.log, "w") as log:
            self.proc = subprocess.Popen([os.path.join(self.bin, "cricketd"), "--config", f"{w}/cricket.conf",
                                          "--config-dir", f"{w}/conf.d"], stdout=log, stderr=subprocess.STDOUT)
        for _ in range(200):
            if os.path.exists(self.sock) and subprocess.run(self.cri("status"), capture_output=True).returncode == 0:
                return
            if self.proc.poll() is not None:
                raise RuntimeError(f"cricketd exited with {self.proc.returncode}; see {self.log}")
            time.sleep(0.1)
        raise RuntimeError(f"cricketd did not become ready in 20 s; see {self.log}")

    def stop(self):
        if self.proc and self.proc.poll() is None:
            subprocess.run(self.cri("remove-all"), capture_output=True)
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        subprocess.run(["ip", "link", "del", self.bridge], capture_output=True)
        # cricketd keeps the namespaces directory's own propagation mount after it stops; the latest
        # mounts go first.
        with open("/proc/self/mountinfo") as f:
            mounts = [line.split()[4] for line in f if line.split()[4].startswith(self.work + "/")]
        for m in reversed(mounts):
            subprocess.run(["umount", "-l", m], capture_output=True)
