# echolab: `make help` lists the targets.
MODELS := thread epoll tokio tokio-callback async-std smol glommio may uring compio pool reactor-pool
CARGO  ?= cargo
MODEL  ?= epoll
ARGS   ?=
# make jmeter: PLAN 1 (1000 x 2000) or 2 (100 x 20000); SCALE multiplies the loops.
PLAN   ?= 2
SCALE  ?= 1
# make install / uninstall: loadgen and the echo-* servers go into $(PREFIX)/bin.
PREFIX ?= $(HOME)/.local
BINS   := loadgen $(addprefix echo-,$(MODELS))
# make jmeter-distributed: each of the two JMeter engines runs THREADS x LOOPS.
THREADS ?= 10
LOOPS   ?= 100
# make fuzz: seconds per fuzz target.
FUZZ_TIME ?= 60
# Where measurement targets write their results: results/<date>-<host>/
RESULTS ?= results/$(shell date +%Y-%m-%d)-$(shell hostname -s)

.PHONY: help deps build release install uninstall test lint fmt run-server faults fuzz idle-rss bench bench-full bench-frames bench-mixed bench-spread bench-baselines bench-glommio jmeter jmeter-distributed screenshot clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

deps: ## install what builds and tests need (idempotent; run by `make test`)
	@bash scripts/deps.sh

build: ## debug build of every crate
	$(CARGO) build --workspace --locked

release: ## optimised build of every server and loadgen
	$(CARGO) build --workspace --release --locked

install: release ## put loadgen and every echo-<model> into $(PREFIX)/bin (PREFIX=~/.local by default; idempotent)
	install -d $(PREFIX)/bin
	install -m 755 $(addprefix target/release/,$(BINS)) $(PREFIX)/bin/
	@echo "installed $(BINS) into $(PREFIX)/bin"
	@case ":$$PATH:" in *":$(PREFIX)/bin:"*) ;; \
	  *) echo "note: $(PREFIX)/bin is not on PATH; add it: export PATH=\"$(PREFIX)/bin:\$$PATH\"";; esac

uninstall: ## remove what `make install` put into $(PREFIX)/bin (same PREFIX)
	rm -f $(addprefix $(PREFIX)/bin/,$(BINS))

test: deps lint ## everything CI checks: fmt, clippy, unit, CLI and conformance tests
	$(CARGO) test --workspace --locked

lint: ## rustfmt --check and clippy -D warnings
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets --locked -- -D warnings

fmt: ## format the code
	$(CARGO) fmt --all

run-server: ## MODEL=epoll [ARGS="--threads 2"]: build (release, as `make release`) and run one server in the foreground
	@case " $(MODELS) " in *" $(MODEL) "*) ;; \
	  *) echo "unknown MODEL '$(MODEL)'; models: $(MODELS)" >&2; exit 2;; esac
	@# The whole workspace, as `make release` builds it: `-p echo-$(MODEL)` alone unifies
	@# dependency features differently and would rebuild what `make release` just built.
	@$(CARGO) build --workspace --release --locked --quiet
	exec ./target/release/echo-$(MODEL) $(ARGS)

faults: ## fault suite, full size (10,000 resets, fd exhaustion, 1,000 slowloris, 100 slow readers, garbage, SIGTERM, loadgen vs bad servers) into $(RESULTS)
	$(CARGO) build --workspace --release --locked --quiet
	./target/release/faults --size full --out $(RESULTS)

fuzz: ## FUZZ_TIME=60: each fuzz target (fuzz/: frame parser, summary line, JSON report) for FUZZ_TIME s; installs cargo-fuzz if missing; not in CI
	@rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@$(CARGO) +nightly fuzz --version >/dev/null 2>&1 || $(CARGO) install cargo-fuzz --locked
	cd fuzz && for t in frame_header summary_line report_json; do \
	  mkdir -p corpus/$$t && \
	  $(CARGO) +nightly fuzz run $$t corpus/$$t seeds/$$t -- -max_total_time=$(FUZZ_TIME) || exit 1; \
	done

