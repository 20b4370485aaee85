"""A real N-node RabbitMQ cluster on loopback, in a temporary folder, always stopped.

Used by ``tools/cluster_test.py`` and the tests. Every node gets its own node name
(``ep<k>-<pid>@localhost``), AMQP, MQTT and Erlang distribution ports (free ports chosen at run
time, all bound to 127.0.0.1), data and log folders, and shares one Erlang cookie (a ``HOME``
folder of the cluster's own) and one ``epmd`` started by us on a free loopback port. Nodes find
each other with classic-config peer discovery; ``cluster_partition_handling = pause_minority``.

Debian's ``rabbitmq-server`` (3.10) with the MQTT plugin (MQTT 3.1 / 3.1.1 only) is expected at
``/usr/lib/rabbitmq/bin``. Each node runs in its own process group, so :meth:`RabbitCluster.kill`
(SIGKILL to the group) is a real node death: no clean shutdown, no Last Will sent by that node.
"""

from __future__ import annotations

import logging
import os
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("rabbitmq_cluster")

SBIN = next((Path(p) for p in ("/usr/lib/rabbitmq/bin", "/usr/sbin") if (Path(p) / "rabbitmq-server").exists()),
            None)
LOOPBACK_ERL = "-kernel inet_dist_use_interface {127,0,0,1}"


def available() -> str | None:
    """None when the cluster can be started here, else why not (for skips and errors)."""
    if SBIN is None:
        return "rabbitmq-server not found (Debian package 'rabbitmq-server')"
    if shutil.which("epmd") is None:
        return "epmd not found (Debian package 'erlang-base', pulled in by rabbitmq-server)"
    return None


def free_ports(n: int) -> list[int]:
    """``n`` distinct free loopback ports below the kernel's ephemeral range (32768+), so that
    the connections made while the nodes boot (CLI tools, units) cannot take one first."""
    import random

    ports: list[int] = []
    while len(ports) < n:
        p = random.randint(20000, 32000)
        if p in ports:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", p))
            except OSError:
                continue
        ports.append(p)
    return ports


@dataclass
class Node:
    index: int
    name: str
    amqp_port: int
    mqtt_port: int
    dist_port: int
    base: Path
    proc: subprocess.Popen[bytes] | None = None
    killed_at: float | None = None
    pid: int | None = None  # the node's process group (its rabbitmq-server script), also when attached
    log_path: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_path = self.base / "console.log"

    @property
    def mqtt(self) -> str:
        return f"127.0.0.1:{self.mqtt_port}"

    @property
    def amqp_url(self) -> str:
        return f"amqp://guest:guest@127.0.0.1:{self.amqp_port}/%2F"

    @property
    def alive(self) -> bool:
        if self.proc is not None:
            return self.proc.poll() is None
        return self.pid is not None and _pid_running(self.pid)  # attached: another process started it

    def beam_pid(self) -> int | None:
        """The Erlang VM's pid (the ``rabbitmq-server`` shell script's child ``beam.smp``)."""
        if self.pid is None:
            return None
        todo, seen = [self.pid], set()
        while todo:
            pid = todo.pop()
            seen.add(pid)
            try:
                if Path(f"/proc/{pid}/comm").read_text().strip().startswith("beam"):
                    return pid
                kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
            except OSError:
                continue
            todo.extend(int(k) for k in kids if int(k) not in seen)
        return None


