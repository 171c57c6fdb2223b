"""Start and stop the real test stack: Apache Kafka (one KRaft node), Apicurio Registry and
the ksqlDB REST emulator, all on 127.0.0.1. Used by tests/stack/up and tests/stack/down.

Layout (see tests/stack/README.md):
- jars come from Maven Central into a cache outside the repo (KCTX_STACK_CACHE, default
  ~/.cache/kctx-stack; Maven's own repository stays ~/.m2);
- configs, data, logs and pid files go to KCTX_STACK_DIR (default <repo>/.stack, gitignored).

Progress goes to stderr; stdout carries only the KCTX_* assignments, for
`eval "$(tests/stack/up)"`.
"""
from __future__ import annotations

import base64
import fcntl
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

KAFKA_VERSION = os.environ.get("KCTX_KAFKA_VERSION", "4.1.1")
# Apicurio 3.1+ is built for Java 21; 3.0.x is the newest that runs on Java 17 and is used
# when no Java 21+ is found (see registry_java()).
APICURIO_VERSION = os.environ.get("KCTX_APICURIO_VERSION", "3.3.3")
APICURIO_JAVA17_VERSION = "3.0.9"
STACK_DIR = Path(os.environ.get("KCTX_STACK_DIR") or REPO / ".stack").resolve()
CACHE_DIR = Path(os.environ.get("KCTX_STACK_CACHE") or Path.home() / ".cache" / "kctx-stack").resolve()


def _port(name: str, default: int) -> int:
    raw = os.environ.get(name, str(default))
    if not raw.isdigit() or not 0 < int(raw) < 65536:
        fail(f"{name}={raw!r} is not a port number")
    return int(raw)


class Stopped(Exception):
    """A step of `up` failed; the message is the one line shown to the user."""


def fail(message: str) -> None:
    raise Stopped(message)


