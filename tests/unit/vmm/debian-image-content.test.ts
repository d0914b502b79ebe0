import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import * as content from "../../../scripts/debian-image/content.js";

/**
 * The Debian image must not reach out on its own and must not share identity between
 * instances: these checks fail if a network datasource, an NTP client or module, apt's
 * timers or an RSA host key (slow, and not asked for) come back into the image's config.
 */
describe("Debian image content", () => {
  const cfg = parse(content.CLOUD_CFG) as Record<string, unknown>;
  const modules = [
    ...(cfg.cloud_init_modules as string[]),
    ...(cfg.cloud_config_modules as string[]),
    ...(cfg.cloud_final_modules as string[]),
  ];

  it("probes no network datasource: NoCloud, then None", () => {
    expect(cfg.datasource_list).toEqual(["NoCloud", "None"]);
    expect(parse(content.CLOUD_DPKG_CFG)).toEqual({ datasource_list: ["NoCloud", "None"] });
  });

  it("has no module that reaches out or sets up time sync", () => {
    for (const m of ["ntp", "phone_home", "apt_configure", "apt_pipelining", "landscape"]) {
      expect(modules).not.toContain(m);
    }
  });

  it("installs no NTP client and masks apt's timers", () => {
    for (const p of ["chrony", "ntp", "ntpsec", "systemd-timesyncd", "unattended-upgrades"]) {
      expect(content.PACKAGES).not.toContain(p);
    }
    expect(content.MASKED_UNITS).toEqual(
      expect.arrayContaining(["apt-daily.timer", "apt-daily-upgrade.timer"]),
    );
  });

  it("generates one ed25519 host key per instance and keeps disk growth", () => {
    expect(cfg.ssh_genkeytypes).toEqual(["ed25519"]);
    expect(modules).toEqual(
      expect.arrayContaining(["ssh", "users_groups", "growpart", "resizefs"]),
    );
  });

  it("boots with the serial console last, so /dev/console is ttyS0", () => {
    expect(content.KERNEL_CMDLINE).toMatch(/console=tty0 .*console=ttyS0/);
    expect(content.GRUB_DEFAULTS).toContain(`GRUB_CMDLINE_LINUX="${content.KERNEL_CMDLINE}"`);
  });
});
