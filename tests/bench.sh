#!/usr/bin/env bash
# Benchmark: mfarole's cached exec path (static and dynamic builds) against the C stand-in
# (../shared/bench/standin.c, the native floor), `env true` and the command alone, the uncached
# GetSessionToken + AssumeRole path, and the seed document's hand-made flow with the AWS CLI,
# all against the same moto STS (auth enforced) in one run. Prints medians, ratios and peak
# RSS. Not a test: nothing here asserts a time.
#
#   tests/bench.sh            # needs hyperfine (Debian), moto and the AWS CLI (tests/deps.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
MFAROLE_BENCH=1 tests/deps.sh
cargo build --release -q
bin=$PWD/target/release/mfarole
# The static build, exactly as the README documents it.
cargo build --release -q --target host-tuple --config "build.rustflags=['-C','target-feature=+crt-static']"
static=$PWD/target/$(rustc --print host-tuple)/release/mfarole
work=$(mktemp -d)
standin_src=${STANDIN_C:-../shared/bench/standin.c}
cc -O2 -o "$work/standin" "$standin_src"
trap 'exec 9>&-; rm -rf "$work"' EXIT

# moto: serves until its stdin (fd 9 here) closes.
mkfifo "$work/in"
MOTO_RECORDER_FILEPATH=$work/rec python3 tests/support/moto_sts.py <"$work/in" >"$work/moto" 2>/dev/null &
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
truebin=$(command -v true)

"$bin" exec -t 123456 admin -- "$truebin"   # warm the cache
# The stand-in's own cache, holding what mfarole cached (it only reads and execs).
mkdir -p "$HOME/.cache/standin"
"$bin" env --format dotenv admin | grep -E '^AWS_(ACCESS_KEY_ID|SECRET_ACCESS_KEY|SESSION_TOKEN)=' \
  >"$HOME/.cache/standin/admin.env"
echo "EXP=$(( $(date +%s) + 3000 ))" >>"$HOME/.cache/standin/admin.env"
envbin=$(command -v env)

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

# The cached path, side by side, in 3 rounds (this machine is shared and noisy: ratios within
# a round are what counts; the report takes each ratio's median over the rounds).
for round in 1 2 3; do
  hyperfine -N --warmup 30 --min-runs 300 --export-json "$work/cached$round.json" \
    -n 'true (direct)' "$truebin" \
    -n 'env true' "$envbin $truebin" \
    -n 'C stand-in (standin.c)' "$work/standin exec admin -- $truebin" \
    -n 'mfarole static (cached)' "$static exec admin -- $truebin" \
    -n 'mfarole dynamic (cached)' "$bin exec admin -- $truebin"
done
hyperfine -N --warmup 2 --min-runs 10 --export-json "$work/peers.json" \
  -n 'aws configure list --profile admin (CLI cache)' "aws configure list --profile admin" \
  ${have_awsume:+-n 'awsume admin -s (awsume cache)' "awsumepy admin -s"}
hyperfine -N --warmup 3 --min-runs 30 --export-json "$work/uncached.json" \
  -n 'mfarole GetSessionToken+AssumeRole (uncached)' "$bin exec --refresh -t 123456 admin -- $truebin"
hyperfine --warmup 1 --min-runs 10 --export-json "$work/cli.json" \
  -n 'aws CLI: get-session-token + assume-role (seed flow)' "$work/seed-flow.sh"

python3 - "$work" "$bin" "$truebin" "$static" <<'EOF'
import json, resource, statistics, subprocess, sys, os
work, binary, truebin, static = sys.argv[1:5]
def med(f, i=0):
    return statistics.median(json.load(open(f"{work}/{f}"))["results"][i]["times"]) * 1000
rounds = [[med(f"cached{r}.json", i) for i in range(5)] for r in (1, 2, 3)]
names = ["true (direct)", "env true", "C stand-in", "mfarole static", "mfarole dynamic"]
print()
print("cached path, median of each round (ms) and ratio to the C stand-in in that round:")
for i, n in enumerate(names):
    ms = [r[i] for r in rounds]
    ratio = statistics.median(r[i] / r[2] for r in rounds)
    print(f"  {n:18} {' '.join(f'{m:6.3f}' for m in ms)}   x{ratio:.2f} of the stand-in")
direct = statistics.median(r[0] for r in rounds)
cached = statistics.median(r[4] for r in rounds)
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
EOF
