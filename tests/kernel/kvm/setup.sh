#!/bin/bash
# Prepares what tests/kernel boots: Debian's kernel (with the IPVS modules) and a tiny busybox initramfs that mounts
# this machine's / read-only over 9p under a tmpfs overlay and runs one command script. Idempotent; work dir $KVM_DIR
# (default ~/.cache/kvm-ipvs). Needs root for apt-get when packages are missing. Facts: docs in reference §5.
set -euo pipefail
KVM_DIR=${KVM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kvm-ipvs}
mkdir -p "$KVM_DIR" && cd "$KVM_DIR"
need=""
for c in qemu-system-x86_64:qemu-system-x86 busybox:busybox-static ipvsadm:ipvsadm cpio:cpio depmod:kmod setpriv:util-linux; do
  command -v "${c%%:*}" >/dev/null || [ -x "/sbin/${c%%:*}" ] || need="$need ${c#*:}"
done
if [ -n "$need" ]; then
  echo "installing:$need" >&2
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends $need >/dev/null
fi
if [ ! -d full/boot ] || [ -z "$(ls full/lib/modules 2>/dev/null)" ]; then
  # linux-image-amd64 is a metapackage: download the concrete image it depends on, unpack it without installing.
  pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}')
  [ -n "$pkg" ] || { apt-get update -q >/dev/null; pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-/{print $2; exit}'); }
  [ -n "$pkg" ] || { echo "setup.sh: cannot find Debian's linux-image package (apt-cache depends linux-image-amd64)" >&2; exit 1; }
  rm -rf full dl && mkdir -p dl && chmod 777 dl  # _apt downloads into it
  (cd dl && apt-get download "$pkg" >/dev/null)
  mkdir -p full && dpkg -x dl/*.deb full && rm -rf dl
fi
K=$(ls full/lib/modules | head -1)
/sbin/depmod -b full "$K"
SRC=full/lib/modules/$K
R=initramfs
rm -rf $R; mkdir -p $R/{bin,proc,sys,dev,mnt/lower,mnt/upper,newroot,lib/modules/$K}
cp "$(command -v busybox)" $R/bin/busybox
for a in sh mount modprobe mkdir chroot poweroff; do ln -sf busybox $R/bin/$a; done
# virtio/9p/overlay to boot; all of net (netfilter/ipvs, sctp), crypto and lib (libcrc32c and its crc32c soft deps).
(cd $SRC && find kernel/crypto kernel/arch/x86/crypto kernel/lib kernel/net kernel/fs/9p kernel/fs/netfs \
   kernel/fs/fscache kernel/fs/overlayfs kernel/drivers/virtio kernel/drivers/net/dummy.ko \
   kernel/drivers/net/veth.ko -name '*.ko*' 2>/dev/null) | while read -r f; do
  mkdir -p "$R/lib/modules/$K/$(dirname "$f")"; cp "$SRC/$f" "$R/lib/modules/$K/$f"; done
cp $SRC/modules.* $R/lib/modules/$K/   # every index: kmod's modprobe reads the .bin ones
cp full/boot/config-"$K" $R/kernel.config 2>/dev/null || true
cat > $R/init <<'INIT'
#!/bin/sh
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in virtio_pci 9pnet_virtio 9p overlay; do modprobe $m; done
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=262144,cache=loose hostroot /mnt/lower
mount -t tmpfs tmpfs /mnt/upper; mkdir -p /mnt/upper/u /mnt/upper/w
mount -t overlay overlay -o lowerdir=/mnt/lower,upperdir=/mnt/upper/u,workdir=/mnt/upper/w /newroot
mkdir -p /newroot/kvmout; mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 out /newroot/kvmout
mount -t proc proc /newroot/proc; mount -t sysfs sys /newroot/sys; mount -t devtmpfs dev /newroot/dev
# /tmp is NOT a fresh tmpfs: a checkout under /tmp (as CI may clone one) must stay visible at its own path;
# the overlay above already makes writes there go to the guest's tmpfs, never to the host.
mount -t tmpfs tmpfs /newroot/run
mkdir -p /newroot/usr/lib/modules; mount -o bind /lib/modules /newroot/usr/lib/modules
chroot /newroot /bin/sh -c 'cd /kvmout && sh /kvmout/cmd.sh > /kvmout/out.log 2>&1; echo $? > /kvmout/rc'
poweroff -f
INIT
chmod +x $R/init
(cd $R && find . | cpio -o -H newc 2>/dev/null | gzip -1) > initramfs.gz.new && mv initramfs.gz.new initramfs.gz
echo "ready: $KVM_DIR (kernel $K)"
