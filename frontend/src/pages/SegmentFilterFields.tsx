/** The segment filter as a form (tags, platform, locale, last seen, attribute equals): segments and inline audiences. */
import { Button, CheckboxGroup, Field, SelectField } from "../components/ui";
import { type FilterForm, PLATFORMS } from "../lib/segmentFilter";
import { type App, appLabel } from "./dataHooks";

export function SegmentFilterFields({
  value,
  onChange,
  apps,
  showApp = true,
  disabled = false,
}: {
  value: FilterForm;
  onChange: (next: FilterForm) => void;
  apps: App[];
  showApp?: boolean;
  disabled?: boolean;
}) {
  const set = <K extends keyof FilterForm>(key: K) => (next: FilterForm[K]) => onChange({ ...value, [key]: next });
  return (
    <fieldset className="filter-fields" disabled={disabled}>
      <legend>Who matches</legend>
      <p className="hint">Only active subscribers match. Conditions add up (AND); leave a field empty to ignore it.</p>
      <div className="grid-fields">
        {showApp ? (
          <SelectField
            label="App"
            name="filter_app"
            value={value.appId}
            onValueChange={set("appId")}
            options={[{ value: "", label: "Any app" }, ...apps.map((a) => ({ value: a.id, label: appLabel(a) }))]}
          />
        ) : null}
        <Field label="Has any of the tags" name="tags_any" placeholder="vip, beta" value={value.tagsAny} onValueChange={set("tagsAny")} hint="Comma-separated." />
        <Field label="Has all of the tags" name="tags_all" value={value.tagsAll} onValueChange={set("tagsAll")} />
        <Field label="Has none of the tags" name="tags_none" value={value.tagsNone} onValueChange={set("tagsNone")} />
        <Field label="Locales" name="locales" placeholder="en, de-AT" value={value.locales} onValueChange={set("locales")} hint="Comma-separated." />
        <Field
          label="Seen in the last (days)"
          name="last_seen_days"
          type="number"
          min={1}
          max={3650}
          value={value.lastSeenDays}
          onValueChange={set("lastSeenDays")}
        />
      </div>
      <CheckboxGroup legend="Platforms" options={PLATFORMS} selected={value.platforms} onChange={set("platforms")} />
      <fieldset className="plain attributes">
        <legend>Attributes equal to</legend>
        {value.attributes.map((row, index) => (
          <div className="inline-form" key={index}>
            <Field
              label="Attribute"
              name={`attr_name_${index}`}
              value={row.name}
              onValueChange={(name) => set("attributes")(value.attributes.map((r, i) => (i === index ? { ...r, name } : r)))}
            />
            <Field
              label="Value"
              name={`attr_value_${index}`}
              hint="Numbers, true/false and null are typed."
              value={row.value}
              onValueChange={(v) => set("attributes")(value.attributes.map((r, i) => (i === index ? { ...r, value: v } : r)))}
            />
            <Button variant="ghost" onClick={() => set("attributes")(value.attributes.filter((_, i) => i !== index))} aria-label={`Remove attribute ${row.name || index + 1}`}>
              Remove
            </Button>
          </div>
        ))}
        <Button onClick={() => set("attributes")([...value.attributes, { name: "", value: "" }])}>Add attribute condition</Button>
      </fieldset>
    </fieldset>
  );
}
