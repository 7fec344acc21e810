// A value to copy: a labelled block of monospace text and a Copy button (public/copy.ts; the button
// shows only with the script, and the text stays selectable without it).
export function CopyValue({ id, label, value }: { id: string; label: string; value: string }) {
  return (
    <div class="field">
      <span class="label" id={`${id}-label`} safe>
        {label}
      </span>
      <div class="copyable">
        <code id={id} class="url" aria-labelledby={`${id}-label`} safe>
          {value}
        </code>
        <button type="button" class="button-quiet button-small copy" data-copy={`#${id}`} hidden>
          Copy
        </button>
      </div>
    </div>
  );
}
