"""The echolab server contract for the Python baselines, written once.

Each `echo-py-<name>` script next to this file holds one study's concurrency model and
little else: it calls `run(model, serve)`, and `serve(config, listener)` accepts and
echoes its own way. Everything the servers share lives here, so that the only
difference between two baselines is their model:

- flags (`parse`): the contract's flags that apply to a Python server, `--addr` (port 0
  picks a free one; a host name must resolve to loopback), `--threads` (1: one
  interpreter, one event loop or accept loop), `--buffer-size`, `--pin`, `--reuse-port`,
  `--framed`, `--max-frame` (at least 1 byte). The others
  (`--max-conns`, `--cpu-work`, `--backend-wait`, `--splits`, `--stats-file`,
  `--idle-timeout`, `--processes`) are not implemented and are refused, never ignored.
  Bad input is one line on stderr and exit 2, as in the Rust servers;
- the listener (`bind`): SO_REUSEADDR, TCP_NODELAY (inherited by accepted sockets),
  SO_REUSEPORT when asked, backlog 4096; a bind failure is one line and exit 1;
- the readiness line (`ready`): `listening on ADDR model=MODEL threads=1`, flushed;
- framing (`HEADER`, `frame_len`): 8-byte big-endian length, then the payload;
- SIGINT/SIGTERM: one thread waits for the signal and ends the process with exit 0;
  the kernel closes every socket at once (as `common::exit_on_signal` does);
- connection accounting and error logs (`Conns`): one connection's error is counted and
  logged at most once a second, and never stops the server.

Run a baseline by hand: `baselines/python/echo-py-asyncio --addr 127.0.0.1:7000`.
"""

import argparse
import ipaddress
import os
import signal
import socket
import struct
import sys
import threading
import time

# Bytes in a frame header, and its layout: a big-endian unsigned 64-bit length.
HEADER = struct.Struct(">Q")
HEADER_LEN = HEADER.size

# Limits as in common/src/args.rs.
DEFAULT_MAX_FRAME = 256 << 20
MAX_FRAME = 1 << 40
MIN_FRAME = 1
MAX_BUFFER = 64 << 20
BACKLOG = 4096

_SIZE_UNITS = {
    "": 1, "b": 1,
    "k": 1 << 10, "kib": 1 << 10, "m": 1 << 20, "mib": 1 << 20,
    "g": 1 << 30, "gib": 1 << 30, "t": 1 << 40, "tib": 1 << 40,
    "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
}

_program = "echo-py"


def log(message):
    """One line on stderr, prefixed with the program's name (as common's `log!`)."""
    try:
        sys.stderr.write(f"{_program}: {message}\n")
        sys.stderr.flush()
    except (OSError, ValueError):
        pass


class Config:
    """What a server runs with, after every flag has been checked."""

    def __init__(self, args):
        self.host, self.port = args.addr
        self.threads = args.threads
        self.buffer_size = args.buffer_size
        self.pin = args.pin
        self.reuse_port = args.reuse_port
        self.framed = args.framed
        self.max_frame = args.max_frame


class _Parser(argparse.ArgumentParser):
    """argparse, but an error is one line on stderr and exit 2 (not usage lines)."""

    def error(self, message):
        log(f"error: {message} (see --help)")
        sys.exit(2)


def parse_size(text):
    """`65536`, `64KiB`, `1MiB`, `1MB` into bytes (common::units::parse_size)."""
    s = text.strip()
    i = len(s)
    while i > 0 and not (s[i - 1].isdigit() or s[i - 1] == "."):
        i -= 1
    number, unit = s[:i], s[i:].strip().lower()
    if unit not in _SIZE_UNITS:
        raise argparse.ArgumentTypeError(
            f"'{text}': unknown unit '{unit}' (expected B, KiB, MiB, GiB, TiB, KB, MB, GB, TB)")
    try:
        value = float(number)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"'{text}': negative size")
    return round(value * _SIZE_UNITS[unit])


def parse_addr(text):
    """`IP:PORT`, `[IPv6]:PORT`, or `HOST:PORT` with a name that resolves to loopback (the
    first loopback address it resolves to), as common::args does: a name that resolves
    elsewhere is refused; an IP address is taken as given."""
    host, sep, port = text.rpartition(":")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    try:
        port = int(port)
        if not sep or not host or not 0 <= port <= 65535:
            raise ValueError
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not IP:PORT or HOST:PORT") from None
    try:
        return str(ipaddress.ip_address(host)), port
    except ValueError:
        pass
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise argparse.ArgumentTypeError(f"'{text}': cannot resolve {host}: {describe(e)}") \
            from None
    ips = [ipaddress.ip_address(info[4][0]) for info in infos]
    for ip in ips:
        if ip.is_loopback:
            return str(ip), port
    if not ips:
        raise argparse.ArgumentTypeError(f"{host} resolves to no address")
    raise argparse.ArgumentTypeError(
        f"{host} resolves to {ips[0]}, not a loopback address (give the IP address to "
        "listen there)")


