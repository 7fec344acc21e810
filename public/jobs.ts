// The jobs pages' few behaviours, as listeners on the document (so they also hold for what htmx
// swaps in): copy a snippet or URL to the clipboard, and tick every job of the list at once. Both
// controls stay hidden without a script (jobs.css shows them once the page is marked "js").
document.documentElement.classList.add("js");

document.addEventListener("click", (event) => {
  const button = (event.target as Element | null)?.closest<HTMLButtonElement>("button[data-copy]");
  if (!button) return;
  const source = document.querySelector(button.dataset.copy!);
  if (!source) return;
  navigator.clipboard.writeText(source.textContent ?? "").then(
    () => {
      button.textContent = "Copied";
      button.classList.add("copied");
      setTimeout(() => {
        button.textContent = "Copy";
        button.classList.remove("copied");
      }, 2000);
    },
    () => {
      // No clipboard (an insecure origin): select the text for the user to copy.
      const range = document.createRange();
      range.selectNodeContents(source);
      const selection = window.getSelection();
      selection?.removeAllRanges();
      selection?.addRange(range);
    },
  );
});

document.addEventListener("change", (event) => {
  const box = event.target as HTMLInputElement;
  if (box.id !== "select-all") return;
  box.form?.querySelectorAll<HTMLInputElement>('input[type="checkbox"][name="job"]').forEach((row) => (row.checked = box.checked));
});
