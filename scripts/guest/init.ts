/**
 * The test guest's /init, rendered from the console protocol in src/vmm/guest-image.ts so
 * the markers the tests wait for and the ones the guest prints cannot drift apart.
 */
export interface InitParams {
  bootMarker: string;
  counterPrefix: string;
  poweroffMarker: string;
  /** Module basenames in load order (dependencies first: there is no modprobe). */
  modules: string[];
}

export function renderInit(p: InitParams): string {
  return `#!/bin/busybox sh
/bin/busybox --install -s /bin
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sys /sys
mount -t devtmpfs dev /dev
mount -t tmpfs tmp /tmp
hostname kubevisor-guest

for m in ${p.modules.join(" ")}; do
  insmod /lib/modules/$m.ko 2>/dev/null
done

# Networking matches QEMU's user-mode defaults, so forwarded ports reach the guest's httpd.
ip link set lo up
if [ -e /sys/class/net/eth0 ]; then
  ip addr add 10.0.2.15/24 dev eth0
  ip link set eth0 up
  ip route add default via 10.0.2.2
  httpd -p 80 -h /www
fi

# ACPI power button (system_powerdown) -> clean power-off; there is no init daemon to ask.
for ev in /sys/class/input/event*; do
  if grep -q "Power Button" "$ev/device/name" 2>/dev/null; then
    ( head -c 1 "/dev/input/\${ev##*/}" >/dev/null
      echo "${p.poweroffMarker}"
      sync
      poweroff -f ) &
  fi
done

echo "${p.bootMarker} kernel=$(uname -r)"

# The counter proves a guest keeps running (and never rebooted) across pause and migration.
( n=0
  while :; do
    n=$((n+1))
    read up idle </proc/uptime
    echo "${p.counterPrefix} $n $up"
    usleep 100000
  done ) </dev/null >/dev/console 2>&1 &

# A shell on the serial console; respawned if someone types exit.
while :; do
  setsid cttyhack sh
done
`;
}