idle-rss: ## measure server RSS per idle connection (10,000 per model) into $(RESULTS)
	$(CARGO) build --release --locked --quiet -p conformance --bin idle-rss
	./target/release/idle-rss --conns 10000 --out $(RESULTS)/bench

bench: deps ## quick bench (about 10 minutes on 2 cores): every model and a twin of epoll; ping-pong 10-1000 conns and a fixed rate interleaved (every server up at once, 150 rounds of 20 ms + 30 ms slices in a fresh shuffled order each), small plans and frames in 2 blocks of fresh servers; verdicts against epoll, into $(RESULTS)/bench
	$(CARGO) build --workspace --release --locked --quiet
	./target/release/loadgen bench --conns 10,100,1000 --duration 1s --blocks 150,plans=2,frames=2 --slice 30ms --slice-warmup 20ms --twin --scale 0.05 --out $(RESULTS)/bench
	./target/release/loadgen report $(RESULTS)/bench

bench-full: deps ## every suite, every model and a twin of epoll: ping-pong 10-1000 conns and a fixed rate interleaved in 150 rounds, 10,000-60,000 conns (4 server processes past 19,900) in 12 blocks of fresh servers, plans and frames at 1/20 scale, mixed at 1/11/23 conns and the cap (about an hour on 2 cores), into $(RESULTS)/bench-full
	$(CARGO) build --workspace --release --locked --quiet
	./target/release/loadgen bench --suite pingpong,plans,frames,mixed --conns 10,100,1000,10000,19900,60000 --server-procs 4 --duration 1s --blocks 12 --slice-rounds 150 --slice 30ms --slice-warmup 20ms --twin --scale 0.05 --mixed-conns 1,11,23 --out $(RESULTS)/bench-full
	./target/release/loadgen report $(RESULTS)/bench-full

bench-frames: deps ## frames suite alone: 1/16/100 MiB frames (2000/200/100 per run), every model, 3 blocks, iperf3 and loadgen stream as the loopback limit, into $(RESULTS)/bench-frames
	$(CARGO) build --workspace --release --locked --quiet
	./target/release/loadgen bench --suite frames --blocks 3 --out $(RESULTS)/bench-frames
	./target/release/loadgen report $(RESULTS)/bench-frames

bench-mixed: deps ## mixed suite alone: 5 ms CPU + 55 ms wait per request at 1-23 conns, then 50 with and without --max-conns 12, every model, 10 s runs (5 s measured), 3 blocks (about 40 minutes on 2 cores), into $(RESULTS)/bench-mixed
	$(CARGO) build --workspace --release --locked --quiet
	./target/release/loadgen bench --suite mixed --duration 10s --blocks 3 --out $(RESULTS)/bench-mixed
	./target/release/loadgen report $(RESULTS)/bench-mixed

bench-spread: deps ## spread suite alone: 2 and 4 prefork workers in every accept mode (shared, exclusive where the model can, reuseport) under the mixed workload, 48 connections over a 1 s ramp-up, each worker's share of connections and requests, every model, 3 s measured, 2 blocks (about 10 minutes on 2 cores), into $(RESULTS)/bench-spread
	$(CARGO) build --workspace --release --locked --quiet
	./target/release/loadgen bench --suite spread --duration 6s --blocks 2 --out $(RESULTS)/bench-spread
	./target/release/loadgen report $(RESULTS)/bench-spread

