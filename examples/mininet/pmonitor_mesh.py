#!/usr/bin/python3
"""Run a pmonitor ping mesh on a Mininet network, the way an orchestrator does.

The script plays the orchestrator of the tool pmonitor replaced: it builds a
small Mininet network of Linux bridges (no controller, no Open vSwitch),
writes the registry, starts `pmonitor monitor` in the background inside every
host with host.cmd(), reads the working databases with the orchestrator's
SQL queries verbatim, cuts one host's link and restores it, stops every agent
through the registry run flag and consolidates the results. Every check prints
a PASS or FAIL line; the exit status is 0 only if all of them passed.

Needs root and Debian's mininet and bridge-utils packages:

    apt-get install -y mininet bridge-utils
    sudo python3 examples/mininet/pmonitor_mesh.py --pmonitor ./bin/pmonitor

Use Debian's /usr/bin/python3: the mininet module lives in its dist-packages,
so a python3 from pyenv or a virtualenv does not find it.
"""

import argparse
import glob
import json
import os
import random
import re
import shlex
import shutil
import signal
import sqlite3
import string
import subprocess
import sys
import tempfile
import time
import traceback

# The orchestrator's queries, verbatim from the database contract
# (SEMANTICS.md). Changing their text would defeat the point of the example.
Q_GOOD_STABLE = "SELECT COUNT(*) FROM targets WHERE stable = TRUE AND responded = TRUE"
Q_TOTAL_STABLE = "SELECT COUNT(*) FROM targets WHERE stable = TRUE AND total_count > 0"
Q_GOOD = "SELECT COUNT(*) FROM targets WHERE responded = TRUE"
Q_TOTAL = "SELECT COUNT(*) FROM targets WHERE total_count > 0"
Q_STATUS_LIST = "SELECT name, responded FROM targets WHERE total_count > 0"
Q_SET_RUN = "UPDATE targets SET run = ? WHERE address = ?"

# The registry exactly as the original tool created it, with nothing added:
# pmonitor must accept a registry another program made this way.
ORIGINAL_SCHEMA = """
CREATE TABLE targets (
  address     TEXT NOT NULL PRIMARY KEY,
  name        TEXT NOT NULL,
  run         BOOLEAN DEFAULT TRUE,
  running     BOOLEAN DEFAULT FALSE,
  me          BOOLEAN DEFAULT FALSE,
  stable      BOOLEAN DEFAULT TRUE,
  responded   BOOLEAN DEFAULT FALSE,
  sample_time INTEGER DEFAULT 0,
  total_count INTEGER DEFAULT 0,
  total_success INTEGER DEFAULT 0
)
"""

POLL = 0.2  # seconds between two looks at the databases


class Checks:
    """Prints PASS/FAIL lines and remembers whether anything failed."""

    def __init__(self):
        self.passed = 0
        self.failed = 0

    def check(self, ok, name, detail):
        print("%s %s: %s" % ("PASS" if ok else "FAIL", name, detail), flush=True)
        if ok:
            self.passed += 1
        else:
            self.failed += 1
        return ok


class Phase(Exception):
    """A failed check after which the later phases cannot mean anything."""


class Interrupted(BaseException):
    """SIGTERM or SIGHUP: give up, but still tear the network down. A
    BaseException, so no 'except Exception' on the way swallows it."""


def info(msg):
    print("   " + msg, flush=True)


