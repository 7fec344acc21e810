// Times in the viewer's own zone: the server writes UTC (it does not know the zone), and this
// rewrites each <time data-local> and the timeline's tick labels in the browser's zone, keeping
// the UTC text as the element's title. Without a script the UTC text stays, and says so.
const dateTime = new Intl.DateTimeFormat(undefined, { year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit" });
const hourMinute = new Intl.DateTimeFormat(undefined, { hour: "numeric", minute: "2-digit" });
const hour = new Intl.DateTimeFormat(undefined, { hour: "numeric" });
const day = new Intl.DateTimeFormat(undefined, { month: "short", day: "numeric" });
const DAY_MS = 86_400_000;

function localise(root: ParentNode): void {
  root.querySelectorAll<HTMLTimeElement>("time[data-local]").forEach((el) => {
    const at = Date.parse(el.dateTime);
    if (!Number.isFinite(at) || el.dataset.localised) return;
    el.title = el.textContent ?? "";
    el.textContent = dateTime.format(at);
    el.dataset.localised = "1";
  });
  root.querySelectorAll<SVGTextElement>("text[data-tick]").forEach((el) => {
    const at = Number(el.dataset.tick);
    if (!Number.isFinite(at)) return;
    // The shortest words: "Dec 3" for days, "6 PM" (or "18") on the hour, "6:30 PM" otherwise.
    el.textContent = Number(el.dataset.step) >= DAY_MS ? day.format(at) : new Date(at).getMinutes() === 0 ? hour.format(at) : hourMinute.format(at);
  });
  const zone = Intl.DateTimeFormat().resolvedOptions().timeZone;
  root.querySelectorAll<HTMLElement>("[data-zone]").forEach((el) => {
    el.textContent = `Times in ${zone}`;
  });
}

localise(document);
// Parts htmx swaps in later.
document.addEventListener("htmx:after:swap", () => localise(document));

// A filter form marked data-autosubmit applies a changed select at once (its button still works).
document.addEventListener("change", (event) => {
  const target = event.target;
  if (target instanceof HTMLSelectElement && target.form?.hasAttribute("data-autosubmit")) target.form.requestSubmit();
});
