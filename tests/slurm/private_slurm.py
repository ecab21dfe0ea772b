"""A private single-node Slurm for the job tests: munged, slurmctld and slurmd from Debian's packages,
configured under a temporary folder, on ports of their own, and stopped by pid.

It never touches a Slurm (or munge) already running on the machine: its own munge socket and key,
its own slurm.conf (passed to every client through SLURM_CONF), its own state, spool and log
folders, and ports that were free when it started. Every daemon runs in the foreground as a child
of this process, so stopping it means signalling exactly those pids.

    with PrivateSlurm(cpus=4) as slurm:
        job = slurm.sbatch(["job.sbatch", "arg"], workdir=tmp)
        state = slurm.wait(job)          # {'JobState': 'COMPLETED', 'ExitCode': '0:0', ...}
"""
import ctypes
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import time

DAEMONS = ("munged", "slurmctld", "slurmd")
CLIENTS = ("sbatch", "scontrol", "scancel", "sinfo", "squeue", "srun")
PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36


class SlurmUnavailable(RuntimeError):
    """Slurm or munge is not installed (scripts/install-slurm.sh installs them)."""


def _die_with_parent():
    """In the child before exec: SIGTERM when the process that started it dies."""
    ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signal.SIGTERM, 0, 0, 0)


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _find(program, folders=("/usr/sbin", "/usr/bin", "/sbin", "/bin")):
    found = shutil.which(program)
    if found:
        return found
    for folder in folders:
        path = os.path.join(folder, program)
        if os.access(path, os.X_OK):
            return path
    return None


