#!/usr/bin/env bash
# Installs what mfarole's tests need and is missing on this machine: moto (STS), the AWS CLI
# and boto3 (real clients as children and callers; botocore's crt extra for aws login), tmux
# (a real terminal), fish and zsh (eval and completion tests), make and setsid; for the
# release packaging tests, cargo-deb (crates.io), lintian, dpkg-dev and man-db. Safe to run
# again: it installs only what is missing.
# Run it as root, or as a user with sudo (Debian's packages are installed through it; without
# sudo it says what to install and stops). Python packages go to the user's site as a user
# outside a virtualenv or pyenv.
set -euo pipefail

apt_missing=()
command -v tmux >/dev/null 2>&1 || apt_missing+=(tmux)
command -v fish >/dev/null 2>&1 || apt_missing+=(fish)
command -v zsh >/dev/null 2>&1 || apt_missing+=(zsh)
command -v make >/dev/null 2>&1 || apt_missing+=(make)
command -v setsid >/dev/null 2>&1 || apt_missing+=(util-linux)
command -v lintian >/dev/null 2>&1 || apt_missing+=(lintian)
command -v dpkg-shlibdeps >/dev/null 2>&1 || apt_missing+=(dpkg-dev)
command -v man >/dev/null 2>&1 || apt_missing+=(man-db)
command -v hyperfine >/dev/null 2>&1 || [ -z "${MFAROLE_BENCH:-}" ] || apt_missing+=(hyperfine)
[ -x /usr/bin/time ] || [ -z "${MFAROLE_BENCH:-}" ] || apt_missing+=(time)
if [ ${#apt_missing[@]} -gt 0 ]; then
    # apt-get needs root: as another user, through sudo (which may ask for a password), or
    # say what to install.
    as_root=()
    if [ "$(id -u)" -ne 0 ]; then
        if ! command -v sudo >/dev/null 2>&1; then
            echo "tests/deps.sh: ${apt_missing[*]} must be installed from Debian's packages, which needs root: run tests/deps.sh as root, or install sudo, or run: apt-get install ${apt_missing[*]}" >&2
            exit 1
        fi
        as_root=(sudo)
    fi
    echo "tests/deps.sh: installing ${apt_missing[*]}${as_root[*]:+ (with sudo)}" >&2
    "${as_root[@]}" apt-get update -qq >/dev/null
    "${as_root[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${apt_missing[@]}" >/dev/null
fi

pip_missing=()
python3 -c 'import moto.server, werkzeug' >/dev/null 2>&1 || pip_missing+=('moto[server]')
python3 -c 'import boto3' >/dev/null 2>&1 || pip_missing+=(boto3)
# botocore reads `aws login` sessions (login_session) only with awscrt, its "crt" extra: the
# reference client of tests/e2e/login.rs.
python3 -c 'import awscrt' >/dev/null 2>&1 || pip_missing+=('botocore[crt]')
command -v aws >/dev/null 2>&1 || pip_missing+=(awscli)
command -v awsumepy >/dev/null 2>&1 || [ -z "${MFAROLE_BENCH:-}" ] || pip_missing+=(awsume)
if [ ${#pip_missing[@]} -gt 0 ]; then
    echo "tests/deps.sh: installing ${pip_missing[*]}" >&2
    pip_user=()
    if [ "$(id -u)" -ne 0 ] && [ -z "${VIRTUAL_ENV:-}" ] && ! command -v pyenv >/dev/null 2>&1; then
        pip_user=(--user)
    fi
    python3 -m pip install -q "${pip_user[@]}" "${pip_missing[@]}"
    command -v pyenv >/dev/null 2>&1 && pyenv rehash || true
fi

# cargo-deb builds the .deb of packaging/release.sh. Built from source: about 3 minutes on 2
# cores, a 7 MB binary in ~/.cargo/bin. Where it cannot be installed, tests/e2e/packaging.rs
# skips the .deb with that reason.
if ! cargo deb --version >/dev/null 2>&1; then
    echo "tests/deps.sh: installing cargo-deb (about 3 minutes)" >&2
    cargo install --locked --quiet cargo-deb --version '^3.8' ||
        echo "tests/deps.sh: could not install cargo-deb; the .deb tests will be skipped" >&2
fi
