#!/usr/bin/env bash
# Benchmark: mfarole's cached exec path (static and dynamic builds) against the C stand-in
# (tests/bench/standin.c, the native floor), `env true` and the command alone, the uncached
# GetSessionToken + AssumeRole path, and the seed document's hand-made flow with the AWS CLI,
# all against the same moto STS (auth enforced) in one run. Prints medians, ratios and peak
# RSS. Not a test: nothing here asserts a time.
#
#   tests/bench.sh            # needs hyperfine (Debian), moto and the AWS CLI (tests/deps.sh)
#   BASELINE=DIR tests/bench.sh   # also times the cached path of another checkout's builds
#                                 # (DIR/target/release/mfarole and its static build), same run
set -euo pipefail
cd "$(dirname "$0")/.."
MFAROLE_BENCH=1 tests/deps.sh
cargo build --release -q
bin=$PWD/target/release/mfarole
# The static build, exactly as the README documents it.
cargo build --release -q --target host-tuple --config "build.rustflags=['-C','target-feature=+crt-static']"
host=$(rustc --print host-tuple)   # before HOME moves: rustup reads its config from HOME
static=$PWD/target/$host/release/mfarole
work=$(mktemp -d)
standin_src=${STANDIN_C:-tests/bench/standin.c}
cc -O2 -o "$work/standin" "$standin_src"
trap 'exec 9>&-; rm -rf "$work"' EXIT

# moto: serves until its stdin (fd 9 here) closes.
mkfifo "$work/in"
MOTO_RECORDER_FILEPATH=$work/rec python3 tests/e2e/support/moto_sts.py <"$work/in" >"$work/moto" 2>/dev/null &
exec 9>"$work/in"
for _ in $(seq 100); do grep -q '^ready$' "$work/moto" 2>/dev/null && break; sleep 0.1; done
val() { awk -v k="$1" '$1 == k { print $2 }' "$work/moto"; }

mkdir -p "$work/home/.aws"
cat >"$work/home/.aws/config" <<EOF
[profile jones]
mfa_serial = $(val mfa_serial)
region = us-east-1
[profile admin]
role_arn = $(val roles.admin)
source_profile = jones
mfa_serial = $(val mfa_serial)
region = us-east-1
EOF
cat >"$work/home/.aws/credentials" <<EOF
[jones]
aws_access_key_id = $(val users.jones.key)
aws_secret_access_key = $(val users.jones.secret)
EOF
export HOME=$work/home AWS_ENDPOINT_URL=$(val url) MFAROLE_CACHE_DIR=$work/cache
export AWS_CONFIG_FILE=$HOME/.aws/config AWS_SHARED_CREDENTIALS_FILE=$HOME/.aws/credentials
truebin=$(type -P true)

"$bin" exec -t 123456 admin -- "$truebin"   # warm the cache
# The stand-in's own cache, holding what mfarole cached (it only reads and execs).
mkdir -p "$HOME/.cache/standin"
"$bin" env --format dotenv admin | grep -E '^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)=' \
  >"$HOME/.cache/standin/admin.env"
echo "EXP=$(( $(date +%s) + 3000 ))" >>"$HOME/.cache/standin/admin.env"
envbin=$(type -P env)

# The seed document's flow, by hand with the AWS CLI: get-session-token, then assume-role.
cat >"$work/seed-flow.sh" <<EOF
#!/bin/sh
set -e
set -- \$(aws sts get-session-token --serial-number $(val mfa_serial) --token-code 123456 \
  --profile jones --query 'Credentials.[AccessKeyId,SecretAccessKey,SessionToken]' --output text)
AWS_ACCESS_KEY_ID=\$1 AWS_SECRET_ACCESS_KEY=\$2 AWS_SESSION_TOKEN=\$3 \
  aws sts assume-role --role-arn $(val roles.admin) --role-session-name bench \
  --region us-east-1 --query 'Credentials.AccessKeyId' --output text >/dev/null
