// The jobs pages' own behaviour, as a listener on the document (so it also holds for what htmx
// swaps in): tick every job of the list at once. The box stays hidden without a script (jobs.css
// shows it once public/copy.ts has marked the page "js"). Copy buttons: public/copy.ts.
document.addEventListener("change", (event) => {
  const box = event.target as HTMLInputElement;
  if (box.id !== "select-all") return;
  box.form?.querySelectorAll<HTMLInputElement>('input[type="checkbox"][name="job"]').forEach((row) => (row.checked = box.checked));
});
