#!/bin/bash
# usage: run.sh 'shell commands'
# Boots Debian's kernel under qemu (TCG: nested KVM hangs on these machines) with this machine's / mounted read-only
# (tmpfs overlay: the guest's writes, /tmp's included, never reach the host), runs the commands as root, prints their output, exits with their status.
# KVM_OUT=DIR keeps the guest's /kvmout (results files) in DIR instead of a temporary directory.
# KVM_TIMEOUT (s, default 300), KVM_MEM (MiB, default 2048). Exit 98: the guest never ran the commands (see stderr).
set -u
KVM_DIR=${KVM_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/kvm-ipvs}
if [ ! -f "$KVM_DIR/initramfs.gz" ]; then
  "$(dirname "$0")/setup.sh" >&2 || { echo "run.sh: setup.sh failed" >&2; exit 97; }
fi
if [ -n "${KVM_OUT:-}" ]; then OUT=$KVM_OUT; mkdir -p "$OUT"; keep=1; else OUT=$(mktemp -d); keep=0; fi
rm -f "$OUT/rc" "$OUT/out.log"
printf '%s\n' "export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root" \
  "ip link set lo up" "$1" > "$OUT/cmd.sh"
K=$(ls "$KVM_DIR/full/lib/modules" | head -1)
timeout "${KVM_TIMEOUT:-300}" qemu-system-x86_64 -cpu max -m "${KVM_MEM:-2048}" -smp 2 -nographic -no-reboot \
  -kernel "$KVM_DIR/full/boot/vmlinuz-$K" -initrd "$KVM_DIR/initramfs.gz" \
  -append "console=ttyS0 quiet panic=-1 edd=off" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap \
  -virtfs "local,path=$OUT,mount_tag=out,security_model=none" \
  -nic none > "$OUT/console.log" 2>&1
qrc=$?
cat "$OUT/out.log" 2>/dev/null
if [ -f "$OUT/rc" ]; then rc=$(cat "$OUT/rc"); else
  rc=98
  echo "run.sh: the guest did not finish the commands (qemu exit $qrc$([ $qrc = 124 ] && echo ', timed out')); console tail:" >&2
  tail -n 30 "$OUT/console.log" >&2
fi
[ $keep = 1 ] || rm -rf "$OUT"
exit "$rc"
