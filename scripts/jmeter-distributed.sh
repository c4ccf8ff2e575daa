#!/usr/bin/env bash
# Runs echolab's JMeter plan in JMeter's distributed mode, everything on loopback:
#
#   scripts/jmeter-distributed.sh OUT PORT|MODEL [JMeter arguments...]
#   e.g. scripts/jmeter-distributed.sh results/x 7000 -Gthreads=10 -Gloops=100
#        scripts/jmeter-distributed.sh results/x epoll -Gthreads=10 -Gloops=100
#
# starts one JMeter server (`jmeter -s`, what jmeter-server runs) on each of 127.0.0.2 and
# 127.0.0.3, then a controller on 127.0.0.1 that sends them jmeter/echo.jmx with `-R` and
# collects their samples into OUT/results.jtl; each engine runs the whole thread group against
# the echo server on 127.0.0.1:PORT (already listening; or, given a MODEL, a fresh
# target/release/echo-MODEL on a free port of 127.0.0.1, stopped at the end), so the JTL holds
# 2 x threads x loops samples. OUT is replaced. JMeter's console (its merged `summary` lines) goes to OUT/console.txt, the logs to
# OUT/jmeter.log (controller) and OUT/server-127.0.0.N.log, the echo server's address to
# OUT/target. The engines exit at the end (-X) and
# are killed on any exit of this script.
#
# The plan's properties must reach the engines, so give them with -G (-Gthreads=10, or a whole
# file: -G$PWD/jmeter/plan1.properties); -J and -q reach only the controller.
#
# No other address is used: a Java agent (jmeter/compat/echolab/jmeter/LoopbackRmi.java, built
# here into target/jmeter-compat/echolab-loopback-rmi.jar) makes each JVM's RMI listen only on
# its own loopback address (JMeter itself would listen on 0.0.0.0) and refuse to call anything
# but loopback. Fixed ports: each engine's RMI registry on $JMETER_RMI_PORT (default 1099) and
# its engine object on $JMETER_RMI_LOCALPORT (4000), both on its own address; the controller's
# sample listener on 127.0.0.1:$JMETER_CLIENT_PORT (4001); its UDP shutdown listener (port 4445 on
# every address) is off (jmeterengine.nongui.port=0). RMI over SSL (JMeter 5.x's default)
# is off (server.rmi.ssl.disable=true): plain RMI over loopback.
#
# Exit status as scripts/run-jmeter.sh: 0 when the controller printed a `summary =` line, 3 when
# it did not, 124 past $JMETER_TIMEOUT seconds (default 3600), 1 when an engine did not start.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
say() { echo "jmeter-distributed: $*" >&2; }
die() { say "$*"; exit 1; }
[ $# -ge 2 ] || { echo "usage: $0 OUT PORT|MODEL [JMeter arguments...]" >&2; exit 2; }
out=$(realpath -m "$1")
port=$2 model=""
shift 2
if ! [[ $port =~ ^[0-9]+$ ]]; then
    model=$port port=""
    [ -x "$root/target/release/echo-$model" ] \
        || die "no target/release/echo-$model: give a port, or a MODEL after \`make release\`"
fi
engines=(127.0.0.2 127.0.0.3)
controller=127.0.0.1
rmi_port=${JMETER_RMI_PORT:-1099}
rmi_localport=${JMETER_RMI_LOCALPORT:-4000}
client_port=${JMETER_CLIENT_PORT:-4001}
launcher=${JMETER:-jmeter}

mapfile -t compat < <(bash "$root/scripts/jmeter-setup.sh" --no-install --args; echo "exit=$?")
[ "${compat[-1]}" = "exit=0" ] || exit 1
unset 'compat[-1]'
version=$(bash "$root/scripts/jmeter-setup.sh" --no-install --version)

# The loopback agent: built once, rebuilt when its source is newer.
agent_dir=${CARGO_TARGET_DIR:-$root/target}/jmeter-compat
agent=$agent_dir/echolab-loopback-rmi.jar
src=$root/jmeter/compat/echolab/jmeter/LoopbackRmi.java
if [ ! -f "$agent" ] || [ "$src" -nt "$agent" ]; then
    command -v javac >/dev/null || die "javac is needed once to build $agent (apt-get install default-jdk-headless)"
    mkdir -p "$agent_dir"
    tmp=$(mktemp -d "$agent_dir/.agent.XXXXXX")
    mkdir -p "$tmp/classes"
    javac -nowarn -source 8 -target 8 -Xlint:-options -d "$tmp/classes" "$src" || { rm -rf "$tmp"; die "javac failed on $src"; }
    printf 'Premain-Class: echolab.jmeter.LoopbackRmi\n' >"$tmp/manifest"
    jar cfm "$tmp/agent.jar" "$tmp/manifest" -C "$tmp/classes" . || { rm -rf "$tmp"; die "jar failed"; }
    mv -f "$tmp/agent.jar" "$agent"
    rm -rf "$tmp"
    say "built $agent"
fi

rm -rf "$out"
mkdir -p "$out"
echo "$version" >"$out/jmeter-version"
# The JVM's own flags: Debian's launcher reads JAVA_ARGS, JMeter 5.x's JVM_ARGS.
jvm() { echo "-javaagent:$agent=$1"; }

pids=()
stop_engines() {
    for p in "${pids[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
    for p in "${pids[@]}"; do
        for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.1; done
        kill -KILL "$p" 2>/dev/null || true
        wait "$p" 2>/dev/null || true
    done
}
trap stop_engines EXIT

if [ -n "$model" ]; then
    "$root/target/release/echo-$model" --addr 127.0.0.1:0 >"$out/server.out" 2>"$out/server.err" &
    pids+=($!)
    for _ in $(seq 100); do
        grep -q '^listening on ' "$out/server.out" 2>/dev/null && break
        kill -0 "${pids[0]}" 2>/dev/null || die "echo-$model exited: $(cat "$out/server.err")"
        sleep 0.1
    done
    port=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\) .*/\1/p' "$out/server.out")
    [ -n "$port" ] || die "echo-$model printed no readiness line within 10 s"
    say "$(head -1 "$out/server.out")"
