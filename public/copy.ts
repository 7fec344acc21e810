// Copy buttons, on every page that has one (a job's ping URLs and snippets, a new token's secret):
// a button with data-copy="<selector>" copies the text of that element. A listener on the document,
// so it also holds for what htmx swaps in. The buttons stay hidden without a script (html.js shows
// them: see public/jobs.css).
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
