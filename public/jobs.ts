// The jobs list's select-all: ticks every job of the page at once. A listener on the document, so
// it also holds for the results htmx swaps in. The box stays hidden without a script (jobs.css
// shows it once copy.ts has marked the page "js").
document.addEventListener("change", (event) => {
  const box = event.target as HTMLInputElement;
  if (box.id !== "select-all") return;
  box.form?.querySelectorAll<HTMLInputElement>('input[type="checkbox"][name="job"]').forEach((row) => (row.checked = box.checked));
});
