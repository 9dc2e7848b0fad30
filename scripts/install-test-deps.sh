#!/usr/bin/env bash
# Installs everything the test suite needs on a fresh Debian machine (run as root, as CI does):
# the Debian tools svcscope is compared against (kubectl comes with the machine; ipvsadm, dig, dnsmasq), qemu and a
# Debian kernel for the real-kernel IPVS tests, and the Python package with its test extra.
set -euo pipefail
cd "$(dirname "$0")/.."

debs=(qemu-system-x86 busybox-static ipvsadm ipset cpio kmod dnsutils dnsmasq iproute2 util-linux openssl iptables nftables tmux)
missing=()
for p in "${debs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "installing Debian packages: ${missing[*]}"
  apt-get update -q >/dev/null
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v kubectl >/dev/null || { echo "kubectl is not on PATH: the conformance tests compare svcscope with it" >&2; exit 1; }

python3 -m pip install -q --disable-pip-version-check -e '.[test]'

# The kernel and initramfs the qemu guest boots (tests/kernel); cached in $KVM_DIR after the first run.
if [ -x tests/kernel/kvm/setup.sh ]; then
  bash tests/kernel/kvm/setup.sh
fi
