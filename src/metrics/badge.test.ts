// Badges as pure functions: the SVG, its escaping, its width, and which status a label shows.
import { describe, expect, test } from "bun:test";
import { BADGE_COLORS, badgeEndpointJson, escapeXml, renderBadge, textWidth, worstStatus } from "./badge";

/**
 * A small well-formedness check: every tag closes in order, attributes are quoted, and no
 * raw `<` or stray `&` appears in text or attribute values.
 */
function checkXml(xml: string): void {
  const stack: string[] = [];
  const entity = /&(amp|lt|gt|quot|apos|#\d+|#x[0-9a-f]+);/gi;
  let i = 0;
  while (i < xml.length) {
    const lt = xml.indexOf("<", i);
    const text = xml.slice(i, lt < 0 ? xml.length : lt);
    if (text.replace(entity, "").includes("&")) throw new Error(`stray & in text: ${text}`);
    if (text.includes(">")) throw new Error(`stray > in text: ${text}`);
    if (lt < 0) break;
    const gt = xml.indexOf(">", lt);
    if (gt < 0) throw new Error("unclosed tag");
    const tag = xml.slice(lt + 1, gt);
    const m = /^(\/?)([a-zA-Z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)$/.exec(tag);
    if (!m) throw new Error(`malformed tag <${tag}>`);
    const [, closing, name, attrs, selfClosing] = m;
    if (attrs!.replace(entity, "").includes("&")) throw new Error(`stray & in attributes of <${name}>`);
    if (closing) {
      const open = stack.pop();
      if (open !== name) throw new Error(`</${name}> closes <${open}>`);
    } else if (!selfClosing) stack.push(name!);
    i = gt + 1;
  }
  if (stack.length) throw new Error(`unclosed <${stack.join("><")}>`);
}

/** The text of the visible (not aria-hidden) <text> elements, entities decoded. */
function visibleTexts(svg: string): string[] {
  const decode = (s: string) => s.replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&amp;/g, "&");
  return [...svg.matchAll(/<text x="[^"]*"[^>]*>([^<]*)<\/text>/g)].map((m) => decode(m[1]!));
}

describe("renderBadge", () => {
  test("draws the label on grey and the message on its colour, as well-formed SVG", () => {
    const svg = renderBadge("nightly-backup", "up", "#4c1");
    checkXml(svg);
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    expect(visibleTexts(svg)).toEqual(["nightly-backup", "up"]);
    expect(svg).toContain('fill="#555"');
    expect(svg).toContain('fill="#4c1"');
    expect(svg).toContain("<title>nightly-backup: up</title>");
  });

  test("escapes <, & and quotes in the label and the message", () => {
    const svg = renderBadge(`team=<b>&"x"`, `</text><script>alert(1)</script>`, "#e05d44");
    checkXml(svg);
    expect(svg).not.toContain("<script>");
    expect(svg).not.toContain("<b>");
    expect(svg).toContain("team=&lt;b&gt;&amp;&quot;x&quot;");
    expect(visibleTexts(svg)).toEqual([`team=<b>&"x"`, `</text><script>alert(1)</script>`]);
  });

  test("the checker itself rejects an unescaped badge", () => {
    // Guards the test above: were escaping lost, checkXml would have thrown.
    expect(() => checkXml(`<svg><text>a</text><script>x</text></svg>`)).toThrow();
    expect(() => checkXml(`<svg><text>a & b</text></svg>`)).toThrow();
    expect(() => checkXml(`<svg><rect aria-label="a"b"/></svg>`)).toThrow();
  });

  test("grows with its text: each half is the text's width plus 10 px", () => {
    const width = (svg: string) => Number(/^<svg [^>]*width="(\d+)"/.exec(svg)![1]);
    const short = width(renderBadge("db", "up", "#4c1"));
    const long = width(renderBadge("database-vacuum-and-reindex", "up", "#4c1"));
    expect(long - short).toBe(Math.round(textWidth("database-vacuum-and-reindex")) - Math.round(textWidth("db")));
    expect(short).toBe(Math.round(textWidth("db")) + 10 + Math.round(textWidth("up")) + 10);
    // The message's rectangle starts where the label's ends.
    const svg = renderBadge("db", "down", "#e05d44");
    const lw = Math.round(textWidth("db")) + 10;
    expect(svg).toContain(`<rect width="${lw}" height="20" fill="#555"/><rect x="${lw}"`);
  });
});

describe("textWidth", () => {
  test("follows Verdana's proportions: W is wide, i and l are narrow", () => {
    expect(textWidth("W")).toBeGreaterThan(textWidth("w"));
    expect(textWidth("w")).toBeGreaterThan(textWidth("i"));
    expect(textWidth("il")).toBeCloseTo(6.0, 0);
    expect(textWidth("up")).toBeCloseTo(13.7, 0);
    expect(textWidth("")).toBe(0);
    expect(textWidth("日本")).toBe(22);
  });
});

describe("escapeXml", () => {
  test("replaces the five XML specials and nothing else", () => {
    expect(escapeXml(`<a href="x">Tom & Jerry's</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;Tom &amp; Jerry&apos;s&lt;/a&gt;");
    expect(escapeXml("plain-name_1.2")).toBe("plain-name_1.2");
  });
});

describe("worstStatus", () => {
  test("ranks down > failed > late > running > up > new > paused", () => {
    expect(worstStatus(["up", "down", "failed"])).toBe("down");
    expect(worstStatus(["up", "failed", "late"])).toBe("failed");
    expect(worstStatus(["running", "late", "up"])).toBe("late");
    expect(worstStatus(["up", "running"])).toBe("running");
    expect(worstStatus(["new", "up", "paused"])).toBe("up");
    expect(worstStatus(["paused", "new"])).toBe("new");
    expect(worstStatus(["paused"])).toBe("paused");
  });

  test("is null for no jobs", () => {
    expect(worstStatus([])).toBeNull();
  });
});

describe("colours", () => {
  test("green for up, red for down and failed, orange for late, blue for running, grey otherwise", () => {
    expect(BADGE_COLORS.up.hex).toBe("#4c1");
    expect(BADGE_COLORS.down.hex).toBe("#e05d44");
    expect(BADGE_COLORS.failed.hex).toBe("#e05d44");
    expect(BADGE_COLORS.late.hex).toBe("#fe7d37");
    expect(BADGE_COLORS.running.hex).toBe("#007ec6");
    expect(BADGE_COLORS.new.hex).toBe("#9f9f9f");
    expect(BADGE_COLORS.paused.hex).toBe("#9f9f9f");
    expect(BADGE_COLORS["no jobs"].hex).toBe("#9f9f9f");
  });

  test("the shields.io endpoint JSON names the same colour", () => {
    expect(badgeEndpointJson({ label: "backup", status: "late" })).toEqual({ schemaVersion: 1, label: "backup", message: "late", color: "orange" });
    expect(badgeEndpointJson({ label: "team=data", status: "up" }).color).toBe("brightgreen");
  });
});