EOF
chmod +x "$work/seed-flow.sh"

# Peers with their own caches, warmed the same way: the AWS CLI's assume-role provider
# (`aws configure list` resolves the credentials without an API call; CLI v1 has no
# `configure export-credentials`) and awsume.
echo 123456 | setsid -w aws configure list --profile admin >/dev/null 2>&1 || true
have_awsume=
if command -v awsumepy >/dev/null 2>&1 && awsumepy admin -s --mfa-token 123456 >/dev/null 2>&1; then
  have_awsume=1
fi

# The cached path, side by side, interleaved: each round runs every command once, in turn, so
# that the drift of a shared, noisy machine hits all of them alike (hyperfine runs one command's
# runs in a block). posix_spawn + waitpid from Python, the same cost for every command.
cat >"$work/interleave.py" <<'PY'
import json, os, statistics, sys, time
rounds, out = int(sys.argv[1]), sys.argv[2]
cmds = [a.split("=", 1) for a in sys.argv[3:]]
times = {n: [] for n, _ in cmds}
for r in range(rounds + 30):
    for n, c in cmds:
        argv = c.split()
        t0 = time.perf_counter_ns()
        _, status = os.waitpid(os.posix_spawn(argv[0], argv, dict(os.environ)), 0)
        if status != 0:
            sys.exit(f"{n}: status {status}")
        if r >= 30:
            times[n].append((time.perf_counter_ns() - t0) / 1e6)
json.dump({n: statistics.median(t) for n, t in times.items()}, open(out, "w"))
PY
#
# Every binary under test is a fresh copy made just before timing, as the stand-in (compiled
# just now) is. On this VM a DAMON "pageout" scheme evicts the page cache of files that sat
# idle, and a binary whose pages came back piecemeal costs more page faults on every run for a
# long while: two copies of one mfarole binary, one fresh and one idle for some minutes, timed
# 1.05x and 1.20x in the same run (see README, Performance). Fresh copies put all of them in the same, fully cached state.
cp "$static" "$work/mfarole-static"
cp "$bin" "$work/mfarole-dynamic"
baseline=()
if [ -n "${BASELINE:-}" ]; then
  cp "$BASELINE/target/release/mfarole" "$work/baseline-dynamic"
  cp "$BASELINE/target/$host/release/mfarole" "$work/baseline-static"
  # Its cache keys may differ from this build's: warm its own entries.
  "$work/baseline-dynamic" exec -t 123456 admin -- "$truebin"
  baseline=("baseline static (cached)=$work/baseline-static exec admin -- $truebin"
            "baseline dynamic (cached)=$work/baseline-dynamic exec admin -- $truebin")
fi
python3 "$work/interleave.py" 3000 "$work/cached.json" \
  "true (direct)=$truebin" \
  "env true=$envbin $truebin" \
  "C stand-in (standin.c)=$work/standin exec admin -- $truebin" \
  "mfarole static (cached)=$work/mfarole-static exec admin -- $truebin" \
  "mfarole dynamic (cached)=$work/mfarole-dynamic exec admin -- $truebin" \
  "${baseline[@]}"
hyperfine -N --warmup 2 --min-runs 10 --export-json "$work/peers.json" \
  -n 'aws configure list --profile admin (CLI cache)' "aws configure list --profile admin" \
  ${have_awsume:+-n 'awsume admin -s (awsume cache)' "awsumepy admin -s"}
hyperfine -N --warmup 3 --min-runs 30 --export-json "$work/uncached.json" \
  -n 'mfarole GetSessionToken+AssumeRole (uncached)' "$bin exec --refresh -t 123456 admin -- $truebin"
hyperfine --warmup 1 --min-runs 10 --export-json "$work/cli.json" \
  -n 'aws CLI: get-session-token + assume-role (seed flow)' "$work/seed-flow.sh"

