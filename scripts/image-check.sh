#!/usr/bin/env bash
# Build the container image and check it from the inside, without Docker or a registry.
#
#   make image-check            (slow the first time: it debootstraps a Debian base)
#
# No registry is reachable here, so the base image is made locally: debootstrap builds a
# Debian bookworm root with python3, python3-venv and python3-pip (from the Debian mirror the
# host's apt already uses), which is imported as an image FROM scratch and passed to the
# Dockerfile through its BASE_IMAGE build argument. buildah builds with chroot isolation and
# --pull=never, then runs the checks inside the image: the uid it runs as, `--help`,
# `health` (exit 1 with nothing listening; exit 0 once `run` polls `simulate` in the same
# container), and the image's ENTRYPOINT + CMD as PID 1 of a new PID namespace, stopped
# cleanly by SIGTERM. The base is cached under build/image-check/ (gitignored): delete it
# to start over. Needs root (apt-get, debootstrap, buildah's storage, unshare).
set -euo pipefail
cd "$(dirname "$0")/.."

WORK=$PWD/build/image-check
BASE_TAR=$WORK/base-bookworm.tar
BASE_IMAGE=localhost/dataframer-watcher-base:bookworm
IMAGE=localhost/dataframer-watcher:check
BUILDAH=(buildah --storage-driver=vfs --root "$WORK/storage" --runroot "$WORK/run")

say() { printf '\n== %s\n' "$*"; }
# Remove a debootstrap root, unmounting first whatever a failed run left mounted inside it
# (/proc, /sys, ...), so rm never reaches the host's files through a mount.
remove_root() {
    findmnt -rn -o TARGET | { grep -F "$1/" || true; } | sort -r | xargs -r umount -l
    rm -rf --one-file-system "$1"
}
fail() { printf 'image-check: FAILED: %s\n' "$*" >&2; exit 1; }

[[ $(id -u) == 0 ]] || fail "run as root (apt-get, debootstrap and buildah's storage need it)"
mkdir -p "$WORK"

say "tools"
if ! command -v buildah >/dev/null || ! command -v debootstrap >/dev/null; then
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        buildah debootstrap >/dev/null
fi
buildah --version