def log(message: str) -> None:
    print(f"[stack] {message}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------- settings

def ports() -> dict[str, int]:
    return {
        "kafka": _port("KCTX_STACK_KAFKA_PORT", 19092),
        "controller": _port("KCTX_STACK_CONTROLLER_PORT", 19093),
        "registry": _port("KCTX_STACK_REGISTRY_PORT", 18081),
        "registry-management": _port("KCTX_STACK_REGISTRY_MANAGEMENT_PORT", 18091),
        "ksqldb": _port("KCTX_STACK_KSQLDB_PORT", 18088),
    }


def addresses(p: dict[str, int]) -> dict[str, str]:
    return {
        "KCTX_BOOTSTRAP_SERVERS": f"127.0.0.1:{p['kafka']}",
        "KCTX_SCHEMA_REGISTRY_URL": f"http://127.0.0.1:{p['registry']}/apis/ccompat/v7",
        "KCTX_KSQLDB_URL": f"http://127.0.0.1:{p['ksqldb']}",
    }


# Heaps: both JVMs together stay well under the 1.5 GB the issue allows.
KAFKA_HEAP = os.environ.get("KCTX_STACK_KAFKA_HEAP", "512m")
REGISTRY_HEAP = os.environ.get("KCTX_STACK_REGISTRY_HEAP", "512m")

# The JVM flags of Kafka's kafka-run-class.sh, minus GC logging.
# Test-only start-up speed: C1 alone compiles far less while both JVMs start on few cores.
EXTRA_JVM_FLAGS = os.environ.get("KCTX_STACK_JVM_FLAGS", "-XX:TieredStopAtLevel=1").split()

KAFKA_JVM_FLAGS = [
    "-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent", "-Djava.awt.headless=true",
]

LOG4J2_PROPERTIES = """\
# kctx test stack: Kafka logs to stdout, which tests/stack/up sends to kafka.log
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
# the broker's chattiest loggers
logger.request.name = kafka.request.logger
logger.request.level = WARN
logger.controller.name = kafka.controller
logger.controller.level = INFO
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.authorizer.name = kafka.authorizer.logger
logger.authorizer.level = WARN
logger.log.name = org.apache.kafka.storage.internals.log
logger.log.level = WARN
logger.unifiedlog.name = kafka.log
logger.unifiedlog.level = WARN
"""


def server_properties(p: dict[str, int], data_dir: Path) -> str:
    # Combined broker+controller on loopback, from Kafka's config/server.properties with the
    # production tuning removed; replication factors of 1 so transactions work on one node.
    return f"""\
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{p['controller']}
listeners=PLAINTEXT://127.0.0.1:{p['kafka']},CONTROLLER://127.0.0.1:{p['controller']}
advertised.listeners=PLAINTEXT://127.0.0.1:{p['kafka']},CONTROLLER://127.0.0.1:{p['controller']}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT
log.dirs={data_dir}
num.partitions=1
offsets.topic.replication.factor=1
offsets.topic.num.partitions=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
transaction.state.log.num.partitions=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
auto.create.topics.enable=false
delete.topic.enable=true
"""


# ---------------------------------------------------------------------------- checks

def java_major(java: str) -> int:
    try:
        out = subprocess.run([java, "-version"], capture_output=True, text=True, timeout=30).stderr
    except (OSError, subprocess.TimeoutExpired):
        return 0
    m = re.search(r'version "(\d+)(?:\.(\d+))?', out)
    if not m:
        return 0
    major = int(m.group(1))
    return int(m.group(2) or 0) if major == 1 else major  # "1.8.0" style


def require_java() -> str:
    """The JVM for Kafka: $JAVA_HOME/bin/java or `java` on PATH, 17 or newer."""
    home = os.environ.get("JAVA_HOME")
    java = f"{home}/bin/java" if home and os.access(f"{home}/bin/java", os.X_OK) else shutil.which("java")
    if not java:
        fail("Java 17 or newer is needed to run Kafka and Apicurio Registry, and `java` is not on PATH "
             "(install a JDK, e.g. `apt-get install openjdk-17-jdk-headless`, or set JAVA_HOME)")
    if java_major(java) < 17:
        fail(f"Java 17 or newer is needed to run Kafka; {java} is Java {java_major(java)} (set JAVA_HOME)")
    return java


def registry_java(java: str) -> tuple[str, str]:
    """(java, Apicurio version): Apicurio 3.1+ needs Java 21+, looked for in
    KCTX_STACK_REGISTRY_JAVA, then the Kafka JVM, then the JDKs in /usr/lib/jvm; without one,
    Apicurio 3.0.x, the last release that runs on Java 17."""
    candidates = [os.environ.get("KCTX_STACK_REGISTRY_JAVA"), java,
                  *sorted({os.path.realpath(j) for j in Path("/usr/lib/jvm").glob("*/bin/java")})]
    best = (0, java)
    for c in candidates:
        if c and os.access(c, os.X_OK) and (major := java_major(c)) > best[0]:
            best = (major, c)
        if best[0] >= 21:
            break
    if "KCTX_APICURIO_VERSION" in os.environ or best[0] >= 21:
        return best[1], APICURIO_VERSION
    log(f"no Java 21+ found for Apicurio Registry {APICURIO_VERSION}; using {APICURIO_JAVA17_VERSION} on Java 17")
    return java, APICURIO_JAVA17_VERSION


def require_maven() -> str:
    mvn = shutil.which("mvn")
    if not mvn:
        fail("Maven (`mvn`) is needed to fetch Kafka and Apicurio Registry from Maven Central and is not on "
             "PATH (install it, e.g. `apt-get install maven`)")
    return mvn


def port_free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def warn_ephemeral(p: dict[str, int]) -> None:
    # a fixed port in the range Linux gives outgoing connections is now and then taken by one
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        return
    inside = [f"{name} {port}" for name, port in p.items() if low <= port <= high]
    if inside:
        log(f"warning: {', '.join(inside)} in the ephemeral range {low}-{high}; ports below {low} are safer")


def require_free(p: dict[str, int], names: list[str]) -> None:
    env = {"kafka": "KCTX_STACK_KAFKA_PORT", "controller": "KCTX_STACK_CONTROLLER_PORT",
           "registry": "KCTX_STACK_REGISTRY_PORT", "registry-management": "KCTX_STACK_REGISTRY_MANAGEMENT_PORT",
           "ksqldb": "KCTX_STACK_KSQLDB_PORT"}
    for name in names:
        if not port_free(p[name]):
            fail(f"port {p[name]} ({name}) on 127.0.0.1 is already in use by a process tests/stack/up did not "
                 f"start; stop it or choose another port with {env[name]}=<port>")


# ---------------------------------------------------------------------------- downloads

def _mvn(args: list[str], what: str) -> None:
    mvn = require_maven()
    cmd = [mvn, "-B", "-q", *args]
    done = subprocess.run(cmd, cwd=HERE, capture_output=True, text=True)
    if done.returncode != 0:
        tail = "\n".join((done.stdout + done.stderr).strip().splitlines()[-15:])
        fail(f"Maven could not fetch {what} (exit {done.returncode}):\n{tail}")


def kafka_libs() -> Path:
    """Kafka's broker and runtime dependencies, resolved by Maven once and cached."""
    libs = CACHE_DIR / f"kafka-{KAFKA_VERSION}" / "libs"
    if (libs.parent / ".complete").exists():
        return libs
    log(f"fetching org.apache.kafka:kafka_2.13:{KAFKA_VERSION} and its dependencies (Maven) ...")
    tmp = libs.parent / "libs.partial"
    shutil.rmtree(tmp, ignore_errors=True)
    _mvn(["-f", str(HERE / "pom.xml"), f"-Dkafka.version={KAFKA_VERSION}", "dependency:copy-dependencies",
          "-DincludeScope=runtime", f"-DoutputDirectory={tmp}"], f"Kafka {KAFKA_VERSION}")
    shutil.rmtree(libs, ignore_errors=True)
    tmp.rename(libs)
    (libs.parent / ".complete").touch()
    return libs


def apicurio_home(version: str) -> Path:
    """The unpacked Apicurio Registry Quarkus application, fetched by Maven once and cached."""
    home = CACHE_DIR / f"apicurio-registry-{version}"
    if (home / ".complete").exists():
        return home
    log(f"fetching io.apicurio:apicurio-registry-app:{version}:tar.gz:all (Maven, ~160 MB) ...")
    download = CACHE_DIR / "downloads"
    _mvn(["dependency:copy", f"-Dartifact=io.apicurio:apicurio-registry-app:{version}:tar.gz:all",
          f"-DoutputDirectory={download}"], f"Apicurio Registry {version}")
    archive = download / f"apicurio-registry-app-{version}-all.tar.gz"
    tmp = home.with_name(home.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    with tarfile.open(archive) as tar:
        tar.extractall(tmp, filter="data")
    archive.unlink()  # Maven's ~/.m2 keeps its own copy
    shutil.rmtree(home, ignore_errors=True)
    tmp.rename(home)
    (home / ".complete").touch()
    return home


def registry_jar(home: Path) -> Path:
    # 3.3.0+ has quarkus-run.jar at the top, 3.1.6-3.2.x under quarkus-app/, 3.0.x an uber-jar
    for jar in (home / "quarkus-run.jar", home / "quarkus-app" / "quarkus-run.jar", *home.glob("*-runner.jar")):
        if jar.exists():
            return jar
    fail(f"no quarkus-run.jar in {home}; remove that folder and run tests/stack/up again")


# ---------------------------------------------------------------------------- processes

# Each process we start carries KCTX_STACK_MARKER=<stack dir> in its environment, so a pid
# file left by a crash is never mistaken for an unrelated process that got the same pid.
MARKER_ENV = "KCTX_STACK_MARKER"


def running_pid(name: str) -> int | None:
    try:
        pid = int((STACK_DIR / f"{name}.pid").read_text().strip())
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    except (OSError, ValueError):
        return None
    if f"{MARKER_ENV}={STACK_DIR}".encode() in environ and _alive(pid):
        return pid
    return None


def start(name: str, cmd: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> int:
    env = dict(os.environ if env is None else env)
    env[MARKER_ENV] = str(STACK_DIR)
    logfile = STACK_DIR / f"{name}.log"
    with open(logfile, "ab") as out:
        out.write(f"\n==== {time.strftime('%Y-%m-%d %H:%M:%S')} {' '.join(cmd)}\n".encode())
        out.flush()
        proc = subprocess.Popen(cmd, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                cwd=cwd or STACK_DIR, env=env, start_new_session=True)
    (STACK_DIR / f"{name}.pid").write_text(f"{proc.pid}\n")
    return proc.pid


def stop(name: str, timeout: float = 20.0) -> bool:
    """Stop one of our processes (TERM, then KILL after `timeout`); True if one was running."""
    pidfile = STACK_DIR / f"{name}.pid"
    pid = running_pid(name)
    if pid is None:
        pidfile.unlink(missing_ok=True)
        return False
    _signal(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    if _alive(pid):
        log(f"{name} (pid {pid}) did not stop in {timeout:.0f}s; killing it")
        _signal(pid, signal.SIGKILL)
        while _alive(pid):
            time.sleep(0.05)
    pidfile.unlink(missing_ok=True)
    return True


def _signal(pid: int, sig: int) -> None:
    # our processes lead their own session: the group signal takes any children along
    try:
        if os.getpgid(pid) == pid:
            os.killpg(pid, sig)
        else:
            os.kill(pid, sig)
    except ProcessLookupError:
        pass


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie of a process we started in this run counts as gone
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    except (OSError, IndexError):
        return False


def rss_mb(pid: int) -> float | None:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    except OSError:
        pass
    return None


# ---------------------------------------------------------------------------- readiness

def kafka_ready(bootstrap: str, timeout: float = 1.0) -> bool:
    from confluent_kafka.admin import AdminClient  # after pip install; not needed by `down`
    from confluent_kafka import KafkaException

    admin = AdminClient({"bootstrap.servers": bootstrap, "socket.connection.setup.timeout.ms": 1000,
                         "log_level": 0})
    try:
        md = admin.list_topics(timeout=timeout)
    except KafkaException:
        return False
    return bool(md.brokers) and md.controller_id is not None and md.controller_id >= 0


def check_kafka_transactions(bootstrap: str) -> None:
    """An empty transaction: proves transactions work (`dlq replay` needs them) and creates
    __transaction_state before the first test. (No group-offsets lookup here: right after a
    fresh cluster's first transaction, confluent-kafka 2.16.1's list_consumer_group_offsets
    left the process to die with a segmentation fault; see README.md.)"""
    from confluent_kafka import KafkaException, Producer

    try:
        producer = Producer({"bootstrap.servers": bootstrap, "transactional.id": "kctx-stack-check",
                             "log_level": 3})
        producer.init_transactions(60)
        producer.begin_transaction()
        producer.commit_transaction(60)
    except KafkaException as exc:
        fail(f"Kafka is up but transactions or consumer groups do not work: {exc}; see {STACK_DIR / 'kafka.log'}")


def http_ok(url: str, timeout: float = 1.0) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=timeout) as resp:
            return 200 <= resp.status < 300
    except (urllib.error.URLError, OSError, ValueError):
        return False


def wait_until(what: str, check, pid: int, name: str, timeout: float) -> float:
    t0 = time.monotonic()
    while True:
        if check():
            return time.monotonic() - t0
        if not _alive(pid):
            fail(f"{what} exited while starting; see {STACK_DIR / (name + '.log')}:\n{tail_log(name)}")
        if time.monotonic() - t0 > timeout:
            fail(f"{what} was not ready after {timeout:.0f}s; see {STACK_DIR / (name + '.log')}:\n{tail_log(name)}")
        time.sleep(0.25)


def tail_log(name: str, lines: int = 12) -> str:
    try:
        text = (STACK_DIR / f"{name}.log").read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join("    " + line for line in text[-lines:])


# ---------------------------------------------------------------------------- services

def start_kafka(java: str, p: dict[str, int]) -> int:
    libs = kafka_libs()
    kdir = STACK_DIR / "kafka"
    data = kdir / "data"
    # a fresh cluster each time Kafka starts: the registry is in memory, so old topics and
    # the emulator's catalog would point at schemas that no longer exist
    shutil.rmtree(kdir, ignore_errors=True)
    data.mkdir(parents=True)
    props = kdir / "server.properties"
    props.write_text(server_properties(p, data))
    log4j = kdir / "log4j2.properties"
    log4j.write_text(LOG4J2_PROPERTIES)
    base = [java, f"-Xmx{KAFKA_HEAP}", f"-Xms{KAFKA_HEAP}", *KAFKA_JVM_FLAGS, *EXTRA_JVM_FLAGS,
            f"-Dlog4j2.configurationFile={log4j}", f"-Dkafka.logs.dir={kdir}", "-cp", f"{libs}/*"]
    # Kafka's own random-uuid is base64url of 16 random bytes; computing it here saves a JVM start
    cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).rstrip(b"=").decode()
    fmt = subprocess.run([java, "-Xmx256m", f"-Dlog4j2.configurationFile={log4j}", "-cp", f"{libs}/*",
                          "kafka.tools.StorageTool", "format", "--standalone", "--ignore-formatted",
                          "-t", cluster_id, "-c", str(props)], capture_output=True, text=True)
    if fmt.returncode != 0:
        fail(f"formatting Kafka's KRaft storage failed:\n{fmt.stdout}{fmt.stderr}")
    return start("kafka", [*base, "kafka.Kafka", str(props)])


def start_registry(java: str, version: str, p: dict[str, int]) -> int:
    home = apicurio_home(version)
    jar = registry_jar(home)
    return start("registry", [
        java, f"-Xmx{REGISTRY_HEAP}", "-XX:+UseSerialGC", *EXTRA_JVM_FLAGS,
        "-Dquarkus.http.host=127.0.0.1", f"-Dquarkus.http.port={p['registry']}",
        "-Dquarkus.management.host=127.0.0.1", f"-Dquarkus.management.port={p['registry-management']}",
        # registration enforces compatibility only with a global rule (the ccompat default
        # applies to the /compatibility endpoint alone)
        "-Dapicurio.rules.global.compatibility=BACKWARD",
        "-Dquarkus.log.console.json=false",
        "-jar", str(jar),
    ], cwd=home)


EMULATOR_MODULE = "tests.stack.ksqldb_emulator"


def emulator_present() -> bool:
    pkg = REPO / "tests" / "stack" / "ksqldb_emulator"
    return (pkg / "__main__.py").exists() or (REPO / "tests" / "stack" / "ksqldb_emulator.py").exists()


def start_emulator(p: dict[str, int], addr: dict[str, str]) -> int:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), env.get("PYTHONPATH")]))
    env["PYTHONUNBUFFERED"] = "1"
    return start("ksqldb", [
        sys.executable, "-m", EMULATOR_MODULE, "--port", str(p["ksqldb"]),
        "--bootstrap-servers", addr["KCTX_BOOTSTRAP_SERVERS"],
        "--schema-registry-url", addr["KCTX_SCHEMA_REGISTRY_URL"],
    ], env=env, cwd=REPO)


