// A browser without a browser, for the console's HTTP tests: keeps cookies, follows nothing by
// itself, reads the CSRF token of the last page, and posts forms as a browser would.
export class FormClient {
  readonly cookies = new Map<string, string>();
  /** The last page's CSRF token (its hidden csrf field). */
  csrf = "";

  constructor(readonly base: string) {}

  private headers(extra: Record<string, string> = {}): Headers {
    const h = new Headers(extra);
    if (this.cookies.size) h.set("cookie", [...this.cookies].map(([k, v]) => `${k}=${v}`).join("; "));
    return h;
  }

  private keep(r: Response): Response {
    for (const c of r.headers.getSetCookie()) {
      const [pair, ...attrs] = c.split(";");
      const i = pair!.indexOf("=");
      const name = pair!.slice(0, i).trim();
      const value = pair!.slice(i + 1).trim();
      if (!value || attrs.some((a) => /^\s*max-age=0\s*$/i.test(a))) this.cookies.delete(name);
      else this.cookies.set(name, value);
    }
    return r;
  }

  /** GET a page; remembers its CSRF token. Returns the answer and its text. */
  async get(path: string, headers: Record<string, string> = {}): Promise<{ r: Response; html: string }> {
    const r = this.keep(await fetch(this.base + path, { headers: this.headers(headers), redirect: "manual" }));
    const html = await r.text();
    const token = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
    if (token) this.csrf = token;
    return { r, html };
  }

  /** POST a form (urlencoded; an array is a repeated field), with the page's CSRF token unless `csrf: null` or another is given. */
  async post(path: string, form: Record<string, string | string[]>, opts: { csrf?: string | null; headers?: Record<string, string> } = {}): Promise<{ r: Response; html: string }> {
    const body = new URLSearchParams(Object.entries(form).flatMap(([k, v]) => (Array.isArray(v) ? v : [v]).map((x) => [k, x])));
    const token = opts.csrf === undefined ? this.csrf : opts.csrf;
    if (token !== null) body.set("csrf", token);
    const r = this.keep(
      await fetch(this.base + path, {
        method: "POST",
        headers: this.headers({ "content-type": "application/x-www-form-urlencoded", origin: this.base, ...opts.headers }),
        body,
        redirect: "manual",
      }),
    );
    const html = await r.text();
    const t = /name="csrf" value="([^"]+)"/.exec(html)?.[1];
    if (t) this.csrf = t;
    return { r, html };
  }

  /** Signs in through the login form; returns where it redirected. */
  async login(email: string, password: string, next = ""): Promise<string | null> {
    await this.get(`/login${next ? `?next=${encodeURIComponent(next)}` : ""}`);
    const { r } = await this.post("/login", { email, password, next });
    return r.headers.get("location");
  }
}