def online_cpus():
    """CPUs the kernel has online (/sys/devices/system/cpu/online)."""
    try:
        with open("/sys/devices/system/cpu/online") as f:
            return set(parse_cpus(f.read().strip()))
    except (OSError, argparse.ArgumentTypeError):
        return set(range(os.cpu_count() or 1))


def parse_cpus(text):
    """`1`, `2-3`, `0,2` into a sorted list of CPU numbers."""
    cpus = set()
    try:
        for item in text.split(","):
            lo, _, hi = item.strip().partition("-")
            lo, hi = int(lo), int(hi or lo)
            if lo < 0 or hi < lo:
                raise ValueError
            cpus.update(range(lo, hi + 1))
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a CPU list (1, 2-3, 0,2)") from None
    return sorted(cpus)


def parse(model, argv=None):
    """The contract's flags that apply to a Python baseline, checked into a Config."""
    p = _Parser(
        prog=f"echo-{model}",
        description=f"echolab baseline {model}: every byte read is written back, in order, "
        "on the same connection (--framed: each 8-byte big-endian length and payload is "
        "echoed whole).",
    )
    p.add_argument("--addr", type=parse_addr, default=("127.0.0.1", 7000),
                   help="address to listen on, IP:PORT or HOST:PORT (a name must resolve to "
                   "loopback: the first loopback address it resolves to); port 0 picks a "
                   "free port (read it from the readiness line) [default: 127.0.0.1:7000]")
    p.add_argument("--threads", type=int, default=1,
                   help="worker threads of the model: only 1 (one interpreter, one loop)")
    p.add_argument("--buffer-size", type=parse_size, default=65536, metavar="SIZE",
                   help="bytes read per read call, and the bound on unsent bytes per "
                   "connection (backpressure) [default: 65536]")
    p.add_argument("--pin", type=parse_cpus, metavar="CPUS",
                   help="pin the server to these CPUs (1, 2-3, 0,2)")
    p.add_argument("--reuse-port", action="store_true",
                   help="set SO_REUSEPORT, so several servers can share one port")
    p.add_argument("--framed", action="store_true",
                   help="framed mode: 8-byte big-endian length, then the payload; "
                   "the reply is the same frame")
    p.add_argument("--max-frame", type=parse_size, default=DEFAULT_MAX_FRAME, metavar="SIZE",
                   help="largest frame accepted with --framed, at least 1 byte; a longer "
                   "header closes that connection [default: 256MiB]")
    args = p.parse_args(argv)
    if args.threads != 1:
        p.error(f"--threads {args.threads}: the Python baselines run one thread of the "
                "model (expected 1)")
    if not 1 <= args.buffer_size <= MAX_BUFFER:
        p.error(f"--buffer-size {args.buffer_size}: expected 1 byte to 64MiB")
    if args.max_frame != DEFAULT_MAX_FRAME and not args.framed:
        p.error("--max-frame applies only with --framed")
    if args.framed and args.max_frame < MIN_FRAME:
        p.error(f"--max-frame {args.max_frame}: expected at least {MIN_FRAME} byte")
    if args.max_frame > MAX_FRAME:
        p.error(f"--max-frame {args.max_frame}: expected at most 1TiB")
    if args.pin is not None:
        offline = sorted(set(args.pin) - online_cpus())
        if offline:
            p.error(f"--pin: CPU {offline[0]} is not online")
    return Config(args)


class Conns:
    """Open, accepted and failed connections; errors logged at most once a second."""

    def __init__(self):
        self._lock = threading.Lock()
        self.open = 0
        self.accepted = 0
        self.errors = 0
        self._last_log = 0.0
        self._suppressed = 0

    def opened(self):
        with self._lock:
            self.open += 1
            self.accepted += 1

    def closed(self):
        with self._lock:
            self.open -= 1

    def error(self, exc):
        """Counts and logs one connection's error, at most one line a second (as
        common's RateLimited: the line says how many so far and how many went unlogged)."""
        if isinstance(exc, FrameTooLarge):
            # Its own line, always: the contract's one-line log for a refused frame.
            log(f"closing a connection: {describe(exc)}")
        with self._lock:
            self.errors += 1
            total = self.errors
            now = time.monotonic()
            if isinstance(exc, FrameTooLarge):
                return
            if self._last_log and now - self._last_log < 1.0:
                self._suppressed += 1
                return
            self._last_log, skipped, self._suppressed = now, self._suppressed, 0
        more = f", {skipped} not logged since the last line" if skipped else ""
        log(f"connection error: {describe(exc)} ({total} so far{more})")