# ---------------------------------------------------------------------------- up / down

@contextmanager
def locked():
    STACK_DIR.mkdir(parents=True, exist_ok=True)
    with open(STACK_DIR / "lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        yield


def up() -> dict[str, str]:
    try:
        return _up()
    except BaseException:
        # leave nothing half-started behind a failed `up`
        with locked():
            stop_all()
        raise


def _up() -> dict[str, str]:
    t0 = time.monotonic()
    p = ports()
    addr = addresses(p)
    timings: dict[str, float] = {}
    with locked():
        kafka_pid, registry_pid = running_pid("kafka"), running_pid("registry")
        healthy = (kafka_pid and registry_pid and kafka_ready(addr["KCTX_BOOTSTRAP_SERVERS"], 3.0)
                   and http_ok(addr["KCTX_SCHEMA_REGISTRY_URL"] + "/subjects", 3.0))
        if healthy:
            log(f"Kafka (pid {kafka_pid}) and Apicurio Registry (pid {registry_pid}) already running")
        else:
            # restart the pair together; the emulator's catalog lives in Kafka, so it goes too
            stop_all()
            java = require_java()
            reg_java, reg_version = registry_java(java)
            warn_ephemeral(p)
            # all five ports up front (the emulator restarts too), so a clash fails before any JVM starts
            require_free(p, ["kafka", "controller", "registry", "registry-management", "ksqldb"])
            t = time.monotonic()
            kafka_libs(), apicurio_home(reg_version)
            timings["fetch"] = time.monotonic() - t
            if timings["fetch"] > 1:
                log(f"fetched jars in {timings['fetch']:.1f}s")
            t = time.monotonic()
            log(f"starting Kafka {KAFKA_VERSION} on 127.0.0.1:{p['kafka']} (controller {p['controller']}) ...")
            kafka_pid = start_kafka(java, p)
            log(f"starting Apicurio Registry {reg_version} on 127.0.0.1:{p['registry']} ...")
            registry_pid = start_registry(reg_java, reg_version, p)
            wait_until("Kafka", lambda: kafka_ready(addr["KCTX_BOOTSTRAP_SERVERS"]), kafka_pid, "kafka", 120)
            check_kafka_transactions(addr["KCTX_BOOTSTRAP_SERVERS"])
            timings["kafka"] = time.monotonic() - t
            log(f"Kafka ready after {timings['kafka']:.1f}s (pid {kafka_pid}; transactions checked)")
            wait_until("Apicurio Registry", lambda: http_ok(addr["KCTX_SCHEMA_REGISTRY_URL"] + "/subjects"),
                       registry_pid, "registry", 180)
            timings["registry"] = time.monotonic() - t
            log(f"Apicurio Registry ready after {timings['registry']:.1f}s (pid {registry_pid})")

        ksql_pid = running_pid("ksqldb")
        if ksql_pid and http_ok(addr["KCTX_KSQLDB_URL"] + "/healthcheck", 3.0):
            log(f"ksqlDB emulator (pid {ksql_pid}) already running")
        elif not emulator_present():
            stop("ksqldb")
            log(f"ksqlDB emulator MISSING: no module {EMULATOR_MODULE} in {REPO / 'tests/stack'}; "
                f"started Kafka and the registry only, {addr['KCTX_KSQLDB_URL']} will not answer")
        else:
            stop("ksqldb")
            require_free(p, ["ksqldb"])
            t = time.monotonic()
            log(f"starting the ksqlDB emulator on 127.0.0.1:{p['ksqldb']} ...")
            ksql_pid = start_emulator(p, addr)
            wait_until("the ksqlDB emulator", lambda: http_ok(addr["KCTX_KSQLDB_URL"] + "/healthcheck"),
                       ksql_pid, "ksqldb", 60)
            timings["ksqldb"] = time.monotonic() - t
            log(f"ksqlDB emulator ready after {timings['ksqldb']:.1f}s (pid {ksql_pid})")

        total = time.monotonic() - t0
        timings["total"] = total
        (STACK_DIR / "addresses.env").write_text("".join(f"{k}={v}\n" for k, v in addr.items()))
        (STACK_DIR / "last-up.json").write_text(json.dumps({k: round(v, 2) for k, v in timings.items()}) + "\n")
        mem = ", ".join(f"{n} {rss_mb(pid):.0f} MB" for n, pid in (("Kafka", running_pid("kafka")),
                        ("Apicurio", running_pid("registry"))) if pid and rss_mb(pid))
        log(f"stack up in {total:.1f}s (RSS: {mem}); logs in {STACK_DIR}")
    return addr


def strays() -> list[int]:
    """Processes carrying our marker whose pid file is gone (deleted, or overwritten)."""
    tracked = {running_pid(n) for n in ("ksqldb", "registry", "kafka")}
    found = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            environ = (proc / "environ").read_bytes().split(b"\0")
        except OSError:
            continue
        pid = int(proc.name)
        if f"{MARKER_ENV}={STACK_DIR}".encode() in environ and pid not in tracked and pid != os.getpid():
            found.append(pid)
    return found


def stop_all() -> list[str]:
    """Stop our processes: those in pid files, then any that lost theirs. Call under locked()."""
    stopped = [name for name in ("ksqldb", "registry", "kafka") if stop(name)]
    for pid in strays():
        (STACK_DIR / "stray.pid").write_text(f"{pid}\n")
        if stop("stray"):
            stopped.append(f"pid {pid} (pid file lost)")
    return stopped


def down() -> None:
    with locked():
        stopped = stop_all()
        (STACK_DIR / "addresses.env").unlink(missing_ok=True)
    log(f"stopped: {', '.join(stopped)}" if stopped else "nothing was running")
