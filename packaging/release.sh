#!/usr/bin/env bash
# Makes mfarole's release files for the machine it runs on, into OUT_DIR (default target/dist):
#
#   mfarole-VERSION-TARGET.tar.gz   the static binary, its man page, the bash, zsh and fish
#                                   completions (written by the binary itself), README, licenses
#   mfarole_VERSION-1_ARCH.deb      the same files where Debian puts them (cargo-deb)
#   SHA256SUMS                      of the two
#
# Usage: packaging/release.sh [--no-build | --bin PATH] [--no-deb] [OUT_DIR]
#   --no-build  package the static binary already built (by this script, or by the README's
#               command) instead of asking cargo for it
#   --bin PATH  package this static binary of the machine's target instead
#   --no-deb    only the archive (no cargo-deb needed)
#
# The same inputs give the same bytes: every file's mtime is SOURCE_DATE_EPOCH (default: the
# time of the last commit), owner root, names in order, gzip without a name or time. CI calls
# this once per target (.github/workflows/release.yml); tests/e2e/packaging.rs checks it.
set -euo pipefail

build=1 deb=1 out= bin=
while [ $# -gt 0 ]; do
    case "$1" in
        --no-build) build=0 ;;
        --bin) build=0 bin=$(realpath -- "${2:?--bin needs a path}"); shift ;;
        --no-deb) deb=0 ;;
        -h | --help) sed -n '2,/^set /{/^set /d;s/^# \{0,1\}//;p}' "$0"; exit 0 ;;
        -*) echo "release.sh: unknown option $1 (see --help)" >&2; exit 2 ;;
        *) out=$1 ;;
    esac
    shift
done

cd "$(dirname "$0")/.."
root=$PWD
out=${out:-target/dist}
cargo=${CARGO:-cargo}

fail() {
    echo "release.sh: $*" >&2
    exit 1
}

# The build target is the machine's own (the binary must run here to write its completions).
target=$(rustc -vV | sed -n 's/^host: //p')
[ -n "$target" ] || fail "rustc -vV names no host target"
release_dir=${CARGO_TARGET_DIR:-$root/target}/$target/release
bin=${bin:-$release_dir/mfarole}

if [ "$build" = 1 ]; then
    # The README's static build. RUSTFLAGS would silently replace build.rustflags (and the
    # crt-static flag with it), so it is not passed on.
    env -u RUSTFLAGS -u CARGO_ENCODED_RUSTFLAGS "$cargo" build --release --locked \
        --target "$target" --config "build.rustflags=['-C','target-feature=+crt-static']"
fi
[ -x "$bin" ] || fail "no $bin: build it first (without --no-build)"

# Everything is made from one copy of the binary, taken now (a cargo build running meanwhile
# cannot put two binaries in one release), in release_dir/packaging/ where Cargo.toml's
# [package.metadata.deb] assets name it as target/release/packaging/. One run at a time.
files_dir=$release_dir/packaging
mkdir -p "$files_dir/completions"
exec 9>"$release_dir/packaging.lock"
flock 9
install -m 0755 "$bin" "$files_dir/mfarole"
bin=$files_dir/mfarole

# The binary says its version and whether it is the static build; a dynamic one is not shipped.
said=$("$bin" --version)
version=${said#mfarole }
version=${version% (*}
case "$said" in
    "mfarole $version (static)") ;;
    *) fail "$bin says '$said': not the static build" ;;
esac
grep -q "^version = \"$version\"$" Cargo.toml || fail "$bin is $version, Cargo.toml is not: rebuild"

export SOURCE_DATE_EPOCH=${SOURCE_DATE_EPOCH:-$(git log -1 --format=%ct 2>/dev/null || stat -c %Y Cargo.toml)}
export TZ=UTC LC_ALL=C

# The completions, written by the binary itself.
env -i "$bin" completions bash >"$files_dir/completions/mfarole.bash"
env -i "$bin" completions zsh >"$files_dir/completions/_mfarole"
env -i "$bin" completions fish >"$files_dir/completions/mfarole.fish"

name=mfarole-$version-$target
mkdir -p "$out"
stage=$(mktemp -d "$out/.stage.XXXXXX")
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/$name/completions"
install -m 0755 "$bin" "$stage/$name/mfarole"
install -m 0644 man/mfarole.1 README.md LICENSE-MIT LICENSE-APACHE "$stage/$name/"
install -m 0644 "$files_dir"/completions/* "$stage/$name/completions/"
chmod 0755 "$stage/$name" "$stage/$name/completions"
tar --create --format=gnu --sort=name --mtime="@$SOURCE_DATE_EPOCH" \
    --owner=0 --group=0 --numeric-owner --directory="$stage" "$name" |
    gzip -9 -n >"$out/$name.tar.gz"
files=("$name.tar.gz")

if [ "$deb" = 1 ]; then
    "$cargo" deb --version >/dev/null 2>&1 ||
        fail "cargo-deb is not installed: cargo install --locked cargo-deb (or --no-deb)"
    # cargo-deb names the package VERSION-1; its changelog must say so (lintian reads it).
    head -1 packaging/debian/changelog | grep -q "^mfarole ($version-1) " ||
        fail "packaging/debian/changelog has no entry for $version-1 on its first line: add one"
    deb_out=$("$cargo" deb --no-build --locked --target "$target" --no-strip --no-dbgsym \
        --output "$out" --quiet)
    files+=("$(basename "$deb_out")")
fi

(cd "$out" && sha256sum -- "${files[@]}" >SHA256SUMS)
for f in "${files[@]}" SHA256SUMS; do
    echo "$out/$f"
done
