"""Start and stop the real test stack on 127.0.0.1: Apache Kafka 4.1.1 (one KRaft node), the
Confluent Schema Registry 8.1.5 and the ksqlDB 8.1.5 server. Used by tests/stack/up and
tests/stack/down.

The two Confluent servers were built from their public source against Apache Kafka 4.1.1;
their jars and the poms that pin every other runtime jar are in ../shared/realstack (its
NOTES.md has the versions, the patches and the known hazards).

Layout (see tests/stack/README.md):
- Kafka's jars and the two servers' Maven Central classpaths are resolved by Maven once and
  cached outside the repo (KCTX_STACK_CACHE, default ~/.cache/kctx-stack; Maven's own
  repository stays ~/.m2);
- configs, data, logs and pid files go to KCTX_STACK_DIR (default <repo>/.stack, gitignored).

Progress goes to stderr; stdout carries only the KCTX_* assignments, for
`eval "$(tests/stack/up)"`.
"""
from __future__ import annotations

import base64
import fcntl
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from contextlib import contextmanager
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import auth  # noqa: E402 - tests/stack/auth.py: the authenticated endpoints

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

KAFKA_VERSION = os.environ.get("KCTX_KAFKA_VERSION", "4.1.1")
CONFLUENT_VERSION = "8.1.5"  # the Schema Registry and ksqlDB in ../shared/realstack
REALSTACK = Path(os.environ.get("KCTX_REALSTACK") or REPO.parent / "shared" / "realstack").resolve()
STACK_DIR = Path(os.environ.get("KCTX_STACK_DIR") or REPO / ".stack").resolve()
CACHE_DIR = Path(os.environ.get("KCTX_STACK_CACHE") or Path.home() / ".cache" / "kctx-stack").resolve()
SERVICES = ("nginx", "ksqldb", "registry", "kafka")  # stop order: clients of Kafka first


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

PORT_VARS = {
    "kafka": ("KCTX_STACK_KAFKA_PORT", 19092),
    "controller": ("KCTX_STACK_CONTROLLER_PORT", 19093),
    "registry": ("KCTX_STACK_REGISTRY_PORT", 18081),
    "ksqldb": ("KCTX_STACK_KSQLDB_PORT", 18088),
}


def ports() -> dict[str, int]:
    return {name: _port(var, default) for name, (var, default) in PORT_VARS.items()}


def addresses(p: dict[str, int]) -> dict[str, str]:
    return {
        "KCTX_BOOTSTRAP_SERVERS": f"127.0.0.1:{p['kafka']}",
        "KCTX_SCHEMA_REGISTRY_URL": f"http://127.0.0.1:{p['registry']}",
        "KCTX_KSQLDB_URL": f"http://127.0.0.1:{p['ksqldb']}",
    }


# Heaps: NOTES.md measured ksqlDB at ~390 MB RSS with 1 GB and the registry at 180-240 MB.
KAFKA_HEAP = os.environ.get("KCTX_STACK_KAFKA_HEAP", "512m")
REGISTRY_HEAP = os.environ.get("KCTX_STACK_REGISTRY_HEAP", "512m")
KSQLDB_HEAP = os.environ.get("KCTX_STACK_KSQLDB_HEAP", "1g")

# Test-only start-up speed: C1 alone compiles far less while three JVMs start on few cores.
EXTRA_JVM_FLAGS = os.environ.get("KCTX_STACK_JVM_FLAGS", "-XX:TieredStopAtLevel=1").split()

# The JVM flags of Kafka's kafka-run-class.sh, minus GC logging.
KAFKA_JVM_FLAGS = [
    "-server", "-XX:+UseG1GC", "-XX:MaxGCPauseMillis=20", "-XX:InitiatingHeapOccupancyPercent=35",
    "-XX:+ExplicitGCInvokesConcurrent", "-Djava.awt.headless=true",
]

