#!/usr/bin/env bash
# Runs echolab's JMeter plan headless and keeps what it produced:
#
#   scripts/run-jmeter.sh OUT [JMeter arguments...]
#   e.g. scripts/run-jmeter.sh results/x -q jmeter/plan2.properties -Jport=7000 -Jloops=1000
#
# runs `jmeter -n -t jmeter/echo.jmx -q jmeter/echolab.properties [2.x compat flags] ARGS
# -l OUT/results.jtl -j OUT/jmeter.log`, with the console output copied to OUT/console.txt
# and JMeter's version to OUT/jmeter-version. Later arguments override earlier ones, so
# ARGS can set any property of the plan (threads, loops, rampup, host, port, payload,
# connect_timeout, read_timeout).
#
# JMeter exits 0 even when the plan did not load or every sample failed, so this script
# decides from the console: exit 0 when a `summary =` line was printed (the plan ran, whatever
# its errors; read them from the JTL or `loadgen import-jtl`), 3 when none was, 124 when
# JMeter ran past $JMETER_TIMEOUT seconds (default 3600). $JMETER_CPUS (a taskset list) pins
# JMeter; $JMX replaces the plan; $JMETER picks the launcher.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
[ $# -ge 1 ] || { echo "usage: $0 OUT [JMeter arguments...]" >&2; exit 2; }
out=$(realpath -m "$1")
shift
mkdir -p "$out"

# Fails with a clear message when JMeter is missing; builds the 2.x compat files if needed.
mapfile -t compat < <(bash "$root/scripts/jmeter-setup.sh" --no-install --args; echo "exit=$?")
[ "${compat[-1]}" = "exit=0" ] || exit 1
unset 'compat[-1]'
version=$(bash "$root/scripts/jmeter-setup.sh" --no-install --version)
echo "$version" >"$out/jmeter-version"

pin=()
if [ -n "${JMETER_CPUS:-}" ]; then
    pin=(taskset -c "$JMETER_CPUS")
fi
# JMeter appends to an existing results file.
rm -f "$out/results.jtl" "$out/jmeter.log"
note=""
[ ${#compat[@]} -eq 0 ] || note=" with echolab's 2.x compat files"
echo "run-jmeter: JMeter $version$note, results in $out" >&2
set +e
timeout --kill-after=10 "${JMETER_TIMEOUT:-3600}" "${pin[@]}" "${JMETER:-jmeter}" -n \
    -t "${JMX:-$root/jmeter/echo.jmx}" -q "$root/jmeter/echolab.properties" "${compat[@]}" "$@" \
    -l "$out/results.jtl" -j "$out/jmeter.log" 2>&1 | tee "$out/console.txt"
status=${PIPESTATUS[0]}
set -e
if [ "$status" = 124 ] || [ "$status" = 137 ]; then
    echo "run-jmeter: JMeter ran past ${JMETER_TIMEOUT:-3600} s and was stopped" >&2
    exit 124
fi
if ! grep -q '^summary = ' "$out/console.txt"; then
    echo "run-jmeter: no \`summary =\` line: JMeter did not run the plan (exit status $status); see $out/jmeter.log" >&2
    exit 3
fi