# exec --server: the endpoint's answer latency (1,000 GETs by the child, each on a new
# connection, as SDKs make them), and the added cost over plain exec for a short command.
cat >"$work/latency.py" <<'PY'
import os, statistics, time, urllib.request
url, token = os.environ["AWS_CONTAINER_CREDENTIALS_FULL_URI"], os.environ["AWS_CONTAINER_AUTHORIZATION_TOKEN"]
times = []
for _ in range(1000):
    t0 = time.perf_counter_ns()
    urllib.request.urlopen(urllib.request.Request(url, headers={"Authorization": token})).read()
    times.append((time.perf_counter_ns() - t0) / 1e6)
print(f"{statistics.median(times):.3f}")
PY
"$bin" exec --server admin -- python3 "$work/latency.py" >"$work/latency.txt"
python3 "$work/interleave.py" 300 "$work/server.json" \
  "mfarole exec admin -- true=$bin exec admin -- $truebin" \
  "mfarole exec --server admin -- true=$bin exec --server admin -- $truebin"

python3 - "$work" "$bin" "$truebin" "$static" <<'EOF'
import json, resource, statistics, subprocess, sys, os
work, binary, truebin, static = sys.argv[1:5]
def med(f, i=0):
    return statistics.median(json.load(open(f"{work}/{f}"))["results"][i]["times"]) * 1000
cached_ms = json.load(open(f"{work}/cached.json"))
floor = cached_ms["C stand-in (standin.c)"]
print()
print("cached path, interleaved, median of 3000 runs each; ratio to the C stand-in:")
for n, m in cached_ms.items():
    print(f"  {n:28} {m:7.3f} ms  x{m / floor:.2f}")
direct = cached_ms["true (direct)"]
cached = cached_ms["mfarole dynamic (cached)"]
uncached, cli = med("uncached.json"), med("cli.json")
peers = json.load(open(f"{work}/peers.json"))["results"]
def peak_rss(cmd):
    # GNU time reports the peak RSS of the process it runs (mfarole, then true after exec).
    out = subprocess.run(["/usr/bin/time", "-f", "%M", *cmd], check=True, capture_output=True, text=True)
    return int(out.stderr.strip().splitlines()[-1])
rss = max(peak_rss([binary, "exec", "admin", "--", truebin]) for _ in range(5))
rss_static = max(peak_rss([static, "exec", "admin", "--", truebin]) for _ in range(5))
rss_uncached = max(peak_rss([binary, "exec", "--refresh", "-t", "123456", "admin", "--", truebin]) for _ in range(5))
rss_true = peak_rss([truebin])
print()
print(f"{'case':55} {'median':>10}")
print(f"{'true (direct)':55} {direct:9.2f}ms")
print(f"{'mfarole exec (cached)':55} {cached:9.2f}ms  overhead {cached - direct:.2f}ms, ratio {cached / direct:.1f}x")
print(f"{'mfarole exec (uncached GetSessionToken+AssumeRole)':55} {uncached:9.2f}ms")
print(f"{'aws CLI seed flow (get-session-token + assume-role)':55} {cli:9.2f}ms  mfarole is {cli / uncached:.0f}x faster")
for p in peers:
    m = statistics.median(p["times"]) * 1000
    print(f"{p['command'][:55]:55} {m:9.2f}ms  mfarole cached is {m / cached:.0f}x faster")
print(f"peak RSS (max of 5): cached exec {rss} KiB (static {rss_static} KiB), uncached {rss_uncached} KiB, true alone {rss_true} KiB")
print(f"binary: dynamic {os.path.getsize(binary)} bytes, static {os.path.getsize(static)} bytes")
srv = json.load(open(f"{work}/server.json"))
plain, served = srv["mfarole exec admin -- true"], srv["mfarole exec --server admin -- true"]
print(f"exec --server: endpoint answer median {open(f'{work}/latency.txt').read().strip()} ms over 1000 GETs (python urllib client, new connection each); "
      f"short command {served:.3f} ms vs plain exec {plain:.3f} ms (+{served - plain:.3f} ms)")
EOF