LOG4J2_PROPERTIES = """\
# kctx test stack: each server logs to stdout, which tests/stack/up sends to <name>.log
status = warn
appender.console.type = Console
appender.console.name = STDOUT
appender.console.layout.type = PatternLayout
appender.console.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.stdout.ref = STDOUT
# the chattiest loggers of the three servers
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
logger.clients.name = org.apache.kafka.clients
logger.clients.level = WARN
logger.common.name = org.apache.kafka.common
logger.common.level = WARN
logger.streams.name = org.apache.kafka.streams
logger.streams.level = WARN
logger.kcache.name = io.kcache
logger.kcache.level = WARN
logger.reflections.name = org.reflections
logger.reflections.level = ERROR
"""


def server_properties(p: dict[str, int], data_dir: Path, sasl: dict[str, str] | None = None) -> str:
    # Combined broker+controller on loopback, from Kafka's config/server.properties with the
    # production tuning removed; replication factors of 1 so transactions work on one node.
    # ``sasl`` (tests/stack/auth.py): a second listener, SASL_SSL, for the auth tests.
    # Retention is checked once a day, not every 5 minutes: tests and benchmarks write
    # records with fixed past timestamps, which the 7-day retention.ms would otherwise
    # delete at the next check — active segment included — between producing and reading
    # them (a 1M-record bench run lost its topic that way). Topic configs are unchanged.
    extra = f",{sasl['sasl_listener']}" if sasl else ""
    return f"""\
process.roles=broker,controller
node.id=1
controller.quorum.bootstrap.servers=127.0.0.1:{p['controller']}
listeners=PLAINTEXT://127.0.0.1:{p['kafka']},CONTROLLER://127.0.0.1:{p['controller']}{extra}
advertised.listeners=PLAINTEXT://127.0.0.1:{p['kafka']},CONTROLLER://127.0.0.1:{p['controller']}{extra}
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT,SASL_SSL:SASL_SSL
{sasl['props'] if sasl else ''}log.dirs={data_dir}
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
log.retention.check.interval.ms=86400000
"""


def registry_properties(p: dict[str, int], addr: dict[str, str]) -> str:
    # The registry keeps its schemas in a Kafka topic; defaults otherwise (BACKWARD).
    return f"""\
listeners=http://127.0.0.1:{p['registry']}
host.name=127.0.0.1
kafkastore.bootstrap.servers={addr['KCTX_BOOTSTRAP_SERVERS']}
kafkastore.topic=_schemas
kafkastore.topic.replication.factor=1
schema.registry.group.id=kctx-stack-schema-registry
"""


