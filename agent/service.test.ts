import { afterAll, describe, expect, test } from "bun:test";
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Invalid } from "../src/errors";
import type { CommandRunner } from "./spawn";
import {
  AGENT_TASK,
  agentTaskXml,
  installService,
  launchdPlist,
  serviceFile,
  ServiceError,
  systemdUnit,
  uninstallService,
  type ServiceOptions,
} from "./service";

const GOLDEN = join(import.meta.dir, "testdata", "service");
const temps: string[] = [];
const temp = () => {
  const d = mkdtempSync(join(tmpdir(), "crontopus-service-"));
  temps.push(d);
  return d;
};
afterAll(() => {
  for (const d of temps) rmSync(d, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------------------
// Rendered definitions, against golden files

const GOLDEN_CASES: Array<{ file: string; render: () => string }> = [
  {
    file: "systemd-root.service",
    render: () => systemdUnit({ binary: "/usr/local/bin/crontopus", configPath: "/etc/crontopus/agent.json" }),
  },
  {
    file: "systemd-user.service",
    render: () => systemdUnit({ binary: "/home/alice/.local/bin/crontopus", configPath: "/home/alice/.config/crontopus/agent.json", scope: "user" }),
  },
  {
    file: "systemd-as-user.service",
    render: () => systemdUnit({ binary: "/usr/local/bin/crontopus", configPath: "/etc/crontopus/deploy.json", user: "deploy" }),
  },
  {
    file: "systemd-tricky-paths.service",
    render: () => systemdUnit({ binary: "/opt/Crontopus Agent/crontopus", configPath: '/etc/crontopus/100% "agent" $HOME\\x.json' }),
  },
  {
    file: "launchd-daemon.plist",
    render: () => launchdPlist({ binary: "/usr/local/bin/crontopus", configPath: "/etc/crontopus/agent.json" }),
  },
  {
    file: "launchd-agent.plist",
    render: () =>
      launchdPlist({
        binary: "/Users/alice/bin/crontopus",
        configPath: "/Users/alice/.config/crontopus/agent.json",
        logPath: "/Users/alice/Library/Logs/crontopus-agent.log",
      }),
  },
  {
    file: "launchd-tricky-paths.plist",
    render: () => launchdPlist({ binary: "/Applications/R&D <tools>/crontopus", configPath: "/Users/alice/agent config.json" }),
  },
  {
    file: "windows-task.xml",
    render: () => agentTaskXml({ binary: "C:\\Program Files\\Crontopus\\crontopus.exe", configPath: "C:\\ProgramData\\Crontopus\\agent.json" }),
  },
  {
    file: "windows-tricky-paths.xml",
    render: () => agentTaskXml({ binary: "D:\\R&D\\crontopus.exe", configPath: "D:\\Agent Config\\100%PATH%\\agent.json" }),
  },
];

describe("service definitions", () => {
  test.each(GOLDEN_CASES.map((c) => [c.file, c] as const))("match testdata/service/%s byte for byte", (file, c) => {
    const text = c.render();
    const path = join(GOLDEN, file);
    if (process.env.UPDATE_GOLDEN === "1") writeFileSync(path, text);
    expect(text).toBe(readFileSync(path, "utf8"));
  });

  test("every golden file has a test case (delete stale ones after renaming)", () => {
    expect(readdirSync(GOLDEN).sort()).toEqual(GOLDEN_CASES.map((c) => c.file).sort());
  });

  test("the root unit never sets NoNewPrivileges or a read-only /etc or /var", () => {
    const unit = systemdUnit({ binary: "/usr/local/bin/crontopus", configPath: "/etc/crontopus/agent.json" });
    expect(unit).not.toMatch(/^NoNewPrivileges=/m);
    expect(unit).not.toMatch(/^ProtectSystem=(full|strict)/m);
    expect(unit).toContain("ExecStart=/usr/local/bin/crontopus agent run --config /etc/crontopus/agent.json\n");
  });

  test("a unit running as another account drops the options that would imply NoNewPrivileges", () => {
    const unit = systemdUnit({ binary: "/usr/local/bin/crontopus", configPath: "/etc/crontopus/agent.json", user: "deploy" });
    expect(unit).toContain("User=deploy\n");
    for (const option of ["ProtectKernelTunables", "ProtectKernelModules", "ProtectKernelLogs", "ProtectControlGroups", "RestrictRealtime", "LockPersonality", "SystemCallArchitectures"]) {
      expect(unit).not.toContain(`${option}=`);
    }
  });

  test("takes an argv prefix for the executable, as when crontopus runs from source under bun", () => {
    const binary = ["/usr/local/bin/bun", "/opt/crontopus/src/main.ts"];
    expect(systemdUnit({ binary, configPath: "/etc/crontopus/agent.json" })).toContain(
      "ExecStart=/usr/local/bin/bun /opt/crontopus/src/main.ts agent run --config /etc/crontopus/agent.json\n",
    );
    expect(launchdPlist({ binary, configPath: "/etc/crontopus/agent.json" })).toContain(
      "    <string>/usr/local/bin/bun</string>\n    <string>/opt/crontopus/src/main.ts</string>\n    <string>agent</string>\n",
    );
    const xml = agentTaskXml({ binary: ["C:\\Tools\\bun.exe", "C:\\Crontopus App\\main.ts"], configPath: "C:\\ProgramData\\Crontopus\\agent.json" });
    expect(xml).toContain("<Command>C:\\Tools\\bun.exe</Command>");
    expect(xml).toContain('<Arguments>"C:\\Crontopus App\\main.ts" agent run --config C:\\ProgramData\\Crontopus\\agent.json</Arguments>');
    expect(() => systemdUnit({ binary: [], configPath: "/etc/a.json" })).toThrow(Invalid);
  });

  test("refuses relative paths, odd user names and an executable path Task Scheduler would expand", () => {
    expect(() => systemdUnit({ binary: "crontopus", configPath: "/etc/crontopus/agent.json" })).toThrow(Invalid);
    expect(() => systemdUnit({ binary: "/usr/bin/crontopus", configPath: "/etc/a\nExecStartPre=/bin/evil" })).toThrow(Invalid);
    expect(() => systemdUnit({ binary: "/usr/bin/crontopus", configPath: "/etc/a.json", user: "root\nUser=x" })).toThrow(Invalid);
    expect(() => launchdPlist({ binary: "./crontopus", configPath: "/etc/a.json" })).toThrow(Invalid);
    expect(() => agentTaskXml({ binary: "C:\\%TEMP%\\crontopus.exe", configPath: "C:\\a.json" })).toThrow(Invalid);
    expect(() => agentTaskXml({ binary: "crontopus.exe", configPath: "C:\\a.json" })).toThrow(Invalid);
  });
});

// systemd's own parser, where this machine has one.
const systemdAnalyze = Bun.which("systemd-analyze");

describe.skipIf(!systemdAnalyze)("systemd-analyze verify", () => {
  async function verify(unit: string, user: boolean): Promise<{ code: number; stderr: string }> {
    const dir = temp();
    const path = join(dir, "crontopus-agent.service");
    writeFileSync(path, unit);
    mkdirSync(join(dir, "run"));
    const proc = Bun.spawn([systemdAnalyze!, ...(user ? ["--user"] : []), "verify", "--man=no", path], {
      // A user manager wants a runtime directory; a temporary one is enough.
      env: { ...process.env, XDG_RUNTIME_DIR: join(dir, "run"), SYSTEMD_LOG_LEVEL: "warning" },
      stdout: "pipe",
      stderr: "pipe",
    });
    const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    return { code, stderr };
  }

  /** An executable in a directory whose name needs quoting and %-escaping; verify checks it exists. */
  function trickyBinary(): string {
    const dir = join(temp(), "Crontopus Agent 100%");
    mkdirSync(dir);
    const binary = join(dir, "crontopus");
    writeFileSync(binary, "#!/bin/sh\n");
    chmodSync(binary, 0o755);
    return binary;
  }

  test("accepts the system unit without a warning", async () => {
    const r = await verify(systemdUnit({ binary: trickyBinary(), configPath: '/etc/crontopus/100% "agent" $HOME.json' }), false);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  test("accepts the unit that runs as another account", async () => {
    const r = await verify(systemdUnit({ binary: trickyBinary(), configPath: "/etc/crontopus/agent.json", user: "nobody" }), false);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  test("accepts the user unit without a warning", async () => {
    const r = await verify(systemdUnit({ binary: trickyBinary(), configPath: "/home/alice/.config/crontopus/agent.json", scope: "user" }), true);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
});

// Python's plist and XML parsers, where this machine has them: the escaping reads back.
const python = Bun.which("python3");

describe.skipIf(!python)("parsed back by python3", () => {
  test("the plist's ProgramArguments are the agent's argv", async () => {
    const dir = temp();
    const path = join(dir, "agent.plist");
    const binary = "/Applications/R&D <tools>/crontopus";
    writeFileSync(path, launchdPlist({ binary, configPath: "/Users/alice/agent config.json" }));
    const proc = Bun.spawn([python!, "-c", "import json,plistlib,sys; print(json.dumps(plistlib.load(open(sys.argv[1],'rb'))))", path], { stdout: "pipe" });
    const plist = JSON.parse(await new Response(proc.stdout).text());
    expect(plist.ProgramArguments).toEqual([binary, "agent", "run", "--config", "/Users/alice/agent config.json"]);
    expect(plist).toMatchObject({ Label: "io.crontopus.agent", RunAtLoad: true, KeepAlive: true });
  });

  test("the task XML is well-formed UTF-16 with the agent's command", async () => {
    const dir = temp();
    const path = join(dir, "task.xml");
    const { utf16le } = await import("./taskxml");
    writeFileSync(path, utf16le(agentTaskXml({ binary: "D:\\R&D\\crontopus.exe", configPath: "C:\\ProgramData\\Crontopus\\agent.json" })));
    const script = [
      "import sys, xml.etree.ElementTree as ET",
      "ns = {'t': 'http://schemas.microsoft.com/windows/2004/02/mit/task'}",
      "root = ET.parse(sys.argv[1]).getroot()",
      "print(root.find('t:Actions/t:Exec/t:Command', ns).text)",
      "print(root.find('t:Actions/t:Exec/t:Arguments', ns).text)",
      "print(root.find('t:Principals/t:Principal/t:UserId', ns).text)",
    ].join("\n");
    const proc = Bun.spawn([python!, "-c", script, path], { stdout: "pipe", stderr: "pipe" });
    const out = await new Response(proc.stdout).text();
    expect(await proc.exited).toBe(0);
    expect(out).toBe("D:\\R&D\\crontopus.exe\nagent run --config C:\\ProgramData\\Crontopus\\agent.json\nS-1-5-18\n");
  });
});

// ---------------------------------------------------------------------------------------
// Installing: real files in a temporary root, service managers played by a recording fake

interface Reply {
  code: number;
  stdout?: string;
  stderr?: string;
}

/** Plays systemctl / launchctl / schtasks: records each argv and answers 0 unless `answer` says otherwise. */
function fakeRunner(answer: (argv: string[]) => Reply | undefined = () => undefined) {
  const calls: string[][] = [];
  const runner: CommandRunner = {
    async run(argv) {
      calls.push(argv);
      const r = answer(argv) ?? { code: 0 };
      return { code: r.code, stdout: r.stdout ?? "", stderr: r.stderr ?? "" };
    },
  };
  return { runner, calls };
}

const LINUX_ROOT: ServiceOptions = { platform: "linux", root: true, binary: "/usr/local/bin/crontopus", configPath: "/etc/crontopus/agent.json" };
const LINUX_ALICE: ServiceOptions = {
  platform: "linux",
  root: false,
  home: "/home/alice",
  configHome: "/home/alice/.config",
  binary: "/home/alice/.local/bin/crontopus",
  configPath: "/home/alice/.config/crontopus/agent.json",
};
const MAC_ROOT: ServiceOptions = { platform: "darwin", root: true, binary: "/usr/local/bin/crontopus", configPath: "/etc/crontopus/agent.json" };
const MAC_ALICE: ServiceOptions = {
  platform: "darwin",
  root: false,
  home: "/Users/alice",
  uid: 501,
  binary: "/Users/alice/bin/crontopus",
  configPath: "/Users/alice/.config/crontopus/agent.json",
};
const WINDOWS: ServiceOptions = {
  platform: "win32",
  tmpDir: "/tmp",
  binary: "C:\\Program Files\\Crontopus\\crontopus.exe",
  configPath: "C:\\ProgramData\\Crontopus\\agent.json",
};

describe("installService on Linux", () => {
  test("as root: writes the system unit, reloads systemd and enables it now", async () => {
    const root = temp();
    const { runner, calls } = fakeRunner();
    const steps = await installService(LINUX_ROOT, runner, root);

    const path = join(root, "etc/systemd/system/crontopus-agent.service");
    expect(readFileSync(path, "utf8")).toBe(systemdUnit({ binary: LINUX_ROOT.binary, configPath: LINUX_ROOT.configPath }));
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(calls).toEqual([
      ["systemctl", "daemon-reload"],
      ["systemctl", "enable", "--now", "crontopus-agent.service"],
    ]);
    expect(steps).toEqual([
      "wrote /etc/systemd/system/crontopus-agent.service",
      "enabled and started crontopus-agent.service (systemctl enable --now)",
    ]);
  });

  test("installing again restarts the running agent so it picks up a new binary", async () => {
    const root = temp();
    await installService(LINUX_ROOT, fakeRunner().runner, root);
    const { runner, calls } = fakeRunner();
    await installService({ ...LINUX_ROOT, binary: "/opt/crontopus/crontopus" }, runner, root);
    expect(calls.at(-1)).toEqual(["systemctl", "restart", "crontopus-agent.service"]);
    expect(readFileSync(join(root, "etc/systemd/system/crontopus-agent.service"), "utf8")).toContain("ExecStart=/opt/crontopus/crontopus agent run");
  });

  test("as alice: a user unit under ~/.config driven by systemctl --user, with a word on lingering", async () => {
    const root = temp();
    const { runner, calls } = fakeRunner();
    const steps = await installService(LINUX_ALICE, runner, root);
    const unit = readFileSync(join(root, "home/alice/.config/systemd/user/crontopus-agent.service"), "utf8");
    expect(unit).toContain("WantedBy=default.target");
    expect(unit).not.toContain("ProtectSystem");
    expect(calls).toEqual([
      ["systemctl", "--user", "daemon-reload"],
      ["systemctl", "--user", "enable", "--now", "crontopus-agent.service"],
    ]);
    expect(steps.at(-1)).toContain("loginctl enable-linger");
  });

  test("fails with systemctl's own message when the unit does not start", async () => {
    const root = temp();
    const { runner } = fakeRunner((argv) =>
      argv.includes("enable") ? { code: 1, stderr: "Job for crontopus-agent.service failed because the control process exited with error code.\n" } : undefined,
    );
    const install = installService(LINUX_ROOT, runner, root);
    await expect(install).rejects.toBeInstanceOf(ServiceError);
    await expect(install).rejects.toThrow("systemctl enable --now crontopus-agent.service failed (exit 1): Job for crontopus-agent.service failed");
  });

  test("a runner that cannot start systemctl at all is a ServiceError too", async () => {
    const runner: CommandRunner = {
      run: async () => {
        throw new Error("ENOENT: systemctl not found");
      },
    };
    await expect(installService(LINUX_ROOT, runner, temp())).rejects.toThrow("systemctl daemon-reload failed (exit -1): ENOENT: systemctl not found");
  });

  test("uninstall stops and disables the unit, removes it and reloads systemd", async () => {
    const root = temp();
    await installService(LINUX_ROOT, fakeRunner().runner, root);
    const { runner, calls } = fakeRunner();
    const steps = await uninstallService({ platform: "linux", root: true }, runner, root);
    expect(existsSync(join(root, "etc/systemd/system/crontopus-agent.service"))).toBe(false);
    expect(calls).toEqual([
      ["systemctl", "disable", "--now", "crontopus-agent.service"],
      ["systemctl", "daemon-reload"],
    ]);
    expect(steps).toEqual(["stopped and disabled crontopus-agent.service", "removed /etc/systemd/system/crontopus-agent.service"]);
  });

  test("a failed install takes its unit file out again and tells systemd", async () => {
    const root = temp();
    const { runner, calls } = fakeRunner((argv) => (argv.includes("enable") ? { code: 1, stderr: "Failed to enable unit: Unit file crontopus-agent.service does not exist.\n" } : undefined));
    await expect(installService(LINUX_ROOT, runner, root)).rejects.toThrow(
      "systemctl enable --now crontopus-agent.service failed (exit 1): Failed to enable unit: Unit file crontopus-agent.service does not exist.; removed /etc/systemd/system/crontopus-agent.service again",
    );
    expect(existsSync(join(root, "etc/systemd/system/crontopus-agent.service"))).toBe(false);
    expect(calls.slice(-2)).toEqual([
      ["systemctl", "disable", "crontopus-agent.service"],
      ["systemctl", "daemon-reload"],
    ]);
  });

  test("a failed re-install puts the unit that was running back as it was", async () => {
    const root = temp();
    await installService(LINUX_ROOT, fakeRunner().runner, root);
    const path = join(root, "etc/systemd/system/crontopus-agent.service");
    const before = readFileSync(path, "utf8");
    const { runner } = fakeRunner((argv) => (argv.includes("daemon-reload") ? { code: 1, stderr: "Failed to reload daemon: Access denied\n" } : undefined));
    await expect(installService({ ...LINUX_ROOT, binary: "/opt/crontopus/crontopus" }, runner, root)).rejects.toThrow("put the earlier /etc/systemd/system/crontopus-agent.service back");
    expect(readFileSync(path, "utf8")).toBe(before);
  });

  test("uninstall removes the unit even when systemctl cannot stop it, and passes on what systemctl said", async () => {
    const root = temp();
    // As a failed install of an earlier version left it.
    mkdirSync(join(root, "etc/systemd/system"), { recursive: true });
    writeFileSync(join(root, "etc/systemd/system/crontopus-agent.service"), systemdUnit({ binary: LINUX_ROOT.binary, configPath: LINUX_ROOT.configPath }));
    const { runner, calls } = fakeRunner((argv) => (argv.includes("disable") ? { code: 1, stderr: "System has not been booted with systemd as init system (PID 1). Can't operate.\n" } : undefined));
    await expect(uninstallService({ platform: "linux", root: true }, runner, root)).rejects.toThrow(
      "removed /etc/systemd/system/crontopus-agent.service, but systemctl disable --now crontopus-agent.service failed (exit 1): System has not been booted with systemd",
    );
    expect(existsSync(join(root, "etc/systemd/system/crontopus-agent.service"))).toBe(false);
    expect(calls.at(-1)).toEqual(["systemctl", "daemon-reload"]);
  });

  test("a binary under /tmp can start: the unit keeps the host's /tmp visible, and install warns that /tmp is emptied at boot", async () => {
    const opts = { ...LINUX_ROOT, binary: "/tmp/crontopus/crontopus" };
    const unit = systemdUnit(opts);
    expect(unit).not.toMatch(/^PrivateTmp=/m);
    expect(unit).toContain("ExecStart=/tmp/crontopus/crontopus agent run");
    const steps = await installService(opts, fakeRunner().runner, temp());
    expect(steps.at(-1)).toBe(
      "note: /tmp/crontopus/crontopus is under a temporary directory that is emptied at boot; the agent and its cron lines stop working then: keep crontopus in /usr/local/bin",
    );
    expect((await installService(LINUX_ROOT, fakeRunner().runner, temp())).join("\n")).not.toContain("note:");
  });

  test("uninstall where nothing is installed says so and runs nothing", async () => {
    const { runner, calls } = fakeRunner();
    const steps = await uninstallService({ platform: "linux", root: true }, runner, temp());
    expect(calls).toEqual([]);
    expect(steps).toEqual(["no /etc/systemd/system/crontopus-agent.service: the service is not installed"]);
  });
});

describe("installService on macOS", () => {
  test("as root: a launch daemon bootstrapped into the system domain", async () => {
    const root = temp();
    // bootout of a job that is not loaded fails; that is expected on a first install.
    const { runner, calls } = fakeRunner((argv) => (argv[1] === "bootout" ? { code: 113, stderr: "Could not find service" } : undefined));
    const steps = await installService(MAC_ROOT, runner, root);

    const path = join(root, "Library/LaunchDaemons/io.crontopus.agent.plist");
    expect(readFileSync(path, "utf8")).toBe(launchdPlist({ binary: MAC_ROOT.binary, configPath: MAC_ROOT.configPath }));
    expect(statSync(path).mode & 0o777).toBe(0o644);
    expect(calls).toEqual([
      ["launchctl", "bootout", "system/io.crontopus.agent"],
      ["launchctl", "enable", "system/io.crontopus.agent"],
      ["launchctl", "bootstrap", "system", "/Library/LaunchDaemons/io.crontopus.agent.plist"],
    ]);
    expect(steps).toEqual(["wrote /Library/LaunchDaemons/io.crontopus.agent.plist", "loaded and started io.crontopus.agent (launchctl bootstrap system)"]);
  });

  test("as alice: a launch agent in ~/Library/LaunchAgents for her login session, logging to ~/Library/Logs", async () => {
    const root = temp();
    const { runner, calls } = fakeRunner();
    const steps = await installService(MAC_ALICE, runner, root);
    const plist = readFileSync(join(root, "Users/alice/Library/LaunchAgents/io.crontopus.agent.plist"), "utf8");
    expect(plist).toContain("<string>/Users/alice/Library/Logs/crontopus-agent.log</string>");
    expect(calls.at(-1)).toEqual(["launchctl", "bootstrap", "gui/501", "/Users/alice/Library/LaunchAgents/io.crontopus.agent.plist"]);
    // The earlier agent was loaded, so it was unloaded first.
    expect(steps).toContain("stopped the running agent (launchctl bootout gui/501/io.crontopus.agent)");
  });

  test("uninstall boots the job out and removes the plist", async () => {
    const root = temp();
    await installService(MAC_ROOT, fakeRunner().runner, root);
    const { runner, calls } = fakeRunner();
    const steps = await uninstallService({ platform: "darwin", root: true }, runner, root);
    expect(calls).toEqual([["launchctl", "bootout", "system/io.crontopus.agent"]]);
    expect(existsSync(join(root, "Library/LaunchDaemons/io.crontopus.agent.plist"))).toBe(false);
    expect(steps).toEqual(["stopped and unloaded io.crontopus.agent", "removed /Library/LaunchDaemons/io.crontopus.agent.plist"]);
  });
});

describe("installService on Windows", () => {
  test("creates \\Crontopus\\Agent from UTF-16 XML, runs it, and removes the XML file", async () => {
    const root = temp();
    let xmlBytes: Uint8Array | null = null;
    let xmlPath = "";
    const { runner, calls } = fakeRunner((argv) => {
      if (argv[1] === "/Create") {
        xmlPath = argv[argv.indexOf("/XML") + 1]!;
        xmlBytes = readFileSync(xmlPath);
      }
      return undefined;
    });
    const steps = await installService(WINDOWS, runner, root);

    expect(calls).toEqual([
      ["schtasks", "/Create", "/XML", xmlPath, "/TN", "\\Crontopus\\Agent", "/F"],
      ["schtasks", "/Run", "/TN", "\\Crontopus\\Agent"],
    ]);
    expect(xmlPath.startsWith(join(root, "tmp"))).toBe(true);
    const bytes = xmlBytes!;
    expect([bytes[0], bytes[1]]).toEqual([0xff, 0xfe]);
    expect(new TextDecoder("utf-16le").decode(bytes.subarray(2))).toBe(agentTaskXml({ binary: WINDOWS.binary, configPath: WINDOWS.configPath }));
    expect(existsSync(xmlPath)).toBe(false);
    expect(steps).toEqual(["created the start-up task \\Crontopus\\Agent (runs at boot as SYSTEM)", "started \\Crontopus\\Agent"]);
  });

  test("a refused /Create is reported and leaves no XML file behind", async () => {
    const root = temp();
    const { runner, calls } = fakeRunner((argv) => (argv[1] === "/Create" ? { code: 1, stderr: "ERROR: Access is denied.\r\n" } : undefined));
    await expect(installService(WINDOWS, runner, root)).rejects.toThrow("failed (exit 1): ERROR: Access is denied.");
    expect(calls).toHaveLength(1);
    expect(readdirSync(join(root, "tmp"))).toEqual([]);
  });

  test("uninstall ends and deletes the task", async () => {
    const { runner, calls } = fakeRunner((argv) => (argv[1] === "/End" ? { code: 1, stderr: "ERROR: no running instance" } : undefined));
    const steps = await uninstallService({ platform: "win32" }, runner, temp());
    expect(calls).toEqual([
      ["schtasks", "/Query", "/TN", AGENT_TASK],
      ["schtasks", "/End", "/TN", AGENT_TASK],
      ["schtasks", "/Delete", "/TN", AGENT_TASK, "/F"],
    ]);
    expect(steps).toEqual(["deleted \\Crontopus\\Agent"]);
  });

  test("uninstall where no task exists says so", async () => {
    const { runner, calls } = fakeRunner(() => ({ code: 1, stderr: "ERROR: The system cannot find the file specified." }));
    const steps = await uninstallService({ platform: "win32" }, runner, temp());
    expect(calls).toHaveLength(1);
    expect(steps).toEqual(["no task \\Crontopus\\Agent: the service is not installed"]);
  });
});

describe("serviceFile and unsupported platforms", () => {
  test("names the definition's location per platform and scope", () => {
    expect(serviceFile({ platform: "linux", root: true })).toBe("/etc/systemd/system/crontopus-agent.service");
    expect(serviceFile({ platform: "linux", root: false, home: "/home/bob", configHome: "/home/bob/.config" })).toBe(
      "/home/bob/.config/systemd/user/crontopus-agent.service",
    );
    expect(serviceFile({ platform: "darwin", root: false, home: "/Users/bob" })).toBe("/Users/bob/Library/LaunchAgents/io.crontopus.agent.plist");
    expect(serviceFile({ platform: "win32" })).toBe("\\Crontopus\\Agent");
  });

  test("FreeBSD gets a clear refusal instead of a half-installed service", async () => {
    const { runner, calls } = fakeRunner();
    await expect(installService({ ...LINUX_ROOT, platform: "freebsd" }, runner, temp())).rejects.toThrow("no service installer for freebsd");
    expect(calls).toEqual([]);
  });
});
