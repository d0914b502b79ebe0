import { useState } from "preact/hooks";
import { parse } from "yaml";
import { ApiError, api } from "./api";
import { fieldOf } from "./format";
import { DEFAULT_FORM, type VmForm, vmFromForm } from "./manifest";
import { vmsPath } from "./paths";

type Field = keyof VmForm;
const FIELDS: { key: Field; label: string; hint?: string; multiline?: boolean }[] = [
  { key: "name", label: "Name" },
  { key: "cores", label: "CPU cores" },
  { key: "memory", label: "Memory", hint: "a quantity such as 512Mi or 2Gi" },
  { key: "image", label: "Disk image", hint: "a container image holding a qcow2 (containerDisk)" },
  { key: "imagePath", label: "Path of the disk in the image" },
  { key: "user", label: "User (cloud-init)" },
  {
    key: "sshKey",
    label: "SSH public key",
    hint: "e.g. the contents of ~/.ssh/id_ed25519.pub",
    multiline: true,
  },
];

/**
 * Create a VM from a form or from pasted YAML. Nothing is validated here that the API
 * server validates: its answer (CRD schema, CEL rules) is shown beside the field it names.
 */
export function CreateVm(props: { namespace: string }) {
  const [how, setHow] = useState<"form" | "yaml">("form");
  const [form, setForm] = useState<VmForm>(DEFAULT_FORM);
  const [yamlText, setYamlText] = useState("");
  const [fieldErrors, setFieldErrors] = useState<Partial<Record<Field, string>>>({});
  const [error, setError] = useState("");
  const [busy, setBusy] = useState(false);

  const submit = async (e: Event) => {
    e.preventDefault();
    setBusy(true);
    setError("");
    setFieldErrors({});
    try {
      let body: { metadata?: { name?: string; namespace?: string } };
      if (how === "form") body = vmFromForm(form, props.namespace);
      else {
        try {
          body = parse(yamlText) as typeof body;
        } catch (err) {
          throw new ApiError(400, `not valid YAML: ${(err as Error).message}`);
        }
        body.metadata = { ...body.metadata, namespace: props.namespace };
      }
      await api("POST", vmsPath(props.namespace), body);
      location.hash = `#/ns/${encodeURIComponent(props.namespace)}/vm/${encodeURIComponent(body.metadata?.name ?? "")}`;
    } catch (err) {
      const placed: Partial<Record<Field, string>> = {};
      if (err instanceof ApiError)
        for (const c of err.causes) {
          const f = fieldOf(c.field);
          if (f && how === "form")
            placed[f as Field] = [placed[f as Field], c.message].filter(Boolean).join("; ");
        }
      setFieldErrors(placed);
      setError((err as Error).message);
    } finally {
      setBusy(false);
    }
  };

  return (
    <main>
      <nav class="crumbs">
        <a href={`#/ns/${encodeURIComponent(props.namespace)}`}>{props.namespace}</a> / new VM
      </nav>
      <h1>Create a VM in {props.namespace}</h1>
      <div class="tabs" role="tablist">
        <button
          type="button"
          role="tab"
          aria-selected={how === "form"}
          class={how === "form" ? "tab active" : "tab"}
          onClick={() => setHow("form")}
        >
          Form
        </button>
        <button
          type="button"
          role="tab"
          aria-selected={how === "yaml"}
          class={how === "yaml" ? "tab active" : "tab"}
          onClick={() => setHow("yaml")}
        >
          YAML
        </button>
      </div>
      <form onSubmit={submit} class="create">
        {how === "form" ? (
          FIELDS.map((f) => (
            <div class="field" key={f.key}>
              <label for={`f-${f.key}`}>{f.label}</label>
              {f.multiline ? (
                <textarea
                  id={`f-${f.key}`}
                  rows={3}
                  value={form[f.key]}
                  onInput={(e) => setForm({ ...form, [f.key]: e.currentTarget.value })}
                  aria-invalid={Boolean(fieldErrors[f.key])}
                  aria-describedby={`e-${f.key}`}
                />
              ) : (
                <input
                  id={`f-${f.key}`}
                  value={form[f.key]}
                  onInput={(e) => setForm({ ...form, [f.key]: e.currentTarget.value })}
                  aria-invalid={Boolean(fieldErrors[f.key])}
                  aria-describedby={`e-${f.key}`}
                />
              )}
              {f.hint && <small>{f.hint}</small>}
              <span
                class="field-error"
                id={`e-${f.key}`}
                data-field-error={f.key}
                role={fieldErrors[f.key] ? "alert" : undefined}
              >
                {fieldErrors[f.key] ?? ""}
              </span>
            </div>
          ))
        ) : (
          <div class="field">
            <label for="f-yaml">VirtualMachine YAML</label>
            <textarea
              id="f-yaml"
              rows={20}
              class="mono"
              value={yamlText}
              onInput={(e) => setYamlText(e.currentTarget.value)}
            />
          </div>
        )}
        {error && (
          <p class="error" role="alert" data-create-error>
            {error}
          </p>
        )}
        <button type="submit" disabled={busy}>
          Create
        </button>
      </form>
    </main>
  );
}