def ksqldb_properties(p: dict[str, int], addr: dict[str, str], state_dir: Path) -> str:
    # ksqlDB's defaults except: one node's replication factors, one stream thread per query
    # (2 cores), quick commits and no record cache so tests see results within a second, no
    # phone-home (confluent.support.metrics.enable), no processing-log stream (its default).
    return f"""\
listeners=http://127.0.0.1:{p['ksqldb']}
bootstrap.servers={addr['KCTX_BOOTSTRAP_SERVERS']}
ksql.schema.registry.url={addr['KCTX_SCHEMA_REGISTRY_URL']}
ksql.service.id=kctx_stack_
ksql.streams.state.dir={state_dir}
ksql.streams.num.stream.threads=1
ksql.streams.replication.factor=1
ksql.internal.topic.replicas=1
ksql.sink.replicas=1
ksql.streams.commit.interval.ms=500
ksql.streams.cache.max.bytes.buffering=0
ksql.logging.processing.topic.auto.create=false
ksql.logging.processing.stream.auto.create=false
confluent.support.metrics.enable=false
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
    """The JVM for all three servers: $JAVA_HOME/bin/java or `java` on PATH, 17 or newer."""
    home = os.environ.get("JAVA_HOME")
    java = f"{home}/bin/java" if home and os.access(f"{home}/bin/java", os.X_OK) else shutil.which("java")
    if not java:
        fail("Java 17 or newer is needed to run Kafka, the Schema Registry and ksqlDB, and `java` is not on "
             "PATH (install a JDK, e.g. `apt-get install openjdk-17-jdk-headless`, or set JAVA_HOME)")
    if java_major(java) < 17:
        fail(f"Java 17 or newer is needed to run Kafka; {java} is Java {java_major(java)} (set JAVA_HOME)")
    return java


def require_maven() -> str:
    mvn = shutil.which("mvn")
    if not mvn:
        fail("Maven (`mvn`) is needed to fetch the servers' jars from Maven Central and is not on "
             "PATH (install it, e.g. `apt-get install maven`)")
    return mvn


def require_realstack() -> Path:
    """../shared/realstack (or KCTX_REALSTACK): the jars built from Confluent's source and the
    poms of their Maven Central dependencies."""
    needed = ["jars", "pom.xml", "pom-schema-registry.xml", "jars-ksqldb.list", "jars-schema-registry.list"]
    missing = [n for n in needed if not (REALSTACK / n).exists()]
    if missing:
        fail(f"{REALSTACK} is missing or incomplete (no {', '.join(missing)}): the shared folder with the "
             f"Schema Registry and ksqlDB {CONFLUENT_VERSION} jars must sit beside the repo as ../shared "
             f"(or set KCTX_REALSTACK)")
    return REALSTACK


def require_python_deps() -> None:
    """`up` checks Kafka with confluent-kafka, one of kctx's own dependencies."""
    try:
        import confluent_kafka  # noqa: F401
    except ImportError:
        fail(f"the Python running tests/stack/up ({sys.executable}) lacks kctx's dependencies "
             "(no confluent_kafka); install them first: python -m pip install -e '.[test]'")


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
    for name in names:
        if not port_free(p[name]):
            fail(f"port {p[name]} ({name}) on 127.0.0.1 is already in use by a process tests/stack/up did not "
                 f"start; stop it or choose another port with {PORT_VARS[name][0]}=<port>")


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