say "base image ($BASE_IMAGE)"
if [[ ! -s $BASE_TAR ]]; then
    # The mirror that serves bookworm/main to this host's apt; never a hard-coded host.
    apt-get update -qq
    MIRROR=$(apt-cache policy | awk '$3 == "bookworm/main" && $2 ~ /^https?:/ { print $2; exit }')
    [[ -n $MIRROR ]] || fail "no bookworm/main source in this host's apt configuration"
    echo "debootstrap bookworm from $MIRROR"
    ROOTFS=$WORK/rootfs
    remove_root "$ROOTFS"
    debootstrap --variant=minbase \
        --include=python3,python3-venv,python3-pip,ca-certificates,passwd \
        bookworm "$ROOTFS" "$MIRROR" >"$WORK/debootstrap.log" 2>&1 \
        || { tail -20 "$WORK/debootstrap.log"; fail "debootstrap (log: $WORK/debootstrap.log)"; }
    rm -rf "$ROOTFS"/var/lib/apt/lists/* "$ROOTFS"/var/cache/apt/*.bin \
        "$ROOTFS"/var/cache/apt/archives/*.deb
    tar --numeric-owner -C "$ROOTFS" -cf "$BASE_TAR.tmp" .
    mv "$BASE_TAR.tmp" "$BASE_TAR"
    remove_root "$ROOTFS"
fi
if ! "${BUILDAH[@]}" inspect --type image "$BASE_IMAGE" >/dev/null 2>&1; then
    ctr=$("${BUILDAH[@]}" from scratch)
    "${BUILDAH[@]}" add "$ctr" "$BASE_TAR" / # a local tar is unpacked
    "${BUILDAH[@]}" config \
        --env PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
        --env LANG=C.UTF-8 --cmd python3 "$ctr"
    "${BUILDAH[@]}" commit --quiet --rm "$ctr" "$BASE_IMAGE" >/dev/null
fi
"${BUILDAH[@]}" run --isolation=chroot \
    "$("${BUILDAH[@]}" from --pull=never --quiet "$BASE_IMAGE")" -- python3 --version
"${BUILDAH[@]}" rm --all >/dev/null

say "build $IMAGE"
# pip in the build reaches PyPI through this host's network, so it trusts what this host
# trusts (a TLS-inspecting proxy's CA, say): the host's CA bundle is bind-mounted into the
# build's RUN steps only; it is not part of the image.
HOST_CA=/etc/ssl/certs/ca-certificates.crt
CA_MOUNT=()
[[ -s $HOST_CA ]] && CA_MOUNT=(--volume "$HOST_CA:$HOST_CA:ro")
# --format docker: the OCI image format has no HEALTHCHECK.
"${BUILDAH[@]}" build --isolation=chroot --pull=never --format docker --quiet "${CA_MOUNT[@]}" \
    --build-arg "BASE_IMAGE=$BASE_IMAGE" -t "$IMAGE" -f Dockerfile . >/dev/null
"${BUILDAH[@]}" inspect --type image \
    --format 'user={{.Docker.Config.User}} entrypoint={{.Docker.Config.Entrypoint}} cmd={{.Docker.Config.Cmd}} stopsignal={{.Docker.Config.StopSignal}} volumes={{.Docker.Config.Volumes}} healthcheck={{.Docker.Config.Healthcheck.Test}}' \
    "$IMAGE"

ctr=$("${BUILDAH[@]}" from --pull=never --quiet "$IMAGE")
trap '"${BUILDAH[@]}" rm "$ctr" >/dev/null 2>&1 || true' EXIT
in_image() { "${BUILDAH[@]}" run --isolation=chroot "$ctr" -- "$@"; }

# The container shares the host's network here (chroot isolation): use free ports.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
HEALTH_PORT=$(free_port)
SIM_PORT=$(free_port)

say "user"
uid=$(in_image id -u)
echo "id -u: $uid ($(in_image id -un))"
[[ $uid != 0 ]] || fail "the image runs as root"

say "dataframer-watcher --help"
in_image dataframer-watcher --help

say "dataframer-watcher health, nothing listening (expect exit 1)"
set +e
in_image env "WATCHER_HEALTH__LISTEN=127.0.0.1:$HEALTH_PORT" dataframer-watcher health
code=$?
set -e
echo "exit $code"
[[ $code == 1 ]] || fail "health with nothing listening exited $code, not 1"

say "dataframer-watcher health, with run polling simulate (expect exit 0, then a clean stop)"
# One shell in the image: the simulator and the daemon in the background, health polled
# until it answers 0 (the daemon needs one successful poll to be ready), then SIGTERM.
# shellcheck disable=SC2016 # expanded by the shell in the image
in_image env "HEALTH_PORT=$HEALTH_PORT" "SIM_PORT=$SIM_PORT" sh -c '
    export WATCHER_HEALTH__LISTEN=127.0.0.1:$HEALTH_PORT
    export DATAFRAMER_BASE_URL=http://127.0.0.1:$SIM_PORT DATAFRAMER_API_KEY=sim-key
    export WATCHER_TRACK__ALL=true WATCHER_POLL__INTERVAL=1s
    dataframer-watcher simulate --port "$SIM_PORT" --runs 5 --seed 1 >/tmp/simulate.log 2>&1 &
    sim=$!
    dataframer-watcher run >/tmp/run.log 2>&1 &
    daemon=$!
    tries=0
    until dataframer-watcher health; do
        tries=$((tries + 1))
        if [ "$tries" -ge 60 ] || ! kill -0 "$daemon" 2>/dev/null; then
            echo "--- run.log"; cat /tmp/run.log; echo "--- simulate.log"; cat /tmp/simulate.log
            kill "$daemon" "$sim" 2>/dev/null
            exit 1
        fi
        sleep 0.5
    done
    echo "health exit 0 (after $tries retries); state file: $(ls -l "$WATCHER_STATE__PATH")"
    kill -TERM "$daemon"
    wait "$daemon"
    echo "run exited $? on SIGTERM; its last log line:"
    tail -n 1 /tmp/run.log
    kill -TERM "$sim"
    wait "$sim" 2>/dev/null || true
' || fail "health did not become ready with the daemon running"

say "ENTRYPOINT + CMD as PID 1, as docker run starts it; then SIGTERM (expect a clean stop)"
# buildah run's chroot isolation has no PID namespace, so this one runs the image's own
# command line by hand: in a new PID namespace, chrooted into the container's root, as the
# image's user, with exactly the image's environment.
ROOTFS=$("${BUILDAH[@]}" mount "$ctr")
trap '"${BUILDAH[@]}" umount "$ctr" >/dev/null 2>&1 || true; "${BUILDAH[@]}" rm "$ctr" >/dev/null 2>&1 || true' EXIT
USER_SPEC=$("${BUILDAH[@]}" inspect --format '{{.Docker.Config.User}}' "$ctr")
mapfile -t IMAGE_ENV < <("${BUILDAH[@]}" inspect --format '{{range .Docker.Config.Env}}{{println .}}{{end}}' "$ctr" | sed '/^$/d')
mapfile -t COMMAND < <("${BUILDAH[@]}" inspect --format '{{range .Docker.Config.Entrypoint}}{{println .}}{{end}}{{range .Docker.Config.Cmd}}{{println .}}{{end}}' "$ctr" | sed '/^$/d')
TEST_ENV=("WATCHER_HEALTH__LISTEN=127.0.0.1:$HEALTH_PORT" "DATAFRAMER_BASE_URL=http://127.0.0.1:$SIM_PORT"
    DATAFRAMER_API_KEY=sim-key WATCHER_TRACK__ALL=true WATCHER_POLL__INTERVAL=1s)
as_image_user() { chroot --userspec="$USER_SPEC" "$ROOTFS" env -i "${IMAGE_ENV[@]}" "${TEST_ENV[@]}" "$@"; }
echo "command: ${COMMAND[*]} (user $USER_SPEC)"
as_image_user dataframer-watcher simulate --port "$SIM_PORT" --runs 5 --seed 2 >"$WORK/simulate.log" 2>&1 &
sim=$!
unshare --pid --fork --mount-proc="$ROOTFS/proc" \
    chroot --userspec="$USER_SPEC" "$ROOTFS" env -i "${IMAGE_ENV[@]}" "${TEST_ENV[@]}" "${COMMAND[@]}" \
    >"$WORK/pid1.log" 2>&1 &
outer=$!
pid1=""
for _ in $(seq 100); do
    pid1=$(pgrep -P "$outer" || true)
    [[ -n $pid1 ]] && as_image_user dataframer-watcher health >/dev/null 2>&1 && break
    sleep 0.2
done
as_image_user dataframer-watcher health \
    || { cat "$WORK/pid1.log"; kill "$sim" "$outer"; fail "the daemon as PID 1 never became ready"; }
echo "$(grep NSpid "/proc/$pid1/status") ($(tr '\0' ' ' <"/proc/$pid1/cmdline"))"
[[ $(awk '/^NSpid/ { print $NF }' "/proc/$pid1/status") == 1 ]] || fail "not PID 1 in its namespace"
kill -TERM "$pid1"
stopped=""
for _ in $(seq 100); do # 20 s, docker's --stop-timeout 30 in the README leaves room
    kill -0 "$outer" 2>/dev/null || { stopped=yes; break; }
    sleep 0.2
done
[[ -n $stopped ]] || { kill -KILL "$pid1"; fail "PID 1 ignored SIGTERM for 20 s"; }
set +e
wait "$outer"
code=$?
set -e
echo "PID 1 exited $code on SIGTERM; its last log line:"
tail -n 1 "$WORK/pid1.log"
kill -TERM "$sim"
wait "$sim" 2>/dev/null || true
[[ $code == 0 ]] || { cat "$WORK/pid1.log"; fail "PID 1 exited $code on SIGTERM"; }

say "image-check passed"
