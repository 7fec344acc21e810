// Where a remote's files and commits are on its forge's web pages, for links from the console (an
// error to its file and line, a job to its manifest, a commit). Pure: a remote URL in, web URLs or
// null out. Known by the host: github.com, gitlab.com (and hosts named gitlab.*), codeberg.org,
// gitea.com and any host with "gitea" or "forgejo" in its name. An ssh remote
// (git@github.com:o/r.git, ssh://git@host/o/r.git) links to the same host over https. Anything
// else (file:// and local paths, an unknown host, a URL with a query) gets no link: the console
// shows plain text rather than a guess that 404s.

export type Forge = "github" | "gitlab" | "gitea";

export interface ForgeRepo {
  forge: Forge;
  /** The repository's web page: https://github.com/acme/jobs */
  web: string;
}

const COMMIT_RE = /^[0-9a-f]{7,64}$/;
const HOST_RE = /^[a-z0-9]([a-z0-9.-]*[a-z0-9])?$/;
const SEGMENT_RE = /^[A-Za-z0-9._~-]+$/;

function forgeOfHost(host: string): Forge | null {
  if (host === "github.com" || host === "www.github.com") return "github";
  if (host === "gitlab.com" || host.startsWith("gitlab.")) return "gitlab";
  if (host === "codeberg.org" || host === "gitea.com" || /gitea|forgejo/.test(host)) return "gitea";
  return null;
}

/** The host and the repository's path (owner/name, GitLab's groups too) of an https or ssh remote; null for others. */
function hostAndPath(remote: string): { host: string; path: string } | null {
  let host: string;
  let path: string;
  const scp = /^(?:[A-Za-z0-9._-]+@)?([A-Za-z0-9.-]+):(?!\/\/)(.+)$/.exec(remote);
  if (remote.startsWith("https://") || remote.startsWith("ssh://")) {
    let u: URL;
    try {
      u = new URL(remote);
    } catch {
      return null;
    }
    if (u.search || u.hash || u.password || (u.protocol === "https:" && u.username)) return null;
    host = u.hostname;
    path = decodeURIComponent(u.pathname);
  } else if (scp && !remote.includes("://")) {
    host = scp[1]!;
    path = scp[2]!;
  } else return null;
  host = host.toLowerCase();
  path = path.replace(/^\/+/, "").replace(/\/+$/, "").replace(/\.git$/, "");
  const segments = path.split("/");
  if (!HOST_RE.test(host) || segments.length < 2 || !segments.every((s) => SEGMENT_RE.test(s) && s !== "." && s !== "..")) return null;
  return { host, path };
}

/** The forge and web page of a remote, or null when it has none this knows. */
export function forgeRepo(remote: string): ForgeRepo | null {
  const hp = hostAndPath(remote);
  if (!hp) return null;
  const forge = forgeOfHost(hp.host);
  return forge ? { forge, web: `https://${hp.host}/${hp.path}` } : null;
}

const encodePath = (path: string) => path.split("/").map(encodeURIComponent).join("/");

/**
 * A file at a commit on the forge, at a line when given:
 * GitHub `<repo>/blob/<commit>/<path>#L<line>`, GitLab `<repo>/-/blob/<commit>/<path>#L<line>`,
 * Gitea and Forgejo `<repo>/src/commit/<commit>/<path>#L<line>` (their `/blob/` is by blob id, not path).
 */
export function forgeFileUrl(remote: string, commit: string | null | undefined, path: string | null | undefined, line?: number | null): string | null {
  const repo = forgeRepo(remote);
  if (!repo || !commit || !COMMIT_RE.test(commit) || !path || path.startsWith("/") || path.split("/").some((s) => s === "" || s === "." || s === "..")) return null;
  const at = { github: "blob", gitlab: "-/blob", gitea: "src/commit" }[repo.forge];
  const anchor = line && Number.isInteger(line) && line > 0 ? `#L${line}` : "";
  return `${repo.web}/${at}/${commit}/${encodePath(path)}${anchor}`;
}

/** A commit's page on the forge: `<repo>/commit/<sha>`, GitLab `<repo>/-/commit/<sha>`. */
export function forgeCommitUrl(remote: string, commit: string | null | undefined): string | null {
  const repo = forgeRepo(remote);
  if (!repo || !commit || !COMMIT_RE.test(commit)) return null;
  return `${repo.web}/${repo.forge === "gitlab" ? "-/commit" : "commit"}/${commit}`;
}