class PrivateSlurm:
    def __init__(self, cpus=4, max_array_size=1001, node="weavetest", partition="weave", keep_dir=False):
        missing = [p for p in DAEMONS + CLIENTS if _find(p) is None]
        if missing:
            raise SlurmUnavailable(f"not installed: {', '.join(missing)} (run scripts/install-slurm.sh)")
        self.cpus = cpus
        self.max_array_size = max_array_size
        self.node = node
        self.partition = partition
        self.keep_dir = keep_dir
        self.dir = None
        self.procs = {}
        self.pids = []  # every daemon started, for the check that none is left
        self.env = None

    # --- start and stop -------------------------------------------------------------------------

    def __enter__(self):
        try:
            self.start()
        except BaseException:
            self.stop()
            raise
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        # slurmstepd daemonizes away from slurmd; as a subreaper this process inherits the orphans,
        # so stop() can end and reap every process the private Slurm left, and nothing else.
        try:
            ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        except (OSError, AttributeError):
            pass
        self.dir = tempfile.mkdtemp(prefix="weave-slurm-")
        os.chmod(self.dir, 0o700)  # munged refuses folders that others may write
        for sub in ("munge", "state", "spool", "log"):
            os.makedirs(os.path.join(self.dir, sub), mode=0o700)
        self._start_munge()
        self._write_conf()
        self.env = dict(os.environ, SLURM_CONF=self.conf)
        # A job's environment comes from the submitting one (sbatch --export=ALL): no outer Slurm's
        # job variables may leak into it (the test could itself run inside a Slurm job).
        for key in list(self.env):
            if key.startswith(("SLURM_", "SBATCH_", "SRUN_", "SALLOC_")) and key != "SLURM_CONF":
                del self.env[key]
        self._spawn("slurmctld", [_find("slurmctld"), "-D", "-i", "-f", self.conf])
        self._spawn("slurmd", [_find("slurmd"), "-D", "-N", self.node, "-f", self.conf])
        self._wait_for_idle_node()

    def _start_munge(self):
        key = os.path.join(self.dir, "munge", "munge.key")
        with open(os.open(key, os.O_WRONLY | os.O_CREAT, 0o600), "wb") as f:
            f.write(os.urandom(1024))
        self.munge_socket = os.path.join(self.dir, "munge", "munge.socket")
        self._spawn("munged", [
            _find("munged"), "--foreground", "--force", f"--socket={self.munge_socket}", f"--key-file={key}",
            f"--pid-file={self.dir}/munge/munged.pid", f"--seed-file={self.dir}/munge/munged.seed",
            f"--log-file={self.dir}/log/munged.log", "--num-threads=2"])
        self._until(lambda: os.path.exists(self.munge_socket), 20, "munged did not create its socket")

    def _write_conf(self):
        d = self.dir
        self.conf = os.path.join(d, "slurm.conf")
        host = socket.gethostname()
        lines = [
            "ClusterName=weavetest",
            f"SlurmctldHost={host}(127.0.0.1)",
            f"SlurmctldPort={_free_port()}",
            f"SlurmdPort={_free_port()}",
            "SlurmUser=root",
            "SlurmdUser=root",
            "AuthType=auth/munge",
            "CredType=cred/munge",
            f"AuthInfo=socket={self.munge_socket}",
            f"StateSaveLocation={d}/state",
            f"SlurmdSpoolDir={d}/spool",
            f"SlurmctldPidFile={d}/slurmctld.pid",
            f"SlurmdPidFile={d}/slurmd.pid",
            f"SlurmctldLogFile={d}/log/slurmctld.log",
            f"SlurmdLogFile={d}/log/slurmd.log",
            "SlurmctldDebug=info",
            "SlurmdDebug=info",
            # No cgroups: the machine may be a container; processes are tracked by parent pid.
            "ProctrackType=proctrack/linuxproc",
            "TaskPlugin=task/none",
            "JobAcctGatherType=jobacct_gather/none",
            "AccountingStorageType=accounting_storage/none",
            "JobCompType=jobcomp/none",
            "SchedulerType=sched/builtin",
            "SelectType=select/cons_tres",
            "SelectTypeParameters=CR_CPU",
            # Open MPI (Debian's, built with PMIx) starts its ranks under srun through PMIx, as on
            # most sites; the scripts also work where the site sets SLURM_MPI_TYPE instead.
            "MpiDefault=pmix",
            "ReturnToService=2",
            "MinJobAge=600",  # finished jobs stay visible to scontrol (no accounting here)
            "KillWait=5",
            f"MaxArraySize={self.max_array_size}",
            "InactiveLimit=0",
            "SlurmdTimeout=60",
            # The node may claim more CPUs than the machine has: the tests run 2-task jobs and
            # array tasks side by side on a 2-core CI machine (oversubscribed, as the MPI tests are).
            "SlurmdParameters=config_overrides",
            f"NodeName={self.node} NodeHostname={host} NodeAddr=127.0.0.1 CPUs={self.cpus} RealMemory=1000 State=UNKNOWN",
            f"PartitionName={self.partition} Nodes={self.node} Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO",
        ]
        with open(self.conf, "w") as f:
            f.write("\n".join(lines) + "\n")
        # The PMIx plugin's folders for the ranks, under ours instead of /tmp (read beside slurm.conf).
        os.makedirs(os.path.join(d, "pmix"), mode=0o700)
        with open(os.path.join(d, "mpi.conf"), "w") as f:
            f.write(f"PMIxCliTmpDirBase={d}/pmix\n")

    def _spawn(self, name, argv):
        log = open(os.path.join(self.dir, "log", f"{name}.stdout"), "w")
        # A session of its own: a Ctrl-C of the test reaches this process, which then stops them;
        # and should this process be killed outright, the kernel ends them (parent-death signal).
        self.procs[name] = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                            env=dict(os.environ, SLURM_CONF=getattr(self, "conf", "")),
                                            start_new_session=True, preexec_fn=_die_with_parent)
        log.close()
        self.pids.append(self.procs[name].pid)

    def _until(self, ready, seconds, what):
        deadline = time.time() + seconds
        while time.time() < deadline:
            for name, proc in self.procs.items():
                if proc.poll() is not None:
                    raise RuntimeError(f"{name} exited with status {proc.returncode} while starting\n{self.logs()}")
            if ready():
                return
            time.sleep(0.2)
        raise RuntimeError(f"{what} within {seconds} s\n{self.logs()}")

    def _wait_for_idle_node(self):
        def idle():
            r = self.client(["sinfo", "-h", "-N", "-o", "%T"], check=False)
            return r.returncode == 0 and r.stdout.strip().rstrip("*") == "idle"
        self._until(idle, 60, f"node {self.node} was not idle")

    def stop(self):
        """Stops every daemon this object started (by pid: SIGTERM, then SIGKILL) and removes its folder."""
        for name in reversed(DAEMONS):
            proc = self.procs.get(name)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        self.procs.clear()
        self._end_orphans()
        if self.dir and not self.keep_dir:
            shutil.rmtree(self.dir, ignore_errors=True)

    def _end_orphans(self):
        """Kills and reaps what is left of the jobs (slurmstepd and its tasks re-parented to us)."""
        me = str(os.getpid())
        for _ in range(50):
            children = []
            for pid in filter(str.isdigit, os.listdir("/proc")):
                try:
                    with open(f"/proc/{pid}/stat") as f:
                        fields = f.read().rsplit(")", 1)[1].split()
                except OSError:
                    continue
                if fields[1] == me:
                    children.append(int(pid))
            if not children:
                return
            for pid in children:
                try:
                    os.kill(pid, signal.SIGKILL)
                    os.waitpid(pid, 0)
                except (ProcessLookupError, ChildProcessError):
                    pass
            time.sleep(0.1)

    def leftovers(self):
        """What stop() should have removed and did not: daemons still alive, the folder."""
        left = [f"pid {pid}" for pid in self.pids if os.path.exists(f"/proc/{pid}") and
                open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0] != "Z"]
        if self.dir and os.path.exists(self.dir) and not self.keep_dir:
            left.append(self.dir)
        return left

    def logs(self):
        out = []
        for name in os.listdir(os.path.join(self.dir, "log")) if self.dir else []:
            with open(os.path.join(self.dir, "log", name), errors="replace") as f:
                tail = f.read()[-3000:]
            out.append(f"--- {name} (last 3000 characters)\n{tail}")
        return "\n".join(out)

    # --- clients --------------------------------------------------------------------------------

    def client(self, argv, check=True, env=None, cwd=None, timeout=60):
        proc = subprocess.run([_find(argv[0])] + list(argv[1:]), capture_output=True, text=True, cwd=cwd,
                              env=dict(self.env, **(env or {})), timeout=timeout)
        if check and proc.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)}: exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}\n{self.logs()}")
        return proc

    def sbatch(self, args, env=None, cwd=None):
        """Submits a job; returns its id (for an array, the array's job id)."""
        r = self.client(["sbatch", "--parsable"] + list(args), env=env, cwd=cwd)
        return r.stdout.strip().split(";")[0]

    def job(self, job_id):
        """scontrol's record of a job (for an array, its tasks') as a list of dicts."""
        r = self.client(["scontrol", "show", "job", "-o", str(job_id)], check=False)
        records = []
        for line in r.stdout.splitlines():
            records.append(dict(m.groups() for m in re.finditer(r"(\w+(?::\w+)?)=(\S*)", line)))
        return records

    def wait(self, job_id, timeout=300):
        """Waits until the job (every task of an array) has ended; returns its records."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            records = self.job(job_id)
            if records and all(r.get("JobState") not in ("PENDING", "RUNNING", "CONFIGURING", "COMPLETING",
                                                            "SUSPENDED", "REQUEUED", "RESIZING")
                               for r in records):
                return records
            time.sleep(0.5)
        raise RuntimeError(f"job {job_id} did not end within {timeout} s: {self.job(job_id)}\n{self.logs()}")
