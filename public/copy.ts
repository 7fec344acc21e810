// Copy buttons, on every console page: a <button data-copy="#id"> copies the text of the element it
// names to the clipboard and says "Copied" for a moment. The buttons stay hidden without a script
// (copy.css shows them once this marks the page "js"). A listener on the document, so buttons
// that htmx swaps in work too.
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
