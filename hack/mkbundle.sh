#!/bin/sh
# mkbundle.sh DIR [ARG...]: make an OCI bundle in DIR from the host's static
# busybox: DIR/rootfs (busybox, one symlink per applet, /etc/passwd and
# /etc/group with root, hull (1000) and nobody, empty /proc /sys /dev /tmp
# /root) and DIR/config.json from `hull spec`, with terminal off, hostname
# $BUNDLE_HOSTNAME (default hull-demo) and ARGs as the process (default: the
# demo's `sh -c 'hostname; id; ps'`).
#
# Environment: HULL (default bin/hull of this repository), BUSYBOX (default
# /bin/busybox), GO (default go).
set -eu

usage() { echo "usage: $0 DIR [ARG...]" >&2; exit 2; }
[ $# -ge 1 ] || usage
case $1 in -*) usage ;; esac

repo=$(cd "$(dirname "$0")/.." && pwd)
dir=$1
shift
HULL=${HULL:-$repo/bin/hull}
BUSYBOX=${BUSYBOX:-/bin/busybox}
GO=${GO:-go}
hostname=${BUNDLE_HOSTNAME:-hull-demo}
[ $# -gt 0 ] || set -- sh -c 'hostname; id; ps'

[ -x "$HULL" ] || { echo "mkbundle: $HULL not found; run make hull" >&2; exit 1; }
[ -x "$BUSYBOX" ] || { echo "mkbundle: no busybox at $BUSYBOX; run make deps" >&2; exit 1; }

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
rootfs=$dir/rootfs

# Only what this script makes is replaced.
rm -rf "$rootfs" "$dir/config.json"
mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/tmp" "$rootfs/root"
chmod 1777 "$rootfs/tmp"
chmod 700 "$rootfs/root"
cp "$BUSYBOX" "$rootfs/bin/busybox"
chmod 755 "$rootfs/bin/busybox"

"$rootfs/bin/busybox" --list-full | while IFS= read -r applet; do
	[ -n "$applet" ] && [ "$applet" != bin/busybox ] || continue
	mkdir -p "$rootfs/$(dirname "$applet")"
	ln -sf /bin/busybox "$rootfs/$applet"
done

cat > "$rootfs/etc/passwd" <<'PASSWD'
root:x:0:0:root:/root:/bin/sh
hull:x:1000:1000:hull:/tmp:/bin/sh
nobody:x:65534:65534:nobody:/nonexistent:/bin/false
PASSWD
cat > "$rootfs/etc/group" <<'GROUP'
root:x:0:
hull:x:1000:
nogroup:x:65534:
GROUP

# runc's default spec asks for ambient capabilities without inheritable ones, which the
# kernel cannot grant; hull warns about that, as the runtime spec requires. The demo
# leaves them out so its output is only the container's.
"$HULL" spec --bundle "$dir"
(cd "$repo" && "$GO" run ./hack/specedit -config "$dir/config.json" \
	-hostname "$hostname" -terminal=false -no-ambient -- "$@")
echo "bundle ready: $dir"
