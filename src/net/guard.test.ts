// The outbound guard: the classifier as a pure function over every range it must know (no
// request is ever aimed at them), and the live guard proven with loopback only.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { checkTargetHost, classifyAddress, guardedFetch, parseIPv4, resolveTarget, TargetRefused } from "./guard";
import { send } from "../alerts/senders";
import { testMessage } from "../alerts/message";

const closed = { allowPrivate: false };
const open = { allowPrivate: true };

describe("classifyAddress", () => {
  test.each([
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["::1", "loopback"],
    ["0.0.0.0", "unspecified"],
    ["::", "unspecified"],
    ["10.1.2.3", "private"],
    ["172.16.0.1", "private"],
    ["172.31.255.255", "private"],
    ["192.168.1.1", "private"],
    ["100.64.0.1", "private"],
    ["169.254.169.254", "link-local"],
    ["169.254.0.1", "link-local"],
    ["fe80::1", "link-local"],
    ["fe80::1%eth0", "link-local"],
    ["fd00:ec2::254", "unique-local"],
    ["fc00::1", "unique-local"],
    ["224.0.0.1", "multicast"],
    ["ff02::1", "multicast"],
    ["255.255.255.255", "reserved"],
    ["2001:db8::1", "reserved"],
  ])("%s is %s", (ip, cls) => {
    expect(classifyAddress(ip)).toBe(cls as never);
  });

  test("IPv4 hidden in IPv6 is classified as the IPv4 address it reaches", () => {
    expect(classifyAddress("::ffff:127.0.0.1")).toBe("loopback");
    expect(classifyAddress("[::ffff:7f00:1]")).toBe("loopback");
    expect(classifyAddress("::ffff:169.254.169.254")).toBe("link-local");
    expect(classifyAddress("::ffff:a9fe:a9fe")).toBe("link-local");
    expect(classifyAddress("::ffff:10.0.0.1")).toBe("private");
    expect(classifyAddress("::127.0.0.1")).toBe("loopback");
    expect(classifyAddress("64:ff9b::a9fe:a9fe")).toBe("link-local");
    expect(classifyAddress("2002:7f00:1::")).toBe("loopback");
    expect(classifyAddress("::ffff:8.8.8.8")).toBe("public");
  });

  test("decimal, octal, hex and short IPv4 spellings are the same address", () => {
    for (const s of ["2130706433", "0177.0.0.1", "0x7f.0.0.1", "0x7f000001", "127.1", "127.0.1", "017700000001"]) {
      expect(`${s} ${classifyAddress(s)}`).toBe(`${s} loopback`);
    }
    expect(parseIPv4("2852039166")).toBe(parseIPv4("169.254.169.254")!);
    expect(classifyAddress("0251.0376.0251.0376")).toBe("link-local");
    expect(parseIPv4("256.0.0.1")).toBeNull();
    expect(parseIPv4("1.2.3.4.5")).toBeNull();
    expect(parseIPv4("hooks.example.com")).toBeNull();
  });

  test("public addresses, including the neighbours of private ranges, are public", () => {
    for (const ip of ["8.8.8.8", "1.1.1.1", "172.15.255.255", "172.32.0.0", "100.63.255.255", "100.128.0.0", "169.253.255.255", "11.0.0.0", "2606:4700:4700::1111", "2a00:1450::1"]) {
      expect(`${ip} ${classifyAddress(ip)}`).toBe(`${ip} public`);
    }
  });
});

describe("checkTargetHost, when a target is saved", () => {
  test("refuses literal internal addresses and localhost names", () => {
    for (const h of ["127.0.0.1", "2130706433", "0177.0.0.1", "::ffff:7f00:1", "169.254.169.254", "10.0.0.1", "fd00::1", "0", "localhost", "LOCALHOST.", "api.localhost"]) {
      expect(`${h}: ${checkTargetHost(h, closed) !== null}`).toBe(`${h}: true`);
    }
  });

  test("accepts public literals and any name without resolving it; allows everything when told to", () => {
    expect(checkTargetHost("8.8.8.8", closed)).toBeNull();
    expect(checkTargetHost("hooks.example.invalid", closed)).toBeNull();
    expect(checkTargetHost("127.0.0.1", open)).toBeNull();
  });
});