def mininet_classes():
    """Import Mininet late, so --help works on machines without it, and
    return the classes that keep the root namespace silent."""
    from mininet.link import Intf
    from mininet.nodelib import LinuxBridge
    from mininet.moduledeps import pathCheck

    def disable_ipv6(name):
        # Without IPv6 an interface in the root namespace has no link-local
        # address, so the root namespace sends no router solicitations, DAD or
        # MLD reports onto the emulated segment. Must happen before "up".
        path = "/proc/sys/net/ipv6/conf/%s/disable_ipv6" % name
        if os.path.exists(path):
            with open(path, "w") as f:
                f.write("1\n")

    class QuietIntf(Intf):
        """Intf that disables IPv6 on ends living in the root namespace
        (switch ports) before Intf.config() brings them up."""

        def config(self, **params):
            if not self.node.inNamespace:
                disable_ipv6(self.name)
            return super().config(**params)

    class QuietBridge(LinuxBridge):
        """LinuxBridge (what `mn --switch lxbr` uses) created without IPv6
        and without multicast snooping: a snooping bridge joins the
        all-snoopers groups and would send reports from the root namespace.
        It never gets an IP address."""

        def start(self, _controllers):
            self.cmd("ip link set dev", self, "down")
            self.cmd("brctl delbr", self)
            self.cmd("brctl addbr", self)
            self.cmd("ip link set dev", self, "type bridge mcast_snooping 0")
            disable_ipv6(self.name)
            for intf in self.intfList():
                if self.name in intf.name:
                    self.cmd("brctl addif", self, intf)
            self.cmd("ip link set dev", self, "up")

        @classmethod
        def setup(cls):
            # LinuxBridge.setup() warns that bridges "may not work" whenever
            # br_netfilter is loaded. They do, unless the root namespace's
            # firewall drops forwarded packets (Docker's FORWARD policy):
            # say that once, precisely, instead.
            pathCheck("brctl", moduleName="bridge-utils")
            try:
                with open("/proc/sys/net/bridge/bridge-nf-call-iptables") as f:
                    if f.read().strip() == "1":
                        info("note: net.bridge.bridge-nf-call-iptables = 1: bridged packets pass "
                             "the root namespace's firewall; a forward drop policy would cut the mesh")
            except FileNotFoundError:
                pass

    return QuietIntf, QuietBridge


def parse_args():
    p = argparse.ArgumentParser(
        description="Build a Mininet network of Linux bridges, run a pmonitor agent in every "
        "host as an orchestrator does, cut and restore one host, stop the agents through "
        "the registry and consolidate. Needs root and the Debian packages mininet and "
        "bridge-utils. Exit status 0 only if every check passed.",
        epilog="example: sudo python3 examples/mininet/pmonitor_mesh.py --pmonitor ./bin/pmonitor",
    )
    p.add_argument("--pmonitor", default="pmonitor",
                   help="pmonitor binary (default: pmonitor on PATH)")
    p.add_argument("--workdir",
                   help="directory for the registry, working databases, logs and analysis.db; "
                   "must be empty or absent (default: a new directory under /tmp, kept)")
    p.add_argument("--hosts", type=int, default=6, help="number of hosts (default 6)")
    p.add_argument("--switches", type=int, default=2,
                   help="number of bridges in a chain, hosts spread over them (default 2)")
    p.add_argument("--unstable", default=None,
                   help="comma-separated hosts registered with stable = FALSE, like ground "
                   "stations (default: the last host; '' for none)")
    p.add_argument("--cut", default=None, help="host whose link is cut (default: the last host)")
    p.add_argument("--registry", choices=("init", "sql"), default="init",
                   help="create the registry with 'pmonitor init' from a targets file, or "
                   "with plain SQL and only the original columns (default init)")
    p.add_argument("--empty-work-files", action="store_true",
                   help="hand every agent an existing zero-byte working database, as some "
                   "orchestrators do")
    p.add_argument("--interval", default="1s", help="agent --interval (default 1s)")
    p.add_argument("--timeout", default="1s", help="agent --timeout (default 1s)")
    p.add_argument("--wait", type=float, default=20.0,
                   help="seconds each phase may take before it fails; keep it above "
                   "2 * interval + timeout (default 20)")
    p.add_argument("--prefix", default=None,
                   help="prefix of the bridge names, the only names Mininet creates in the root "
                   "namespace: 1-7 lowercase letters or digits, not 'pm...' (the emulator's); "
                   "default 'mn' plus 4 random characters, so parallel runs do not collide")
    p.add_argument("--ip-base", default="10.0.0.0/24",
                   help="host addresses (inside the hosts' namespaces; default 10.0.0.0/24)")
    p.add_argument("-v", "--verbose", action="store_true", help="show Mininet's own log")
    a = p.parse_args()

    if not 2 <= a.hosts <= 60:
        p.error("--hosts must be between 2 and 60")
    if not 1 <= a.switches <= min(9, a.hosts):
        p.error("--switches must be between 1 and min(9, --hosts)")
    names = ["h%d" % i for i in range(1, a.hosts + 1)]
    a.unstable = [names[-1]] if a.unstable is None else [n for n in a.unstable.split(",") if n]
    a.cut = a.cut or names[-1]
    for n in a.unstable + [a.cut]:
        if n not in names:
            p.error("unknown host %r (hosts are h1..h%d)" % (n, a.hosts))
    if a.prefix is None:
        a.prefix = "mn" + "".join(random.choice(string.ascii_lowercase + string.digits)
                                  for _ in range(4))
    # <prefix>s<k>-eth<port> must fit in 15 characters (IFNAMSIZ - 1).
    if not re.fullmatch(r"[a-z][a-z0-9]{0,6}", a.prefix) or a.prefix.startswith("pm"):
        p.error("--prefix must be 1-7 lowercase letters or digits and not start with 'pm'")
    a.pmonitor = shutil.which(a.pmonitor)
    if a.pmonitor is None:
        p.error("pmonitor binary not found: build it with 'make build' and pass --pmonitor ./bin/pmonitor")
    a.pmonitor = os.path.abspath(a.pmonitor)
    return a, names


