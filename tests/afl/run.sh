#!/usr/bin/env bash
# Coverage-guided fuzzing of every parser of untrusted input with AFL++ (cargo-afl, stable
# toolchain): builds the targets in targets/, fuzzes each for SECS seconds (default 1200),
# JOBS at a time (default 2, this machine's cores), starting from the unit-test seeds
# (../fuzz/seeds/TARGET) and the committed minimized corpus (corpus/TARGET); then minimizes each
# queue back into corpus/TARGET, copies any crash into ../fuzz/crashers/ (which every
# `cargo test` replays), and prints per target: time, executions, corpus, edges, crashes.
#
#   tests/afl/run.sh [SECS]          TARGETS="ini json" tests/afl/run.sh 60
set -euo pipefail
cd "$(dirname "$0")"
secs=${1:-1200}
targets=${TARGETS:-"ini xml cache json sso http url token login"}
jobs=${JOBS:-2}
out=${AFL_OUT:-/tmp/mfarole-afl}
command -v cargo-afl >/dev/null 2>&1 || cargo install cargo-afl
cargo afl build --release
afl_bin=$(ls -d "$HOME"/.local/share/afl.rs/rustc-*/afl.rs-*/afl/bin | tail -n 1)
mkdir -p "$out" corpus
export AFL_SKIP_CPUFREQ=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_NO_UI=1
export AFL_NO_AFFINITY=1 AFL_SKIP_CRASHES=1

fuzz_one() {
    local t=$1 in="$out/$1-in"
    rm -rf "$in" "$out/$t"
    mkdir -p "$in"
    cp ../fuzz/seeds/"$t"/* "$in"/
    if [ -d corpus/"$t" ]; then cp corpus/"$t"/* "$in"/ 2>/dev/null || true; fi
    cargo afl fuzz -i "$in" -o "$out/$t" -V "$secs" -- target/release/"$t" >"$out/$t.log" 2>&1 || true
}
export -f fuzz_one
export out secs
printf '%s\n' $targets | xargs -P "$jobs" -I{} bash -c 'fuzz_one {}'

printf '%-6s %8s %12s %8s %8s %10s %8s\n' target seconds executions corpus edges coverage crashes
for t in $targets; do
    stats="$out/$t/default/fuzzer_stats"
    [ -f "$stats" ] || { echo "$t: no stats (see $out/$t.log)"; continue; }
    get() { awk -F' *: *' -v k="$1" '$1 == k { print $2 }' "$stats"; }
    rm -rf corpus/"$t.new"
    # cargo-afl's Python afl-cmin finds no tuples with Rust targets here; the bash one works.
    PATH="$afl_bin:$PATH" AFL_PATH="$afl_bin" "$afl_bin"/afl-cmin.bash -i "$out/$t/default/queue" \
        -o corpus/"$t.new" -- target/release/"$t" >/dev/null 2>&1 \
        && rm -rf corpus/"$t" && mv corpus/"$t.new" corpus/"$t"
    # Keep the committed corpus small: inputs over 4 KiB add little coverage here.
    find corpus/"$t" -type f -size +4k -delete 2>/dev/null || true
    n=0
    for c in "$out/$t"/default/crashes/id*; do
        [ -f "$c" ] || continue
        n=$((n + 1))
        cp "$c" ../fuzz/crashers/"$t-afl-$(sha1sum "$c" | cut -c1-16)"
    done
    printf '%-6s %8s %12s %8s %8s %10s %8s\n' "$t" "$(get run_time)" "$(get execs_done)" \
        "$(get corpus_count)" "$(get edges_found)" "$(get bitmap_cvg)" "$n"
done
