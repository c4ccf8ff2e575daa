#!/usr/bin/env bash
# Makes a JMeter that runs echolab's plans (jmeter/echo.jmx), idempotently.
#
#   scripts/jmeter-setup.sh               install when missing, build what JMeter 2.x needs
#   scripts/jmeter-setup.sh --no-install  the same without installing (fails when missing)
#   ... --args                            then print the extra JMeter arguments, one a line
#   ... --version                         then print JMeter's version
#
# Which JMeter: $JMETER (its launcher) or `jmeter` on PATH. When there is none, or it lacks
# the TCP sampler, Debian's packages `jmeter` and `jmeter-tcp` (JMeter 2.13) are installed
# with apt-get (as root). JMeter 5.x (from jmeter.apache.org) works as it is.
#
# Debian's JMeter 2.13 refuses every plan under Debian's XStream 1.4.20 (ForbiddenClassException:
# XStream's allow-list is newer than that JMeter). For JMeter 2.x only, this script compiles
# jmeter/compat/ (a converter that allows JMeter's own classes) into
# target/jmeter-compat/echolab-jmeter-compat.jar and writes target/jmeter-compat/saveservice.properties
# (JMeter's own, plus that converter); --args then prints the -J flags that load them.
# Run by scripts/deps.sh (`make deps`, `make test`) and, with --no-install, by scripts/run-jmeter.sh.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
say() { echo "jmeter-setup: $*" >&2; }
die() { say "$*"; exit 1; }

install=1 print_args=0 print_version=0
for a in "$@"; do
    case $a in
        --no-install) install=0 ;;
        --args) print_args=1 ;;
        --version) print_version=1 ;;
        *) die "unknown argument $a" ;;
    esac
done

apt_install() {
    if [ $install = 0 ]; then
        die "$1 (run scripts/jmeter-setup.sh or make deps)"
    fi
    if ! command -v apt-get >/dev/null || [ "$(id -u)" != 0 ]; then
        die "$1; install JMeter 5.x (https://jmeter.apache.org) and put it on PATH or set JMETER, or on Debian as root: apt-get install ${*:2}"
    fi
    say "installing ${*:2}"
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${@:2}"; } >/dev/null \
        || die "apt-get install ${*:2} failed"
}

launcher=${JMETER:-jmeter}
if ! command -v "$launcher" >/dev/null; then
    apt_install "JMeter is not installed ($launcher not found)" jmeter jmeter-tcp
fi
home=$(dirname "$(dirname "$(readlink -f "$(command -v "$launcher")")")")
if [ ! -f "$home/lib/ext/ApacheJMeter_tcp.jar" ]; then
    apt_install "JMeter in $home has no TCP sampler (lib/ext/ApacheJMeter_tcp.jar)" jmeter-tcp
    [ -f "$home/lib/ext/ApacheJMeter_tcp.jar" ] || die "still no TCP sampler in $home/lib/ext"
fi

# The version from the core jar's manifest (no JVM start needed).
manifest() {
    if command -v unzip >/dev/null; then
        unzip -p "$1" META-INF/MANIFEST.MF
    else
        python3 -c 'import sys, zipfile; print(zipfile.ZipFile(sys.argv[1]).read("META-INF/MANIFEST.MF").decode())' "$1"
    fi
}
version=$(manifest "$home/lib/ext/ApacheJMeter_core.jar" 2>/dev/null \
    | sed -n 's/^Implementation-Version: *\([0-9][0-9.]*\).*/\1/p' | tr -d '\r' | head -1)
[ -n "$version" ] || die "cannot read JMeter's version from $home/lib/ext/ApacheJMeter_core.jar"

args=()
if [ "${version%%.*}" -lt 3 ]; then
    # JMeter 2.x: build the compat jar and saveservice.properties when missing or stale.
    out=${CARGO_TARGET_DIR:-$root/target}/jmeter-compat
    src=$root/jmeter/compat/echolab/jmeter/AllowJMeterTypes.java
    jar=$out/echolab-jmeter-compat.jar
    props=$out/saveservice.properties
    base=$home/bin/saveservice.properties
    if [ ! -f "$jar" ] || [ ! -f "$props" ] || [ "$src" -nt "$jar" ] || [ "$base" -nt "$props" ] \
        || [ "$0" -nt "$props" ]; then
        xstream=$(ls /usr/share/java/xstream.jar "$home"/lib/xstream*.jar 2>/dev/null | head -1 || true)
        [ -n "$xstream" ] || die "JMeter $version: cannot find XStream's jar (in /usr/share/java or $home/lib)"
        if ! command -v javac >/dev/null; then
            apt_install "javac is missing (needed once to build the JMeter 2.x compat jar)" default-jdk-headless
        fi
        mkdir -p "$out"
        tmp=$(mktemp -d "$out/.build.XXXXXX")
        trap 'rm -rf "$tmp"' EXIT
        mkdir -p "$tmp/classes"
        javac -nowarn -source 8 -target 8 -Xlint:-options -cp "$xstream" -d "$tmp/classes" "$src" \
            || die "javac failed on $src"
        jar cf "$tmp/compat.jar" -C "$tmp/classes" . || die "jar failed"
        {
            cat "$base"
            # JMeter's file may lack a final newline; the converter line must be a line of its own.
            echo
            echo "# Added by echolab's scripts/jmeter-setup.sh: lets XStream 1.4.18+ load JMeter's classes."
            echo "_echolab.jmeter.AllowJMeterTypes=collection"
        } >"$tmp/saveservice.properties"
        mv -f "$tmp/compat.jar" "$jar"
        mv -f "$tmp/saveservice.properties" "$props"
        say "built $jar and $props for JMeter $version"
    fi
    # JMeter reads saveservice_properties relative to its home, whatever the path looks like.
    args+=("-Jsaveservice_properties=/$(realpath --relative-to="$home" "$props")")
    args+=("-Juser.classpath=$jar")
fi

if [ $print_version = 1 ]; then
    echo "$version"
fi
if [ $print_args = 1 ] && [ ${#args[@]} -gt 0 ]; then
    printf '%s\n' "${args[@]}"
fi