bench-baselines: deps ## the studies' nine Python servers beside thread, epoll, tokio and uring: ping-pong 10-1000 conns and 10,000 msg/s interleaved in 100 rounds, 10,000 conns in 4 blocks, both PyYYC plans and frames at 1/20 scale in 2 (estimated 20 minutes on 2 cores), ratios to py-asyncio beside the studies', into $(RESULTS)/bench-baselines and results/README.md
	$(CARGO) build --workspace --release --locked --quiet
	./target/release/loadgen bench --suite pingpong,plans,frames --models thread,epoll,tokio,uring --baselines --conns 10,100,1000,10000 --rate-fixed 10000 --duration 1s --blocks 4,plans=2,frames=2 --slice-rounds 100 --scale 0.05 --out $(RESULTS)/bench-baselines
	./target/release/loadgen report $(RESULTS)/bench-baselines --baselines-readme results/README.md

bench-glommio: deps ## glommio under its own settings (spin before park 50us and 1ms, ring depth 1024, preemption 10ms and 1s) as variants beside its defaults, epoll and uring: ping-pong 100 and 1000 conns and the fixed rate interleaved, 150 rounds of 20 ms + 30 ms slices (about 4 minutes on 2 cores, not yet run this way), into $(RESULTS)/bench-glommio
	$(CARGO) build --workspace --release --locked --quiet
	./target/release/loadgen bench --suite pingpong --models epoll,uring,glommio \
	  --variant glommio-spin50us=glommio:ECHO_GLOMMIO_SPIN=50us \
	  --variant glommio-spin1ms=glommio:ECHO_GLOMMIO_SPIN=1ms \
	  --variant glommio-ring1024=glommio:ECHO_GLOMMIO_RING_DEPTH=1024 \
	  --variant glommio-preempt10ms=glommio:ECHO_GLOMMIO_PREEMPT=10ms \
	  --variant glommio-preempt1s=glommio:ECHO_GLOMMIO_PREEMPT=1s \
	  --conns 100,1000 --duration 1s --blocks 150 --out $(RESULTS)/bench-glommio
	./target/release/loadgen report $(RESULTS)/bench-glommio

jmeter: ## MODEL=epoll PLAN=1|2 [SCALE=0.1]: a PyYYC plan in real JMeter, then loadgen, one server, into $(RESULTS)/jmeter
	@case " $(MODELS) " in *" $(MODEL) "*) ;; \
	  *) echo "unknown MODEL '$(MODEL)'; models: $(MODELS)" >&2; exit 2;; esac
	bash scripts/jmeter-plan.sh $(MODEL) $(PLAN) $(SCALE) $(RESULTS)

jmeter-distributed: ## MODEL=epoll [THREADS=10 LOOPS=100]: the bundled plan from a JMeter controller (127.0.0.1) over two JMeter servers (127.0.0.2, 127.0.0.3) against one server, imported by loadgen (fails on any error), into $(RESULTS)/jmeter-distributed/$(MODEL)
	@case " $(MODELS) " in *" $(MODEL) "*) ;; \
	  *) echo "unknown MODEL '$(MODEL)'; models: $(MODELS)" >&2; exit 2;; esac
	$(CARGO) build --workspace --release --locked --quiet
	bash scripts/jmeter-distributed.sh $(RESULTS)/jmeter-distributed/$(MODEL) $(MODEL) -Gthreads=$(THREADS) -Gloops=$(LOOPS)
	@d=$(RESULTS)/jmeter-distributed/$(MODEL); \
	./target/release/loadgen import-jtl $$d/results.jtl --threads $$((2 * $(THREADS))) \
	  --loops $(LOOPS) --rampup 1s --target $$(cat $$d/target) --summary $$d/console.txt \
	  --fail-if 'errors>0' --json $$d/jmeter.json >$$d/jmeter.txt; s=$$?; cat $$d/jmeter.txt; exit $$s

screenshot: ## DIR=results/<run>/bench: its report.html as report.png, 1280 px wide, full height (headless chromium)
	@test -n "$(DIR)" || { echo "usage: make screenshot DIR=results/<run>/bench" >&2; exit 2; }
	bash scripts/page-screenshot.sh $(DIR)

clean: ## remove build outputs
	$(CARGO) clean
