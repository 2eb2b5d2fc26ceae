// The policy panel: GET /admin/policy into a textarea (as JSON, which is YAML too), PUT /admin/policy on save, the node's refusal shown as is.
import { text } from "./console-text.js";

/** @param {string} id */
const byTestId = (id) => /** @type {HTMLElement} */ (document.querySelector(`[data-testid="${id}"]`));

/**
 * @param {(method: string, path: string, init?: {body?: string, type?: string}) => Promise<{status: number, body: any}>} call
 *   the console's authenticated fetch
 */
export function createPolicyEditor(call) {
  const editor = /** @type {HTMLTextAreaElement} */ (byTestId("policy-editor"));
  const save = /** @type {HTMLButtonElement} */ (byTestId("policy-save"));
  const reload = /** @type {HTMLButtonElement} */ (byTestId("policy-reload"));
  const message = byTestId("policy-message");
  const origin = byTestId("policy-origin");
  /** The digest of the policy shown; a status naming another one means the node's policy changed. */
  let shownDigest;
  /** Whether the text differs from what was loaded (a refresh must not overwrite an edit). */
  let edited = false;
  let busy = false;

  const say = (content, state) => {
    message.textContent = content;
    message.dataset.state = state;
  };

  const show = (policy) => {
    shownDigest = policy.digest;
    editor.value = `${JSON.stringify(policy.policy, null, 2)}\n`;
    editor.disabled = false;
    save.disabled = false;
    reload.disabled = false;
    edited = false;
    origin.textContent = text("policyFrom", policy.file ?? policy.origin, policy.digest);
  };

  const load = async () => {
    const answer = await call("GET", "/admin/policy");
    if (answer.status === 404) {
      shownDigest = undefined;
      editor.value = "";
      editor.disabled = true;
      save.disabled = true;
      reload.disabled = true;
      origin.textContent = text("noPolicy");
      return;
    }
    if (answer.status !== 200) return say(text("policyRefused", answer.body?.error?.message ?? `HTTP ${answer.status}`), "bad");
    show(answer.body);
  };

  editor.addEventListener("input", () => (edited = true));
  reload.addEventListener("click", () => {
    say("", "");
    void load();
  });
  save.addEventListener("click", async () => {
    if (busy) return;
    busy = true;
    save.disabled = true;
    try {
      const answer = await call("PUT", "/admin/policy", { body: editor.value, type: "application/yaml" });
      if (answer.status === 200) {
        show(answer.body);
        say(text("policySaved"), "ok");
      } else {
        say(text("policyRefused", answer.body?.error?.message ?? `HTTP ${answer.status}`), "bad");
      }
    } catch (error) {
      say(text("policyRefused", error instanceof Error ? error.message : String(error)), "bad");
    } finally {
      busy = false;
      save.disabled = editor.disabled;
    }
  });

  return {
    load,
    /** Told each status's policy: reloads an unedited editor when the node's policy changed (a file edit, another admin). */
    policyIs(policy) {
      const digest = policy?.digest;
      if (digest === shownDigest || busy) return;
      if (!edited) return void load();
      say(text("policyChanged"), "warn");
    },
  };
}
