// A labelled select, with its error under it like Field's (views/components/form.tsx).
import { FieldError } from "./form";
export interface SelectProps {
  name: string;
  label: string;
  value: string;
  /** [value, text] pairs, in order. */
  options: readonly (readonly [string, string])[];
  error?: string;
  id?: string;
}

export function SelectField(p: SelectProps) {
  const id = p.id ?? p.name;
  return (
    <div class="field">
      <label for={id} safe>
        {p.label}
      </label>
      <select id={id} name={p.name} aria-invalid={p.error ? "true" : undefined} aria-describedby={p.error ? `${id}-error` : undefined}>
        {p.options.map(([value, text]) => (
          <option value={value} selected={value === p.value} safe>
            {text}
          </option>
        ))}
      </select>
      <FieldError id={id} error={p.error} />
    </div>
  );
}