def asyncio_exception_handler(loop, context):
    """asyncio's unhandled errors (an accept failure, a callback's exception) as one
    rate-limited line instead of a traceback."""
    exc = context.get("exception")
    conns.error(exc if exc is not None else RuntimeError(context.get("message", "error")))


def describe(exc):
    """An exception as one line."""
    text = str(exc) or type(exc).__name__
    return " ".join(text.split())


conns = Conns()


def frame_len(header, config):
    """The payload length of a frame header; FrameTooLarge over --max-frame."""
    (n,) = HEADER.unpack(header)
    if n > config.max_frame:
        raise FrameTooLarge(f"frame of {n} bytes is over --max-frame {config.max_frame}")
    return n


class FrameTooLarge(Exception):
    """A header over --max-frame: that connection is closed with a log line."""


class InsideFrame(Exception):
    """The client closed in the middle of a frame."""

    def __init__(self):
        super().__init__("connection closed inside a frame")


def bind(config):
    """The listening socket (blocking): SO_REUSEADDR, TCP_NODELAY, SO_REUSEPORT if asked."""
    family = socket.AF_INET6 if ":" in config.host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    addr = f"[{config.host}]:{config.port}" if family == socket.AF_INET6 else \
        f"{config.host}:{config.port}"
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # Linux copies TCP_NODELAY from the listener to every accepted socket.
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if config.reuse_port:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((config.host, config.port))
        sock.listen(BACKLOG)
    except OSError as e:
        sock.close()
        log(f"error: cannot bind {addr}: {describe(e)}")
        sys.exit(1)
    return sock


def ready(listener, threads=1):
    """Prints `listening on ADDR model=MODEL threads=N` and flushes it. Nothing else
    ever goes to stdout."""
    host, port = listener.getsockname()[:2]
    addr = f"[{host}]:{port}" if listener.family == socket.AF_INET6 else f"{host}:{port}"
    try:
        sys.stdout.write(f"listening on {addr} model={_model} threads={threads}\n")
        sys.stdout.flush()
    except (OSError, ValueError):
        # Nobody is waiting for the line; serving goes on regardless.
        pass


def require(module, package):
    """Imports an optional dependency, or says in one line what is missing and exits 1."""
    try:
        return __import__(module)
    except ImportError as e:
        log(f"error: {module} is missing ({describe(e)}): install {package} "
            "(scripts/deps.sh does, for /usr/bin/python3)")
        sys.exit(1)


def load_sibling(script):
    """The module of another baseline script next to this file (`echo-py-asyncio`), so
    that a variant on another event loop reuses its model code unchanged."""
    import importlib.machinery
    import importlib.util
    path = os.path.join(os.path.dirname(os.path.realpath(__file__)), script)
    name = script.replace("-", "_")
    loader = importlib.machinery.SourceFileLoader(name, path)
    spec = importlib.util.spec_from_loader(name, loader)
    module = importlib.util.module_from_spec(spec)
    loader.exec_module(module)
    return module


def _exit_on_signal():
    """SIGINT/SIGTERM: exit 0 within a second, whatever the model is doing.

    The signals are blocked in the main thread before any other thread starts (so every
    thread inherits the mask) and one thread waits for them with sigwait(), which does
    not depend on the model's loop returning to Python code.
    """
    sigs = {signal.SIGINT, signal.SIGTERM}
    signal.pthread_sigmask(signal.SIG_BLOCK, sigs)

    def wait():
        sig = signal.sigwait(sigs)
        name = "SIGINT" if sig == signal.SIGINT else "SIGTERM"
        log(f"{name}: closing {conns.open} open connections and exiting "
            f"({conns.accepted} accepted, {conns.errors} ended in an error)")
        os._exit(0)

    threading.Thread(target=wait, name="signals", daemon=True).start()


_model = "py"


def run(model, serve, argv=None):
    """Runs one baseline: checks the flags, pins, installs the signal thread, binds,
    then calls `serve(config, listener)`, which must call `ready(listener)` and serve
    until the process is signalled."""
    global _program, _model
    _program, _model = f"echo-{model}", model
    config = parse(model, argv)
    if config.pin is not None:
        # Before any thread starts, so every thread inherits it.
        os.sched_setaffinity(0, config.pin)
    _exit_on_signal()
    listener = bind(config)
    try:
        serve(config, listener)
    except Exception as e:  # the model itself failed: one line, exit 1
        log(f"error: {describe(e)}")
        sys.exit(1)
    return 0