def link_re(prefix):
    """Regular expression for the root-namespace names of a run: bridges
    <prefix>s<k> and their ports <prefix>s<k>-eth<n>."""
    return r"%ss\d+(?:-eth\d+)?" % re.escape(prefix)


def open_db(path):
    """Open an existing SQLite database read-write as an orchestrator does;
    mode=rw only keeps a poll that comes too early from creating the file."""
    return sqlite3.connect("file:%s?mode=rw" % path, uri=True, timeout=5)


def counts(path):
    """The orchestrator's four counts from one working database, or None
    while the agent has not created it yet."""
    try:
        db = open_db(path)
        try:
            return tuple(db.execute(q).fetchone()[0]
                         for q in (Q_GOOD, Q_TOTAL, Q_GOOD_STABLE, Q_TOTAL_STABLE))
        finally:
            db.close()
    except sqlite3.Error:
        return None


def status_list(path):
    try:
        db = open_db(path)
        try:
            return dict(db.execute(Q_STATUS_LIST).fetchall())
        finally:
            db.close()
    except sqlite3.Error:
        return None


def wait_for(deadline, pred):
    """Poll pred until it returns true or the deadline passes; returns
    (ok, seconds taken)."""
    start = time.monotonic()
    while True:
        if pred():
            return True, time.monotonic() - start
        if time.monotonic() >= deadline:
            return False, time.monotonic() - start
        time.sleep(POLL)