class RabbitCluster:
    """``with RabbitCluster(3) as c: ...`` starts three clustered nodes and always stops them."""

    def __init__(self, nodes: int = 3, *, workdir: str | os.PathLike[str] | None = None,
                 nofile: int = 65536, memory_mb: int = 4096, start_timeout: float = 180.0) -> None:
        why = available()
        if why:
            raise RuntimeError(why)
        if nodes < 1:
            raise ValueError("nodes must be >= 1")
        self._tmp = None if workdir else tempfile.TemporaryDirectory(prefix="edgepose-rabbit-")
        self.dir = Path(workdir or self._tmp.name)  # type: ignore[union-attr]
        self.home = self.dir / "home"
        self.home.mkdir(parents=True, exist_ok=True)
        cookie = self.home / ".erlang.cookie"
        cookie.write_text(secrets.token_hex(16).upper())
        cookie.chmod(0o400)
        self.nofile = nofile
        self.memory_mb = memory_mb
        self.start_timeout = start_timeout
        ports = free_ports(1 + 3 * nodes)
        self.epmd_port = ports[0]
        tag = f"{os.getpid() % 100000}"
        self.nodes = [Node(k, f"ep{k}-{tag}@localhost", ports[1 + 3 * k], ports[2 + 3 * k], ports[3 + 3 * k],
                           self.dir / f"node{k}") for k in range(nodes)]
        self._epmd: subprocess.Popen[bytes] | None = None
        self.attached = False

    # --- sharing a running cluster with another process ----------------------------------------
    def describe(self) -> dict:
        """What :meth:`attach` needs to use this running cluster from another process (JSON-able)."""
        return {"dir": str(self.dir), "epmd_port": self.epmd_port,
                "nodes": [{"name": n.name, "amqp_port": n.amqp_port, "mqtt_port": n.mqtt_port,
                           "dist_port": n.dist_port, "base": str(n.base), "pid": n.pid} for n in self.nodes]}

    @classmethod
    def attach(cls, desc: dict) -> RabbitCluster:
        """The cluster another process started (its :meth:`describe`): its nodes can be used and
        killed (a real node death, as with an own cluster) but :meth:`stop` leaves it to its owner."""
        c = cls.__new__(cls)
        c._tmp, c.dir, c.epmd_port, c._epmd, c.attached = None, Path(desc["dir"]), int(desc["epmd_port"]), None, True
        c.home = c.dir / "home"
        c.nofile, c.memory_mb, c.start_timeout = 0, 0, 0.0
        c.nodes = [Node(k, d["name"], d["amqp_port"], d["mqtt_port"], d["dist_port"], Path(d["base"]), pid=d["pid"])
                   for k, d in enumerate(desc["nodes"])]
        return c

    # --- environment ------------------------------------------------------------------------
    def _env(self, node: Node | None = None) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RABBITMQ_", "ERL_"))}
        env.update(HOME=str(self.home), ERL_EPMD_PORT=str(self.epmd_port), ERL_EPMD_ADDRESS="127.0.0.1",
                   ERL_CRASH_DUMP=str(self.dir / "erl_crash.dump"),
                   RABBITMQ_CTL_ERL_ARGS=LOOPBACK_ERL, LC_ALL="C.UTF-8", LANG="C.UTF-8")
        if node is not None:
            env.update(
                RABBITMQ_NODENAME=node.name, RABBITMQ_NODE_IP_ADDRESS="127.0.0.1",
                RABBITMQ_NODE_PORT=str(node.amqp_port), RABBITMQ_DIST_PORT=str(node.dist_port),
                RABBITMQ_MNESIA_BASE=str(node.base / "mnesia"), RABBITMQ_LOG_BASE=str(node.base / "log"),
                RABBITMQ_CONFIG_FILE=str(node.base / "rabbitmq.conf"),
                RABBITMQ_ADVANCED_CONFIG_FILE=str(node.base / "advanced.config"),
                RABBITMQ_ENABLED_PLUGINS_FILE=str(node.base / "enabled_plugins"),
                RABBITMQ_PID_FILE=str(node.base / "rabbit.pid"),
                RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS=LOOPBACK_ERL,
                RABBITMQ_CONF_ENV_FILE=str(node.base / "rabbitmq-env.conf"),
                ERL_CRASH_DUMP=str(node.base / "erl_crash.dump"),
            )
        return env

    def _write_config(self, node: Node) -> None:
        node.base.mkdir(parents=True, exist_ok=True)
        (node.base / "rabbitmq-env.conf").write_text("")
        (node.base / "advanced.config").write_text("[].\n")
        (node.base / "enabled_plugins").write_text("[rabbitmq_mqtt].\n")
        peers = "\n".join(f"cluster_formation.classic_config.nodes.{i + 1} = {n.name}"
                          for i, n in enumerate(self.nodes))
        (node.base / "rabbitmq.conf").write_text(f"""\
listeners.tcp.default = 127.0.0.1:{node.amqp_port}
mqtt.listeners.tcp.default = 127.0.0.1:{node.mqtt_port}
mqtt.allow_anonymous = true
mqtt.vhost = /
mqtt.exchange = amq.topic
mqtt.tcp_listen_options.backlog = 4096
mqtt.durable_queue_type = quorum
cluster_formation.peer_discovery_backend = classic_config
{peers}
cluster_partition_handling = pause_minority
vm_memory_high_watermark.absolute = {self.memory_mb}MB
disk_free_limit.absolute = 100MB
log.console = true
log.console.level = warning
log.file = false
""")

    # --- lifecycle ----------------------------------------------------------------------------
    def start(self) -> RabbitCluster:
        if self.attached:
            raise RuntimeError("an attached cluster is started by its owner")
        try:
            self._epmd = subprocess.Popen(["epmd", "-port", str(self.epmd_port), "-address", "127.0.0.1"],
                                          env=self._env(), stdout=subprocess.DEVNULL,
                                          stderr=subprocess.DEVNULL, start_new_session=True)
            for n in self.nodes:
                self._write_config(n)
            # The first node alone, then the others join it together: started all at once,
            # classic-config discovery makes them wait for each other's tables for minutes.
            deadline = time.monotonic() + self.start_timeout
            self._spawn(self.nodes[0])
            self._wait(self.nodes[:1], 1, deadline)
            for n in self.nodes[1:]:
                self._spawn(n)
            self._wait(self.nodes, len(self.nodes), deadline)
            # A clean-session MQTT client's QoS 1 subscription (a unit's cmd) is a classic queue
            # on the node it connected to; mirrored, it outlives that node (else the unit cannot
            # subscribe again anywhere until the node is back: "home node ... is down").
            self.ctl(self.nodes[0], "set_policy", "--apply-to", "queues", "mqtt-subscriptions-ha",
                     "^mqtt-subscription-", '{"ha-mode":"all","ha-sync-mode":"automatic"}')
        except BaseException:
            self.stop()
            raise
        return self

    def _spawn(self, node: Node) -> None:
        nofile = self.nofile

        def limits() -> None:
            import resource
            hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
            want = nofile if hard == resource.RLIM_INFINITY else min(nofile, hard)
            resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

        logf = open(node.log_path, "ab")
        node.proc = subprocess.Popen([str(SBIN / "rabbitmq-server")], env=self._env(node), cwd=node.base,
                                     stdin=subprocess.DEVNULL, stdout=logf, stderr=subprocess.STDOUT,
                                     preexec_fn=limits, start_new_session=True)
        logf.close()
        node.pid = node.proc.pid
        node.killed_at = None

    def restart(self, node: Node, timeout: float = 300.0) -> None:
        """Start a killed node again with its data (it rejoins the cluster and its queues) and wait
        until every node sees all of them running: one cluster can serve several node-death tests."""
        if self.attached:
            raise RuntimeError("an attached cluster's nodes are restarted by its owner")
        if node.alive:
            raise RuntimeError(f"RabbitMQ node {node.name} is running")
        self._spawn(node)
        self._wait(self.nodes, len(self.nodes), time.monotonic() + timeout)

    def ctl(self, node: Node, *args: str, timeout: float = 60.0, tool: str = "rabbitmqctl") -> str:
        """Run a CLI tool against ``node``; its output, or RuntimeError with it."""
        r = subprocess.run([str(SBIN / tool), "-n", node.name, *args], env=self._env(), capture_output=True,
                           text=True, timeout=timeout)
        if r.returncode != 0:
            raise RuntimeError(f"{tool} -n {node.name} {' '.join(args)}: exit {r.returncode}: "
                               f"{(r.stderr or r.stdout).strip()[-1500:]}")
        return r.stdout

    def running_nodes(self, via: Node) -> list[str]:
        import json
        out = self.ctl(via, "cluster_status", "--formatter", "json", timeout=30)
        return sorted(json.loads(out).get("running_nodes", []))

    def wait_running(self, count: int, timeout: float) -> None:
        """Wait until every live node listens on MQTT and AMQP and sees ``count`` running nodes."""
        self._wait([n for n in self.nodes if n.proc is not None and n.killed_at is None], count,
                   time.monotonic() + timeout)

    def _wait(self, pending: list[Node], count: int, deadline: float) -> None:
        while True:
            for n in pending:
                if n.proc is not None and n.killed_at is None and not n.alive:
                    raise RuntimeError(f"RabbitMQ node {n.name} exited ({n.proc.returncode}): "
                                       f"{self.tail(n)}")
            try:
                ok = all(_listening(n.mqtt_port) and _listening(n.amqp_port) for n in pending)
                if ok and all(len(self.running_nodes(n)) >= count for n in pending):
                    return
            except (RuntimeError, subprocess.TimeoutExpired, ValueError):
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"RabbitMQ cluster not up after {self.start_timeout:.0f} s; "
                                   + "; ".join(f"{n.name}: {self.tail(n, 400)}" for n in pending))
            time.sleep(1.0)

    def tail(self, node: Node, chars: int = 1500) -> str:
        try:
            return node.log_path.read_text(errors="replace")[-chars:]
        except OSError:
            return "(no log)"

    def kill(self, node: Node) -> None:
        """SIGKILL the node's whole process group (the VM and its helpers): a node death."""
        if node.pid is not None and node.alive:
            os.killpg(node.pid, signal.SIGKILL)
            if node.proc is not None:
                node.proc.wait(10)
            else:  # attached: the owner reaps it; gone or a zombie is dead
                deadline = time.monotonic() + 10
                while node.alive and time.monotonic() < deadline:
                    time.sleep(0.02)
        node.killed_at = time.monotonic()

    def stop(self) -> None:
        """Stop every node (SIGTERM, then SIGKILL after 20 s), then epmd, then remove the folder
        (an attached cluster: nothing, its owner stops it)."""
        if self.attached:
            return
        for n in self.nodes:
            if n.proc is not None and n.proc.poll() is None:
                try:
                    os.killpg(n.proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        deadline = time.monotonic() + 20
        for n in self.nodes:
            if n.proc is None:
                continue
            try:
                n.proc.wait(max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                pass
            try:  # the VM's helpers too, whatever state the shell script is in
                os.killpg(n.proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            try:
                n.proc.wait(5)
            except subprocess.TimeoutExpired:
                log.warning("RabbitMQ node %s did not exit", n.name)
        if self._epmd is not None and self._epmd.poll() is None:
            os.killpg(self._epmd.pid, signal.SIGKILL)
            self._epmd.wait(5)
        if self._tmp is not None:
            self._tmp.cleanup()
            self._tmp = None

    def __enter__(self) -> RabbitCluster:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _pid_running(pid: int) -> bool:
    """The process exists and is no zombie (a killed child its parent has not reaped yet)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.3):
            return True
    except OSError:
        return False
