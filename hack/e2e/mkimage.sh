#!/bin/sh
# mkimage.sh OUT.tar [NAME]: write an OCI image layout tarball (an "oci-archive")
# holding one image made from the host's static busybox, for the e2e tests:
# `ctr images import OUT.tar` and `podman load -i OUT.tar` both read it, no
# registry needed. NAME (default localhost/hull-e2e:latest) goes into index.json
# both as io.containerd.image.name (what ctr names the image) and as
# org.opencontainers.image.ref.name (what podman names it).
#
# The image: one gzip layer with /bin/busybox and one symlink per applet,
# /etc/passwd and /etc/group (root, hull 1000, nobody), empty /proc /sys /dev
# /tmp /root; config with PATH and Cmd ["sh"]. The output is reproducible:
# fixed mtimes and owners, sorted entries, gzip -n.
#
# Environment: BUSYBOX (default /bin/busybox, must be static), ROOTFS (pack
# this directory instead of building the busybox one).
set -eu

usage() { echo "usage: $0 OUT.tar [NAME]" >&2; exit 2; }
[ $# -ge 1 ] && [ $# -le 2 ] || usage
case $1 in -*) usage ;; esac
out=$1
name=${2:-localhost/hull-e2e:latest}
BUSYBOX=${BUSYBOX:-/bin/busybox}

case $(uname -m) in
x86_64) arch=amd64 ;;
aarch64) arch=arm64 ;;
armv7l | armv6l) arch=arm ;;
ppc64le) arch=ppc64le ;;
s390x) arch=s390x ;;
riscv64) arch=riscv64 ;;
*) echo "mkimage: unknown machine $(uname -m)" >&2; exit 1 ;;
esac

work=$(mktemp -d "${TMPDIR:-/tmp}/mkimage.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM

if [ -n "${ROOTFS:-}" ]; then
	rootfs=$ROOTFS
else
	[ -x "$BUSYBOX" ] || { echo "mkimage: no busybox at $BUSYBOX; apt-get install busybox-static" >&2; exit 1; }
	rootfs=$work/rootfs
	mkdir -p "$rootfs/bin" "$rootfs/etc" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev" "$rootfs/tmp" "$rootfs/root"
	chmod 755 "$rootfs" "$rootfs/bin" "$rootfs/etc" "$rootfs/proc" "$rootfs/sys" "$rootfs/dev"
	chmod 1777 "$rootfs/tmp"
	chmod 700 "$rootfs/root"
	cp "$BUSYBOX" "$rootfs/bin/busybox"
	chmod 755 "$rootfs/bin/busybox"
	"$rootfs/bin/busybox" --list-full | while IFS= read -r applet; do
		[ -n "$applet" ] && [ "$applet" != bin/busybox ] || continue
		mkdir -p "$rootfs/$(dirname "$applet")"
		ln -sf /bin/busybox "$rootfs/$applet"
	done
	printf '%s\n' 'root:x:0:0:root:/root:/bin/sh' 'hull:x:1000:1000:hull:/tmp:/bin/sh' \
		'nobody:x:65534:65534:nobody:/nonexistent:/bin/false' > "$rootfs/etc/passwd"
	printf '%s\n' 'root:x:0:' 'hull:x:1000:' 'nogroup:x:65534:' > "$rootfs/etc/group"
	chmod 644 "$rootfs/etc/passwd" "$rootfs/etc/group"
fi

layout=$work/layout
blobs=$layout/blobs/sha256
mkdir -p "$blobs"

# blob FILE: move FILE into the blob store; prints its digest and size.
blob() {
	d=$(sha256sum "$1" | cut -d' ' -f1)
	s=$(wc -c < "$1" | tr -d ' ')
	mv "$1" "$blobs/$d"
	echo "$d $s"
}

tar -C "$rootfs" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
	--format=posix --pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime \
	-cf "$work/layer.tar" .
diffid=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n -9 < "$work/layer.tar" > "$work/layer.tar.gz"
rm "$work/layer.tar"
set -- $(blob "$work/layer.tar.gz")
layer_digest=$1 layer_size=$2

printf '{"architecture":"%s","os":"linux","config":{"Env":["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],"Cmd":["sh"],"WorkingDir":"/"},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]},"history":[{"created":"1970-01-01T00:00:00Z","created_by":"hack/e2e/mkimage.sh"}]}' \
	"$arch" "$diffid" > "$work/config.json"
set -- $(blob "$work/config.json")
config_digest=$1 config_size=$2

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
	"$config_digest" "$config_size" "$layer_digest" "$layer_size" > "$work/manifest.json"
set -- $(blob "$work/manifest.json")
manifest_digest=$1 manifest_size=$2

printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"platform":{"architecture":"%s","os":"linux"},"annotations":{"io.containerd.image.name":"%s","org.opencontainers.image.ref.name":"%s"}}]}' \
	"$manifest_digest" "$manifest_size" "$arch" "$name" "$name" > "$layout/index.json"
printf '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"

tar -C "$layout" --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner -cf "$work/out.tar" oci-layout index.json blobs
mv "$work/out.tar" "$out"
echo "image $name: $out (manifest sha256:$manifest_digest)"
