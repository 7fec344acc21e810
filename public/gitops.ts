// The GitOps page's "Make deploy key" button (views/gitops.tsx): it asks the server for a new
// ed25519 key pair (POST /api/v1/gitops/deploy-key, authenticated by the session's cookie as the
// API allows from this origin, with the page's CSRF token besides) and shows the public key it
// answers, {public_key}, with its Copy button. The private key never reaches the page. The button
// needs the script, so it stays hidden until copy.ts marks the page "js" (gitops.css).
document.addEventListener("click", (event) => {
  const button = (event.target as Element | null)?.closest<HTMLButtonElement>("button[data-deploy-key]");
  if (!button) return;
  const shown = document.getElementById("deploy-key-value");
  const key = document.getElementById("deploy-key");
  const error = document.getElementById("deploy-key-error");
  if (shown?.hidden === false && !window.confirm("Make a new deploy key? The old one stops working: paste the new one into the forge.")) return;
  const token = document.querySelector<HTMLMetaElement>('meta[name="csrf-token"]')?.content ?? "";
  button.disabled = true;
  if (error) error.hidden = true;
  fetch(button.dataset.deployKey!, {
    method: "POST",
    credentials: "same-origin",
    headers: { "content-type": "application/json", "x-csrf-token": token },
    body: "{}",
  })
    .then(async (res) => {
      const body = (await res.json().catch(() => null)) as { public_key?: string; error?: { message?: string } } | null;
      if (!res.ok || typeof body?.public_key !== "string") {
        // A server without the route says "no route for POST …": older than deploy keys.
        const said = body?.error?.message ?? `the server answered ${res.status}`;
        throw new Error(said.startsWith("no route") ? "this server cannot make deploy keys yet" : said);
      }
      if (key) key.textContent = body.public_key;
      if (shown) shown.hidden = false;
      button.textContent = "Make a new deploy key";
    })
    .catch((e: Error) => {
      if (!error) return;
      error.textContent = `No deploy key made: ${e.message}.`;
      error.hidden = false;
    })
    .finally(() => (button.disabled = false));
});