def confluent_classpath(server: str) -> str:
    """The classpath of `server` ("ksqldb" or "registry"): the jars built from Confluent's
    source named in realstack/jars-<server>.list, then the pinned Maven Central jars of its
    pom, resolved once (Maven keeps them in ~/.m2) and cached as a list keyed by the pom's
    content, so a changed pom resolves again."""
    pom_name, list_name, what = {
        "ksqldb": ("pom.xml", "jars-ksqldb.list", f"ksqlDB {CONFLUENT_VERSION}"),
        "registry": ("pom-schema-registry.xml", "jars-schema-registry.list", f"Schema Registry {CONFLUENT_VERSION}"),
    }[server]
    pom = REALSTACK / pom_name
    digest = hashlib.sha256(pom.read_bytes()).hexdigest()[:16]
    cp_file = CACHE_DIR / f"{server}-{CONFLUENT_VERSION}-{digest}.classpath"
    central = cp_file.read_text().strip() if cp_file.exists() else ""
    if not central or not all(os.path.exists(j) for j in central.split(os.pathsep)):
        log(f"resolving the Maven Central jars of {what} (first time ~100-200 MB) ...")
        CACHE_DIR.mkdir(parents=True, exist_ok=True)
        tmp = cp_file.with_suffix(".partial")
        _mvn(["-f", str(pom), "dependency:build-classpath", f"-Dmdep.outputFile={tmp}"], what)
        tmp.rename(cp_file)
        central = cp_file.read_text().strip()
    built = [str(REALSTACK / "jars" / name.strip())
             for name in (REALSTACK / list_name).read_text().splitlines() if name.strip()]
    absent = [j for j in built if not os.path.exists(j)]
    if absent:
        fail(f"{REALSTACK / list_name} names jars that are not in {REALSTACK / 'jars'}: {', '.join(absent[:3])}")
    return os.pathsep.join([*built, central])


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
    # nginx clears its environment; its command line names our directory
    if name == "nginx" and _alive(pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ")
        except OSError:
            return None
        if str(auth.auth_dir(STACK_DIR)).encode() in cmdline and b"nginx" in cmdline:
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

def _write_log4j(directory: Path) -> Path:
    log4j = directory / "log4j2.properties"
    log4j.write_text(LOG4J2_PROPERTIES)
    return log4j


def start_kafka(java: str, p: dict[str, int]) -> int:
    libs = kafka_libs()
    kdir = STACK_DIR / "kafka"
    data = kdir / "data"
    # a fresh cluster each time Kafka starts; the registry and ksqlDB keep their state in it,
    # so they are restarted with it
    shutil.rmtree(kdir, ignore_errors=True)
    data.mkdir(parents=True)
    props = kdir / "server.properties"
    sasl = None
    if auth.enabled():
        values = auth.prepare(STACK_DIR)  # fresh certificates and passwords with a fresh Kafka
        sasl = auth.kafka_properties(p["kafka"], values, auth.auth_dir(STACK_DIR))
    props.write_text(server_properties(p, data, sasl))
    log4j = _write_log4j(kdir)
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


def start_registry(java: str, p: dict[str, int], addr: dict[str, str], classpath: str) -> int:
    rdir = STACK_DIR / "registry"
    shutil.rmtree(rdir, ignore_errors=True)
    rdir.mkdir(parents=True)
    props = rdir / "schema-registry.properties"
    props.write_text(registry_properties(p, addr))
    log4j = _write_log4j(rdir)
    return start("registry", [
        java, f"-Xmx{REGISTRY_HEAP}", "-XX:+UseSerialGC", *EXTRA_JVM_FLAGS, "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log4j}", "-cp", classpath,
        "io.confluent.kafka.schemaregistry.rest.SchemaRegistryMain", str(props),
    ])


def start_ksqldb(java: str, p: dict[str, int], addr: dict[str, str], classpath: str) -> int:
    qdir = STACK_DIR / "ksqldb"
    # the catalog lives in ksqlDB's command topic in Kafka; local state is rebuilt from it
    shutil.rmtree(qdir, ignore_errors=True)
    (qdir / "state").mkdir(parents=True)
    props = qdir / "ksql-server.properties"
    props.write_text(ksqldb_properties(p, addr, qdir / "state"))
    log4j = _write_log4j(qdir)
    return start("ksqldb", [
        java, f"-Xmx{KSQLDB_HEAP}", *EXTRA_JVM_FLAGS, "-Djava.awt.headless=true",
        f"-Dlog4j2.configurationFile={log4j}", f"-Dksql.server.install.dir={qdir}", "-cp", classpath,
        "io.confluent.ksql.rest.server.KsqlServerMain", str(props),
    ])


def start_nginx(p: dict[str, int]) -> int | None:
    """nginx (TLS, basic auth, mTLS for the registry) in front of the plain registry and
    ksqlDB; None when auth is off or Kafka was started without its SASL listener."""
    values = auth.read_values(STACK_DIR)
    if not auth.enabled() or not values:
        return None
    nginx = auth.nginx_binary()
    if nginx is None:
        fail("nginx is missing (the authenticated endpoints need it): apt-get install nginx-light, "
             "or KCTX_STACK_AUTH=0 to start without them")
    conf = auth.nginx_conf(STACK_DIR, values, p["registry"], p["ksqldb"])
    d = auth.auth_dir(STACK_DIR)
    return start("nginx", [nginx, "-p", str(d), "-c", str(conf), "-e", str(d / "nginx-error.log"),
                           "-g", "daemon off;"])


def auth_addresses(p: dict[str, int]) -> dict[str, str]:
    """The authenticated endpoints' variables when they are all up, else {}."""
    values = auth.read_values(STACK_DIR)
    ap = auth.ports()
    if not values or not running_pid("nginx"):
        return {}
    if not port_open(ap["kafka_sasl"]):
        return {}
    return values


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1.0):
            return True
    except OSError:
        return False


