// Facts about this host that enrollment sends: name, platform, architecture, OS version,
// scheduler and a stable machine id.
import { readFileSync } from "node:fs";
import { arch, hostname, platform, release, version } from "node:os";

export interface MachineFacts {
  hostname: string;
  platform: string;
  arch: string;
  os_version: string;
  scheduler: "crontab" | "schtasks";
  machine_id: string;
}

function run(argv: string[]): string {
  try {
    const p = Bun.spawnSync(argv, { stdout: "pipe", stderr: "ignore", timeout: 5_000 });
    return p.exitCode === 0 ? p.stdout.toString() : "";
  } catch {
    return "";
  }
}

/**
 * Linux /etc/machine-id (or D-Bus's copy), macOS IOPlatformUUID, Windows MachineGuid.
 * CRONTOPUS_MACHINE_ID overrides it (cloned images that share an id, tests).
 */
export function machineId(env: Record<string, string | undefined> = process.env): string {
  if (env.CRONTOPUS_MACHINE_ID) return env.CRONTOPUS_MACHINE_ID;
  const os = platform();
  if (os === "linux") {
    for (const f of ["/etc/machine-id", "/var/lib/dbus/machine-id"]) {
      try {
        const id = readFileSync(f, "utf8").trim();
        if (id) return id;
      } catch {}
    }
  } else if (os === "darwin") {
    const m = /"IOPlatformUUID"\s*=\s*"([^"]+)"/.exec(run(["ioreg", "-rd1", "-c", "IOPlatformExpertDevice"]));
    if (m) return m[1]!;
  } else if (os === "win32") {
    const m = /MachineGuid\s+REG_SZ\s+(\S+)/.exec(run(["reg", "query", "HKLM\\SOFTWARE\\Microsoft\\Cryptography", "/v", "MachineGuid"]));
    if (m) return m[1]!;
  }
  throw new Error("cannot read this machine's id (/etc/machine-id, IOPlatformUUID or MachineGuid); set CRONTOPUS_MACHINE_ID");
}

function osVersion(): string {
  if (platform() === "linux") {
    try {
      const m = /^PRETTY_NAME="?([^"\n]+)"?/m.exec(readFileSync("/etc/os-release", "utf8"));
      if (m) return `${m[1]} (kernel ${release()})`;
    } catch {}
  }
  if (platform() === "darwin") {
    const v = run(["sw_vers", "-productVersion"]).trim();
    if (v) return `macOS ${v}`;
  }
  try {
    return version();
  } catch {
    return release();
  }
}

export function machineFacts(): MachineFacts {
  const os = platform();
  return {
    hostname: hostname(),
    platform: os === "win32" ? "windows" : os,
    arch: arch(),
    os_version: osVersion(),
    scheduler: os === "win32" ? "schtasks" : "crontab",
    machine_id: machineId(),
  };
}