def alive(pid):
    """True while pid exists and is not a zombie."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return False


def tail(path, n=5):
    try:
        with open(path) as f:
            return "".join(f.readlines()[-n:]).rstrip()
    except OSError as e:
        return str(e)


class Mesh:
    """One run: the network, the agents and the files of the working dir."""

    def __init__(self, args, names, checks):
        self.a = args
        self.names = names
        self.checks = checks
        self.dir = os.path.abspath(args.workdir)
        self.master = os.path.join(self.dir, "master.db")
        self.net = None
        self.hosts = {}  # name -> Mininet host
        self.ip = {}  # name -> address
        self.switch_of = {}  # name -> name of its bridge
        self.pid = {}  # name -> agent pid
        self.shell_pids = []

    def work(self, name):
        return os.path.join(self.dir, "work-%s.db" % name)

    def log(self, name):
        return os.path.join(self.dir, "%s.log" % name)

    def others(self, name):
        return [n for n in self.names if n != name]

    def stable(self, name):
        return name not in self.a.unstable

    # --- network -------------------------------------------------------

    def build(self):
        from mininet.net import Mininet

        quiet_intf, quiet_bridge = mininet_classes()
        # Mininet.init() would raise global sysctls (ARP cache, socket
        # buffers, file-max) on the whole machine; a few hosts do not need
        # them, and other work shares this machine.
        Mininet.inited = True
        self.net = Mininet(controller=None, switch=quiet_bridge, intf=quiet_intf,
                           ipBase=self.a.ip_base, build=False, autoSetMacs=True)
        switches = []
        for k in range(1, self.a.switches + 1):
            # LinuxBridge ignores the datapath id, but Mininet derives one
            # from the digits of the name unless given.
            switches.append(self.net.addSwitch("%ss%d" % (self.a.prefix, k), dpid="%x" % k))
        for prev, nxt in zip(switches, switches[1:]):
            self.net.addLink(prev, nxt)
        per = -(-len(self.names) // len(switches))  # ceil: consecutive hosts share a bridge
        for i, name in enumerate(self.names):
            h = self.net.addHost(name)
            self.net.addLink(h, switches[i // per])
            self.hosts[name] = h
            self.switch_of[name] = switches[i // per].name
        self.net.build()
        self.net.start()
        self.shell_pids = [n.pid for n in self.net.hosts + self.net.switches]
        for name, h in self.hosts.items():
            self.ip[name] = h.IP()
        layout = ", ".join("%s: %s" % (s.name, " ".join(n for n in self.names if self.switch_of[n] == s.name))
                           for s in switches)
        info("network: %d hosts on %d Linux bridge(s) without controller (%s)"
             % (len(self.names), len(switches), layout))
        self.check_silent()
        self.pin_neighbours()

    def pin_neighbours(self):
        """Give every host a permanent ARP entry for every other host.

        The kernel's ARP table is shared by all namespaces and holds at most
        gc_thresh3 (default 1024) dynamic entries; a parallel run with
        hundreds of namespaced hosts fills it, and then no new host can
        resolve a neighbour ("neighbor table overflow" in dmesg, "No buffer
        space available" from ping). Entries added through netlink with
        "nud permanent" do not count against that limit (Linux >= 4.20), so
        this run works however busy the machine is. 'arp -s' and Mininet's
        staticArp() go through the ioctl, whose entries do count, and
        Mininet's own remedy raises the sysctls of the whole machine."""
        bad = []
        for name, h in self.hosts.items():
            cmds = ["ip neigh replace %s lladdr %s dev %s nud permanent"
                    % (self.ip[o], self.hosts[o].MAC(), h.defaultIntf()) for o in self.others(name)]
            out = h.cmd(" && ".join(cmds)).strip()
            if out:
                bad.append("%s: %s" % (name, out))
        if not self.checks.check(not bad, "neighbours", "permanent ARP entries in every host"
                                 if not bad else "; ".join(bad)):
            raise Phase()

    def check_silent(self):
        """The bridges and switch ports are the only interfaces of this run
        in the root namespace: none may carry an address of either family,
        so nothing is sent from the root namespace onto the segment."""
        ifaces = [s.name for s in self.net.switches]
        ifaces += [i.name for s in self.net.switches for i in s.intfList() if i.name != "lo"]
        loud = []
        for name in ifaces:
            addrs = subprocess.run(["ip", "-o", "addr", "show", "dev", name],
                                   capture_output=True, text=True).stdout.strip()
            try:
                with open("/proc/sys/net/ipv6/conf/%s/disable_ipv6" % name) as f:
                    v6off = f.read().strip() == "1"
            except FileNotFoundError:
                v6off = True  # kernel without IPv6
            if addrs or not v6off:
                loud.append(name)
        if not self.checks.check(not loud, "root namespace silent",
                                 "%d bridges and ports without addresses, IPv6 off" % len(ifaces)
                                 if not loud else "addresses or IPv6 on %s" % loud):
            raise Phase()

    # --- registry ------------------------------------------------------

    def make_registry(self):
        rows = [(self.ip[n], n, self.stable(n)) for n in self.names]
        if self.a.registry == "sql":
            db = sqlite3.connect(self.master)
            with db:
                db.execute(ORIGINAL_SCHEMA)
                db.executemany("INSERT INTO targets (address, name, stable) VALUES (?, ?, ?)", rows)
            db.close()
            how = "created with plain SQL, original columns only"
        else:
            targets = os.path.join(self.dir, "targets.csv")
            with open(targets, "w") as f:
                f.write("name,address,stable\n")
                for addr, name, stable in rows:
                    f.write("%s,%s,%s\n" % (name, addr, "true" if stable else "false"))
            out = subprocess.run([self.a.pmonitor, "init", self.master, targets],
                                 capture_output=True, text=True)
            if out.returncode != 0:
                self.checks.check(False, "registry", "pmonitor init failed: %s"
                                  % (out.stdout + out.stderr).strip())
                raise Phase()
            how = "pmonitor init %s" % os.path.basename(targets)
        db = open_db(self.master)
        n = db.execute("SELECT COUNT(*) FROM targets").fetchone()[0]
        db.close()
        unstable = ",".join(self.a.unstable) or "none"
        if not self.checks.check(n == len(rows), "registry",
                                 "%d targets (%s; unstable: %s)" % (n, how, unstable)):
            raise Phase()

    # --- agents --------------------------------------------------------

    def start_agents(self):
        for name in self.names:
            if self.a.empty_work_files:
                open(self.work(name), "w").close()
            # Exactly what an orchestrator types into each node's shell.
            cmd = "%s monitor %s %s %s --interval %s --timeout %s > %s 2>&1 &" % tuple(
                shlex.quote(x) for x in (self.a.pmonitor, self.master, self.work(name),
                                         self.ip[name], self.a.interval, self.a.timeout,
                                         self.log(name)))
            self.hosts[name].cmd(cmd)
            self.pid[name] = self.hosts[name].lastPid
        missing = [n for n in self.names if not self.pid[n]]
        if not self.checks.check(not missing, "agents started",
                                 "%d agents in their hosts (pids %s)" % (
                                     len(self.names), " ".join(str(self.pid[n]) for n in self.names))):
            raise Phase()

    def expected(self, name, down=None):
        """Counts (good, total, stable good, stable total) agent name should
        report when host down is unreachable (None: all reachable)."""
        others = self.others(name)
        if name == down:
            good = []
        else:
            good = [n for n in others if n != down]
        return (len(good), len(others),
                len([n for n in good if self.stable(n)]),
                len([n for n in others if self.stable(n)]))

    def wait_counts(self, phase, down, what):
        deadline = time.monotonic() + self.a.wait
        seen = {}

        def done():
            for n in self.names:
                seen[n] = counts(self.work(n))
            return all(seen[n] == self.expected(n, down) for n in self.names)

        ok, took = wait_for(deadline, done)
        for n in self.names:
            c = seen[n]
            info("%-4s %-10s all good/total %s   stable good/total %s" % (
                n, self.ip[n], "%d/%d" % c[:2] if c else "-",
                "%d/%d" % c[2:] if c else "-"))
        if not ok:
            bad = [n for n in self.names if seen[n] != self.expected(n, down)]
            for n in bad:
                info("%s: got %s, want %s; log tail:\n%s" % (
                    n, seen[n], self.expected(n, down), tail(self.log(n))))
        if not self.checks.check(ok, phase, "%s (%.1f s)" % (what, took)):
            raise Phase()

    def converge(self, phase):
        n = len(self.names) - 1
        self.wait_counts(phase, None, "every agent sees %d/%d other hosts answer" % (n, n))

    def status_agrees(self):
        """pmonitor's own reader must report what the raw SQL reports. A
        late probe may flip a count between two reads, hence the retries."""
        want = {"good": len(self.names) - 1, "total": len(self.names) - 1}
        got = {}

        def agree():
            for n in self.names:
                out = subprocess.run([self.a.pmonitor, "status", self.work(n), "--json"],
                                     capture_output=True, text=True)
                try:
                    got[n] = json.loads(out.stdout)
                except ValueError:
                    got[n] = (out.stdout + out.stderr).strip()
            return all(got[n] == want for n in self.names)

        wait_for(time.monotonic() + self.a.wait, agree)
        bad = [n for n in self.names if got[n] != want]
        self.checks.check(not bad, "pmonitor status",
                          "every 'pmonitor status --json' says %s" % json.dumps(got[self.names[0]])
                          if not bad else "disagree: %s" % {n: got[n] for n in bad})

    def cut(self):
        name = self.a.cut
        info("cutting %s (%s) from %s" % (name, self.ip[name], self.switch_of[name]))
        self.net.configLinkStatus(name, self.switch_of[name], "down")
        stable = "stable" if self.stable(name) else "unstable: stable counts unchanged"
        self.wait_counts("cut %s" % name, name,
                         "every other agent sees %s fail (%s), %s sees everyone fail"
                         % (name, stable, name))
        # The orchestrator's status list names the failed host.
        lists = {n: status_list(self.work(n)) for n in self.others(name)}
        wrong = [n for n, l in lists.items() if not l or l.get(name) != 0]
        self.checks.check(not wrong, "status list",
                          "'%s' lists %s with responded = 0 on every other agent"
                          % (Q_STATUS_LIST, name) if not wrong else "wrong on %s: %s"
                          % (wrong, {n: lists[n] for n in wrong}))

    def restore(self):
        name = self.a.cut
        self.net.configLinkStatus(name, self.switch_of[name], "up")
        n = len(self.names) - 1
        self.wait_counts("restored %s" % name, None,
                         "every agent sees %d/%d other hosts answer again" % (n, n))

    def running_flags(self):
        db = open_db(self.master)
        try:
            return {n: db.execute("SELECT running FROM targets WHERE address = ?",
                                  (self.ip[n],)).fetchone()[0] for n in self.names}
        finally:
            db.close()

    def set_run(self, name, run):
        db = open_db(self.master)
        with db:
            db.execute(Q_SET_RUN, (run, self.ip[name]))
        db.close()

    def stop_agents(self):
        flags = self.running_flags()
        self.checks.check(all(flags.values()), "running set",
                          "every agent marked itself running in the registry"
                          if all(flags.values()) else "running flags: %s" % flags)
        start = time.monotonic()
        for n in self.names:
            self.set_run(n, False)
        deadline = start + self.a.wait
        exited = {}

        def gone():
            for n in self.names:
                if n not in exited and not alive(self.pid[n]):
                    exited[n] = time.monotonic() - start
            return len(exited) == len(self.names) and not any(self.running_flags().values())

        ok, took = wait_for(deadline, gone)
        left = [n for n in self.names if n not in exited]
        self.checks.check(ok, "stopped",
                          "%d agents exited within %.2f s of run = FALSE, running cleared"
                          % (len(exited), max(exited.values() or [took])) if ok else
                          "still running: %s; running flags %s" % (left, self.running_flags()))

    def consolidate(self):
        analysis = os.path.join(self.dir, "analysis.db")
        works = sorted(glob.glob(os.path.join(self.dir, "work-*.db")))
        out = subprocess.run([self.a.pmonitor, "consolidate", self.master, analysis] + works,
                             capture_output=True, text=True)
        for line in (out.stdout + out.stderr).strip().splitlines():
            info("consolidate: " + line)
        if out.returncode != 0:
            self.checks.check(False, "consolidated", "pmonitor consolidate exited %d" % out.returncode)
            return
        n = len(self.names)
        db = open_db(analysis)
        try:
            rows = db.execute("SELECT COUNT(*) FROM node_history").fetchone()[0]
            sources = db.execute("SELECT COUNT(DISTINCT source_node) FROM node_history").fetchone()[0]
            info("%-6s %8s %8s" % ("agent", "probes", "answers"))
            for src, total, ok in db.execute(
                    "SELECT source_node, SUM(total_count), SUM(total_success) FROM node_history "
                    "GROUP BY source_node ORDER BY source_node"):
                info("%-6s %8d %8d" % (src, total, ok))
            # The outage must be in the history: every other agent counted
            # failures of the cut host.
            saw = db.execute("SELECT source_node FROM node_history WHERE node_name = ? "
                             "AND source_node != ? AND total_success < total_count",
                             (self.a.cut, self.a.cut)).fetchall()
        finally:
            db.close()
        self.checks.check(rows == n * (n - 1) and sources == n, "consolidated",
                          "analysis.db node_history has %d rows from %d agents (want %d from %d)"
                          % (rows, sources, n * (n - 1), n))
        self.checks.check(len(saw) == n - 1, "history",
                          "%d of %d other agents recorded failures of %s"
                          % (len(saw), n - 1, self.a.cut))

    # --- teardown ------------------------------------------------------

    def teardown(self):
        """Runs on success, failure and signals: stop what is still running
        (registry first, then by pid), then take the network down."""
        left = [n for n in self.pid if self.pid[n] and alive(self.pid[n])]
        if left and os.path.exists(self.master):
            for n in left:
                try:
                    self.set_run(n, False)
                except sqlite3.Error:
                    pass
            wait_for(time.monotonic() + 3, lambda: not any(alive(self.pid[n]) for n in left))
        for sig in (signal.SIGTERM, signal.SIGKILL):
            left = [n for n in left if alive(self.pid[n])]
            for n in left:
                try:
                    os.kill(self.pid[n], sig)
                except ProcessLookupError:
                    pass
            wait_for(time.monotonic() + 2, lambda: not any(alive(self.pid[n]) for n in left))
        if self.net is not None:
            self.net.stop()
            self.net = None

    def verify_clean(self):
        """Nothing of this run may remain: no root-namespace links with our
        prefix, no agent and no host shell (whose exit frees the namespace)."""
        links = subprocess.run(["ip", "-o", "link", "show"], capture_output=True, text=True).stdout
        ours = sorted(set(re.findall(r"^\d+: (%s)[:@]" % link_re(self.a.prefix), links, re.M)))
        pids = [p for p in list(self.pid.values()) + self.shell_pids if p]
        wait_for(time.monotonic() + 3, lambda: not any(alive(p) for p in pids))
        procs = [p for p in pids if alive(p)]
        self.checks.check(not ours and not procs, "cleanup",
                          "no %s* links, agents or host shells left" % self.a.prefix
                          if not ours and not procs else "left: links %s, pids %s" % (ours, procs))


def main():
    args, names = parse_args()
    if os.geteuid() != 0:
        sys.exit("needs root (Mininet creates namespaces and bridges): run it with sudo")
    if args.workdir is None:
        args.workdir = tempfile.mkdtemp(prefix="pmonitor-mininet-")
    os.makedirs(args.workdir, exist_ok=True)
    if os.listdir(args.workdir):
        sys.exit("--workdir %s is not empty" % args.workdir)

    from mininet.log import setLogLevel
    setLogLevel("info" if args.verbose else "warning")

    # SIGTERM (e.g. a test's deadline) must still run the teardown below.
    def on_signal(signum, _frame):
        raise Interrupted(signum)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGHUP, on_signal)

    checks = Checks()
    mesh = Mesh(args, names, checks)
    print("pmonitor mesh on Mininet: %s, workdir %s, bridges %s*"
          % (args.pmonitor, mesh.dir, args.prefix), flush=True)
    status = 1
    try:
        mesh.build()
        mesh.make_registry()
        mesh.start_agents()
        mesh.converge("converged")
        mesh.status_agrees()
        mesh.cut()
        mesh.restore()
        mesh.stop_agents()
        mesh.consolidate()
    except Phase:
        pass
    except (Interrupted, KeyboardInterrupt) as e:
        signum = e.args[0] if isinstance(e, Interrupted) else signal.SIGINT
        status = 128 + signum
        checks.check(False, "interrupted", "signal %d; tearing down" % signum)
    except Exception:  # any surprise still gets a teardown and a FAIL line
        traceback.print_exc()
        checks.check(False, "error", "unexpected exception (traceback above)")
    finally:
        # Ignore further signals during teardown: a second SIGTERM must not
        # leave half a network behind.
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            mesh.teardown()
        finally:
            mesh.verify_clean()
    ok = checks.failed == 0
    print("RESULT %s (%d passed, %d failed); files in %s"
          % ("PASS" if ok else "FAIL", checks.passed, checks.failed, mesh.dir), flush=True)
    sys.exit(0 if ok else status)


if __name__ == "__main__":
    main()