def answers(check, pid: int, patience: float = 45.0) -> bool:
    """True once ``check()`` passes; False when process ``pid`` is gone or ``patience``
    seconds pass without an answer."""
    deadline = time.monotonic() + patience
    while True:
        if check():
            return True
        if not _alive(pid) or time.monotonic() > deadline:
            return False
        time.sleep(1.0)


def ksqldb_running(url: str, timeout: float = 1.0) -> bool:
    """ksqlDB answers /info with serverStatus RUNNING once its command topic is replayed."""
    try:
        with urllib.request.urlopen(url + "/info", timeout=timeout) as resp:
            info = json.load(resp).get("KsqlServerInfo", {})
    except (urllib.error.URLError, OSError, ValueError):
        return False
    return info.get("serverStatus") == "RUNNING"


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
    require_python_deps()
    with locked():
        kafka_pid = running_pid("kafka")
        registry_pid, ksql_pid = running_pid("registry"), running_pid("ksqldb")
        # a server of ours that is alive but slow to answer (a loaded machine) is waited for,
        # not replaced: replacing Kafka wipes the stack under the tests using it
        kafka_ok = bool(kafka_pid) and answers(lambda: kafka_ready(addr["KCTX_BOOTSTRAP_SERVERS"], 3.0), kafka_pid)
        registry_ok = kafka_ok and bool(registry_pid) and answers(
            lambda: http_ok(addr["KCTX_SCHEMA_REGISTRY_URL"] + "/subjects", 3.0), registry_pid)
        ksql_ok = kafka_ok and bool(ksql_pid) and answers(
            lambda: ksqldb_running(addr["KCTX_KSQLDB_URL"], 3.0), ksql_pid)
        if kafka_ok and registry_ok and ksql_ok:
            log(f"Kafka (pid {kafka_pid}), the Schema Registry (pid {registry_pid}) and ksqlDB (pid {ksql_pid}) "
                "already running")
        else:
            java = require_java()
            require_realstack()
            todo = ["registry"] * (not registry_ok) + ["ksqldb"] * (not ksql_ok)
            if not kafka_ok:
                stop_all()  # a fresh Kafka: the registry and ksqlDB keep their state in it
                todo = ["kafka", "controller", "registry", "ksqldb"]
            else:
                for name in todo:
                    stop(name)
            warn_ephemeral(p)
            require_free(p, todo)  # every port up front, so a clash fails before any JVM starts
            if "kafka" in todo and auth.enabled() and not port_free(auth.ports()["kafka_sasl"]):
                fail(f"port {auth.ports()['kafka_sasl']} (Kafka SASL_SSL) on 127.0.0.1 is already in use; choose "
                     f"another with KCTX_STACK_KAFKA_SASL_PORT=<port> (or KCTX_STACK_AUTH=0)")
            t = time.monotonic()
            libs = kafka_libs() if "kafka" in todo else None
            classpaths = {name: confluent_classpath(name) for name in ("registry", "ksqldb") if name in todo}
            timings["fetch"] = time.monotonic() - t
            if timings["fetch"] > 1:
                log(f"resolved jars in {timings['fetch']:.1f}s")
            t = time.monotonic()
            if libs is not None:
                log(f"starting Kafka {KAFKA_VERSION} on 127.0.0.1:{p['kafka']} (controller {p['controller']}) ...")
                kafka_pid = start_kafka(java, p)
                wait_until("Kafka", lambda: kafka_ready(addr["KCTX_BOOTSTRAP_SERVERS"]), kafka_pid, "kafka", 120)
                check_kafka_transactions(addr["KCTX_BOOTSTRAP_SERVERS"])
                timings["kafka"] = time.monotonic() - t
                log(f"Kafka ready after {timings['kafka']:.1f}s (pid {kafka_pid}; transactions checked)")
            # the registry and ksqlDB start side by side; ksqlDB needs the registry only for
            # statements, not to start
            if "registry" in classpaths:
                log(f"starting the Confluent Schema Registry {CONFLUENT_VERSION} on 127.0.0.1:{p['registry']} ...")
                registry_pid = start_registry(java, p, addr, classpaths["registry"])
            if "ksqldb" in classpaths:
                log(f"starting ksqlDB {CONFLUENT_VERSION} on 127.0.0.1:{p['ksqldb']} ...")
                ksql_pid = start_ksqldb(java, p, addr, classpaths["ksqldb"])
            if "registry" in classpaths:
                wait_until("the Schema Registry", lambda: http_ok(addr["KCTX_SCHEMA_REGISTRY_URL"] + "/subjects"),
                           registry_pid, "registry", 180)
                timings["registry"] = time.monotonic() - t
                log(f"Schema Registry ready after {timings['registry']:.1f}s (pid {registry_pid})")
            if "ksqldb" in classpaths:
                wait_until("ksqlDB", lambda: ksqldb_running(addr["KCTX_KSQLDB_URL"]), ksql_pid, "ksqldb", 240)
                timings["ksqldb"] = time.monotonic() - t
                log(f"ksqlDB ready after {timings['ksqldb']:.1f}s (pid {ksql_pid})")

        if auth.enabled() and auth.read_values(STACK_DIR) and not running_pid("nginx"):
            ap = auth.ports()
            for name in ("registry_tls", "ksqldb_tls"):
                if not port_free(ap[name]):
                    fail(f"port {ap[name]} ({name}) on 127.0.0.1 is already in use; choose another with "
                         f"{auth.AUTH_PORT_VARS[name][0]}=<port> (or KCTX_STACK_AUTH=0)")
            nginx_pid = start_nginx(p)
            if nginx_pid:
                wait_until("nginx", lambda: auth.tls_ready(ap["ksqldb_tls"]), nginx_pid, "nginx", 20)
                log(f"authenticated endpoints: Kafka SASL_SSL 127.0.0.1:{ap['kafka_sasl']}, registry "
                    f"https://127.0.0.1:{ap['registry_tls']} (basic + client certificate), ksqlDB "
                    f"https://127.0.0.1:{ap['ksqldb_tls']} (basic) (pid {nginx_pid})")
        addr = {**addr, **auth_addresses(p)}
        total = time.monotonic() - t0
        timings["total"] = total
        (STACK_DIR / "addresses.env").write_text("".join(f"{k}={v}\n" for k, v in addr.items()))
        memory = {name: round(rss_mb(pid)) for name in ("kafka", "registry", "ksqldb")
                  if (pid := running_pid(name)) and rss_mb(pid)}
        (STACK_DIR / "last-up.json").write_text(json.dumps(
            {**{k: round(v, 2) for k, v in timings.items()}, "rss_mb": memory}) + "\n")
        mem = ", ".join(f"{name} {mb} MB" for name, mb in memory.items())
        log(f"stack up in {total:.1f}s (RSS: {mem}); logs in {STACK_DIR}")
    return addr


def strays() -> list[int]:
    """Processes carrying our marker whose pid file is gone (deleted, or overwritten)."""
    tracked = {running_pid(n) for n in SERVICES}
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


# ksqlDB takes 24-30 s to shut down after many queries (NOTES.md); its state is throwaway
STOP_TIMEOUT = {"nginx": 5.0, "ksqldb": 10.0, "registry": 15.0, "kafka": 20.0}


def stop_all() -> list[str]:
    """Stop our processes: those in pid files, then any that lost theirs. Call under locked()."""
    stopped = [name for name in SERVICES if stop(name, STOP_TIMEOUT[name])]
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
