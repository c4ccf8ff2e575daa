#!/usr/bin/env bash
# Installs what echolab needs to build and test, idempotently: nothing is done twice,
# and nothing is installed that is already there. Run by `make deps` and `make test`.
set -euo pipefail

say() { echo "deps: $*" >&2; }

command -v cargo >/dev/null || { say "cargo is missing: install Rust (https://rustup.rs)"; exit 1; }

# rustfmt and clippy are part of the lint step.
for tool in rustfmt clippy; do
    if ! cargo "${tool/rustfmt/fmt}" --version >/dev/null 2>&1; then
        say "adding the $tool component"
        rustup component add "$tool"
    fi
done

# Debian packages used by measurement targets (not by the tests): perf for syscall
# counts, nc for poking a server by hand, iperf3 for the loopback limit in the frames
# suite. Missing ones are installed when apt can; failure here is reported, not fatal,
# since `make test` does not use them.
want=(linux-perf:perf netcat-openbsd:nc iperf3:iperf3)
missing=()
for entry in "${want[@]}"; do
    command -v "${entry#*:}" >/dev/null || missing+=("${entry%%:*}")
done
if [ ${#missing[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        say "installing ${missing[*]}"
        # iperf3's package asks whether to start an iperf3 daemon at boot: no.
        if command -v debconf-set-selections >/dev/null; then
            echo "iperf3 iperf3/start_daemon boolean false" | debconf-set-selections || true
        fi
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; } >/dev/null 2>&1; then
            say "could not install ${missing[*]} (measurement targets will say what is missing)"
        fi
    else
        say "not installed: ${missing[*]} (needs apt-get as root)"
    fi
fi

# The Python baselines (baselines/python, run by the conformance tests and `make
# bench-baselines`): the system interpreter /usr/bin/python3 (3.11 on Debian bookworm)
# with Debian's python3-uvloop and python3-gevent. Installed for that interpreter, which
# is why the scripts start with #!/usr/bin/python3 rather than whatever python3 is first
# on PATH. Fatal: the tests need them, and a test must not pass because a module is missing.
py_missing=()
for entry in python3:python3 python3-uvloop:uvloop python3-gevent:gevent; do
    pkg=${entry%%:*} module=${entry#*:}
    if [ "$module" = python3 ]; then
        [ -x /usr/bin/python3 ] || py_missing+=("$pkg")
    elif ! /usr/bin/python3 -c "import $module" >/dev/null 2>&1; then
        py_missing+=("$pkg")
    fi
done
if [ ${#py_missing[@]} -gt 0 ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        say "installing ${py_missing[*]} (the Python baselines)"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${py_missing[@]}"; } >/dev/null 2>&1; then
            say "could not install ${py_missing[*]}: the baselines' tests need them"; exit 1
        fi
    else
        say "missing ${py_missing[*]} for /usr/bin/python3 (the baselines' tests need them): install them with apt-get as root"
        exit 1
    fi
fi

# Debian's chromium, which the browser test runs headless on loadgen's HTML pages
# (loadgen/tests/html.rs) and scripts/page-screenshot.sh uses, with fonts-dejavu-core so
# that text renders in a screenshot. Fatal: the test needs it. About 40 s to install on a
# fresh 2-core Debian 12 machine (115 packages).
if ! command -v chromium >/dev/null || [ ! -e /usr/share/fonts/truetype/dejavu/DejaVuSans.ttf ]; then
    if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
        say "installing chromium and fonts-dejavu-core (the browser test)"
        if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium fonts-dejavu-core; } >/dev/null 2>&1; then
            say "could not install chromium: the browser test (loadgen/tests/html.rs) needs it"; exit 1
        fi
    else
        say "missing chromium (the browser test, loadgen/tests/html.rs, needs it): install Debian's chromium and fonts-dejavu-core with apt-get as root"
        exit 1
    fi
fi

# JMeter, which the tests run for real (loadgen/tests/jmeter.rs) and `make jmeter` uses:
# Debian's jmeter and jmeter-tcp when there is none, plus, for that JMeter 2.13 only, the
# files that let it load plans (scripts/jmeter-setup.sh). Fatal: the tests need it.
bash "$(dirname "$0")/jmeter-setup.sh"