// A name this machine maps to loopback in /etc/hosts, other than localhost (e.g. the hostname).
function hostsNameForLoopback(): string | null {
  try {
    for (const line of readFileSync("/etc/hosts", "utf8").split("\n")) {
      const [ip, ...names] = line.replace(/#.*/, "").trim().split(/\s+/);
      if (!ip?.startsWith("127.")) continue;
      const name = names.find((n) => n && checkTargetHost(n, closed) === null);
      if (name) return name;
    }
  } catch {}
  return null;
}

describe("the live guard, against a receiver on loopback", () => {
  let receiver: ReturnType<typeof Bun.serve>;
  const hits: { path: string; host: string | null }[] = [];
  beforeAll(() => {
    receiver = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch(req) {
        hits.push({ path: new URL(req.url).pathname, host: req.headers.get("host") });
        return new Response("the receiver's answer");
      },
    });
  });
  afterAll(() => receiver.stop(true));
  const message = testMessage({ slug: "acme", name: "Acme" });

  const forms = () => {
    const port = receiver.port;
    const list = [`127.0.0.1:${port}`, `2130706433:${port}`, `0177.0.0.1:${port}`, `[::ffff:127.0.0.1]:${port}`, `localhost:${port}`, `localhost.:${port}`];
    const named = hostsNameForLoopback();
    if (named) list.push(`${named}:${port}`);
    return list;
  };

  test("every loopback spelling and every name resolving to loopback is refused, and nothing is sent", async () => {
    hits.length = 0;
    for (const host of forms()) {
      for (const type of ["webhook", "slack", "discord", "teams", "ntfy"]) {
        const result = await send({ type, config: { url: `http://${host}/api/v1/tenants` } }, message, { smtpUrl: null, smtpFrom: "x@y" });
        expect(`${type} ${host}: ${result.ok} ${result.error?.startsWith("refused: ")}`).toBe(`${type} ${host}: false true`);
        expect(result.body).toBeUndefined();
      }
    }
    expect(hits).toEqual([]);
  });

  test("the same targets are reached when internal targets are allowed", async () => {
    hits.length = 0;
    const reachable = [`127.0.0.1:${receiver.port}`, `2130706433:${receiver.port}`, `0177.0.0.1:${receiver.port}`, `localhost:${receiver.port}`];
    for (const host of reachable) {
      const result = await send({ type: "webhook", config: { url: `http://${host}/hook` } }, message, { smtpUrl: null, smtpFrom: "x@y", allowPrivateTargets: true });
      expect(`${host}: ${result.ok}`).toBe(`${host}: true`);
    }
    expect(hits).toHaveLength(reachable.length);
  });

  test("a name is resolved for each attempt, and the connection goes to the address checked", async () => {
    hits.length = 0;
    // A name whose answer changes between attempts, as a rebinding DNS server would.
    const answers = ["127.0.0.1"];
    const resolver = async () => answers;
    const url = new URL(`http://hooks.example.test:${receiver.port}/pinned`);
    await expect(guardedFetch(url, {}, closed, resolver)).rejects.toBeInstanceOf(TargetRefused);
    expect(hits).toEqual([]);
    // Allowed, the request goes to the resolved address, with the name in its Host header.
    const res = await guardedFetch(url, {}, open, resolver);
    expect(await res.text()).toBe("the receiver's answer");
    expect(hits).toEqual([{ path: "/pinned", host: `hooks.example.test:${receiver.port}` }]);
    // One public and one internal address: refused, whichever a connection would pick.
    await expect(resolveTarget("hooks.example.test", closed, async () => ["8.8.8.8", "169.254.169.254"])).rejects.toThrow(/169\.254\.169\.254, a link-local address/);
    await expect(resolveTarget("nowhere.invalid", closed)).rejects.toThrow(/cannot resolve/);
  });

  test("a redirect is never followed, wherever it points", async () => {
    const redirector = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => Response.redirect(`http://127.0.0.1:${receiver.port}/redirected`, 302) });
    hits.length = 0;
    try {
      const result = await send({ type: "webhook", config: { url: `http://127.0.0.1:${redirector.port}/hook` } }, message, { smtpUrl: null, smtpFrom: "x@y", allowPrivateTargets: true });
      expect(result).toMatchObject({ ok: false, code: 302 });
      expect(hits).toEqual([]);
    } finally {
      redirector.stop(true);
    }
  });
});
