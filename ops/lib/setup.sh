# Shared by ops/demo, ops/test and ops/bench: make sure the system packages
# and the Swift toolchain are there, installing what is missing.
# shellcheck shell=bash

# System packages every build and test needs.
SEALDROP_PACKAGES=(pkg-config libsodium-dev libssh-dev openssh-client openssl age time)
# Third-party SFTP clients of the interop matrix and HAProxy for the balancer
# tests (tests only). paramiko
# comes from pip, into a venv the tests make under .build (never system-wide).
SEALDROP_TEST_PACKAGES=(lftp rclone curl sshfs python3 python3-venv sqlite3 postgresql openssh-server chromium poppler-utils fonts-dejavu-core haproxy)

say() { printf '\n==> %s\n' "$*"; }

ensure_packages() {
    local missing=()
    local package
    for package in "$@"; do
        if ! dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q 'install ok installed'; then
            missing+=("$package")
        fi
    done
    [ ${#missing[@]} -eq 0 ] && return 0
    say "installing ${missing[*]}"
    local run=()
    if [ "$(id -u)" -ne 0 ]; then
        command -v sudo >/dev/null || { echo "need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
        run=(sudo)
    fi
    export DEBIAN_FRONTEND=noninteractive
    "${run[@]}" apt-get update -qq
    "${run[@]}" apt-get install -y -qq "${missing[@]}" >/dev/null
}

ensure_swift() {
    if ! command -v swift >/dev/null 2>&1 && [ -x /opt/swift/usr/bin/swift ]; then
        export PATH=/opt/swift/usr/bin:$PATH
    fi
    command -v swift >/dev/null 2>&1 || {
        echo "Swift 6.1 or later is needed: install it from swift.org (swiftly) and rerun." >&2
        exit 1
    }
}

setup_build_environment() {
    ensure_packages "${SEALDROP_PACKAGES[@]}"
    ensure_swift
}