fi

for e in "${engines[@]}"; do
    JAVA_ARGS="$(jvm "$e")" JVM_ARGS="$(jvm "$e")" "$launcher" -s \
        -Dserver_port="$rmi_port" -Jserver.rmi.localport="$rmi_localport" \
        -Jserver.rmi.ssl.disable=true "${compat[@]}" -j "$out/server-$e.log" \
        >"$out/server-$e.out" 2>&1 &
    pids+=($!)
done
# An engine is ready when it has bound its name in its registry ("Bound to registry").
first=$(( ${#pids[@]} - ${#engines[@]} ))
for i in "${!engines[@]}"; do
    e=${engines[$i]}
    for _ in $(seq 600); do
        grep -q 'Bound to registry\|Created remote object' "$out/server-$e.log" 2>/dev/null && break
        kill -0 "${pids[$((first + i))]}" 2>/dev/null || die "the JMeter server on $e exited: $(tail -5 "$out/server-$e.out")"
        sleep 0.1
    done
    grep -q 'Bound to registry\|Created remote object' "$out/server-$e.log" 2>/dev/null \
        || die "the JMeter server on $e was not ready within 60 s; see $out/server-$e.log"
done
echo "127.0.0.1:$port" >"$out/target"
remotes=$(printf "%s:$rmi_port," "${engines[@]}")
remotes=${remotes%,}
say "JMeter $version: controller on $controller, engines $remotes, echo server 127.0.0.1:$port"

set +e
JAVA_ARGS="$(jvm "$controller")" JVM_ARGS="$(jvm "$controller")" \
    timeout --kill-after=10 "${JMETER_TIMEOUT:-3600}" "$launcher" -n \
    -t "$root/jmeter/echo.jmx" -q "$root/jmeter/echolab.properties" "${compat[@]}" \
    -Jserver.rmi.ssl.disable=true -Jclient.rmi.localport="$client_port" -Jjmeterengine.nongui.port=0 \
    -R "$remotes" -X -Ghost=127.0.0.1 -Gport="$port" "$@" \
    -l "$out/results.jtl" -j "$out/jmeter.log" 2>&1 | tee "$out/console.txt"
status=${PIPESTATUS[0]}
set -e
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
    say "JMeter ran past ${JMETER_TIMEOUT:-3600} s and was stopped"
    exit 124
fi
if ! grep -q '^summary = ' "$out/console.txt"; then
    say "no \`summary =\` line: the plan did not run (exit status $status); see $out/jmeter.log and $out/server-*.log"
    exit 3
fi
