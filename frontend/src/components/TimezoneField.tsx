import { useId } from "react";
import { timezoneNames } from "../lib/format";
import { Field } from "./ui";

const ZONES = timezoneNames();

/** A text field with the browser's IANA zone names as suggestions; the API validates the name. */
export function TimezoneField(props: {
  value: string;
  onValueChange: (value: string) => void;
  error?: string | undefined;
  hint?: string;
}) {
  const listId = `timezones-${useId()}`;
  return (
    <>
      <Field label="Timezone" name="timezone" list={listId} autoComplete="off" spellCheck={false} {...props} />
      <datalist id={listId}>
        {ZONES.map((zone) => (
          <option key={zone} value={zone} />
        ))}
      </datalist>
    </>
  );
}
