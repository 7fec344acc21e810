// Form pieces: a labelled field with its error right under it, the CSRF field, a form-level alert.
import type { Children } from "@kitajs/html";
import { CSRF_FIELD } from "../../src/console/csrf";

/** Errors by field name, as the console's surfaces collect them from the services. */
export type FieldErrors = Record<string, string | undefined>;

export function CsrfField({ token }: { token: string }) {
  return <input type="hidden" name={CSRF_FIELD} value={token} />;
}

export interface FieldProps {
  name: string;
  label: string;
  type?: "text" | "email" | "password" | "url" | "number";
  value?: string;
  error?: string;
  hint?: string;
  autocomplete?: string;
  placeholder?: string;
  required?: boolean;
  autofocus?: boolean;
  /** The id, when the name is not unique on the page. */
  id?: string;
  /** More attributes for the input (htmx's, list, placeholder). */
  attrs?: Record<string, string>;
}

/** A labelled input; an error shows under it, tied to it by aria-describedby, and marks it invalid. */
export function Field(p: FieldProps) {
  const id = p.id ?? p.name;
  const described = [p.hint ? `${id}-hint` : null, p.error ? `${id}-error` : null].filter(Boolean).join(" ");
  return (
    <div class="field">
      <label for={id} safe>
        {p.label}
      </label>
      <input
        id={id}
        name={p.name}
        type={p.type ?? "text"}
        value={p.type === "password" ? undefined : p.value}
        autocomplete={p.autocomplete}
        placeholder={p.placeholder}
        required={p.required}
        autofocus={p.autofocus}
        aria-invalid={p.error ? "true" : undefined}
        aria-describedby={described || undefined}
        {...p.attrs}
      />
      {p.hint ? (
        <span class="hint" id={`${id}-hint`} safe>
          {p.hint}
        </span>
      ) : null}
      <FieldError id={id} error={p.error} />
    </div>
  );
}

/** A labelled textarea, with its hint and error under it like Field's. */
export function TextArea(p: { name: string; label: string; value: string; error?: string; hint?: string; rows: number; mono?: boolean; id?: string }) {
  const id = p.id ?? p.name;
  const described = [p.hint ? `${id}-hint` : null, p.error ? `${id}-error` : null].filter(Boolean).join(" ");
  return (
    <div class="field">
      <label for={id} safe>
        {p.label}
      </label>
      <textarea
        id={id}
        name={p.name}
        rows={String(p.rows)}
        class={p.mono ? "mono" : undefined}
        spellcheck="false"
        aria-invalid={p.error ? "true" : undefined}
        aria-describedby={described || undefined}
        safe
      >
        {p.value}
      </textarea>
      {p.hint ? (
        <span class="hint" id={`${id}-hint`} safe>
          {p.hint}
        </span>
      ) : null}
      <FieldError id={id} error={p.error} />
    </div>
  );
}

/** A field's error, under it, for aria-describedby to name (`<id>-error`). */
export function FieldError(p: { id: string; error?: string | undefined }) {
  return p.error ? (
    <span class="field-error" id={`${p.id}-error`} safe>
      {p.error}
    </span>
  ) : null;
}

/** An error about the form as a whole (too many attempts, an expired link). */
export function FormAlert({ text }: { text?: string }) {
  return text ? (
    <div class="flash flash-error" role="alert" safe>
      {text}
    </div>
  ) : null;
}

export function Submit({ children }: { children: Children }) {
  return <button type="submit">{children}</button>;
}
